//! Rows the panes show, derived from a snapshot and the person's choices (filter, sort, tree).
//! Computed once per change in `App::update`, so drawing (many times a second) stays cheap even
//! with tens of thousands of sockets.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::model::{ProcState, Process, Socket, TcpState};

/// Columns of the Processes pane, in screen order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcColumn {
    Pid,
    Ppid,
    Pgid,
    Sid,
    Tty,
    Tpgid,
    Stat,
    User,
    Cpu,
    Rss,
    Command,
}

impl ProcColumn {
    pub const ALL: [ProcColumn; 11] = [
        ProcColumn::Pid,
        ProcColumn::Ppid,
        ProcColumn::Pgid,
        ProcColumn::Sid,
        ProcColumn::Tty,
        ProcColumn::Tpgid,
        ProcColumn::Stat,
        ProcColumn::User,
        ProcColumn::Cpu,
        ProcColumn::Rss,
        ProcColumn::Command,
    ];

    pub fn title(self) -> &'static str {
        match self {
            ProcColumn::Pid => "PID",
            ProcColumn::Ppid => "PPID",
            ProcColumn::Pgid => "PGID",
            ProcColumn::Sid => "SID",
            ProcColumn::Tty => "TTY",
            ProcColumn::Tpgid => "TPGID",
            ProcColumn::Stat => "STAT",
            ProcColumn::User => "USER",
            ProcColumn::Cpu => "CPU%",
            ProcColumn::Rss => "RSS",
            ProcColumn::Command => "COMMAND",
        }
    }
}

/// Columns of the Sockets pane, in screen order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockColumn {
    State,
    Local,
    Remote,
    RecvQ,
    SendQ,
    Timer,
    Owners,
}

impl SockColumn {
    pub const ALL: [SockColumn; 7] = [
        SockColumn::State,
        SockColumn::Local,
        SockColumn::Remote,
        SockColumn::RecvQ,
        SockColumn::SendQ,
        SockColumn::Timer,
        SockColumn::Owners,
    ];

    pub fn title(self) -> &'static str {
        match self {
            SockColumn::State => "STATE",
            SockColumn::Local => "LOCAL",
            SockColumn::Remote => "REMOTE",
            SockColumn::RecvQ => "RECV-Q",
            SockColumn::SendQ => "SEND-Q",
            SockColumn::Timer => "TIMER",
            SockColumn::Owners => "OWNERS",
        }
    }
}

/// A sort order: a column and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort<C> {
    pub column: C,
    pub descending: bool,
}

/// What the process list knows about relations, computed once per snapshot.
#[derive(Debug, Clone, Default)]
pub struct Relations {
    /// pid -> number of its children that are zombies (unreaped).
    pub zombie_children: HashMap<i32, usize>,
    /// pid -> index in the snapshot's process list.
    pub index: HashMap<i32, usize>,
    /// pid -> children's pids, ascending.
    pub children: HashMap<i32, Vec<i32>>,
}

impl Relations {
    pub fn new(processes: &[Process]) -> Relations {
        let mut rel = Relations::default();
        for (i, p) in processes.iter().enumerate() {
            rel.index.insert(p.pid, i);
            rel.children.entry(p.ppid).or_default().push(p.pid);
            if p.is_zombie() {
                *rel.zombie_children.entry(p.ppid).or_default() += 1;
            }
        }
        for kids in rel.children.values_mut() {
            kids.sort_unstable();
        }
        rel
    }
}

/// A daemon as the tutorial builds one: adopted by init (or a subreaper that is init-like), no
/// controlling terminal, not a kernel thread.
pub fn is_daemon(p: &Process) -> bool {
    p.pid != 1 && p.ppid == 1 && p.tty_nr == 0 && !p.is_kernel_thread() && !p.is_zombie()
}

/// ps-style STAT: the state letter, `s` for a session leader, `+` for the foreground group,
/// `l` for multi-threaded.
pub fn stat_string(p: &Process) -> String {
    let mut s = String::new();
    s.push(p.state.letter());
    if p.is_session_leader() {
        s.push('s');
    }
    if p.threads > 1 {
        s.push('l');
    }
    if p.tpgid > 0 && p.tpgid == p.pgid {
        s.push('+');
    }
    s
}

/// Short role marks: `L` session leader, `G` group leader, `D` daemon, `Z3` parent of three
/// unreaped zombies.
pub fn marks(p: &Process, rel: &Relations) -> String {
    let mut m = String::new();
    if let Some(n) = rel.zombie_children.get(&p.pid) {
        m.push_str(&format!("Z{n} "));
    }
    if is_daemon(p) {
        m.push_str("D ");
    }
    if p.is_session_leader() {
        m.push('L');
    }
    if p.is_group_leader() {
        m.push('G');
    }
    m.trim_end().to_string()
}

/// One line of the Processes pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcRow {
    /// Index into the snapshot's processes.
    pub idx: usize,
    /// Tree drawing before the command (`├─ `); empty in the flat view.
    pub prefix: String,
}

fn proc_cmp(a: &Process, b: &Process, col: ProcColumn, cpu: &HashMap<i32, f32>) -> Ordering {
    let by = match col {
        ProcColumn::Pid => a.pid.cmp(&b.pid),
        ProcColumn::Ppid => a.ppid.cmp(&b.ppid),
        ProcColumn::Pgid => a.pgid.cmp(&b.pgid),
        ProcColumn::Sid => a.sid.cmp(&b.sid),
        ProcColumn::Tty => a.tty.cmp(&b.tty),
        ProcColumn::Tpgid => a.tpgid.cmp(&b.tpgid),
        ProcColumn::Stat => a.state.letter().cmp(&b.state.letter()),
        ProcColumn::User => a.user.cmp(&b.user),
        ProcColumn::Cpu => {
            let (x, y) = (cpu.get(&a.pid), cpu.get(&b.pid));
            x.unwrap_or(&0.0).total_cmp(y.unwrap_or(&0.0))
        }
        ProcColumn::Rss => a.rss_bytes.cmp(&b.rss_bytes),
        ProcColumn::Command => a.command().cmp(&b.command()),
    };
    by.then(a.pid.cmp(&b.pid))
}

/// Whether a process matches the filter text: its pid exactly, or its command or user containing
/// the text (case-insensitive).
pub fn proc_matches(p: &Process, filter: &str) -> bool {
    let f = filter.trim().to_lowercase();
    if f.is_empty() {
        return true;
    }
    if let Ok(pid) = f.parse::<i32>() {
        if p.pid == pid {
            return true;
        }
    }
    p.command().to_lowercase().contains(&f)
        || p.comm.to_lowercase().contains(&f)
        || p.user.as_deref().is_some_and(|u| u.to_lowercase() == f)
}

/// The rows of the Processes pane: filtered, sorted, and in tree order when `tree` is set
/// (siblings sorted by the same key).
pub fn process_rows(
    processes: &[Process],
    rel: &Relations,
    cpu: &HashMap<i32, f32>,
    sort: Sort<ProcColumn>,
    filter: &str,
    tree: bool,
) -> Vec<ProcRow> {
    let order = |a: &usize, b: &usize| {
        let o = proc_cmp(&processes[*a], &processes[*b], sort.column, cpu);
        if sort.descending {
            o.reverse()
        } else {
            o
        }
    };
    if !tree {
        let mut idx: Vec<usize> = (0..processes.len())
            .filter(|&i| proc_matches(&processes[i], filter))
            .collect();
        idx.sort_by(order);
        return idx
            .into_iter()
            .map(|idx| ProcRow {
                idx,
                prefix: String::new(),
            })
            .collect();
    }
    // Roots: processes whose parent is not in the snapshot (pid 1, kthreadd, or a parent that
    // vanished mid-scan).
    let mut roots: Vec<usize> = (0..processes.len())
        .filter(|&i| {
            let p = &processes[i];
            p.ppid == 0 || p.ppid == p.pid || !rel.index.contains_key(&p.ppid)
        })
        .collect();
    roots.sort_by(order);
    let mut rows = Vec::with_capacity(processes.len());
    let mut seen = vec![false; processes.len()];
    // Depth-first with an explicit stack: (index, prefix for its children, its own prefix).
    let mut stack: Vec<(usize, String, String)> = roots
        .into_iter()
        .rev()
        .map(|i| (i, String::new(), String::new()))
        .collect();
    while let Some((i, child_base, own)) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        if proc_matches(&processes[i], filter) {
            rows.push(ProcRow {
                idx: i,
                prefix: own,
            });
        }
        let mut kids: Vec<usize> = rel
            .children
            .get(&processes[i].pid)
            .map(|k| {
                k.iter()
                    .filter_map(|pid| rel.index.get(pid).copied())
                    .filter(|&k| k != i)
                    .collect()
            })
            .unwrap_or_default();
        kids.sort_by(order);
        let n = kids.len();
        for (j, k) in kids.into_iter().enumerate().rev() {
            let last = j + 1 == n;
            let own = format!("{child_base}{}", if last { "└─ " } else { "├─ " });
            let base = format!("{child_base}{}", if last { "   " } else { "│  " });
            stack.push((k, base, own));
        }
    }
    rows
}

/// Counts of processes by state letter, in the header's order.
pub fn process_counts(processes: &[Process]) -> [(char, usize); 6] {
    let mut c = [('R', 0), ('S', 0), ('D', 0), ('Z', 0), ('T', 0), ('I', 0)];
    for p in processes {
        let letter = match p.state {
            ProcState::TracingStop => 'T',
            s => s.letter(),
        };
        if let Some(slot) = c.iter_mut().find(|(l, _)| *l == letter) {
            slot.1 += 1;
        }
    }
    c
}

/// Counts of sockets per state, indexed like `TcpState::ALL`.
pub fn socket_counts<'a>(sockets: impl IntoIterator<Item = &'a Socket>) -> [usize; 12] {
    let mut c = [0; 12];
    for s in sockets {
        c[s.state as usize - 1] += 1;
    }
    c
}

/// The Sockets pane's filter, parsed from what the person typed: state names (`time_wait`,
/// `LISTEN`), port numbers (`8080` or `:8080`), and any other word matched against addresses
/// and owners.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SockFilter {
    pub states: Vec<TcpState>,
    pub ports: Vec<u16>,
    pub words: Vec<String>,
}

impl SockFilter {
    pub fn parse(text: &str) -> SockFilter {
        let mut f = SockFilter::default();
        for word in text.split_whitespace() {
            if let Some(st) = TcpState::parse(word) {
                f.states.push(st);
            } else if let Ok(port) = word.trim_start_matches(':').parse::<u16>() {
                f.ports.push(port);
            } else {
                f.words.push(word.to_lowercase());
            }
        }
        f
    }

    pub fn matches(&self, s: &Socket) -> bool {
        (self.states.is_empty() || self.states.contains(&s.state))
            && (self.ports.is_empty()
                || self.ports.contains(&s.local.port())
                || self.ports.contains(&s.remote.port()))
            && self.words.iter().all(|w| {
                s.local.to_string().contains(w.as_str())
                    || s.remote.to_string().contains(w.as_str())
                    || s.owners.iter().flatten().any(|o| {
                        o.comm.to_lowercase().contains(w.as_str()) || o.pid.to_string() == *w
                    })
            })
    }
}

fn owners_key(s: &Socket) -> (Option<i32>, String) {
    match s.owners.as_deref() {
        Some([first, ..]) => (Some(first.pid), first.comm.clone()),
        _ => (None, String::new()),
    }
}

fn sock_cmp(a: &Socket, b: &Socket, col: SockColumn) -> Ordering {
    let by = match col {
        SockColumn::State => (a.state as u8).cmp(&(b.state as u8)),
        SockColumn::Local => a.local.cmp(&b.local),
        SockColumn::Remote => a.remote.cmp(&b.remote),
        SockColumn::RecvQ => a.recv_q.cmp(&b.recv_q),
        SockColumn::SendQ => a.send_q.cmp(&b.send_q),
        SockColumn::Timer => a.timer.expires_in.cmp(&b.timer.expires_in),
        SockColumn::Owners => owners_key(a).cmp(&owners_key(b)),
    };
    by.then(a.local.cmp(&b.local)).then(a.remote.cmp(&b.remote))
}

/// Indices of the sockets the Sockets pane shows, filtered and sorted.
pub fn socket_rows(sockets: &[Socket], sort: Sort<SockColumn>, filter: &SockFilter) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..sockets.len())
        .filter(|&i| filter.matches(&sockets[i]))
        .collect();
    idx.sort_by(|&a, &b| {
        let o = sock_cmp(&sockets[a], &sockets[b], sort.column);
        if sort.descending {
            o.reverse()
        } else {
            o
        }
    });
    idx
}
