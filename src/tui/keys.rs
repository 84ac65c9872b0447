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
use super::panes::sockets::no_owner;
use super::panes::Reply;
use super::predict::{menu_signals, predict, short_name};

impl App {
    pub(super) fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return vec![];
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c')) {
            return self.quit();
        }
        if self.filter().is_some_and(|f| f.editing) {
            let edited = self.with_pane(self.pane, |p, _| {
                let Some(filter) = p.filter_mut() else {
                    return false;
                };
                match key.code {
                    KeyCode::Enter => filter.editing = false,
                    KeyCode::Esc => *filter = Filter::default(),
                    KeyCode::Backspace => {
                        filter.text.pop();
                    }
                    KeyCode::Char(c) if !ctrl => filter.text.push(c),
                    _ => return false,
                }
                true
            });
            if edited {
                self.recompute_pane(self.pane);
            }
            return vec![];
        }
        match self.overlay.clone() {
            Overlay::None => match self.on_lesson_key(key) {
                Some(effects) => effects,
                None => self.on_key_normal(key),
            },
            // "Any key closes", q and Esc included: q here must not end the dashboard and
            // every demo and server it started.
            Overlay::Help if self.scroll_help(key.code) => vec![],
            Overlay::Help | Overlay::Details(_) | Overlay::Connection => {
                if matches!(key.code, KeyCode::Char('k') | KeyCode::F(9)) {
                    if let Overlay::Connection = self.overlay {
                        // The signal menu for the (first) holder of the connection shown,
                        // whatever row the cursor is on now.
                        let shown = self.traffic.history.as_ref().map(|h| h.last.as_ref());
                        let pid = shown.flatten().and_then(|s| s.owners.as_ref()?.first());
                        let pid = pid.map(|o| o.pid);
                        let why = match shown {
                            Some(Some(s)) => no_owner(s),
                            _ => "the connection is gone: no process holds it",
                        };
                        self.traffic.unfollow();
                        self.overlay = Overlay::None;
                        self.open_signal_menu_for(pid, why);
                        return vec![];
                    }
                    if let Overlay::Details(pid) = self.overlay {
                        self.overlay = Overlay::SignalMenu(self.signal_menu(pid));
                        return vec![];
                    }
                }
                self.overlay = Overlay::None;
                self.traffic.unfollow();
                vec![]
            }
            Overlay::DemoOutput { pid, scroll } => {
                let page = self.size.1.saturating_sub(6).max(1);
                let max = crate::tui::render::demo_output::max_scroll(self, pid, self.size);
                let scroll = match key.code {
                    KeyCode::Up => scroll.saturating_sub(1),
                    KeyCode::Down | KeyCode::Char('j') => (scroll + 1).min(max),
                    KeyCode::PageUp => scroll.saturating_sub(page),
                    KeyCode::PageDown => (scroll + page).min(max),
                    KeyCode::Home => 0,
                    KeyCode::End => max,
                    KeyCode::Char('k') | KeyCode::F(9) => {
                        self.overlay = Overlay::SignalMenu(self.signal_menu(pid));
                        return vec![];
                    }
                    _ => {
                        self.overlay = Overlay::None;
                        return vec![];
                    }
                };
                self.overlay = Overlay::DemoOutput { pid, scroll };
                vec![]
            }
            Overlay::SignalMenu(menu) => self.on_key_signal_menu(key, menu),
            Overlay::Confirm(c) => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    self.overlay = Overlay::None;
                    vec![Effect::Signal {
                        target: c.target,
                        signal: c.signal,
                        start: c.start,
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
        let args = self.lesson_demo_args(&name);
        vec![Effect::SpawnDemo { name, args }]
    }

    /// Up/Down/j/k, PgUp/PgDn, Home/End move the help; false for a key that closes it.
    fn scroll_help(&mut self, code: KeyCode) -> bool {
        let max = crate::tui::render::help::max_scroll(self.size, self.theme);
        let page = self.size.1.saturating_sub(4).max(1);
        let top = self.help_scroll.min(max);
        self.help_scroll = match code {
            KeyCode::Up | KeyCode::Char('k') => top.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => (top + 1).min(max),
            KeyCode::PageUp => top.saturating_sub(page),
            KeyCode::PageDown => (top + page).min(max),
            KeyCode::Home => 0,
            KeyCode::End => max,
            _ => return false,
        };
        true
    }

    fn on_key_normal(&mut self, key: KeyEvent) -> Vec<Effect> {
        let n = Pane::ALL.len();
        match key.code {
            KeyCode::Char('q') => return self.quit(),
            KeyCode::Char(c @ '1'..='9') if (c as usize - '1' as usize) < n => {
                self.set_pane(Pane::ALL[c as usize - '1' as usize])
            }
            KeyCode::Tab => self.set_pane(Pane::ALL[(self.pane.index() + 1) % n]),
            KeyCode::BackTab => self.set_pane(Pane::ALL[(self.pane.index() + n - 1) % n]),
            KeyCode::Char('?') | KeyCode::F(1) => {
                self.help_scroll = 0;
                self.overlay = Overlay::Help;
            }
            KeyCode::Char('p') => self.toggle_pause(),
            KeyCode::Char('+') | KeyCode::Char('=') => self.step_interval(true),
            KeyCode::Char('-') => self.step_interval(false),
            KeyCode::Char('z') => return self.spawn_demo("zombie".to_string()),
            KeyCode::Char('Z') => self.jump_next(),
            KeyCode::Char('d') => {
                self.overlay = Overlay::DemoMenu {
                    selected: self.lesson_demo().unwrap_or(0),
                }
            }
            KeyCode::Char('o') => self.toggle_overview(),
            KeyCode::Char('/') => {
                self.with_pane(self.pane, |p, _| {
                    if let Some(f) = p.filter_mut() {
                        f.editing = true;
                    }
                });
            }
            KeyCode::Esc => {
                self.with_pane(self.pane, |p, _| p.clear());
                self.status = None;
                self.recompute_pane(self.pane);
            }
            KeyCode::Up => self.move_cursor(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_cursor(1),
            KeyCode::PageUp => self.move_cursor(-(self.page() as isize)),
            KeyCode::PageDown => self.move_cursor(self.page() as isize),
            KeyCode::Home => self.move_cursor(isize::MIN / 2),
            KeyCode::End => self.move_cursor(isize::MAX / 2),
            KeyCode::Char('k') | KeyCode::F(9) => self.open_signal_menu(),
            KeyCode::Enter if self.pane == Pane::Sockets => {
                // A connection's detail; its graphs start with this refresh.
                if let Some(sock) = self.selected_socket().cloned() {
                    self.traffic.follow(&sock);
                    self.overlay = Overlay::Connection;
                }
            }
            KeyCode::Enter => {
                // A demo we started: what it said and its log; any other process: details.
                if let Some(pid) = self.target_pid() {
                    self.overlay = match self.children.iter().any(|c| c.pid == pid && c.is_demo()) {
                        true => Overlay::DemoOutput { pid, scroll: 0 },
                        false => Overlay::Details(pid),
                    };
                }
            }
            KeyCode::Char('s') => {
                self.set_pane(Pane::Server);
                return self.start_server();
            }
            _ => {
                let reply = self.with_pane(self.pane, |p, world| p.on_key(&key, world));
                match reply {
                    Reply::Ignored | Reply::Done => {}
                    Reply::Effects(fx) => return fx,
                    Reply::Say(kind, text) => self.say(kind, text),
                    Reply::Confirm(c) => self.overlay = Overlay::Confirm(c),
                }
                self.scroll_into_view();
            }
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
            if self.log.is_sampled() {
                self.log.source = crate::model::TransitionSource::Sampled {
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

    /// Moves the cursor of the current pane by `delta` rows, clamped.
    pub(super) fn move_cursor(&mut self, delta: isize) {
        self.move_cursor_of(self.pane, delta)
    }

    /// Moves the cursor of `pane` by `delta` rows, clamped.
    fn move_cursor_of(&mut self, pane: Pane, delta: isize) {
        self.with_pane(pane, |p, world| {
            p.move_cursor(delta, world);
            p.scroll_into_view(world);
        });
    }

    fn open_signal_menu(&mut self) {
        self.open_signal_menu_for(self.target_pid(), self.no_target())
    }

    /// The signal menu on `pid`, or `why` there is none in the status line.
    fn open_signal_menu_for(&mut self, pid: Option<i32>, why: &str) {
        match pid {
            Some(pid) => self.overlay = Overlay::SignalMenu(self.signal_menu(pid)),
            None => self.say(StatusKind::Error, why.to_string()),
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
                return self.request_signal(&menu, signal);
            }
            _ => {}
        }
        self.overlay = Overlay::SignalMenu(menu);
        vec![]
    }

    /// The signal menu on `pid`, the process the last refresh showed with it.
    fn signal_menu(&self, pid: i32) -> SignalMenu {
        SignalMenu {
            pid,
            start: self.process(pid).map(|p| p.start_time),
            selected: 0,
            group: false,
        }
    }

    /// Sends at once when harmless, otherwise asks for confirmation first; never to another
    /// process that was given the pid after the menu was opened.
    fn request_signal(&mut self, menu: &SignalMenu, signal: Signal) -> Vec<Effect> {
        let (pid, group) = (menu.pid, menu.group);
        let p = self.process(pid);
        let Some(p) = p.filter(|p| menu.start.is_none_or(|s| s == p.start_time)) else {
            let text = match p {
                Some(other) => format!(
                    "pid {pid} is gone: it exited, and its pid now names another process ({}); nothing sent",
                    crate::text::printable(&other.comm)
                ),
                None => format!("pid {pid} is gone: it exited since the last refresh"),
            };
            self.overlay = Overlay::None;
            self.say(StatusKind::Error, text);
            return vec![];
        };
        let start = Some(p.start_time);
        let target = if group {
            SignalTarget::Group(p.pgid)
        } else {
            SignalTarget::Process(pid)
        };
        let outcome = predict(p, signal);
        if outcome.is_destructive() || group {
            self.overlay = Overlay::Confirm(Confirm {
                pid,
                start: (!group).then_some(start).flatten(),
                target,
                signal,
                prediction: outcome.describe(),
            });
            vec![]
        } else {
            self.overlay = Overlay::None;
            vec![Effect::Signal {
                target,
                signal,
                start: (!group).then_some(start).flatten(),
            }]
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
        let areas = self.areas();
        // In the overview the pane under the pointer gets the click or the wheel.
        // In the overview, the box under the pointer (none over the header or the History
        // box); one pane at a time, that pane.
        let under = match self.overview() {
            Some(b) => b.pane_at(m.column, m.row),
            None => Some(self.pane),
        };
        match (m.kind, under) {
            (MouseEventKind::ScrollDown, Some(under)) => self.move_cursor_of(under, 3),
            (MouseEventKind::ScrollUp, Some(under)) => self.move_cursor_of(under, -3),
            (MouseEventKind::Down(MouseButton::Left), _) if m.row == areas.tabs.y => {
                if let Some(i) = layout::tab_at(m.column) {
                    self.set_pane(Pane::ALL[i]);
                }
            }
            (MouseEventKind::Down(MouseButton::Left), Some(under)) => {
                let area = self.pane_area(under);
                let hit = m.column >= area.x && m.column < area.right();
                let hit = hit && m.row >= area.y && m.row < area.bottom();
                if !hit {
                    return vec![];
                }
                self.set_pane(under);
                let (top, rows) = layout::table_rows(area);
                if m.row >= top && ((m.row - top) as usize) < rows {
                    let i = (m.row - top) as usize;
                    self.with_pane(under, |p, world| p.click(i, world));
                }
            }
            _ => {}
        }
        vec![]
    }
}
