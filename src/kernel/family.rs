//! A process's place in the process tree as /proc tells it: its ids (pid, ppid, pgid, sid, tty)
//! and its children. Used by the demos to show what each step did, and to find what to reap.
//! Parsing is `parse::stat`'s; this only reads one process, or scans for one parent's children.

use anyhow::Context;

use super::parse::stat::{parse_stat, Stat};
use super::processes::list_pids;
use super::tty::tty_name;

/// The ids `ps -o pid,ppid,pgid,sid,tty` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    /// The raw tty_nr (0: no controlling terminal).
    pub tty_nr: i32,
    /// The state letter (`Z` for a zombie).
    pub state: char,
}

impl Ids {
    /// `pid 12  ppid 1  pgid 12  sid 12  tty ?`, the way every demo prints a process.
    pub fn line(&self) -> String {
        format!(
            "pid {}  ppid {}  pgid {}  sid {}  tty {}",
            self.pid,
            self.ppid,
            self.pgid,
            self.sid,
            tty_name(self.tty_nr).unwrap_or_else(|| "?".to_string())
        )
    }
}

fn read_stat(pid: i32) -> anyhow::Result<Stat> {
    let path = format!("/proc/{pid}/stat");
    let buf = std::fs::read(&path).with_context(|| format!("cannot read {path}"))?;
    Ok(parse_stat(&buf)?)
}

/// The ids of process `pid`.
pub fn ids(pid: i32) -> anyhow::Result<Ids> {
    let st = read_stat(pid)?;
    Ok(Ids {
        pid: st.pid,
        ppid: st.ppid,
        pgid: st.pgid,
        sid: st.sid,
        tty_nr: st.tty_nr,
        state: st.state,
    })
}

/// The ids of the calling process.
pub fn my_ids() -> anyhow::Result<Ids> {
    ids(std::process::id() as i32)
}

/// Pids whose parent is `pid` right now (own children and adopted orphans alike).
pub fn children_of(pid: i32) -> Vec<i32> {
    let Ok(pids) = list_pids() else {
        return Vec::new();
    };
    // Processes vanish between listing and reading: skip them.
    pids.into_iter()
        .filter(|&p| read_stat(p).is_ok_and(|st| st.ppid == pid))
        .collect()
}
