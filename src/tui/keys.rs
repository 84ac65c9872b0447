//! Keys and mouse: what each press does to `App`, and which effects it asks for. The help
//! overlay (`render/help.rs`) lists the same keys; keep the two together.

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use nix::sys::signal::Signal;

use super::app::{
    App, Confirm, Filter, Overlay, Pane, ServerState, SignalMenu, StatusKind, INTERVALS_MS,
};
use super::event::{ChildKind, Effect, SignalTarget};
use super::layout;
use super::predict::{menu_signals, predict, short_name};
use super::views::{ProcColumn, SockColumn};
use crate::cli::Model;

/// Connections one press of the load key opens.
pub const LOAD_CONNECTIONS: usize = 50;

impl App {
    pub(super) fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return vec![];
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c')) {
            return self.quit();
        }
        if let Some(filter) = self.editing_filter() {
            match key.code {
                KeyCode::Enter => filter.editing = false,
                KeyCode::Esc => *filter = Filter::default(),
                KeyCode::Backspace => {
                    filter.text.pop();
                }
                KeyCode::Char(c) if !ctrl => filter.text.push(c),
                _ => return vec![],
            }
            self.recompute_rows();
            return vec![];
        }
        match self.overlay.clone() {
            Overlay::None => self.on_key_normal(key),
            Overlay::Help | Overlay::Details(_) => {
                if matches!(key.code, KeyCode::Char('q')) {
                    return self.quit();
                }
                if matches!(key.code, KeyCode::Char('k') | KeyCode::F(9)) {
                    if let Overlay::Details(pid) = self.overlay {
                        self.overlay = Overlay::SignalMenu(SignalMenu {
                            pid,
                            selected: 0,
                            group: false,
                        });
                        return vec![];
                    }
                }
                self.overlay = Overlay::None;
                vec![]
            }
            Overlay::SignalMenu(menu) => self.on_key_signal_menu(key, menu),
            Overlay::Confirm(c) => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    self.overlay = Overlay::None;
                    vec![Effect::Signal {
                        target: c.target,
                        signal: c.signal,
                    }]
                }
                _ => {
                    self.overlay = Overlay::None;
                    self.say(
                        StatusKind::Info,
                        format!("{} not sent", short_name(c.signal)),
                    );
                    vec![]
                }
            },
            Overlay::DemoMenu { selected } => {
                let n = self.demos.len();
                match key.code {
                    KeyCode::Up | KeyCode::Char('k') => {
                        self.overlay = Overlay::DemoMenu {
                            selected: selected.saturating_sub(1),
                        }
                    }
                    KeyCode::Down | KeyCode::Char('j') => {
                        self.overlay = Overlay::DemoMenu {
                            selected: (selected + 1).min(n.saturating_sub(1)),
                        }
                    }
                    KeyCode::Enter => {
                        self.overlay = Overlay::None;
                        if let Some((name, _)) = self.demos.get(selected).cloned() {
                            return self.spawn_demo(name);
                        }
                    }
                    _ => self.overlay = Overlay::None,
                }
                vec![]
            }
        }
    }

    fn editing_filter(&mut self) -> Option<&mut Filter> {
        let f = match self.pane {
            Pane::Processes => &mut self.proc_filter,
            Pane::Sockets => &mut self.sock_filter,
            Pane::Machine => &mut self.machine_filter,
            Pane::Server => return None,
        };
        f.editing.then_some(f)
    }

    pub(super) fn quit(&mut self) -> Vec<Effect> {
        self.quitting = true;
        let end = self.children_to_end();
        if end.is_empty() {
            vec![Effect::Quit]
        } else {
            self.say(
                StatusKind::Info,
                format!("quitting: ending and reaping {} child(ren)...", end.len()),
            );
            vec![Effect::EndChildren(end), Effect::Quit]
        }
    }

    fn spawn_demo(&mut self, name: String) -> Vec<Effect> {
        self.pending_select = Some(ChildKind::Demo(name.clone()));
        self.set_pane(Pane::Processes);
        self.say(StatusKind::Info, format!("starting demo {name}..."));
        vec![Effect::SpawnDemo { name, args: vec![] }]
    }

    fn on_key_normal(&mut self, key: KeyEvent) -> Vec<Effect> {
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        match key.code {
            KeyCode::Char('q') => return self.quit(),
            KeyCode::Char(c @ '1'..='4') => self.set_pane(Pane::ALL[c as usize - '1' as usize]),
            KeyCode::Tab => self.set_pane(Pane::ALL[(self.pane.index() + 1) % 4]),
            KeyCode::BackTab => self.set_pane(Pane::ALL[(self.pane.index() + 3) % 4]),
            KeyCode::Char('?') | KeyCode::F(1) => self.overlay = Overlay::Help,
            KeyCode::Char('p') => {
                self.paused = !self.paused;
                let s = if self.paused { "paused" } else { "resumed" };
                self.say(StatusKind::Info, s.to_string());
            }
            KeyCode::Char('+') | KeyCode::Char('=') => self.step_interval(true),
            KeyCode::Char('-') => self.step_interval(false),
            KeyCode::Char('z') => return self.spawn_demo("zombie".to_string()),
            KeyCode::Char('d') => self.overlay = Overlay::DemoMenu { selected: 0 },
            KeyCode::Char('/') if self.pane != Pane::Server => {
                if let Some(f) = self.filter_mut() {
                    f.editing = true;
                }
            }
            KeyCode::Esc => {
                if let Some(f) = self.filter_mut() {
                    *f = Filter::default();
                }
                if self.pane == Pane::Machine {
                    self.machine_selected = None;
                }
                self.status = None;
                self.recompute_rows();
            }
            KeyCode::Up => self.move_cursor(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_cursor(1),
            KeyCode::PageUp => self.move_cursor(-(self.page() as isize)),
            KeyCode::PageDown => self.move_cursor(self.page() as isize),
            KeyCode::Home => self.move_cursor(isize::MIN / 2),
            KeyCode::End => self.move_cursor(isize::MAX / 2),
            KeyCode::Char('k') | KeyCode::F(9) => self.open_signal_menu(),
            KeyCode::Enter => {
                if let Some(pid) = self.target_pid() {
                    self.overlay = Overlay::Details(pid);
                }
            }
            KeyCode::Char('t') | KeyCode::F(5) if self.pane == Pane::Processes => {
                self.tree = !self.tree;
                self.recompute_rows();
            }
            KeyCode::Char('<') | KeyCode::Char(',') => self.step_sort(false),
            KeyCode::Char('>') | KeyCode::Char('.') => self.step_sort(true),
            KeyCode::Char('I') => {
                match self.pane {
                    Pane::Processes => self.proc_sort.descending = !self.proc_sort.descending,
                    Pane::Sockets => self.sock_sort.descending = !self.sock_sort.descending,
                    _ => {}
                }
                self.recompute_rows();
            }
            KeyCode::Char(c @ ('P' | 'M' | 'N')) if self.pane == Pane::Processes => {
                self.proc_sort.column = match c {
                    'P' => ProcColumn::Cpu,
                    'M' => ProcColumn::Rss,
                    _ => ProcColumn::Pid,
                };
                self.proc_sort.descending = c != 'N';
                self.recompute_rows();
            }
            KeyCode::Char('s') => {
                self.set_pane(Pane::Server);
                return self.start_server();
            }
            _ if self.pane == Pane::Server => return self.on_key_server(key, shift),
            _ => {}
        }
        vec![]
    }

    fn on_key_server(&mut self, key: KeyEvent, _shift: bool) -> Vec<Effect> {
        let running = self.server.pid();
        match (key.code, running) {
            (KeyCode::Char('m'), None) => {
                use clap::ValueEnum;
                let all = Model::value_variants();
                let i = all
                    .iter()
                    .position(|m| *m == self.server.model)
                    .unwrap_or(0);
                self.server.model = all[(i + 1) % all.len()];
            }
            (KeyCode::Char('w'), None) => {
                self.server.workers = self.server.workers.saturating_sub(1).max(1)
            }
            (KeyCode::Char('W'), None) => self.server.workers = (self.server.workers + 1).min(64),
            (KeyCode::Char('r'), Some(pid)) => return server_signal(pid, Signal::SIGHUP),
            (KeyCode::Char('g'), Some(pid)) => return server_signal(pid, Signal::SIGQUIT),
            (KeyCode::Char('x'), Some(pid)) => return server_signal(pid, Signal::SIGTERM),
            (KeyCode::Char('l'), Some(_)) => match self.server.addr() {
                Some(addr) => {
                    return vec![Effect::Load {
                        addr,
                        connections: LOAD_CONNECTIONS,
                    }]
                }
                None => self.say(StatusKind::Error, "the server is not ready yet".into()),
            },
            (KeyCode::Char('D'), Some(_)) => {
                self.server.detached = !self.server.detached;
                let s = if self.server.detached {
                    "the server will keep running after quit"
                } else {
                    "the server will be stopped on quit"
                };
                self.say(StatusKind::Info, s.into());
            }
            (KeyCode::Char('m' | 'w' | 'W'), Some(_)) => self.say(
                StatusKind::Error,
                "stop the server (x) before changing its model or workers".into(),
            ),
            _ => {}
        }
        vec![]
    }

    fn start_server(&mut self) -> Vec<Effect> {
        match self.server.state {
            ServerState::Running { pid, .. } => {
                self.say(
                    StatusKind::Error,
                    format!("a server is already running (pid {pid})"),
                );
                vec![]
            }
            ServerState::Starting => vec![],
            _ => {
                self.server.state = ServerState::Starting;
                self.server.log.clear();
                self.server.status = None;
                vec![Effect::StartServer {
                    model: self.server.model,
                    workers: self.server.workers,
                }]
            }
        }
    }

    fn filter_mut(&mut self) -> Option<&mut Filter> {
        match self.pane {
            Pane::Processes => Some(&mut self.proc_filter),
            Pane::Sockets => Some(&mut self.sock_filter),
            Pane::Machine => Some(&mut self.machine_filter),
            Pane::Server => None,
        }
    }

    fn page(&self) -> usize {
        self.table_rows().1.max(1)
    }

    fn step_interval(&mut self, up: bool) {
        let ms = self.interval.as_millis() as u64;
        let next = if up {
            INTERVALS_MS.iter().copied().find(|&i| i > ms)
        } else {
            INTERVALS_MS.iter().rev().copied().find(|&i| i < ms)
        };
        if let Some(ms) = next {
            self.interval = std::time::Duration::from_millis(ms);
            if let crate::model::TransitionSource::Sampled { .. } = self.transition_source {
                self.transition_source = crate::model::TransitionSource::Sampled {
                    interval: self.interval,
                };
            }
        }
        self.say(
            StatusKind::Info,
            format!(
                "refresh every {}",
                crate::units::format_duration(self.interval)
            ),
        );
    }

    fn step_sort(&mut self, forward: bool) {
        fn step<C: Copy + PartialEq>(all: &[C], cur: C, forward: bool) -> C {
            let i = all.iter().position(|c| *c == cur).unwrap_or(0);
            let n = all.len();
            all[if forward {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            }]
        }
        match self.pane {
            Pane::Processes => {
                self.proc_sort.column = step(&ProcColumn::ALL, self.proc_sort.column, forward)
            }
            Pane::Sockets => {
                self.sock_sort.column = step(&SockColumn::ALL, self.sock_sort.column, forward)
            }
            _ => return,
        }
        self.recompute_rows();
    }

    /// Moves the cursor of the current pane by `delta` rows, clamped.
    pub(super) fn move_cursor(&mut self, delta: isize) {
        let clamp = |cur: usize, len: usize| -> usize {
            (cur as isize)
                .saturating_add(delta)
                .clamp(0, len.saturating_sub(1) as isize) as usize
        };
        match self.pane {
            Pane::Processes => {
                self.proc_cursor = clamp(self.proc_cursor, self.proc_rows.len());
                self.proc_selected = self
                    .proc_rows
                    .get(self.proc_cursor)
                    .map(|r| self.snapshot.processes[r.idx].pid);
            }
            Pane::Sockets => self.sock_cursor = clamp(self.sock_cursor, self.sock_rows.len()),
            Pane::Machine => {
                // Through the connections of the log, newest first; the first press picks the
                // newest.
                let conns = self.machine_connections();
                let at = self
                    .machine_selected
                    .and_then(|sel| conns.iter().position(|c| *c == sel));
                let next = match at {
                    Some(i) => clamp(i, conns.len()),
                    None => 0,
                };
                self.machine_selected = conns.get(next).copied();
            }
            _ => {}
        }
        self.scroll_into_view();
    }

    /// The process keys act on: the selected process, or the first owner of the selected socket.
    fn target_pid(&self) -> Option<i32> {
        match self.pane {
            Pane::Processes => self.selected_process().map(|p| p.pid),
            Pane::Sockets => self
                .selected_socket()
                .and_then(|s| s.owners.as_ref())
                .and_then(|o| o.first())
                .map(|o| o.pid),
            Pane::Server => self.server.pid(),
            Pane::Machine => None,
        }
    }

    fn open_signal_menu(&mut self) {
        match self.target_pid() {
            Some(pid) => {
                self.overlay = Overlay::SignalMenu(SignalMenu {
                    pid,
                    selected: 0,
                    group: false,
                })
            }
            None => self.say(StatusKind::Error, "no process selected".into()),
        }
    }

    fn on_key_signal_menu(&mut self, key: KeyEvent, mut menu: SignalMenu) -> Vec<Effect> {
        let signals = menu_signals();
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => {
                self.overlay = Overlay::None;
                return vec![];
            }
            KeyCode::Up | KeyCode::Char('k') => menu.selected = menu.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                menu.selected = (menu.selected + 1).min(signals.len() - 1)
            }
            KeyCode::Char('g') => menu.group = !menu.group,
            KeyCode::Enter => {
                let signal = signals[menu.selected];
                return self.request_signal(menu.pid, signal, menu.group);
            }
            _ => {}
        }
        self.overlay = Overlay::SignalMenu(menu);
        vec![]
    }

    /// Sends at once when harmless, otherwise asks for confirmation first.
    fn request_signal(&mut self, pid: i32, signal: Signal, group: bool) -> Vec<Effect> {
        let Some(p) = self.process(pid) else {
            self.overlay = Overlay::None;
            self.say(
                StatusKind::Error,
                format!("pid {pid} is gone: it exited since the last refresh"),
            );
            return vec![];
        };
        let target = if group {
            SignalTarget::Group(p.pgid)
        } else {
            SignalTarget::Process(pid)
        };
        let outcome = predict(p, signal);
        if outcome.is_destructive() || group {
            self.overlay = Overlay::Confirm(Confirm {
                pid,
                target,
                signal,
                prediction: outcome.describe(),
            });
            vec![]
        } else {
            self.overlay = Overlay::None;
            vec![Effect::Signal { target, signal }]
        }
    }

    pub(super) fn on_mouse(&mut self, m: MouseEvent) -> Vec<Effect> {
        if self.overlay != Overlay::None {
            if let MouseEventKind::Down(MouseButton::Left) = m.kind {
                if !matches!(self.overlay, Overlay::SignalMenu(_) | Overlay::Confirm(_)) {
                    self.overlay = Overlay::None;
                }
            }
            return vec![];
        }
        let area = ratatui::layout::Rect::new(0, 0, self.size.0, self.size.1);
        let areas = layout::areas(area);
        match m.kind {
            MouseEventKind::ScrollDown => self.move_cursor(3),
            MouseEventKind::ScrollUp => self.move_cursor(-3),
            MouseEventKind::Down(MouseButton::Left) => {
                if m.row == areas.tabs.y {
                    if let Some(i) = layout::tab_at(m.column) {
                        self.set_pane(Pane::ALL[i]);
                    }
                    return vec![];
                }
                let (top, rows) = layout::table_rows(areas.body);
                if m.row >= top && ((m.row - top) as usize) < rows {
                    let i = (m.row - top) as usize;
                    match self.pane {
                        Pane::Processes if self.proc_offset + i < self.proc_rows.len() => {
                            self.proc_cursor = self.proc_offset + i;
                            self.move_cursor(0);
                        }
                        Pane::Sockets if self.sock_offset + i < self.sock_rows.len() => {
                            self.sock_cursor = self.sock_offset + i;
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        vec![]
    }
}

fn server_signal(pid: i32, signal: Signal) -> Vec<Effect> {
    vec![Effect::Signal {
        target: SignalTarget::Process(pid),
        signal,
    }]
}
