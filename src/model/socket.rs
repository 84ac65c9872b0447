//! One TCP socket as the kernel reports it (sock_diag, or /proc/net/tcp), with its holders.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use super::{TcpInfo, TcpState};

/// A process that holds the socket in one of its descriptors. After fork, a socket has
/// several holders, and every one of them matters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Owner {
    pub pid: i32,
    pub fd: i32,
    pub comm: String,
}

/// Which timer of the socket is running (the `tr` column of /proc/net/tcp, `timer:` of ss -o).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimerKind {
    Off,
    Retransmit,
    Keepalive,
    TimeWait,
    Probe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    pub kind: TimerKind,
    pub expires_in: Duration,
    pub retransmits: u32,
}

impl Default for Timer {
    fn default() -> Self {
        Timer {
            kind: TimerKind::Off,
            expires_in: Duration::ZERO,
            retransmits: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Socket {
    pub state: TcpState,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// For a listener: connections waiting in the accept queue. Otherwise bytes not yet read.
    pub recv_q: u32,
    /// For a listener: the backlog. Otherwise bytes not yet acknowledged.
    pub send_q: u32,
    pub inode: u64,
    pub uid: u32,
    pub timer: Timer,
    /// Every (pid, fd) holding the inode; None when owners were not looked up or could not be
    /// (another user's process and we are not root). TIME_WAIT sockets have no owner: Some([]).
    pub owners: Option<Vec<Owner>>,
    /// What the kernel knows inside the connection, when the scan asked for it
    /// (`ScanDetail::TcpInfo`) and the kernel gave it (not for TIME_WAIT or SYN_RECV, nor from
    /// /proc/net/tcp). Boxed: the plain scan carries only the empty pointer.
    pub info: Option<Box<TcpInfo>>,
}
