//! What `App` makes of news about the world it acted on: a line a child printed, the result of
//! a signal it sent, and the children it reaped (its own, and orphans adopted as a subreaper).
//! Each turns into status lines and selections; none performs I/O.

use crate::server::ready::ReadyLine;
use crate::text::printable;
use crate::units::{count, noun};

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
                    return vec![
                        Effect::PollServerStatus(addr, self.server.model),
                        Effect::Refresh,
                    ];
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
                // Kept as it reads beside the demo (Enter on it): k opens the signal menu there.
                let kept = match line.find("stop:") {
                    Some(at) => format!("{}stop: k, Enter (TERM)", &line[..at]),
                    None => line.clone(),
                };
                let line = dashboard_stop_advice(&line, child.pid);
                if let Some(c) = self.children.iter_mut().find(|c| c.pid == pid) {
                    c.output.push(kept);
                    if c.output.len() > CHILD_OUTPUT {
                        c.output.remove(0);
                    }
                }
                self.say(StatusKind::Info, format!("demo {name}: {line}"));
                vec![Effect::Refresh]
            }
        }
    }

    pub(super) fn on_signalled(
        &mut self,
        target: SignalTarget,
        signal: Signal,
        start: Option<Duration>,
        result: Result<(), Errno>,
    ) {
        let name = short_name(signal);
        let who = match target {
            // Named by its command only while the pid is still the process it was sent to.
            SignalTarget::Process(pid) => match self
                .process(pid)
                .filter(|p| start.is_none_or(|s| s == p.start_time))
            {
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
        // Orphans adopted as a subreaper: (pid, its parent when the last snapshot showed it a
        // zombie, None for any other process).
        let mut adopted: Vec<(i32, Option<i32>)> = Vec::new();
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
                // Its process is gone, and with it Enter on it: what a demo said last (why it
                // failed, often) and where the rest is come with the news.
                let last = match (child.is_demo(), child.output.last()) {
                    (true, Some(line)) => format!("; it said last: {}", line.trim()),
                    _ => String::new(),
                };
                let log = match (child.is_demo(), &child.log) {
                    (true, Some(path)) => format!(" (all of it: {})", path.display()),
                    _ => String::new(),
                };
                self.say(
                    StatusKind::Info,
                    format!(
                        "{} (pid {}) {}; reaped{last}{log}",
                        child.kind, r.pid, r.how
                    ),
                );
            } else {
                let zombie_of = self
                    .process(r.pid)
                    .filter(|p| p.is_zombie())
                    .map(|p| p.ppid);
                adopted.push((r.pid, zombie_of));
            }
        }
        if !adopted.is_empty() {
            self.say(StatusKind::Info, adopted_line(&adopted));
        }
    }
}

/// One status line for the orphans reaped as a subreaper, naming the dead parents when every
/// one of them was a zombie.
fn adopted_line(adopted: &[(i32, Option<i32>)]) -> String {
    let pids: Vec<String> = adopted.iter().map(|(p, _)| p.to_string()).collect();
    let parents: Option<Vec<i32>> = adopted.iter().map(|(_, zombie_of)| *zombie_of).collect();
    let what = match parents {
        Some(mut parents) => {
            parents.dedup();
            let parents: Vec<String> = parents.iter().map(i32::to_string).collect();
            format!(
                "{} of dead {} {}",
                count(adopted.len(), "orphaned zombie", "orphaned zombies"),
                noun(parents.len(), "parent", "parents"),
                parents.join(", ")
            )
        }
        None => count(adopted.len(), "orphaned process", "orphaned processes"),
    };
    format!(
        "reaped {what} ({} {}): they came back to tcplab, a child subreaper",
        noun(pids.len(), "pid", "pids"),
        pids.join(" ")
    )
}

/// A demo says how to stop it from its terminal ("stop: Ctrl+C or `kill N`"); in the dashboard
/// Ctrl+C quits the dashboard, so that advice becomes the dashboard's way: TERM to the demo we
/// started (`pid`), from the signal menu (`k`, TERM is its first entry). Its own line (the
/// last a demo prints) also says where the rest of what it said is: Enter on it.
fn dashboard_stop_advice(line: &str, pid: i32) -> String {
    match line.find("stop:") {
        Some(at) if line[..at].trim().is_empty() => {
            format!("select pid {pid}: Enter, all it said; k, Enter, stop (TERM)")
        }
        Some(at) => format!(
            "{}stop: select pid {pid} (the demo), k, Enter (TERM)",
            &line[..at]
        ),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::adopted_line;

    #[test]
    fn adopted_zombies_name_their_dead_parents_and_anything_else_is_counted() {
        assert_eq!(
            adopted_line(&[(201, Some(200)), (202, Some(200)), (301, Some(300))]),
            "reaped 3 orphaned zombies of dead parents 200, 300 (pids 201 202 301): \
             they came back to tcplab, a child subreaper"
        );
        assert_eq!(
            adopted_line(&[(201, Some(200)), (7, None)]),
            "reaped 2 orphaned processes (pids 201 7): they came back to tcplab, a child \
             subreaper"
        );
        // One of each, in the singular.
        assert_eq!(
            adopted_line(&[(201, Some(200))]),
            "reaped 1 orphaned zombie of dead parent 200 (pid 201): they came back to tcplab, \
             a child subreaper"
        );
        assert_eq!(
            adopted_line(&[(7, None)]),
            "reaped 1 orphaned process (pid 7): they came back to tcplab, a child subreaper"
        );
    }
}
