//! The dashboard's state types that `App` holds: panes, overlays and menus, the status line,
//! the children it started, the server it runs, filters, and the transitions it has seen.
//! Pure data; `App::update` in `app.rs` changes them.

use nix::sys::signal::Signal;

use super::event::{ChildKind, SignalTarget};
pub use super::panes::server::{ServerState, ServerView};
use crate::model::Transition;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Processes,
    Sockets,
    Machine,
    Server,
}

impl Pane {
    pub const ALL: [Pane; 4] = [Pane::Processes, Pane::Sockets, Pane::Machine, Pane::Server];

    pub fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

/// The signal menu for one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalMenu {
    pub pid: i32,
    /// When that process started, so that a later one given its pid is not signalled.
    pub start: Option<std::time::Duration>,
    pub selected: usize,
    /// Send to the whole process group (`kill(-pgid)`).
    pub group: bool,
}

/// A destructive signal waiting for `y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub pid: i32,
    /// As in [`SignalMenu`]; None for the dashboard's own server.
    pub start: Option<std::time::Duration>,
    pub target: SignalTarget,
    pub signal: Signal,
    pub prediction: String,
}

/// What is drawn over the pane, and gets the keys first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    Details(i32),
    SignalMenu(SignalMenu),
    Confirm(Confirm),
    DemoMenu {
        selected: usize,
    },
    /// One connection's detail: graphs and its whole `tcp_info` (`App::traffic.history`).
    Connection,
    /// A demo's whole output and where its log is, scrolled to `scroll`.
    DemoOutput {
        pid: i32,
        scroll: u16,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Info,
    Error,
}

/// A child the dashboard started; ended and reaped on quit unless detached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub pid: i32,
    pub kind: ChildKind,
    pub log: Option<std::path::PathBuf>,
    /// What it printed, oldest first (the last `CHILD_OUTPUT` lines): a demo's whole
    /// explanation, which the status line shows one line at a time.
    pub output: Vec<String>,
}

impl Child {
    pub fn is_demo(&self) -> bool {
        matches!(self.kind, ChildKind::Demo(_))
    }
}

/// Lines of a child's output kept for reading in the dashboard (its log file has all).
pub const CHILD_OUTPUT: usize = 500;

/// A filter being typed, or applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub text: String,
    pub editing: bool,
}

/// The State-machine pane's restriction to one port or one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineFilter {
    Port(u16),
    Pid(i32),
}

impl MachineFilter {
    /// `8080`, `:8080`, `port 8080` or `pid 123`.
    pub fn parse(text: &str) -> Option<MachineFilter> {
        let t = text.trim().to_lowercase();
        if let Some(pid) = t.strip_prefix("pid") {
            return pid.trim().parse().ok().map(MachineFilter::Pid);
        }
        let port = t.strip_prefix("port").unwrap_or(&t).trim();
        port.trim_start_matches(':')
            .parse()
            .ok()
            .map(MachineFilter::Port)
    }

    pub fn matches_socket(self, s: &crate::model::Socket) -> bool {
        match self {
            MachineFilter::Port(p) => s.local.port() == p || s.remote.port() == p,
            MachineFilter::Pid(pid) => s.owners.iter().flatten().any(|o| o.pid == pid),
        }
    }

    pub fn matches_transition(self, t: &Transition) -> bool {
        match self {
            MachineFilter::Port(p) => t.local.port() == p || t.remote.port() == p,
            MachineFilter::Pid(pid) => t.pid == Some(pid),
        }
    }
}

/// One transition with the refresh it arrived in (edges stay lit for a few refreshes).
#[derive(Debug, Clone, PartialEq)]
pub struct SeenTransition {
    pub transition: Transition,
    pub refresh: u64,
    /// The connection (local, remote) it belongs to: the transition's own ends, except for a
    /// connect's first step (local port 0), which gets the ends of the socket it became once a
    /// later transition shows them.
    pub conn: (std::net::SocketAddr, std::net::SocketAddr),
    /// Its place in the order of arrival (the log drops its oldest).
    pub seq: u64,
}
