//! A TCP state transition as the kernel reports it (tracepoint `sock:inet_sock_set_state`) or as
//! sampling infers it. The tracer produces these; `trace`, and the dashboard's state machine
//! pane, read them.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use super::TcpState;

#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// When the kernel made the change (tracepoint) or when sampling noticed it.
    pub ts: SystemTime,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub old: TcpState,
    pub new: TcpState,
    /// Time spent in `old`; None when the socket's earlier history was not seen.
    pub in_old: Option<Duration>,
    /// The socket's owner, resolved from the inspector (not the pid on the trace line, which is
    /// often whoever was on the CPU in softirq); None when unknown or the socket is gone.
    pub pid: Option<i32>,
    pub comm: Option<String>,
    /// The thread that made the change (process context on the tracepoint); `pid` is its
    /// process. None when sampled or made in softirq.
    pub tid: Option<i32>,
}

/// Where transitions come from; every output says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionSource {
    /// The kernel tracepoint through tracefs: every transition, exact times.
    Tracepoint,
    /// Sampling sockets every `interval` and diffing: states shorter than that are missed.
    Sampled { interval: Duration },
}
