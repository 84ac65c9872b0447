//! What `App` makes of news about the world it acted on: a line a child printed, the result of
//! a signal it sent, and the children it reaped (its own, and orphans adopted as a subreaper).
//! Each turns into status lines and selections; none performs I/O.

use crate::server::ready::ReadyLine;
use crate::text::printable;

use super::*;

impl App {
    pub(super) fn on_child_output(&mut self, pid: i32, line: String) -> Vec<Effect> {
        let Some(child) = self.children.iter().find(|c| c.pid == pid).cloned() else {
            return vec![];
        };
        match child.kind {
            ChildKind::Server => {
                let ready = ReadyLine::parse(&line).map(|r| r.addr);
                self.server.log.push_back(line);
                while self.server.log.len() > 50 {
                    self.server.log.pop_front();
                }
                if let (Some(addr), ServerState::Running { pid, addr: None }) =
                    (ready, &self.server.state)
                {
                    self.server.state = ServerState::Running {
                        pid: *pid,
                        addr: Some(addr),
                    };
                    self.say(
                        StatusKind::Info,
                        format!("server listening on http://{addr}"),
                    );
                    return vec![Effect::PollServerStatus(addr), Effect::Refresh];
                }
                vec![]
            }
            ChildKind::Demo(ref name) => {
                // A demo names what it is about (`demo::focus`): the zombies' parent, the
                // orphan, the daemon — not the supervisor we spawned — or its port.
                if self.pending_select.as_ref() == Some(&child.kind) {
                    match crate::demo::focus::focus_of(&line) {
                        Some(Focus::Process(pid)) => self.select_when_seen = Some(pid),
                        Some(Focus::Port(port)) => {
                            self.pending_select = None;
                            self.select_when_seen = None;
                            self.socks.show_port(port);
                            self.set_pane(Pane::Sockets);
                        }
                        None => {}
                    }
                }
                let line = dashboard_stop_advice(&line, child.pid);
                self.say(StatusKind::Info, format!("demo {name}: {line}"));
                vec![Effect::Refresh]
            }
        }
    }

    pub(super) fn on_signalled(
        &mut self,
        target: SignalTarget,
        signal: Signal,
        result: Result<(), Errno>,
    ) {
        let name = short_name(signal);
        let who = match target {
            SignalTarget::Process(pid) => match self.process(pid) {
                Some(p) => format!("pid {pid} ({})", printable(&p.comm)),
                None => format!("pid {pid}"),
            },
            group => group.to_string(),
        };
        match result {
            Ok(()) => self.say(StatusKind::Info, format!("sent {name} to {who}")),
            Err(Errno::ESRCH) => self.say(
                StatusKind::Error,
                format!("{name} to {who}: no such process (ESRCH): it has already exited"),
            ),
            Err(Errno::EPERM) => self.say(
                StatusKind::Error,
                format!(
                    "{name} to {who}: operation not permitted (EPERM): not your process; run as root"
                ),
            ),
            Err(e) => self.say(StatusKind::Error, format!("{name} to {who}: {e}")),
        }
    }

    pub(super) fn on_reaped(&mut self, list: Vec<Reaped>) {
        let mut adopted: Vec<(i32, String)> = Vec::new();
        for r in list {
            if let Some(pos) = self.children.iter().position(|c| c.pid == r.pid) {
                let child = self.children.remove(pos);
                if child.kind == ChildKind::Server {
                    self.server.state = ServerState::Exited {
                        pid: r.pid,
                        how: r.how,
                    };
                    self.server.detached = false;
                }
                self.say(
                    StatusKind::Info,
                    format!("{} (pid {}) {}; reaped", child.kind, r.pid, r.how),
                );
            } else {
                let was = match self.process(r.pid) {
                    Some(p) if p.is_zombie() => format!("zombie of {}", p.ppid),
                    Some(p) => format!("{} of {}", printable(&p.comm), p.ppid),
                    None => "process".to_string(),
                };
                adopted.push((r.pid, was));
            }
        }
        if !adopted.is_empty() {
            let pids: Vec<String> = adopted.iter().map(|(p, _)| p.to_string()).collect();
            let zombies = adopted
                .iter()
                .filter(|(_, w)| w.starts_with("zombie"))
                .count();
            let what = if zombies == adopted.len() {
                let parents: Vec<&str> = adopted
                    .iter()
                    .map(|(_, w)| w.trim_start_matches("zombie of "))
                    .collect();
                let mut parents = parents;
                parents.dedup();
                format!(
                    "{} orphaned zombie(s) of dead parent {}",
                    adopted.len(),
                    parents.join(", ")
                )
            } else {
                format!("{} orphaned process(es)", adopted.len())
            };
            self.say(
                StatusKind::Info,
                format!(
                    "reaped {what} (pids {}): they came back to tcplab, a child subreaper",
                    pids.join(" ")
                ),
            );
        }
    }
}

/// A demo says how to stop it from its terminal ("stop: Ctrl+C or `kill N`"); in the dashboard
/// Ctrl+C quits the dashboard, so that advice becomes the dashboard's way: TERM to the demo we
/// started (`pid`), from the signal menu (`k`, TERM is its first entry).
fn dashboard_stop_advice(line: &str, pid: i32) -> String {
    match line.find("stop:") {
        Some(at) => format!(
            "{}stop: select pid {pid} (the demo), k, Enter (TERM)",
            &line[..at]
        ),
        None => line.to_string(),
    }
}
