//! Pure data about the machine and the views derived from it. Nothing here reads the OS:
//! `kernel/` fills these types, the commands and the dashboard read them.

pub mod counts;
pub mod process;
pub mod rates;
pub mod sessions;
pub mod signals;
pub mod socket;
pub mod socket_filter;
pub mod tcp_info;
pub mod tcp_state;
pub mod transition;
pub mod tree;
pub mod zombies;

pub use process::{ProcState, Process};
pub use signals::{SignalMasks, SignalSet};
pub use socket::{owners_text, owners_text_within, Owner, Socket, Timer, TimerKind};
pub use socket_filter::SocketFilter;
pub use tcp_info::{TcpBrief, TcpInfo};
pub use tcp_state::TcpState;
pub use transition::{Transition, TransitionSource};

use std::time::{Duration, SystemTime};

/// Everything one refresh saw, at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Wall-clock time the scan started.
    pub taken_at: Option<SystemTime>,
    /// What the scan cost; shown in the dashboard header.
    pub cost: Duration,
    pub processes: Vec<Process>,
    pub sockets: Vec<Socket>,
    /// True when sockets came from /proc/net/tcp because netlink sock_diag was unavailable.
    pub sockets_from_procfs: bool,
    /// True when owners were not looked up (or could not be: not root).
    pub owners_partial: bool,
    /// Processes known to be child subreapers (PID 1 always); see `sessions::daemons`.
    pub subreapers: Vec<i32>,
}

/// Where the dashboard gets its data: the live kernel in production, a fake in tests.
pub trait SnapshotSource {
    fn snapshot(&mut self) -> anyhow::Result<Snapshot>;
}
