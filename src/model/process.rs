//! One process as /proc shows it. Fields a scan could not read (permission, a process that
//! vanished half-way) are `None`: unknown, never a made-up value.

use std::time::{Duration, SystemTime};

use super::SignalMasks;

/// The one-letter state of /proc/PID/stat (and of `ps` STAT's first letter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcState {
    Running,
    Sleeping,
    DiskSleep,
    Zombie,
    Stopped,
    TracingStop,
    Dead,
    Idle,
    Other(char),
}

impl ProcState {
    pub fn from_char(c: char) -> ProcState {
        match c {
            'R' => ProcState::Running,
            'S' => ProcState::Sleeping,
            'D' => ProcState::DiskSleep,
            'Z' => ProcState::Zombie,
            'T' => ProcState::Stopped,
            't' => ProcState::TracingStop,
            'X' | 'x' => ProcState::Dead,
            'I' => ProcState::Idle,
            other => ProcState::Other(other),
        }
    }

    /// A name in snake_case, for labels (`running`, `disk_sleep`, ...; `other` for letters
    /// this version does not know).
    pub fn name(self) -> &'static str {
        match self {
            ProcState::Running => "running",
            ProcState::Sleeping => "sleeping",
            ProcState::DiskSleep => "disk_sleep",
            ProcState::Zombie => "zombie",
            ProcState::Stopped => "stopped",
            ProcState::TracingStop => "tracing_stop",
            ProcState::Dead => "dead",
            ProcState::Idle => "idle",
            ProcState::Other(_) => "other",
        }
    }

    pub fn letter(self) -> char {
        match self {
            ProcState::Running => 'R',
            ProcState::Sleeping => 'S',
            ProcState::DiskSleep => 'D',
            ProcState::Zombie => 'Z',
            ProcState::Stopped => 'T',
            ProcState::TracingStop => 't',
            ProcState::Dead => 'X',
            ProcState::Idle => 'I',
            ProcState::Other(c) => c,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    /// The raw tty_nr of /proc/PID/stat (0: none).
    pub tty_nr: i32,
    /// The decoded terminal, `pts/3`, `tty1`; None when the process has no controlling tty.
    pub tty: Option<String>,
    /// Foreground process group of the controlling tty; -1 without one.
    pub tpgid: i32,
    /// A kernel thread (PF_KTHREAD in /proc/PID/stat's flags).
    pub kernel_thread: bool,
    pub state: ProcState,
    /// Real uid; None when /proc/PID/status could not be read.
    pub uid: Option<u32>,
    pub user: Option<String>,
    pub threads: i64,
    /// Time since boot when the process started.
    pub start_time: Duration,
    /// user + system CPU time used.
    pub cpu_time: Duration,
    pub rss_bytes: u64,
    pub comm: String,
    /// Full argv; None when unreadable, empty for kernel threads and zombies.
    pub cmdline: Option<Vec<String>>,
    /// From /proc/PID/status; None when unreadable.
    pub masks: Option<SignalMasks>,
    /// Number of open descriptors; None when /proc/PID/fd is not readable.
    pub fd_count: Option<usize>,
    /// For a zombie: when tcplab first saw it as one (the kernel keeps no exit time), so how
    /// long it has waited to be reaped is at least `taken_at - zombie_since`.
    pub zombie_since: Option<SystemTime>,
}

/// An empty process, so tests and fakes can write `Process { pid: 7, ..Default::default() }`.
impl Default for Process {
    fn default() -> Self {
        Process {
            pid: 0,
            ppid: 0,
            pgid: 0,
            sid: 0,
            tty_nr: 0,
            tty: None,
            tpgid: -1,
            kernel_thread: false,
            state: ProcState::Sleeping,
            uid: None,
            user: None,
            threads: 1,
            start_time: Duration::ZERO,
            cpu_time: Duration::ZERO,
            rss_bytes: 0,
            comm: String::new(),
            cmdline: None,
            masks: None,
            fd_count: None,
            zombie_since: None,
        }
    }
}

impl Process {
    pub fn is_zombie(&self) -> bool {
        self.state == ProcState::Zombie
    }

    /// It started its session (setsid): pid == sid. Kernel threads (session 0) lead nothing.
    pub fn is_session_leader(&self) -> bool {
        self.sid > 0 && self.pid == self.sid
    }

    /// It started its process group (setpgid): pid == pgid.
    pub fn is_group_leader(&self) -> bool {
        self.pgid > 0 && self.pid == self.pgid
    }

    /// A kernel thread, as the kernel flags it. Not "pid 2 or a child of pid 2": in a pid
    /// namespace (a container) pid 2 is an ordinary process and kthreadd is not visible.
    pub fn is_kernel_thread(&self) -> bool {
        self.kernel_thread
    }

    /// The command line joined by spaces, or `[comm]` the way ps shows what has none; made
    /// [`printable`](crate::text::printable) (this is for text output, not JSON).
    pub fn command(&self) -> String {
        use crate::text::printable;
        match &self.cmdline {
            Some(args) if !args.is_empty() => printable(&args.join(" ")).into_owned(),
            _ => format!("[{}]", printable(&self.comm)),
        }
    }
}
