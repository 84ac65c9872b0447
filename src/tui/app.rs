//! The dashboard's state and its single entry point, `App::update(Event) -> Vec<Effect>`.
//! Nothing here performs I/O or reads a clock: time arrives in snapshots and ticks, and every
//! action on the world leaves as an `Effect`. Key and mouse handling live in `keys.rs`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;

use super::event::{ChildKind, Effect, Event, HostInfo, Reaped, SignalTarget};
use super::predict::short_name;
use super::sampler::Sampler;
use super::theme::Theme;
use super::views::{self, ProcColumn, ProcRow, Relations, SockColumn, SockFilter, Sort};
use crate::cli::Model;
use crate::demo::focus::Focus;
use crate::model::counts::StateCounts;
use crate::model::{Snapshot, TcpState, Transition, TransitionSource};

pub use super::state::*;

mod notices;

/// Refresh intervals `+` and `-` step through.
pub const INTERVALS_MS: [u64; 8] = [100, 250, 500, 1000, 2000, 5000, 10_000, 30_000];
/// How many transitions the State-machine pane keeps.
pub const TRANSITION_LOG: usize = 200;
/// How long a transition keeps its edge lit, counted in refreshes.
pub const LIT_REFRESHES: u64 = 3;

#[derive(Debug)]
pub struct App {
    pub theme: Theme,
    pub size: (u16, u16),
    pub interval: Duration,
    pub paused: bool,
    pub pane: Pane,
    pub overlay: Overlay,
    pub quitting: bool,

    pub host: HostInfo,
    pub snapshot: Snapshot,
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

    // Processes pane.
    pub tree: bool,
    pub proc_sort: Sort<ProcColumn>,
    pub proc_filter: Filter,
    pub proc_rows: Vec<ProcRow>,
    pub proc_selected: Option<i32>,
    pub proc_cursor: usize,
    pub proc_offset: usize,
    /// A pid to select as soon as a snapshot shows it (a demo just spawned).
    pub pending_select: Option<ChildKind>,
    /// The pid that child told us to select instead of itself (the zombie demo's parent).
    pub select_when_seen: Option<i32>,

    // Sockets pane.
    pub sock_sort: Sort<SockColumn>,
    pub sock_filter: Filter,
    pub sock_rows: Vec<usize>,
    pub sock_cursor: usize,
    pub sock_offset: usize,

    // State-machine pane.
    pub transition_source: TransitionSource,
    pub transitions: VecDeque<SeenTransition>,
    pub machine_filter: Filter,
    /// The connection (local, remote) whose life the pane shows; chosen with the arrows.
    pub machine_selected: Option<(SocketAddr, SocketAddr)>,
    sampler: Sampler,

    pub server: ServerView,
    pub children: Vec<Child>,
    pub status: Option<(StatusKind, String)>,
    /// The demos `d` offers: (name, one-line description), from the command line definition.
    pub demos: Vec<(String, String)>,
    /// What happened, newest last: reaped zombies, exits, errors.
    pub notices: VecDeque<String>,
}

impl App {
    pub fn new(interval: Duration, size: (u16, u16), theme: Theme) -> App {
        App {
            theme,
            size,
            interval,
            paused: false,
            pane: Pane::Processes,
            overlay: Overlay::None,
            quitting: false,
            host: HostInfo::default(),
            snapshot: Snapshot::default(),
            source_error: None,
            refreshes: 0,
            relations: Relations::default(),
            cpu: HashMap::new(),
            prev_cpu: HashMap::new(),
            proc_counts: views::process_counts(&[]),
            init_zombies: Vec::new(),
            sock_counts: StateCounts::default(),
            tree: false,
            proc_sort: Sort {
                column: ProcColumn::Pid,
                descending: false,
            },
            proc_filter: Filter::default(),
            proc_rows: Vec::new(),
            proc_selected: None,
            proc_cursor: 0,
            proc_offset: 0,
            pending_select: None,
            select_when_seen: None,
            sock_sort: Sort {
                column: SockColumn::State,
                descending: false,
            },
            sock_filter: Filter::default(),
            sock_rows: Vec::new(),
            sock_cursor: 0,
            sock_offset: 0,
            transition_source: TransitionSource::Sampled { interval },
            transitions: VecDeque::new(),
            machine_filter: Filter::default(),
            machine_selected: None,
            sampler: Sampler::default(),
            server: ServerView {
                model: Model::Reactor,
                workers: 1,
                state: ServerState::NotStarted,
                status: None,
                log: VecDeque::new(),
                detached: false,
                last_load: None,
            },
            children: Vec::new(),
            status: None,
            demos: demo_list(),
            notices: VecDeque::new(),
        }
    }

    /// The one way the dashboard changes.
    pub fn update(&mut self, event: Event) -> Vec<Effect> {
        let needed_owners = self.needs_owners();
        let mut effects = self.handle(event);
        // A view that shows owners just opened: refresh now rather than at the next tick.
        if !needed_owners
            && self.needs_owners()
            && !self.quitting
            && !effects.contains(&Effect::Refresh)
        {
            effects.push(Effect::Refresh);
        }
        effects
    }

    /// Whether what is on screen shows socket owners (the Sockets and State-machine panes,
    /// process details); the runtime looks them up only then.
    pub fn needs_owners(&self) -> bool {
        matches!(self.pane, Pane::Sockets | Pane::Machine)
            || matches!(self.overlay, Overlay::Details(_))
    }

    fn handle(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Key(key) => self.on_key(key),
            Event::Mouse(m) => self.on_mouse(m),
            Event::Resize(w, h) => {
                self.size = (w, h);
                self.scroll_into_view();
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
                self.host = h;
                vec![]
            }
            Event::Signalled {
                target,
                signal,
                result,
            } => {
                self.on_signalled(target, signal, result);
                vec![Effect::Refresh]
            }
            Event::Spawned { kind, pid } => {
                self.children.push(Child {
                    pid,
                    kind: kind.clone(),
                });
                if kind == ChildKind::Server {
                    self.server.state = ServerState::Running { pid, addr: None };
                    self.server.status = None;
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
                self.server.status = Some(s);
                vec![]
            }
            Event::LoadDone { opened, error } => {
                let text = match error {
                    None => format!(
                        "load: opened {opened} connections; we close them in a moment (watch FIN_WAIT, TIME_WAIT)"
                    ),
                    Some(e) => format!("load: opened {opened} connections, then: {e}"),
                };
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
        // Either way the sampler starts afresh: back to sampling, a diff against an old
        // snapshot would invent transitions; on to the tracepoint, its map of every socket
        // (megabytes at tens of thousands) is not needed any more.
        self.sampler = Sampler::default();
        self.transition_source = source;
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
            fx.push(Effect::PollServerStatus(addr));
        }
        fx
    }

    fn on_snapshot(&mut self, s: Snapshot) {
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
        if matches!(self.transition_source, TransitionSource::Sampled { .. }) {
            let ts = s.taken_at.unwrap_or(std::time::UNIX_EPOCH);
            let mut found = self.sampler.diff(&s.sockets, ts);
            let comm_of: HashMap<i32, &str> = found
                .iter()
                .filter_map(|t| t.pid)
                .filter_map(|pid| {
                    let p = s.processes.iter().find(|p| p.pid == pid)?;
                    Some((pid, p.comm.as_str()))
                })
                .collect();
            for t in &mut found {
                t.comm = t.pid.and_then(|p| comm_of.get(&p)).map(|c| c.to_string());
            }
            self.refreshes += 1;
            self.push_transitions(found);
        } else {
            self.refreshes += 1;
        }
        self.relations = Relations::new(&s);
        self.proc_counts = views::process_counts(&s.processes);
        self.init_zombies = crate::model::zombies::zombies_of_init(&s);
        self.sock_counts = StateCounts::of(&s.sockets);
        self.snapshot = s;
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
                    self.sock_rows.clear();
                    self.proc_filter = Filter::default();
                    self.proc_selected = Some(pid);
                }
            }
        }
        self.recompute_rows();
    }

    fn push_transitions(&mut self, list: Vec<Transition>) {
        for t in list {
            self.transitions.push_back(SeenTransition {
                transition: t,
                refresh: self.refreshes,
            });
        }
        while self.transitions.len() > TRANSITION_LOG {
            self.transitions.pop_front();
        }
    }

    /// Rebuilds both panes' rows after a new snapshot, filter or sort, keeping the selection on
    /// the same process (or the same position when it vanished).
    pub(super) fn recompute_rows(&mut self) {
        self.proc_rows = views::process_rows(
            &self.snapshot.processes,
            &self.cpu,
            self.proc_sort,
            &self.proc_filter.text,
            self.tree,
        );
        let found = self.proc_selected.and_then(|pid| {
            self.proc_rows
                .iter()
                .position(|r| self.snapshot.processes[r.idx].pid == pid)
        });
        self.proc_cursor = match found {
            Some(i) => i,
            None => self.proc_cursor.min(self.proc_rows.len().saturating_sub(1)),
        };
        self.proc_selected = self
            .proc_rows
            .get(self.proc_cursor)
            .map(|r| self.snapshot.processes[r.idx].pid);
        // Sorting tens of thousands of sockets every refresh is the dashboard's biggest cost of
        // its own: only while the Sockets pane is shown.
        if self.pane == Pane::Sockets {
            let filter = SockFilter::parse(&self.sock_filter.text);
            self.sock_rows = views::socket_rows(&self.snapshot.sockets, self.sock_sort, &filter);
            self.sock_cursor = self.sock_cursor.min(self.sock_rows.len().saturating_sub(1));
        } else {
            self.sock_rows.clear();
        }
        self.scroll_into_view();
    }

    /// Shows `pane`, with its rows up to date.
    pub(super) fn set_pane(&mut self, pane: Pane) {
        if self.pane != pane {
            self.pane = pane;
            self.recompute_rows();
        }
    }

    /// Keeps the cursor of the visible pane inside the drawn window.
    pub(super) fn scroll_into_view(&mut self) {
        let (_, rows) = self.table_rows();
        let fit = |cursor: usize, offset: &mut usize| {
            if rows == 0 || cursor < *offset {
                *offset = cursor;
            } else if cursor >= *offset + rows {
                *offset = cursor + 1 - rows;
            }
        };
        fit(self.proc_cursor, &mut self.proc_offset);
        fit(self.sock_cursor, &mut self.sock_offset);
    }

    /// The table rows on screen now: (first row's y, count).
    pub fn table_rows(&self) -> (u16, usize) {
        let area = ratatui::layout::Rect::new(0, 0, self.size.0, self.size.1);
        super::layout::table_rows(super::layout::areas(area).body)
    }

    pub fn process(&self, pid: i32) -> Option<&crate::model::Process> {
        self.relations
            .index
            .get(&pid)
            .and_then(|&i| self.snapshot.processes.get(i))
    }

    pub fn selected_process(&self) -> Option<&crate::model::Process> {
        self.proc_selected.and_then(|pid| self.process(pid))
    }

    pub fn selected_socket(&self) -> Option<&crate::model::Socket> {
        self.sock_rows
            .get(self.sock_cursor)
            .and_then(|&i| self.snapshot.sockets.get(i))
    }

    /// Counts per state for the State-machine pane, restricted by its filter.
    pub fn machine_counts(&self) -> StateCounts {
        match MachineFilter::parse(&self.machine_filter.text) {
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
        let f = MachineFilter::parse(&self.machine_filter.text);
        self.transitions
            .iter()
            .filter(move |t| f.is_none_or(|f| f.matches_transition(&t.transition)))
    }

    /// The connections in the (filtered) transition log, newest first, each once.
    pub fn machine_connections(&self) -> Vec<(SocketAddr, SocketAddr)> {
        let mut seen = Vec::new();
        for t in self.machine_transitions().rev() {
            let pair = (t.transition.local, t.transition.remote);
            if !seen.contains(&pair) {
                seen.push(pair);
            }
        }
        seen
    }

    /// The selected connection's life as far as the log shows it.
    pub fn selected_timeline(&self) -> Option<Vec<crate::trace::conns::Step>> {
        let (local, remote) = self.machine_selected?;
        let log = self.transitions.iter().map(|t| &t.transition);
        Some(crate::trace::conns::timeline_of(log, local, remote))
    }

    /// Edges (old, new) taken in the last few refreshes.
    /// Edges taken in the last `LIT_REFRESHES` refreshes, each with its age in refreshes (0:
    /// this one), so drawing can fade it; the newest age wins when an edge was taken again.
    pub fn lit_edges(&self) -> Vec<(TcpState, TcpState, u64)> {
        let since = self.refreshes.saturating_sub(LIT_REFRESHES);
        let mut edges: Vec<_> = self
            .machine_transitions()
            .filter(|t| t.refresh > since)
            .map(|t| {
                let age = self.refreshes.saturating_sub(t.refresh);
                (t.transition.old, t.transition.new, age)
            })
            .collect();
        edges.sort();
        edges.dedup_by_key(|(from, to, _)| (*from, *to));
        edges
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
