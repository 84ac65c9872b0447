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
        table(&procs, &order, &roles)
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

fn table(procs: &[Process], order: &[(usize, String)], roles: &HashMap<i32, Roles>) -> String {
    let mut out = String::with_capacity(procs.len() * 100);
    let _ = writeln!(
        out,
        "{:>7} {:>7} {:>7} {:>7} {:<8} {:>7} {:<5} {:>6} {:>7} {:<16} COMMAND",
        "PPID", "PID", "PGID", "SID", "TTY", "TPGID", "STAT", "UID", "TIME", "MARK"
    );
    for (i, prefix) in order {
        let p = &procs[*i];
        let secs = p.cpu_time.as_secs();
        let _ = writeln!(
            out,
            "{:>7} {:>7} {:>7} {:>7} {:<8} {:>7} {:<5} {:>6} {:>7} {:<16} {}{}",
            p.ppid,
            p.pid,
            p.pgid,
            p.sid,
            p.tty.as_deref().unwrap_or("?"),
            p.tpgid,
            stat_column(p),
            p.uid.map_or_else(|| "?".to_string(), |u| u.to_string()),
            format!("{}:{:02}", secs / 60, secs % 60),
            mark_column(p, roles.get(&p.pid).copied().unwrap_or_default()),
            prefix,
            p.command(),
        );
    }
    out
}
