//! What flows into the dashboard's core (`Event`) and what it asks the runtime to do (`Effect`).
//! The core never performs I/O; every change to the world is an `Effect`, and every answer from
//! the world comes back as an `Event`. That keeps `App::update` deterministic and testable.

use std::net::SocketAddr;

use crossterm::event::{KeyEvent, MouseEvent};
use nix::errno::Errno;
use nix::sys::signal::Signal;

use super::state::StatusKind;
use crate::kernel::exit::Exit;
use crate::model::{Snapshot, Transition, TransitionSource};
use crate::server::models::Model;

/// Host facts for the header; read by the runtime, never by the core.
pub use crate::kernel::host::Host as HostInfo;

/// Whom a signal goes to: one process, or a whole process group (`kill(-pgid)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalTarget {
    Process(i32),
    Group(i32),
}

impl SignalTarget {
    /// The pid argument of kill(2): negative for a group.
    pub fn kill_arg(self) -> i32 {
        match self {
            SignalTarget::Process(pid) => pid,
            SignalTarget::Group(pgid) => -pgid,
        }
    }
}

impl std::fmt::Display for SignalTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignalTarget::Process(pid) => write!(f, "pid {pid}"),
            SignalTarget::Group(pgid) => write!(f, "process group {pgid}"),
        }
    }
}

/// What the dashboard started, so it can end (and reap) it on quit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildKind {
    /// `tcplab demo NAME`
    Demo(String),
    /// `tcplab serve`
    Server,
}

impl std::fmt::Display for ChildKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChildKind::Demo(name) => write!(f, "demo {name}"),
            ChildKind::Server => f.write_str("server"),
        }
    }
}

/// Why the server's `/status` gave no document, as the server pane shows it: the failure and
/// its causes on one line (kept as text so that events stay `Clone`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StatusUnavailable(String);

impl From<anyhow::Error> for StatusUnavailable {
    fn from(e: anyhow::Error) -> StatusUnavailable {
        StatusUnavailable(format!("{e:#}"))
    }
}

/// One child reaped by the runtime's waitpid loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaped {
    pub pid: i32,
    /// How it ended.
    pub how: Exit,
}

#[derive(Debug, Clone)]
pub enum Event {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// The refresh timer fired.
    Tick,
    /// TERM, HUP or INT arrived: quit as `q` does.
    StopRequested,
    Snapshot(Snapshot),
    /// The snapshot source failed; the last good snapshot stays on screen.
    SourceError(String),
    Host(HostInfo),
    Signalled {
        target: SignalTarget,
        signal: Signal,
        /// As in `Effect::Signal`: which process the pid named.
        start: Option<std::time::Duration>,
        result: Result<(), Errno>,
    },
    Spawned {
        kind: ChildKind,
        pid: i32,
        /// Where its output goes (`$TMPDIR/tcplab-tui-PID/`).
        log: Option<std::path::PathBuf>,
    },
    SpawnFailed {
        kind: ChildKind,
        error: String,
    },
    /// Children reaped by waitpid: ours, or orphans adopted because we are a subreaper.
    Reaped(Vec<Reaped>),
    /// A line a child we started wrote (stdout or stderr): the server's ready line and log,
    /// a demo's story (the zombie demo names its parent on its first line).
    ChildOutput {
        pid: i32,
        line: String,
    },
    /// The answer of the server's `/status`, or why there is none.
    ServerStatus(Result<serde_json::Value, StatusUnavailable>),
    /// The dashboard's own `/status` connection opened, from this local address: its
    /// sockets and transitions are the dashboard's probing, not what the person watches.
    ServerProbe(SocketAddr),
    /// The tracer is live from the kernel tracepoint (`detail` names its tracefs instance).
    TraceReady {
        source: TransitionSource,
        detail: String,
    },
    /// Transitions from the tracer.
    Transitions(Vec<Transition>),
    /// Something the tracer wants said (lost events, a stale instance removed).
    TraceNotice(String),
    /// The tracer stopped; transitions are sampled from snapshots again.
    TraceFailed(String),
    /// What a load burst did.
    LoadDone {
        opened: usize,
        error: Option<String>,
    },
    /// Connections of a load burst whose time was up, closed by us just now.
    LoadClosed(usize),
    /// The lesson panel's view after a check or a key; `said` is what just happened.
    Lesson {
        view: Box<crate::learn::view::LessonView>,
        said: Option<(StatusKind, String)>,
    },
}

/// What the lesson panel asks of the runtime's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LessonAction {
    /// Start the session (`L` in `tcplab tui`); `tcplab learn` starts with one.
    Start,
    /// Open the lesson at this index.
    Open(usize),
    /// Skip the current step (only when its check cannot be made here).
    Skip,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Take a snapshot now (and host info) and send it back as events.
    Refresh,
    Signal {
        target: SignalTarget,
        signal: Signal,
        /// When the chosen process started (`Process::start_time`): sent only if the pid
        /// still names it. None for the dashboard's own children, whose pids are not reused
        /// before it reaps them.
        start: Option<std::time::Duration>,
    },
    /// Start `tcplab demo NAME ARGS...` as a child; its output goes to a log file, never to the
    /// screen.
    SpawnDemo { name: String, args: Vec<String> },
    /// Start `tcplab serve --listen 127.0.0.1:0 --model M --workers N` as a child.
    StartServer { model: Model, workers: usize },
    /// GET /status from the server, which runs this model (it decides whether the connection
    /// is kept between polls).
    PollServerStatus(SocketAddr, Model),
    /// Open `connections` connections to the server, send a request on each, and close them a
    /// moment later, so the socket states move.
    Load {
        addr: SocketAddr,
        connections: usize,
    },
    /// End these children (TERM, then KILL after a grace period) and reap them.
    EndChildren(Vec<i32>),
    /// Something for the lesson session.
    Lesson(LessonAction),
    /// Put this text on the clipboard through the terminal (OSC 52).
    Copy(String),
    /// Restore the terminal and exit.
    Quit,
}
