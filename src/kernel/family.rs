//! A process's place in the process tree as /proc tells it: its ids (pid, ppid, pgid, sid, tty)
//! and its children. Used by the demos to show what each step did, and to find what to reap.

use anyhow::Context;

/// The ids `ps -o pid,ppid,pgid,sid,tty` shows, read from /proc/PID/stat.
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
    pub comm: String,
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

/// The ids of process `pid`.
pub fn ids(pid: i32) -> anyhow::Result<Ids> {
    let stat = procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    Ok(Ids {
        pid: stat.pid,
        ppid: stat.ppid,
        pgid: stat.pgrp,
        sid: stat.session,
        tty_nr: stat.tty_nr,
        state: stat.state,
        comm: stat.comm,
    })
}

/// The ids of the calling process.
pub fn my_ids() -> anyhow::Result<Ids> {
    ids(std::process::id() as i32)
}

/// Pids whose parent is `pid` right now (own children and adopted orphans alike).
pub fn children_of(pid: i32) -> Vec<i32> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    // Processes vanish between listing and reading: skip them.
    all.filter_map(|p| p.ok()?.stat().ok())
        .filter(|s| s.ppid == pid)
        .map(|s| s.pid)
        .collect()
}

/// The terminal a tty_nr stands for, as ps names it: `pts/3`, `tty1`, `ttyS0`; None for 0.
pub fn tty_name(tty_nr: i32) -> Option<String> {
    if tty_nr == 0 {
        return None;
    }
    let nr = tty_nr as u32;
    let major = (nr >> 8) & 0xfff;
    let minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
    Some(match major {
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        5 if minor == 1 => "console".to_string(),
        _ => format!("{major}:{minor}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_terminals_like_ps() {
        assert_eq!(tty_name(0), None);
        assert_eq!(tty_name(34816), Some("pts/0".to_string())); // 136 << 8
        assert_eq!(tty_name(34819), Some("pts/3".to_string()));
        assert_eq!(tty_name(1025), Some("tty1".to_string())); // 4 << 8 | 1
        assert_eq!(tty_name(1088), Some("ttyS0".to_string())); // 4 << 8 | 64
    }
}
