//! `tcplab ps`: every process with the job-control ids of `ps -axj` (plus tty and tpgid), marks
//! for zombies, their parents, session leaders and daemons; as a tree, or as JSON.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::SystemTime;

use serde::Serialize;

use crate::cli::PsArgs;
use crate::kernel::live::known_subreapers;
use crate::kernel::processes::ProcessScanner;
use crate::model::sessions::{is_foreground, roles, Roles};
use crate::model::tree::tree_rows;
use crate::model::{Process, Snapshot};

pub fn run(args: PsArgs) -> anyhow::Result<ExitCode> {
    let processes = ProcessScanner::new()
        .scan()
        .map_err(|e| anyhow::anyhow!("cannot list /proc: {e}"))?;
    let subreapers = known_subreapers(&processes);
    let snap = Snapshot {
        taken_at: Some(SystemTime::now()),
        processes,
        subreapers,
        ..Default::default()
    };
    let roles = roles(&snap);
    let procs = select(&snap.processes, &roles, args.zombies);
    let order: Vec<(usize, String)> = if args.tree {
        tree_rows(&procs)
            .into_iter()
            .map(|r| (r.index, r.prefix))
            .collect()
    } else {
        (0..procs.len()).map(|i| (i, String::new())).collect()
    };
    let text = if args.json {
        let rows: Vec<PsJson> = order
            .iter()
            .map(|&(i, _)| PsJson::from(&procs[i]))
            .collect();
        let mut s = serde_json::to_string_pretty(&rows)?;
        s.push('\n');
        s
    } else {
        let width = (!args.wide).then(crate::output::line_width).flatten();
        table(&procs, &order, &roles, width)
    };
    crate::output::print(&text)
}

/// All processes, or with `zombies_only` the zombies and their parents, in pid order.
fn select(all: &[Process], roles: &HashMap<i32, Roles>, zombies_only: bool) -> Vec<Process> {
    if !zombies_only {
        return all.to_vec();
    }
    let zombie_parent = |pid| roles.get(&pid).is_some_and(Roles::is_zombie_parent);
    all.iter()
        .filter(|p| p.is_zombie() || zombie_parent(p.pid))
        .cloned()
        .collect()
}

/// One process in `tcplab ps --json` (schema in docs/json.md).
#[derive(Serialize)]
pub struct PsJson<'a> {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub tty: Option<&'a str>,
    pub tpgid: i32,
    pub state: char,
    pub uid: Option<u32>,
    pub user: Option<&'a str>,
    pub comm: &'a str,
    pub cmdline: Option<&'a [String]>,
}

impl<'a> From<&'a Process> for PsJson<'a> {
    fn from(p: &'a Process) -> Self {
        PsJson {
            pid: p.pid,
            ppid: p.ppid,
            pgid: p.pgid,
            sid: p.sid,
            tty: p.tty.as_deref(),
            tpgid: p.tpgid,
            state: p.state.letter(),
            uid: p.uid,
            user: p.user.as_deref(),
            comm: &p.comm,
            cmdline: p.cmdline.as_deref(),
        }
    }
}

/// ps's STAT: the state letter, then `s` session leader, `l` multi-threaded, `+` foreground.
pub fn stat_column(p: &Process) -> String {
    let mut s = String::with_capacity(4);
    s.push(p.state.letter());
    if p.is_session_leader() {
        s.push('s');
    }
    if p.threads > 1 {
        s.push('l');
    }
    if is_foreground(p) {
        s.push('+');
    }
    s
}

/// ps's MARK column: `zombie`, `unreaped=N` (a zombie parent), then `daemon` or else `leader`
/// (of its session).
fn mark_column(p: &Process, roles: Roles) -> String {
    let mut marks: Vec<String> = Vec::new();
    if p.is_zombie() {
        marks.push("zombie".into());
    }
    if roles.is_zombie_parent() {
        marks.push(format!("unreaped={}", roles.unreaped_children));
    }
    if roles.daemon {
        marks.push("daemon".into());
    } else if roles.session_leader {
        marks.push("leader".into());
    }
    if marks.is_empty() {
        "-".to_string()
    } else {
        marks.join(",")
    }
}

/// The table, one row a process. Each column is as wide as its widest value (pids take five
/// digits where pid_max is 32768, not seven), so COMMAND keeps most of an 80-column terminal;
/// with a `width` every row is cut there, as ps cuts at the terminal's edge.
fn table(
    procs: &[Process],
    order: &[(usize, String)],
    roles: &HashMap<i32, Roles>,
    width: Option<usize>,
) -> String {
    const HEAD: [&str; 10] = [
        "PPID", "PID", "PGID", "SID", "TTY", "TPGID", "STAT", "UID", "TIME", "MARK",
    ];
    // Left-aligned columns (text); the others are numbers, right-aligned as ps has them.
    const LEFT: [bool; 10] = [
        false, false, false, false, true, false, true, false, false, true,
    ];
    let rows: Vec<([String; 10], String)> = order
        .iter()
        .map(|(i, prefix)| {
            let p = &procs[*i];
            let secs = p.cpu_time.as_secs();
            let cells = [
                p.ppid.to_string(),
                p.pid.to_string(),
                p.pgid.to_string(),
                p.sid.to_string(),
                p.tty.as_deref().unwrap_or("?").to_string(),
                p.tpgid.to_string(),
                stat_column(p),
                p.uid.map_or_else(|| "?".to_string(), |u| u.to_string()),
                format!("{}:{:02}", secs / 60, secs % 60),
                mark_column(p, roles.get(&p.pid).copied().unwrap_or_default()),
            ];
            (cells, format!("{prefix}{}", p.command()))
        })
        .collect();
    let mut wide = HEAD.map(str::len);
    for (cells, _) in &rows {
        for (w, cell) in wide.iter_mut().zip(cells) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::with_capacity((rows.len() + 1) * 100);
    let mut line = String::with_capacity(256);
    let head = HEAD.map(str::to_string);
    for (cells, command) in std::iter::once((&head, "COMMAND")).chain(
        rows.iter()
            .map(|(cells, command)| (cells, command.as_str())),
    ) {
        line.clear();
        for ((cell, w), left) in cells.iter().zip(wide).zip(LEFT) {
            let _ = if left {
                write!(line, "{cell:<w$} ")
            } else {
                write!(line, "{cell:>w$} ")
            };
        }
        line.push_str(command);
        let shown = match width {
            Some(w) => crate::text::cut_to_columns(&line, w),
            None => &line,
        };
        out.push_str(shown);
        out.push('\n');
    }
    out
}
