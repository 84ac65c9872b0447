//! Pane 4, Server: the `tcplab serve` the dashboard runs, its model and workers, its output
//! and `/status`, and the keys that start, reload, stop and load it.

use std::collections::VecDeque;
use std::net::SocketAddr;

use crossterm::event::{KeyCode, KeyEvent};
use nix::sys::signal::Signal;

use super::{PaneState, Reply, World};
use crate::kernel::exit::Exit;
use crate::server::models::Model;
use crate::tui::event::{Effect, SignalTarget, StatusUnavailable};
use crate::tui::state::{Confirm, StatusKind};

/// Connections one press of the load key opens.
pub const LOAD_CONNECTIONS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerState {
    NotStarted,
    Starting,
    Running { pid: i32, addr: Option<SocketAddr> },
    Exited { pid: i32, how: Exit },
    Failed(String),
}

/// The Server pane's state.
#[derive(Debug, Clone)]
pub struct ServerView {
    pub model: Model,
    pub workers: usize,
    pub state: ServerState,
    pub status: Option<Result<serde_json::Value, StatusUnavailable>>,
    pub log: VecDeque<String>,
    /// Left running when the dashboard quits.
    pub detached: bool,
    pub last_load: Option<String>,
    /// Local addresses of the dashboard's own `/status` connections, newest last.
    pub probes: Vec<SocketAddr>,
    /// Connects of ours whose first transition (CLOSE→SYN_SENT, before the kernel picks the
    /// port) is still to come.
    pub probe_connects: usize,
}

impl ServerView {
    pub fn pid(&self) -> Option<i32> {
        match self.state {
            ServerState::Running { pid, .. } => Some(pid),
            _ => None,
        }
    }

    pub fn addr(&self) -> Option<SocketAddr> {
        match self.state {
            ServerState::Running { addr, .. } => addr,
            _ => None,
        }
    }
}

impl Default for ServerView {
    fn default() -> ServerView {
        ServerView {
            model: Model::Reactor,
            workers: 1,
            state: ServerState::NotStarted,
            status: None,
            log: VecDeque::new(),
            detached: false,
            last_load: None,
            probes: Vec::new(),
            probe_connects: 0,
        }
    }
}

/// How many of the dashboard's own `/status` connections are remembered (and hidden): a
/// server polled with a connection per ask (at most one a second) holds a TIME_WAIT of each
/// for a minute.
const PROBES_KEPT: usize = 64;

impl ServerView {
    /// The dashboard's own `/status` connection opened from `local`.
    pub fn probe_opened(&mut self, local: SocketAddr) {
        self.probes.push(local);
        if self.probes.len() > PROBES_KEPT {
            self.probes.remove(0);
        }
        self.probe_connects += 1;
    }

    /// Whether the connection (local, remote) is the dashboard's own `/status` polling.
    pub fn is_probe(&self, local: SocketAddr, remote: SocketAddr) -> bool {
        let Some(server) = self.addr() else {
            return false;
        };
        let peer = match (local == server, remote == server) {
            (true, _) => remote,
            (_, true) => local,
            _ => return false,
        };
        self.probes.contains(&peer)
    }

    /// Whether a transition is the dashboard's own probing, counting off the connects whose
    /// first transition has no port yet.
    pub fn takes_probe_transition(&mut self, t: &crate::model::Transition) -> bool {
        use crate::model::TcpState;
        let connecting = t.local.port() == 0
            && (t.old, t.new) == (TcpState::Close, TcpState::SynSent)
            && Some(t.remote) == self.addr();
        if connecting && self.probe_connects > 0 {
            self.probe_connects -= 1;
            return true;
        }
        self.is_probe(t.local, t.remote)
    }
}

impl PaneState for ServerView {
    fn target_pid(&self, _world: &World) -> Option<i32> {
        self.pid()
    }

    fn hints(&self) -> &'static [(&'static str, &'static str)] {
        match self.pid() {
            None if self.model.has_workers() => {
                &[("s", "start"), ("m", "model"), ("w/W", "workers")]
            }
            None => &[("s", "start"), ("m", "model")],
            Some(_) => &[
                ("l", "load"),
                ("r", "reload"),
                ("g", "graceful stop"),
                ("x", "stop"),
            ],
        }
    }

    fn on_key(&mut self, key: &KeyEvent, _world: &World) -> Reply {
        let running = self.pid();
        match (key.code, running) {
            (KeyCode::Char('m'), None) => {
                use clap::ValueEnum;
                let all = Model::value_variants();
                let i = all.iter().position(|m| *m == self.model).unwrap_or(0);
                self.model = all[(i + 1) % all.len()];
            }
            (KeyCode::Char('w' | 'W'), None) if !self.model.has_workers() => {
                return Reply::Say(
                    StatusKind::Error,
                    format!(
                        "model {} is one process: no workers (m picks another model)",
                        self.model.name()
                    ),
                )
            }
            (KeyCode::Char('w'), None) => self.workers = self.workers.saturating_sub(1).max(1),
            (KeyCode::Char('W'), None) => self.workers = (self.workers + 1).min(64),
            (KeyCode::Char('r'), Some(pid)) => return signal(pid, Signal::SIGHUP),
            (KeyCode::Char('g'), Some(pid)) => return confirm(
                pid,
                Signal::SIGQUIT,
                "graceful stop: it stops accepting, finishes the requests in flight, then exits",
            ),
            (KeyCode::Char('x'), Some(pid)) => {
                return confirm(
                    pid,
                    Signal::SIGTERM,
                    "stop now: it exits at once, closing its open connections",
                )
            }
            (KeyCode::Char('l'), Some(_)) => match self.addr() {
                Some(addr) => {
                    return Reply::Effects(vec![Effect::Load {
                        addr,
                        connections: LOAD_CONNECTIONS,
                    }])
                }
                None => return Reply::Say(StatusKind::Error, "the server is not ready yet".into()),
            },
            (KeyCode::Char('D'), Some(_)) => {
                self.detached = !self.detached;
                let s = if self.detached {
                    "the server will keep running after quit"
                } else {
                    "the server will be stopped on quit"
                };
                return Reply::Say(StatusKind::Info, s.into());
            }
            (KeyCode::Char('m' | 'w' | 'W'), Some(_)) => {
                return Reply::Say(
                    StatusKind::Error,
                    "stop the server (x) before changing its model or workers".into(),
                )
            }
            _ => return Reply::Ignored,
        }
        Reply::Done
    }
}

/// Stopping the server ends what the pane shows: asked first, as the signal menu does.
fn confirm(pid: i32, signal: Signal, what: &str) -> Reply {
    Reply::Confirm(Confirm {
        pid,
        start: None,
        target: SignalTarget::Process(pid),
        signal,
        prediction: what.to_string(),
    })
}

fn signal(pid: i32, signal: Signal) -> Reply {
    Reply::Effects(vec![Effect::Signal {
        target: SignalTarget::Process(pid),
        signal,
        start: None,
    }])
}
