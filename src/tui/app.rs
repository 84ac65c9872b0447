//! The dashboard's state and its single entry point, `App::update(Event) -> Vec<Effect>`.
//! Nothing here performs I/O or reads a clock: time arrives in snapshots and ticks, and every
//! action on the world leaves as an `Effect`. Key and mouse handling live in `keys.rs`.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;

use super::event::{ChildKind, Effect, Event, HostInfo, Reaped, SignalTarget};
use super::history::History;
use super::log::TransitionLog;
use super::panes::{MachinePane, PaneState, ProcessesPane, SocketsPane, World};
use super::predict::short_name;
use super::theme::Theme;
use super::traffic::Traffic;
use super::views::{self, Relations};
use crate::demo::focus::Focus;
use crate::model::counts::StateCounts;
use crate::model::{Snapshot, TcpState, Transition, TransitionSource};

pub use super::state::*;

mod notices;

/// Refresh intervals `+` and `-` step through.
pub const INTERVALS_MS: [u64; 8] = [100, 250, 500, 1000, 2000, 5000, 10_000, 30_000];
pub use super::log::{LIT_REFRESHES, TRANSITION_LOG};

#[derive(Debug)]
pub struct App {
    pub theme: Theme,
    pub size: (u16, u16),
    pub interval: Duration,
    pub paused: bool,
    /// Transitions that came while paused, newest last (at most a log's worth).
    held: Vec<Transition>,
    /// The pane that has the keys.
    pub pane: Pane,
    /// Every pane at once where the terminal has room (`o` toggles; `overview.rs`).
    pub overview_wanted: bool,
    pub overlay: Overlay,
    /// The first help line shown (the help overlay scrolls when it does not fit).
    pub help_scroll: u16,
    pub quitting: bool,

    pub host: HostInfo,
    /// The machine's CPU use over the last refresh (the header's CPU meter).
    pub cpu_share: Option<super::meters::CpuShare>,
    pub snapshot: Snapshot,
    /// The snapshot the last one replaced, for the runtime to take and free off the main loop:
    /// at tens of thousands of sockets freeing one took half of an update.
    pub retired: Option<Snapshot>,
    pub source_error: Option<String>,
    /// How many snapshots arrived; the clock of "recent".
    pub refreshes: u64,
    pub relations: Relations,
    /// pid -> CPU% over the last interval.
    pub cpu: HashMap<i32, f32>,
    prev_cpu: HashMap<i32, Duration>,
    pub proc_counts: [(char, usize); 6],
    /// Zombies whose parent is PID 1: orphans init has not reaped (yet), with how long.
    pub init_zombies: Vec<crate::model::zombies::Zombie>,
    pub sock_counts: StateCounts,
    /// The transitions seen, and where they come from.
    pub log: TransitionLog,
    /// Bytes per second per socket and per process, while a view shows them.
    pub traffic: Traffic,
    /// Sockets per state, transitions/s and the server's counters over the last minutes.
    pub history: History,

    // One state per pane (`panes/`).
    pub procs: ProcessesPane,
    pub socks: SocketsPane,
    pub machine: MachinePane,
    pub server: ServerView,

    /// A pid to select as soon as a snapshot shows it (a demo just spawned).
    pub pending_select: Option<ChildKind>,
    /// The pid that child told us to select instead of itself (the zombie demo's parent).
    pub select_when_seen: Option<i32>,
    pub children: Vec<Child>,
    pub status: Option<(StatusKind, String)>,
    /// The demos `d` offers: (name, one-line description), from the command line definition.
    pub demos: Vec<(String, String)>,
    /// What happened, newest last: reaped zombies, exits, errors.
    pub notices: VecDeque<String>,
    /// The lesson panel (`tcplab learn`, `L`).
    pub lesson: super::lesson::LessonPanel,
}

impl App {
    pub fn new(interval: Duration, size: (u16, u16), theme: Theme) -> App {
        App {
            theme,
            size,
            interval,
            paused: false,
            held: Vec::new(),
            pane: Pane::Processes,
            overview_wanted: true,
            overlay: Overlay::None,
            help_scroll: 0,
            quitting: false,
            host: HostInfo::default(),
            cpu_share: None,
            snapshot: Snapshot::default(),
            retired: None,
            source_error: None,
            refreshes: 0,
            relations: Relations::default(),
            cpu: HashMap::new(),
            prev_cpu: HashMap::new(),
            proc_counts: views::process_counts(&[]),
            init_zombies: Vec::new(),
            sock_counts: StateCounts::default(),
            log: TransitionLog::new(TransitionSource::Sampled { interval }),
            traffic: Traffic::default(),
            history: History::default(),
            procs: ProcessesPane::default(),
            socks: SocketsPane::default(),
            machine: MachinePane::default(),
            server: ServerView::default(),
            pending_select: None,
            select_when_seen: None,
            children: Vec::new(),
            status: None,
            demos: demo_list(),
            notices: VecDeque::new(),
            lesson: Default::default(),
        }
    }

    /// The one way the dashboard changes.
    pub fn update(&mut self, event: Event) -> Vec<Effect> {
        let needed = (self.needs_owners(), self.needs_info(), self.followed());
        let mut effects = self.handle(event);
        // The State machine pane's filter may have changed: the log keeps its matches apart.
        self.log.set_scope(self.machine.scope());
        // A view that shows owners, rates or a connection's whole tcp_info just opened: refresh
        // now rather than at the next tick.
        let opened = (!needed.0 && self.needs_owners())
            || (!needed.1 && self.needs_info())
            || (needed.2 != self.followed() && self.followed().is_some());
        if opened && !self.quitting && !effects.contains(&Effect::Refresh) {
            effects.push(Effect::Refresh);
        }
        effects
    }

    /// Whether what is on screen shows socket owners (the Sockets and State-machine panes,
    /// the Processes pane's NET columns, process details); the runtime looks them up only then.
    pub fn needs_owners(&self) -> bool {
        self.shown_panes().iter().any(|&(p, area)| {
            self.pane_state(p).shows_owners()
                || (p == Pane::Processes && views::shows_process_traffic(area.width))
        }) || matches!(self.overlay, Overlay::Details(_))
            || self.lesson.visible
    }

    /// Whether what is on screen shows `tcp_info` or rates (the Sockets pane's RTT..↓ columns,
    /// the Processes pane's NET columns, a connection's detail); the runtime asks the kernel
    /// for it only then, so a dashboard without them costs what it did before.
    pub fn needs_info(&self) -> bool {
        matches!(self.overlay, Overlay::Connection)
            || self.shown_panes().iter().any(|&(p, area)| match p {
                Pane::Sockets => views::shows_socket_traffic(area.width),
                Pane::Processes => views::shows_process_traffic(area.width),
                _ => false,
            })
    }

    /// The connection whose detail is on screen, the one view that shows a whole `tcp_info`
    /// (and its congestion control's name): the rate columns alone read a brief of it.
    pub fn followed(&self) -> Option<super::traffic::ConnKey> {
        match self.overlay {
            Overlay::Connection => self.traffic.history.as_ref().map(|h| (h.local, h.remote)),
            _ => None,
        }
    }

    fn handle(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Key(key) => self.on_key(key),
            Event::Mouse(m) => self.on_mouse(m),
            Event::Resize(w, h) => {
                self.size = (w, h);
                // The overview may have come or gone: every pane on screen needs its rows.
                self.recompute_rows();
                vec![]
            }
            Event::Tick => self.on_tick(),
            Event::StopRequested => self.quit(),
            Event::Snapshot(s) => {
                self.on_snapshot(s);
                vec![]
            }
            Event::SourceError(e) => {
                self.source_error = Some(e);
                vec![]
            }
            Event::Host(h) => {
                self.on_host(h);
                vec![]
            }
            Event::Signalled {
                target,
                signal,
                start,
                result,
            } => {
                self.on_signalled(target, signal, start, result);
                vec![Effect::Refresh]
            }
            Event::Spawned { kind, pid, log } => {
                self.children.push(Child {
                    pid,
                    kind: kind.clone(),
                    log,
                    output: Vec::new(),
                });
                if kind == ChildKind::Server {
                    self.server.state = ServerState::Running { pid, addr: None };
                    self.server.status = None;
                    self.history.server_started();
                }
                self.say(StatusKind::Info, format!("started {kind} (pid {pid})"));
                vec![Effect::Refresh]
            }
            Event::SpawnFailed { kind, error } => {
                if kind == ChildKind::Server {
                    self.server.state = ServerState::Failed(error.clone());
                }
                if self.pending_select.as_ref() == Some(&kind) {
                    self.pending_select = None;
                }
                self.say(
                    StatusKind::Error,
                    format!("could not start {kind}: {error}"),
                );
                vec![]
            }
            Event::Reaped(list) => {
                self.on_reaped(list);
                vec![Effect::Refresh]
            }
            Event::ChildOutput { pid, line } => self.on_child_output(pid, line),
            Event::ServerStatus(s) => {
                if let Ok(doc) = &s {
                    self.history.server_status(doc);
                }
                self.server.status = Some(s);
                vec![]
            }
            Event::ServerProbe(local) => {
                self.server.probe_opened(local);
                vec![]
            }
            Event::Lesson { view, said } => {
                self.on_lesson_view(*view);
                if let Some((kind, text)) = said {
                    self.say(kind, text);
                }
                vec![]
            }
            Event::LoadDone { opened, error } => {
                let opened = crate::units::count(opened, "connection", "connections");
                let text = match error {
                    None => format!(
                        "load: opened {opened}; we close them in a moment (watch FIN_WAIT, TIME_WAIT)"
                    ),
                    Some(e) => format!("load: opened {opened}, then: {e}"),
                };
                self.server.last_load = Some(text.clone());
                self.say(StatusKind::Info, text);
                vec![Effect::Refresh]
            }
            Event::LoadClosed(closed) => {
                // What the pane said ("we close them in a moment") is past now.
                let text = format!(
                    "load: we closed {} first, so TIME_WAIT is on our side",
                    crate::units::count(closed, "connection", "connections")
                );
                self.server.last_load = Some(text.clone());
                self.say(StatusKind::Info, text);
                vec![Effect::Refresh]
            }
            Event::TraceReady { source, detail } => {
                self.set_transition_source(source);
                self.say(
                    StatusKind::Info,
                    format!("transitions from the kernel: {detail}"),
                );
                vec![]
            }
            Event::Transitions(list) => {
                self.push_transitions(list);
                vec![]
            }
            Event::TraceNotice(text) => {
                self.say(StatusKind::Info, format!("trace: {text}"));
                vec![]
            }
            Event::TraceFailed(e) => {
                self.set_transition_source(TransitionSource::Sampled {
                    interval: self.interval,
                });
                self.say(
                    StatusKind::Error,
                    format!("tracer stopped ({e}); transitions are sampled between refreshes"),
                );
                vec![]
            }
        }
    }

    /// Where transitions come from: with `Tracepoint` the tracer feeds `Event::Transitions`
    /// and the snapshot-diff sampler stops; back to `Sampled` it starts again.
    pub fn set_transition_source(&mut self, source: TransitionSource) {
        self.log.set_source(source);
    }

    pub(super) fn say(&mut self, kind: StatusKind, text: String) {
        self.notices.push_back(text.clone());
        while self.notices.len() > 100 {
            self.notices.pop_front();
        }
        self.status = Some((kind, text));
    }

    fn on_tick(&mut self) -> Vec<Effect> {
        if self.paused {
            return vec![];
        }
        let mut fx = vec![Effect::Refresh];
        if let Some(addr) = self.server.addr() {
            fx.push(Effect::PollServerStatus(addr, self.server.model));
        }
        fx
    }

    fn on_snapshot(&mut self, mut s: Snapshot) {
        // The dashboard's own /status connection is not what the person watches.
        if !self.server.probes.is_empty() {
            s.sockets
                .retain(|k| !self.server.is_probe(k.local, k.remote));
        }
        let elapsed = match (self.snapshot.taken_at, s.taken_at) {
            (Some(a), Some(b)) => b.duration_since(a).ok(),
            _ => None,
        };
        let mut next_cpu = HashMap::with_capacity(s.processes.len());
        self.cpu.clear();
        for p in &s.processes {
            if let (Some(dt), Some(prev)) = (elapsed, self.prev_cpu.get(&p.pid)) {
                if !dt.is_zero() {
                    let used = p.cpu_time.saturating_sub(*prev);
                    self.cpu.insert(
                        p.pid,
                        (used.as_secs_f64() / dt.as_secs_f64() * 100.0) as f32,
                    );
                }
            }
            next_cpu.insert(p.pid, p.cpu_time);
        }
        self.prev_cpu = next_cpu;
        self.refreshes += 1;
        if self.log.is_sampled() {
            let found = self.log.sample(&s);
            self.history.transitions(found.len());
            self.log.push(found, self.refreshes);
        }
        self.relations = Relations::new(&s);
        self.proc_counts = views::process_counts(&s.processes);
        self.init_zombies = crate::model::zombies::zombies_of_init(&s);
        self.sock_counts = StateCounts::of(&s.sockets);
        self.history.refreshed(s.taken_at, self.sock_counts);
        let in_view = self.sockets_in_view();
        self.traffic.update(&s, &in_view);
        self.retired = Some(std::mem::replace(&mut self.snapshot, s));
        self.source_error = None;
        if let Some(kind) = self.pending_select.clone() {
            // A demo names the process to select (or its port) in its output; a server is
            // selected itself.
            let child = self.children.iter().find(|c| c.kind == kind).map(|c| c.pid);
            let waits_for_line = matches!(kind, ChildKind::Demo(_));
            let target = match self.select_when_seen {
                Some(pid) => Some(pid),
                None if waits_for_line => None,
                None => child,
            };
            if let Some(pid) = target {
                if self.relations.index.contains_key(&pid) {
                    self.pending_select = None;
                    self.select_when_seen = None;
                    self.pane = Pane::Processes;
                    self.procs.select(pid);
                }
            }
        }
        self.recompute_rows();
    }

    fn push_transitions(&mut self, mut list: Vec<Transition>) {
        if self.server.addr().is_some() {
            list.retain(|t| !self.server.takes_probe_transition(t));
        }
        self.history.transitions(list.len());
        if self.paused {
            // The log stays still while paused, so a connection picked in it stays there to
            // read; the newest of what came meanwhile waits for `p`.
            self.held.extend(list);
            let over = self.held.len().saturating_sub(TRANSITION_LOG);
            self.held.drain(..over);
            return;
        }
        self.log.push(list, self.refreshes);
    }

    /// `p`: stops refreshing and holds the transition log still, or resumes both.
    pub(super) fn toggle_pause(&mut self) {
        self.paused = !self.paused;
        if !self.paused {
            let held = std::mem::take(&mut self.held);
            self.log.push(held, self.refreshes);
        }
        let s = if self.paused { "paused" } else { "resumed" };
        self.say(StatusKind::Info, s.to_string());
    }

    /// What panes read: the data they are derived from, and the rows on screen.
    fn world(&self) -> World<'_> {
        World {
            snapshot: &self.snapshot,
            cpu: &self.cpu,
            relations: &self.relations,
            log: &self.log,
            traffic: &self.traffic,
            page: self.page_of(self.pane),
        }
    }

    /// Table rows `pane` has on screen (or would have, focused).
    fn page_of(&self, pane: Pane) -> usize {
        super::layout::table_rows(self.pane_area(pane)).1
    }

    /// Runs `f` on the state of `pane` with the world it reads; the one place that maps a
    /// [`Pane`] to its state.
    pub(super) fn with_pane<R>(
        &mut self,
        pane: Pane,
        f: impl FnOnce(&mut dyn PaneState, &World) -> R,
    ) -> R {
        let world = World {
            snapshot: &self.snapshot,
            cpu: &self.cpu,
            relations: &self.relations,
            log: &self.log,
            traffic: &self.traffic,
            page: self.page_of(pane),
        };
        let state: &mut dyn PaneState = match pane {
            Pane::Processes => &mut self.procs,
            Pane::Sockets => &mut self.socks,
            Pane::Machine => &mut self.machine,
            Pane::Server => &mut self.server,
        };
        f(state, &world)
    }

    /// The state of `pane`, to read.
    pub fn pane_state(&self, pane: Pane) -> &dyn PaneState {
        match pane {
            Pane::Processes => &self.procs,
            Pane::Sockets => &self.socks,
            Pane::Machine => &self.machine,
            Pane::Server => &self.server,
        }
    }

    /// The focused pane's filter, when it has one.
    pub fn filter(&self) -> Option<&Filter> {
        self.pane_state(self.pane).filter()
    }

    /// Rebuilds the rows of the panes on screen after a new snapshot, filter or sort, keeping
    /// each selection; panes off screen drop what is expensive to keep.
    pub(super) fn recompute_rows(&mut self) {
        let overview = self.overview().is_some();
        for pane in Pane::ALL {
            let shown = overview || pane == self.pane || pane == Pane::Processes;
            self.with_pane(
                pane,
                |p, world| {
                    if shown {
                        p.refresh(world)
                    } else {
                        p.hide()
                    }
                },
            );
        }
        self.scroll_into_view();
    }

    /// Rebuilds the rows of `pane` alone, after its own filter changed: the other panes'
    /// rows (thousands of sockets) are not sorted again for a key typed in another box.
    pub(super) fn recompute_pane(&mut self, pane: Pane) {
        self.with_pane(pane, |p, world| p.refresh(world));
        self.scroll_into_view();
    }

    /// Shows `pane`, with its rows up to date (in the overview they are: every box is shown).
    pub(super) fn set_pane(&mut self, pane: Pane) {
        if self.pane != pane {
            self.pane = pane;
            match self.overview() {
                Some(_) => self.scroll_into_view(),
                None => self.recompute_rows(),
            }
        }
    }

    /// Keeps each pane's cursor inside the drawn window.
    pub(super) fn scroll_into_view(&mut self) {
        for pane in Pane::ALL {
            self.with_pane(pane, |p, world| p.scroll_into_view(world));
        }
    }

    /// The focused pane's table rows on screen now: (first row's y, count).
    pub fn table_rows(&self) -> (u16, usize) {
        super::layout::table_rows(self.pane_area(self.pane))
    }

    pub fn process(&self, pid: i32) -> Option<&crate::model::Process> {
        self.relations
            .index
            .get(&pid)
            .and_then(|&i| self.snapshot.processes.get(i))
    }

    pub fn selected_process(&self) -> Option<&crate::model::Process> {
        self.procs.selected.and_then(|pid| self.process(pid))
    }

    /// The connections the Sockets pane shows now (its rows on screen), whose graphs are kept
    /// before their detail view opens; none while the pane or its rate columns are hidden.
    fn sockets_in_view(&self) -> Vec<super::traffic::ConnKey> {
        if self.pane != Pane::Sockets || !self.needs_info() {
            return Vec::new();
        }
        let from = self.socks.cursor.offset;
        let shown = self.page_of(Pane::Sockets);
        self.socks
            .rows
            .iter()
            .skip(from)
            .take(shown)
            .filter_map(|&i| self.snapshot.sockets.get(i))
            .map(|s| (s.local, s.remote))
            .collect()
    }

    pub fn selected_socket(&self) -> Option<&crate::model::Socket> {
        self.socks.selected(&self.world())
    }

    /// The process keys act on in the focused pane: the selected process, the first owner of
    /// the selected socket, the server.
    pub fn target_pid(&self) -> Option<i32> {
        self.pane_state(self.pane).target_pid(&self.world())
    }

    /// Why [`App::target_pid`] is None, for the status line.
    pub fn no_target(&self) -> &'static str {
        self.pane_state(self.pane).no_target(&self.world())
    }

    /// Counts per state for the State-machine pane, restricted by its filter.
    pub fn machine_counts(&self) -> StateCounts {
        match self.machine.scope() {
            Some(f) => self
                .snapshot
                .sockets
                .iter()
                .filter(|s| f.matches_socket(s))
                .collect(),
            None => self.sock_counts,
        }
    }

    /// Transitions for the State-machine pane, restricted by its filter, newest last.
    pub fn machine_transitions(&self) -> impl DoubleEndedIterator<Item = &SeenTransition> {
        self.log.filtered(self.machine.scope())
    }

    /// The selected connection's life as far as the log shows it.
    pub fn selected_timeline(&self) -> Option<Vec<crate::trace::conns::Step>> {
        let (local, remote) = self.machine.selected?;
        Some(self.log.timeline(local, remote))
    }

    /// Edges taken in the last `LIT_REFRESHES` refreshes, each with its age in refreshes (0:
    /// this one), so drawing can fade it; the newest age wins when an edge was taken again.
    pub fn lit_edges(&self) -> Vec<(TcpState, TcpState, u64)> {
        self.log.lit_edges(self.machine.scope(), self.refreshes)
    }

    /// The time between refreshes: the chosen interval, or, while a refresh costs more than
    /// that, twice its cost, so scanning never takes all of a core (the header says so).
    pub fn tick_interval(&self) -> Duration {
        match self.backed_off() {
            Some(d) => d,
            None => self.interval,
        }
    }

    /// The interval in force when the last refresh took longer than the chosen one.
    pub fn backed_off(&self) -> Option<Duration> {
        (self.snapshot.cost > self.interval).then(|| self.snapshot.cost * 2)
    }

    /// Children to end on quit: everything started here except a detached server.
    pub fn children_to_end(&self) -> Vec<i32> {
        self.children
            .iter()
            .filter(|c| !(c.kind == ChildKind::Server && self.server.detached))
            .map(|c| c.pid)
            .collect()
    }
}

/// Every `tcplab demo` subcommand with its help line, so the menu grows with the demos.
fn demo_list() -> Vec<(String, String)> {
    use clap::CommandFactory;
    let cli = crate::cli::Cli::command();
    cli.find_subcommand("demo")
        .map(|d| {
            d.get_subcommands()
                .filter(|c| c.get_name() != "help")
                .map(|c| {
                    let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
                    (c.get_name().to_string(), about)
                })
                .collect()
        })
        .unwrap_or_default()
}
