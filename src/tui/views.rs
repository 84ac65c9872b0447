//! Rows the panes show, derived from a snapshot and the person's choices (filter, sort, tree).
//! Computed once per change in `App::update`, so drawing (many times a second) stays cheap even
//! with tens of thousands of sockets.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::model::rates::Throughput;
use crate::model::sessions::{self, Roles};
use crate::model::zombies::unreaped_children;
use crate::model::{tree, ProcState, Process, Snapshot, Socket, SocketFilter};

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
    /// TCP bytes per second sent (acknowledged) and received over the process's sockets.
    NetUp,
    NetDown,
    Command,
}

impl ProcColumn {
    pub const ALL: [ProcColumn; 13] = [
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
        ProcColumn::NetUp,
        ProcColumn::NetDown,
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
            ProcColumn::NetUp => "NET↑",
            ProcColumn::NetDown => "NET↓",
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
    /// Smoothed round-trip time (`tcp_info`), ms.
    Rtt,
    /// Congestion window, segments.
    Cwnd,
    /// Retransmitted segments: unacknowledged now / over the connection's life.
    Retr,
    /// Bytes per second sent (acknowledged) and received since the last refresh.
    Up,
    Down,
    Timer,
    Owners,
}

impl SockColumn {
    pub const ALL: [SockColumn; 12] = [
        SockColumn::State,
        SockColumn::Local,
        SockColumn::Remote,
        SockColumn::RecvQ,
        SockColumn::SendQ,
        SockColumn::Rtt,
        SockColumn::Cwnd,
        SockColumn::Retr,
        SockColumn::Up,
        SockColumn::Down,
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
            SockColumn::Rtt => "RTT",
            SockColumn::Cwnd => "CWND",
            SockColumn::Retr => "RETR",
            SockColumn::Up => "↑/s",
            SockColumn::Down => "↓/s",
            SockColumn::Timer => "TIMER",
            SockColumn::Owners => "OWNERS",
        }
    }
}

/// From this width on, the Sockets pane shows RTT, CWND, RETR and the rates (and the kernel
/// is asked for `tcp_info`).
pub const SOCKET_TRAFFIC_WIDTH: u16 = 150;
/// From this width on, the Processes pane shows NET↑ and NET↓ (and owners and `tcp_info`
/// are read).
pub const PROCESS_TRAFFIC_WIDTH: u16 = 150;

pub fn shows_socket_traffic(width: u16) -> bool {
    width >= SOCKET_TRAFFIC_WIDTH
}

pub fn shows_process_traffic(width: u16) -> bool {
    width >= PROCESS_TRAFFIC_WIDTH
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
    /// pid -> its roles (leader, daemon, zombie parent): the same definition as `tcplab ps`.
    pub roles: HashMap<i32, Roles>,
}

impl Relations {
    /// Each parent of unreaped zombies with their count, by pid (the header's "unreaped by").
    pub fn zombie_parents(&self) -> Vec<(i32, usize)> {
        let mut parents: Vec<(i32, usize)> =
            self.zombie_children.iter().map(|(p, n)| (*p, *n)).collect();
        parents.sort_unstable();
        parents
    }

    pub fn new(snapshot: &Snapshot) -> Relations {
        let processes = &snapshot.processes;
        Relations {
            zombie_children: unreaped_children(processes),
            index: processes
                .iter()
                .enumerate()
                .map(|(i, p)| (p.pid, i))
                .collect(),
            children: tree::children(processes)
                .into_iter()
                .map(|(ppid, kids)| (ppid, kids.into_iter().map(|i| processes[i].pid).collect()))
                .collect(),
            roles: sessions::roles(snapshot),
        }
    }

    /// The roles of `p` (none if it is not in the snapshot).
    pub fn roles_of(&self, p: &Process) -> Roles {
        self.roles.get(&p.pid).copied().unwrap_or_default()
    }
}

/// ps's STAT column (`Ss+`).
pub fn stat_string(p: &Process) -> String {
    crate::cmd::ps::stat_column(p)
}

/// Short role marks: `L` session leader, `G` group leader, `D` daemon, `Z3` parent of three
/// unreaped zombies.
pub fn marks(p: &Process, rel: &Relations) -> String {
    let roles = rel.roles_of(p);
    let mut m = String::new();
    if roles.is_zombie_parent() {
        m.push_str(&format!("Z{} ", roles.unreaped_children));
    }
    if roles.daemon {
        m.push_str("D ");
    }
    if roles.session_leader {
        m.push('L');
    }
    if roles.group_leader {
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

fn proc_cmp(
    a: &Process,
    b: &Process,
    col: ProcColumn,
    cpu: &HashMap<i32, f32>,
    net: &HashMap<i32, Throughput>,
) -> Ordering {
    let rate = |p: &Process, f: fn(&Throughput) -> f64| net.get(&p.pid).map_or(0.0, f);
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
        ProcColumn::NetUp => rate(a, |r| r.send).total_cmp(&rate(b, |r| r.send)),
        ProcColumn::NetDown => rate(a, |r| r.recv).total_cmp(&rate(b, |r| r.recv)),
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

/// The rows of the Processes pane: filtered, and sorted, or in tree order when `tree` is set.
pub fn process_rows(
    processes: &[Process],
    cpu: &HashMap<i32, f32>,
    net: &HashMap<i32, Throughput>,
    sort: Sort<ProcColumn>,
    filter: &str,
    tree_view: bool,
    kernel_threads: bool,
) -> Vec<ProcRow> {
    let shown = |p: &Process| (kernel_threads || !p.is_kernel_thread()) && proc_matches(p, filter);
    let order = |a: &usize, b: &usize| {
        let o = proc_cmp(&processes[*a], &processes[*b], sort.column, cpu, net);
        if sort.descending {
            o.reverse()
        } else {
            o
        }
    };
    if !tree_view {
        let mut idx: Vec<usize> = (0..processes.len())
            .filter(|&i| shown(&processes[i]))
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
    // The tree orders siblings by pid (like `ps --forest`); the filter keeps matching rows.
    tree::tree_rows(processes)
        .into_iter()
        .filter(|r| shown(&processes[r.index]))
        .map(|r| ProcRow {
            idx: r.index,
            prefix: r.prefix,
        })
        .collect()
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
fn owners_key(s: &Socket) -> (Option<i32>, &str) {
    match s.owners.as_deref() {
        Some([first, ..]) => (Some(first.pid), first.comm.as_str()),
        _ => (None, ""),
    }
}

fn sock_cmp(
    (a, ra): (&Socket, Option<Throughput>),
    (b, rb): (&Socket, Option<Throughput>),
    col: SockColumn,
) -> Ordering {
    let info = |s: &Socket, f: fn(&crate::model::TcpBrief) -> u64| s.brief.as_ref().map(f);
    let rate = |r: Option<Throughput>, f: fn(&Throughput) -> f64| r.map_or(-1.0, |r| f(&r));
    let by = match col {
        SockColumn::State => (a.state as u8).cmp(&(b.state as u8)),
        SockColumn::Local => a.local.cmp(&b.local),
        SockColumn::Remote => a.remote.cmp(&b.remote),
        SockColumn::RecvQ => a.recv_q.cmp(&b.recv_q),
        SockColumn::SendQ => a.send_q.cmp(&b.send_q),
        SockColumn::Rtt => info(a, |i| i.rtt_us as u64).cmp(&info(b, |i| i.rtt_us as u64)),
        SockColumn::Cwnd => info(a, |i| i.snd_cwnd as u64).cmp(&info(b, |i| i.snd_cwnd as u64)),
        SockColumn::Retr => {
            info(a, |i| i.total_retrans as u64).cmp(&info(b, |i| i.total_retrans as u64))
        }
        SockColumn::Up => rate(ra, |r| r.send).total_cmp(&rate(rb, |r| r.send)),
        SockColumn::Down => rate(ra, |r| r.recv).total_cmp(&rate(rb, |r| r.recv)),
        SockColumn::Timer => a.timer.expires_in.cmp(&b.timer.expires_in),
        SockColumn::Owners => owners_key(a).cmp(&owners_key(b)),
    };
    by.then(a.local.cmp(&b.local)).then(a.remote.cmp(&b.remote))
}

/// Indices of the sockets the Sockets pane shows, filtered, in no order yet: `order_socket_rows`
/// puts the part on screen in order.
pub fn socket_rows(sockets: &[Socket], filter: &SocketFilter) -> Vec<usize> {
    (0..sockets.len())
        .filter(|&i| filter.keeps(&sockets[i]))
        .collect()
}

/// Puts `rows[from..to]` in `sock_cmp`'s order (ties in index order), given that `rows[..from]`
/// already are and come before every other row; the rows after `to` follow, unordered. `rates`
/// is index-aligned with `sockets`, or empty when unknown.
///
/// Only the rows on screen need an order: at tens of thousands of sockets, sorting all of them
/// on every refresh was the main loop's largest cost. Selecting the first `to` is linear; the
/// pane asks for more as the cursor goes down (`End` sorts all). Each row's key is gathered
/// once into a compact array (a comparator that reads two sockets per comparison spends the
/// sort in cache misses), and `sock_cmp` itself decides only between rows whose keys are equal.
pub fn order_socket_rows(
    rows: &mut [usize],
    from: usize,
    to: usize,
    sockets: &[Socket],
    rates: &[Option<Throughput>],
    sort: Sort<SockColumn>,
) {
    let (from, to) = (from.min(rows.len()), to.min(rows.len()));
    if from >= to {
        return;
    }
    let rate = |i: usize| rates.get(i).copied().flatten();
    let mut keys: Vec<RowKey> = rows[from..]
        .iter()
        .map(|&i| row_key(&sockets[i], rate(i), sort.column, i))
        .collect();
    let order = row_order(sockets, rates, sort);
    let wanted = to - from;
    if wanted < keys.len() {
        keys.select_nth_unstable_by(wanted, &order);
    }
    keys[..wanted].sort_unstable_by(&order);
    for (row, key) in rows[from..].iter_mut().zip(&keys) {
        *row = key.index as usize;
    }
}

/// The order `order_socket_rows` puts rows in: total, ties broken by the index.
fn row_order<'a>(
    sockets: &'a [Socket],
    rates: &'a [Option<Throughput>],
    sort: Sort<SockColumn>,
) -> impl Fn(&RowKey, &RowKey) -> std::cmp::Ordering + 'a {
    let rate = |i: usize| rates.get(i).copied().flatten();
    move |a: &RowKey, b: &RowKey| {
        let o = a.sorted.cmp(&b.sorted).then_with(|| {
            let (x, y) = (a.index as usize, b.index as usize);
            sock_cmp((&sockets[x], rate(x)), (&sockets[y], rate(y)), sort.column)
        });
        let o = if sort.descending { o.reverse() } else { o };
        o.then(a.index.cmp(&b.index))
    }
}

/// Where socket `target` (one of `rows`) comes in the order `order_socket_rows` gives them:
/// how many rows come before it. One pass, without sorting.
pub fn socket_rank(
    rows: &[usize],
    target: usize,
    sockets: &[Socket],
    rates: &[Option<Throughput>],
    sort: Sort<SockColumn>,
) -> usize {
    let rate = |i: usize| rates.get(i).copied().flatten();
    let order = row_order(sockets, rates, sort);
    let it = row_key(&sockets[target], rate(target), sort.column, target);
    rows.iter()
        .filter(|&&i| order(&row_key(&sockets[i], rate(i), sort.column, i), &it).is_lt())
        .count()
}

/// What `sock_cmp` compares, read once per row, in integers: a key that is smaller means a
/// row that comes first; equal keys leave it to `sock_cmp`.
struct RowKey {
    /// (column value, the first address compared, the second).
    sorted: (u64, u64, u64),
    index: u32,
}

/// An address's place in `SocketAddr`'s order, coarsely: a smaller number means a smaller
/// address; an IPv4 address and port exactly, an IPv6 one by the top of its address.
fn addr_rank(a: &std::net::SocketAddr) -> u64 {
    match a {
        std::net::SocketAddr::V4(v4) => u64::from(v4.ip().to_bits()) << 16 | u64::from(v4.port()),
        std::net::SocketAddr::V6(v6) => 1 << 63 | (v6.ip().to_bits() >> 65) as u64,
    }
}

fn row_key(s: &Socket, rate: Option<Throughput>, col: SockColumn, index: usize) -> RowKey {
    // None below every value, as Option's order has it.
    let info =
        |f: fn(&crate::model::TcpBrief) -> u32| s.brief.as_ref().map_or(0, |i| u64::from(f(i)) + 1);
    // f64::total_cmp's order as an unsigned integer; -1 when unknown, as in sock_cmp.
    let rate = |f: fn(&Throughput) -> f64| {
        let bits = rate.map_or(-1.0, |r| f(&r)).to_bits() as i64;
        (bits ^ (((bits >> 63) as u64) >> 1) as i64) as u64 ^ (1 << 63)
    };
    let value = match col {
        SockColumn::State => u64::from(s.state as u8),
        SockColumn::Local | SockColumn::Remote => 0,
        SockColumn::RecvQ => u64::from(s.recv_q),
        SockColumn::SendQ => u64::from(s.send_q),
        SockColumn::Rtt => info(|i| i.rtt_us),
        SockColumn::Cwnd => info(|i| i.snd_cwnd),
        SockColumn::Retr => info(|i| i.total_retrans),
        SockColumn::Up => rate(|r| r.send),
        SockColumn::Down => rate(|r| r.recv),
        SockColumn::Timer => u64::try_from(s.timer.expires_in.as_nanos()).unwrap_or(u64::MAX),
        // The first owner's pid; its name and the addresses are left to `sock_cmp`.
        SockColumn::Owners => owners_key(s)
            .0
            .map_or(0, |pid| (i64::from(pid) - i64::from(i32::MIN) + 1) as u64),
    };
    let (first, second) = match col {
        SockColumn::Owners => (0, 0),
        SockColumn::Remote => (addr_rank(&s.remote), addr_rank(&s.local)),
        _ => (addr_rank(&s.local), addr_rank(&s.remote)),
    };
    RowKey {
        sorted: (value, first, second),
        index: index as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keyed order is exactly the comparator's, ties (the same connection twice) in index
    /// order, for every column both ways; ordering a prefix, then more of it, gives the same
    /// rows, and leaves the others after them.
    #[test]
    fn socket_rows_follow_the_comparator() {
        let mut sockets = crate::tui::fake::sample_with_info(3).sockets;
        let copies: Vec<Socket> = sockets.iter().take(4).cloned().collect();
        sockets.extend(copies);
        // IPv6 ends that share the top of their address, and a scope id.
        let v6 = |port: u16, scope: u32| {
            std::net::SocketAddr::V6(std::net::SocketAddrV6::new(
                "fe80::1".parse().unwrap(),
                port,
                0,
                scope,
            ))
        };
        for (k, (port, scope)) in [(80, 2), (80, 1), (79, 9)].into_iter().enumerate() {
            let mut s = sockets[k].clone();
            (s.local, s.remote) = (v6(port, scope), v6(port + 1, 0));
            sockets.push(s);
        }
        let rates: Vec<Option<Throughput>> = (0..sockets.len())
            .map(|i| {
                (i % 3 != 0).then(|| Throughput {
                    send: (i % 5) as f64 * 1000.5,
                    recv: -0.0 + (i % 2) as f64,
                })
            })
            .collect();
        let all = socket_rows(&sockets, &SocketFilter::default());
        assert_eq!(all.len(), sockets.len());
        for column in SockColumn::ALL {
            for descending in [false, true] {
                let sort = Sort { column, descending };
                let mut want: Vec<usize> = (0..sockets.len()).collect();
                want.sort_by(|&a, &b| {
                    let o = sock_cmp((&sockets[a], rates[a]), (&sockets[b], rates[b]), column);
                    if descending {
                        o.reverse()
                    } else {
                        o
                    }
                });
                let mut rows = all.clone();
                order_socket_rows(&mut rows, 0, usize::MAX, &sockets, &rates, sort);
                assert_eq!(rows, want, "{column:?} descending {descending}");
                for cut in [1, 5, 11] {
                    let mut rows = all.clone();
                    order_socket_rows(&mut rows, 0, cut, &sockets, &rates, sort);
                    assert_eq!(rows[..cut], want[..cut], "{column:?} {descending} {cut}");
                    order_socket_rows(&mut rows, cut, cut + 4, &sockets, &rates, sort);
                    assert_eq!(rows[..cut + 4], want[..cut + 4], "{column:?} {cut}+4");
                    let mut rest = rows[cut + 4..].to_vec();
                    rest.sort_unstable();
                    let mut left = want[cut + 4..].to_vec();
                    left.sort_unstable();
                    assert_eq!(rest, left, "{column:?} {cut}: the other rows follow");
                }
            }
        }
    }
}
