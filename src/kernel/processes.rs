//! Every process from /proc: stat (ids, state, tty, times), status (uid, signal masks), cmdline,
//! and the descriptor count from the size of /proc/PID/fd.
//!
//! A process that exits while it is being read is skipped; a file this user may not read leaves
//! its fields `None` (unknown), never invented.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::parse::stat::{self, parse_stat, Stat};
use super::parse::status::{parse_status, Status};
use super::users::UserNames;
use super::{clock_ticks, page_size, read_into, ticks_to_duration, tty, ProcRead};
use crate::model::{ProcState, Process};

/// Scans processes repeatedly, keeping buffers, user names and first-seen zombie times.
pub struct ProcessScanner {
    clk_tck: u64,
    page_size: u64,
    users: UserNames,
    /// When each zombie (pid, start time) was first seen: how long it has waited is at least the
    /// time since then (the kernel keeps no exit time).
    zombie_seen: HashMap<(i32, Duration), SystemTime>,
    /// Whether stat(/proc/PID/fd).st_size is the descriptor count (Linux 6.2 and later).
    fd_size_is_count: bool,
    buf: Vec<u8>,
    path: String,
}

impl Default for ProcessScanner {
    fn default() -> Self {
        ProcessScanner::new()
    }
}

impl ProcessScanner {
    pub fn new() -> ProcessScanner {
        ProcessScanner {
            clk_tck: clock_ticks(),
            page_size: page_size(),
            users: UserNames::default(),
            zombie_seen: HashMap::new(),
            fd_size_is_count: fd_size_is_count(),
            buf: Vec::with_capacity(4096),
            path: String::with_capacity(64),
        }
    }

    pub fn clk_tck(&self) -> u64 {
        self.clk_tck
    }

    /// Every process now, in pid order.
    pub fn scan(&mut self) -> std::io::Result<Vec<Process>> {
        self.scan_with(true)
    }

    /// Every process now, from /proc/PID/stat alone (a third of the reads): ids, state, comm,
    /// times and zombie ages are filled; uid, user, cmdline, masks and fd_count are None.
    pub fn scan_stat_only(&mut self) -> std::io::Result<Vec<Process>> {
        self.scan_with(false)
    }

    fn scan_with(&mut self, full: bool) -> std::io::Result<Vec<Process>> {
        let pids = list_pids()?;
        let now = SystemTime::now();
        let mut out = Vec::with_capacity(pids.len());
        for pid in pids {
            match self.read_process(pid, full) {
                Ok(p) => out.push(p),
                Err(ProcRead::Vanished) | Err(ProcRead::Denied) => {}
                // An unexpected error on one process must not hide all the others.
                Err(ProcRead::Other) => {}
            }
        }
        // Remember zombies by identity; forget those that were reaped.
        let mut seen = HashMap::with_capacity(self.zombie_seen.len());
        for p in out.iter_mut().filter(|p| p.is_zombie()) {
            let key = (p.pid, p.start_time);
            let first = self.zombie_seen.get(&key).copied().unwrap_or(now);
            seen.insert(key, first);
            p.zombie_since = Some(first);
        }
        self.zombie_seen = seen;
        Ok(out)
    }

    /// Reads one process; Vanished if it exited meanwhile.
    fn read_process(&mut self, pid: i32, full: bool) -> Result<Process, ProcRead> {
        self.set_path(pid, "stat");
        read_into(&self.path, &mut self.buf)?;
        // A half-written or foreign stat line is treated like a process that vanished.
        let st = parse_stat(&self.buf).map_err(|_| ProcRead::Vanished)?;
        if !full {
            return Ok(self.process_of(st, None, None, None));
        }

        self.set_path(pid, "status");
        let status = match read_into(&self.path, &mut self.buf) {
            Ok(()) => parse_status(&self.buf).ok(),
            Err(ProcRead::Vanished) => return Err(ProcRead::Vanished),
            Err(_) => None,
        };

        self.set_path(pid, "cmdline");
        let cmdline = match read_into(&self.path, &mut self.buf) {
            Ok(()) => Some(split_cmdline(&self.buf)),
            Err(ProcRead::Vanished) => return Err(ProcRead::Vanished),
            Err(_) => None,
        };

        let fd_count = if self.fd_size_is_count {
            self.set_path(pid, "fd");
            std::fs::metadata(&self.path).ok().map(|m| m.len() as usize)
        } else {
            None
        };

        Ok(self.process_of(st, status, cmdline, fd_count))
    }

    fn process_of(
        &mut self,
        st: Stat,
        status: Option<Status>,
        cmdline: Option<Vec<String>>,
        fd_count: Option<usize>,
    ) -> Process {
        let uid = status.as_ref().map(|s| s.uid);
        let user = uid.and_then(|u| self.users.name(u));
        Process {
            pid: st.pid,
            ppid: st.ppid,
            pgid: st.pgid,
            sid: st.sid,
            tty_nr: st.tty_nr,
            tty: tty::tty_name(st.tty_nr),
            tpgid: st.tpgid,
            kernel_thread: st.flags & stat::PF_KTHREAD != 0,
            state: ProcState::from_char(st.state),
            uid,
            user,
            threads: st.threads,
            start_time: ticks_to_duration(st.start_ticks, self.clk_tck),
            cpu_time: ticks_to_duration(st.utime_ticks + st.stime_ticks, self.clk_tck),
            rss_bytes: st.rss_pages.max(0) as u64 * self.page_size,
            comm: st.comm,
            cmdline,
            masks: status.map(|s| s.masks),
            fd_count,
            zombie_since: None,
        }
    }

    fn set_path(&mut self, pid: i32, file: &str) {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/{file}");
    }
}

/// The numeric entries of /proc, ascending.
pub fn list_pids() -> std::io::Result<Vec<i32>> {
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// argv from /proc/PID/cmdline (NUL-separated, usually NUL-terminated).
pub fn split_cmdline(buf: &[u8]) -> Vec<String> {
    let buf = buf.strip_suffix(b"\0").unwrap_or(buf);
    if buf.is_empty() {
        return Vec::new();
    }
    buf.split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Linux 6.2 made the size of /proc/PID/fd the number of open descriptors; before, it is 0.
/// This process always has some open, so a 0 here means the old behaviour.
pub fn fd_size_is_count() -> bool {
    std::fs::metadata("/proc/self/fd").is_ok_and(|m| m.len() > 0)
}
