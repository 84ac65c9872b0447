//! The loop: read input, run the effects `App::update` asks for, feed their results back as
//! events, draw when something changed. All I/O of the dashboard happens here (and in the
//! helpers it calls: `children`, `probe`, the live source); the core stays pure.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::event::{self as ct, Event as CtEvent, KeyEventKind};
use nix::sys::signal::kill;
use nix::unistd::Pid;

use super::app::{App, StatusKind};
use super::children::{end_and_reap, reap_now, Children};
use super::event::LessonAction;
use super::event::{ChildKind, Effect, Event, Reaped, SignalTarget, StatusUnavailable};
use super::probe::{Load, News, StatusPoller};
use super::scanner::{Scanner, Want};
use super::term::{self, StopSignals};
use super::theme::Theme;
use crate::cli::TuiArgs;
use crate::kernel::live::LiveSource;
use crate::learn::lang::Lang;
use crate::learn::session::{Change, Session};
use crate::learn::view::LessonView;
use crate::model::TransitionSource;
use crate::trace::live::{LiveEvent, LiveTrace};

/// The longest the loop sleeps, so TERM/HUP, exited children and child output are noticed
/// promptly even at a long refresh interval.
const MAX_NAP: Duration = Duration::from_millis(200);
/// Input events handled before the loop looks at signals and children again.
const MAX_EVENTS_PER_TURN: usize = 64;
/// How long children get to exit on TERM before KILL, at quit.
const GRACE: Duration = Duration::from_secs(3);

struct Runtime {
    /// Refreshes, on their own thread: a slow scan never holds up a key.
    scanner: Scanner,
    children: Children,
    load: Load,
    /// `/status` on its own thread: kept alive, or closed per ask for a server of one
    /// connection at a time.
    status: StatusPoller,
    /// The kernel tracepoint feed; None when it is not available (not root, no tracefs) or
    /// would only sample, which the snapshots already do at no extra cost.
    trace: Option<LiveTrace>,
    /// The lesson session (`tcplab learn`, or `L`): its checks run on every snapshot.
    learn: Option<Session>,
}

impl Runtime {
    /// The lesson panel's view now, with a line for the status bar.
    fn lesson_event(&self, said: Option<(StatusKind, String)>) -> Vec<Event> {
        match &self.learn {
            Some(s) => vec![Event::Lesson {
                view: Box::new(LessonView::of(s)),
                said,
            }],
            None => vec![],
        }
    }

    /// The snapshot a new one replaced goes to the refresh thread to be freed.
    fn retire(&self, app: &mut App) {
        if let Some(old) = app.retired.take() {
            self.scanner.retire(old);
        }
    }

    /// Checks the lesson's current step against a fresh snapshot.
    fn check_lesson(&mut self, snap: &crate::model::Snapshot) -> Vec<Event> {
        let Some(session) = &mut self.learn else {
            return vec![];
        };
        let said = match session.tick_with(snap) {
            Ok(Some(Change::StepDone(_, text))) => Some((StatusKind::Info, format!("✓ {text}"))),
            Ok(None) => None,
            Err(e) => Some((StatusKind::Error, format!("{e:#}"))),
        };
        self.lesson_event(said)
    }

    fn lesson(&mut self, action: LessonAction) -> Vec<Event> {
        let said = match action {
            LessonAction::Start if self.learn.is_none() => {
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .map(|a| a.port());
                let lang = Lang::choose(None, |k| std::env::var(k).ok());
                let started = port.map_err(anyhow::Error::from).and_then(|port| {
                    let path = crate::learn::progress::path(|k| std::env::var_os(k))?;
                    Session::new(lang, port, path)
                });
                match started {
                    Ok(s) => {
                        self.learn = Some(s);
                        None
                    }
                    Err(e) => Some((StatusKind::Error, format!("lessons: {e:#}"))),
                }
            }
            LessonAction::Start => None,
            LessonAction::Open(i) => {
                if let Some(s) = &mut self.learn {
                    s.open_index(i);
                }
                None
            }
            LessonAction::Skip => match &mut self.learn {
                Some(s) => match s.skip() {
                    Ok(true) => None,
                    Ok(false) => Some((
                        StatusKind::Info,
                        s.lang()
                            .pick(
                                "only a step whose check cannot be made here can be skipped",
                                "只有在这里无法检查的步骤才能跳过",
                            )
                            .to_string(),
                    )),
                    Err(e) => Some((StatusKind::Error, format!("{e:#}"))),
                },
                None => None,
            },
        };
        let events = self.lesson_event(said);
        // A new lesson or step is checked at once, not at the next tick.
        self.scanner.request_again();
        events
    }

    /// Performs one effect; returns the events it produced.
    fn execute(&mut self, effect: Effect) -> Vec<Event> {
        match effect {
            // Asked for by the loop with what the screen needs, answered in `background`
            // when the scan is done.
            Effect::Refresh => vec![],
            Effect::Signal {
                target,
                signal,
                start,
            } => {
                let result = match (target, start) {
                    (SignalTarget::Process(pid), Some(start)) => {
                        crate::kernel::signals::signal_if_same(pid, start, signal)
                    }
                    _ => kill(Pid::from_raw(target.kill_arg()), signal),
                };
                vec![Event::Signalled {
                    target,
                    signal,
                    start,
                    result,
                }]
            }
            Effect::SpawnDemo { name, args } => {
                let kind = ChildKind::Demo(name.clone());
                let mut argv = vec!["demo".to_string(), name.clone()];
                argv.extend(args);
                vec![match self.children.spawn(&format!("demo-{name}"), &argv) {
                    Ok(pid) => Event::Spawned {
                        kind,
                        pid,
                        log: self.children.log_path(pid),
                    },
                    Err(e) => Event::SpawnFailed {
                        kind,
                        error: format!("{e:#}"),
                    },
                }]
            }
            Effect::StartServer { model, workers } => {
                let argv: Vec<String> = [
                    "serve",
                    "--listen",
                    "127.0.0.1:0",
                    "--model",
                    model.name(),
                    "--workers",
                    &workers.to_string(),
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                vec![match self.children.spawn("serve", &argv) {
                    Ok(pid) => Event::Spawned {
                        kind: ChildKind::Server,
                        pid,
                        log: self.children.log_path(pid),
                    },
                    Err(e) => Event::SpawnFailed {
                        kind: ChildKind::Server,
                        error: format!("{e:#}"),
                    },
                }]
            }
            Effect::PollServerStatus(addr, model) => {
                self.status.request(addr, model.serves_one_at_a_time());
                vec![]
            }
            Effect::Load { addr, connections } => {
                let (opened, error) = self.load.burst(addr, connections);
                vec![Event::LoadDone { opened, error }]
            }
            Effect::EndChildren(pids) => {
                let reaped = end_and_reap(&pids, GRACE);
                vec![Event::Reaped(
                    reaped
                        .into_iter()
                        .map(|(pid, how)| Reaped { pid, how })
                        .collect(),
                )]
            }
            Effect::Lesson(action) => self.lesson(action),
            Effect::Copy(text) => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = write!(out, "\x1b]52;c;{}\x07", base64(text.as_bytes()));
                let _ = out.flush();
                vec![]
            }
            Effect::Quit => vec![],
        }
    }

    /// What happened in the background: output of children, children that exited.
    fn background(&mut self) -> Vec<Event> {
        let mut events: Vec<Event> = self
            .children
            .new_lines()
            .into_iter()
            .map(|(pid, line)| Event::ChildOutput { pid, line })
            .collect();
        let finished = self.scanner.finished();
        // The dashboard's own /status connections, announced before they connect: drained
        // after the snapshots were taken and handled before them, so a snapshot that shows
        // one never comes before the word that it is ours. Before the tracer's news too: it
        // learns its own connection before the transitions that show it, and hides them.
        events.extend(self.status.news().into_iter().map(|n| match n {
            News::Connected(local) => Event::ServerProbe(local),
            News::Answer(answer) => Event::ServerStatus(answer.map_err(StatusUnavailable::from)),
        }));
        for result in finished {
            events.push(Event::Host(crate::kernel::host::read()));
            match result {
                Ok(s) => {
                    events.extend(self.check_lesson(&s));
                    events.push(Event::Snapshot(s));
                }
                Err(e) => events.push(Event::SourceError(format!("{e:#}"))),
            }
        }
        let reaped = reap_now();
        if !reaped.is_empty() {
            // Their last words first, then their end.
            events.extend(
                self.children
                    .new_lines()
                    .into_iter()
                    .map(|(pid, line)| Event::ChildOutput { pid, line }),
            );
            for (pid, _) in &reaped {
                self.children.forget(*pid);
            }
            events.push(Event::Reaped(
                reaped
                    .into_iter()
                    .map(|(pid, how)| Reaped { pid, how })
                    .collect(),
            ));
        }
        let closed = self.load.close_due(Instant::now());
        if closed > 0 {
            events.push(Event::LoadClosed(closed));
        }
        events.extend(self.trace_events());
        events
    }

    fn trace_events(&mut self) -> Vec<Event> {
        let Some(trace) = &mut self.trace else {
            return vec![];
        };
        let mut events = Vec::new();
        let mut transitions = Vec::new();
        let mut stop = false;
        for e in trace.drain() {
            match e {
                LiveEvent::Ready {
                    source: source @ TransitionSource::Tracepoint,
                    detail,
                } => events.push(Event::TraceReady { source, detail }),
                // Sampling every 20ms on a thread would cost more than it shows: the
                // snapshots' own sampler stays.
                LiveEvent::Ready { .. } => stop = true,
                LiveEvent::Transition(t) => transitions.push(t),
                LiveEvent::Lost(n) => events.push(Event::TraceNotice(format!(
                    "{} lost so far",
                    crate::units::count(n, "transition", "transitions")
                ))),
                LiveEvent::Notice(n) => events.push(Event::TraceNotice(n)),
                LiveEvent::Failed(e) => {
                    events.push(Event::TraceFailed(e));
                    stop = true;
                }
            }
        }
        if !transitions.is_empty() {
            events.push(Event::Transitions(transitions));
        }
        if stop {
            // Dropping it stops the thread and removes the tracefs instance.
            self.trace = None;
        }
        events
    }
}

/// Standard base64 with padding (RFC 4648), for OSC 52.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn translate(e: CtEvent) -> Option<Event> {
    match e {
        CtEvent::Key(k) if k.kind != KeyEventKind::Release => Some(Event::Key(k)),
        CtEvent::Mouse(m) => Some(Event::Mouse(m)),
        CtEvent::Resize(w, h) => Some(Event::Resize(w, h)),
        _ => None,
    }
}

pub fn run(args: TuiArgs) -> anyhow::Result<ExitCode> {
    run_with(args, None)
}

/// The dashboard, with the lesson panel open on `learn` when there is one (`tcplab learn`).
pub fn run_with(args: TuiArgs, learn: Option<Session>) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "the dashboard needs a terminal on stdin and stdout (in scripts use `tcplab ps` or `tcplab net`)"
        );
    }
    // Orphans of what we start (the zombie demo's children when their parent dies) come back
    // to us, not to PID 1, and are reaped at once.
    let subreaper = crate::kernel::subreaper::become_subreaper();
    let stop = StopSignals::register().context("cannot install TERM/HUP handlers")?;
    let (mut terminal, guard) = term::setup().context("cannot set up the terminal")?;
    let size = terminal.size()?;
    let mut app = App::new(args.interval, (size.width, size.height), Theme::from_env());
    if let Err(e) = subreaper {
        app.say(
            StatusKind::Error,
            format!("not a child subreaper ({e}): orphans will go to PID 1"),
        );
    }
    let mut rt = Runtime {
        scanner: Scanner::start(LiveSource::new()).context("cannot start the refresh thread")?,
        children: Children::default(),
        load: Load::default(),
        status: StatusPoller::start().context("cannot start the /status thread")?,
        trace: LiveTrace::start(None).ok(),
        learn,
    };
    if rt.learn.is_some() {
        app.lesson.visible = true;
        for event in rt.lesson_event(None) {
            app.update(event);
        }
    }
    let outcome = event_loop(&mut terminal, &mut app, &mut rt, &stop);
    // Whatever ended the loop (a terminal error included), nothing we started outlives us
    // unless it was detached on purpose.
    let leftover = app.children_to_end();
    if !leftover.is_empty() {
        let reaped = end_and_reap(&leftover, GRACE);
        app.update(Event::Reaped(
            reaped
                .into_iter()
                .map(|(pid, how)| Reaped { pid, how })
                .collect(),
        ));
    }
    let detached: Vec<i32> = app.children.iter().map(|c| c.pid).collect();
    rt.children.cleanup(&detached);
    // Stops the tracer thread and removes its tracefs instance.
    rt.trace = None;
    drop(terminal);
    drop(guard);
    outcome?;
    // The screen is gone: now stderr may speak.
    if let (Some(pid), true) = (app.server.pid(), app.server.detached) {
        let at = app
            .server
            .addr()
            .map_or(String::new(), |a| format!(" on http://{a}"));
        let log = rt
            .children
            .log_path(pid)
            .map_or(String::new(), |p| format!("; its log: {}", p.display()));
        eprintln!("tcplab tui: server pid {pid} left running{at}{log}");
    }
    Ok(ExitCode::SUCCESS)
}

fn event_loop(
    terminal: &mut term::Term,
    app: &mut App,
    rt: &mut Runtime,
    stop: &StopSignals,
) -> anyhow::Result<()> {
    let mut queue: VecDeque<Effect> = VecDeque::from([Effect::Refresh]);
    let mut next_tick = Instant::now() + app.tick_interval();
    let mut dirty = true;
    let mut stopping = false;
    // The terminal hung up: nothing more is drawn or read.
    let mut gone = false;
    loop {
        while let Some(effect) = queue.pop_front() {
            match effect {
                Effect::Quit => return Ok(()),
                Effect::Refresh => {
                    // One refresh answers every request queued behind it.
                    queue.retain(|e| *e != Effect::Refresh);
                    // Owners cost most of a refresh on a busy machine: read them only while
                    // something on screen shows them; tcp_info likewise, only while rates or a
                    // connection are on screen.
                    rt.scanner.request(Want {
                        owners: app.needs_owners(),
                        info: app.needs_info(),
                        follow: app.followed(),
                    });
                }
                // Ending children takes a moment: show that we are on it (if the terminal is
                // still there: after a hangup it is not, and the children must end anyway).
                Effect::EndChildren(_) if !gone => {
                    let _ = terminal.draw(|f| super::draw(f, app));
                }
                _ => {}
            }
            // An effect changes the screen only through the events it brings back (a refresh
            // asked for shows when its snapshot arrives).
            for event in rt.execute(effect) {
                queue.extend(app.update(event));
                dirty = true;
            }
            rt.retire(app);
        }
        if dirty && !gone {
            terminal.draw(|f| super::draw(f, app))?;
            dirty = false;
        }
        let now = Instant::now();
        let nap = next_tick.saturating_duration_since(now).min(MAX_NAP);
        // Wait on the terminal ourselves, and call into crossterm only while it is alive.
        let input = term::wait_input(nap);
        if !term::tty_alive() {
            // The terminal hung up (its window closed): quit as on HUP, without drawing.
            if !stopping {
                stopping = true;
                queue.extend(app.update(Event::StopRequested));
            }
            gone = true;
        } else if input || ct::poll(Duration::ZERO)? {
            // Take what is already waiting (keys, and resizes crossterm learns by SIGWINCH),
            // so a burst is one redraw; bounded, so the stop flag is seen.
            for _ in 0..MAX_EVENTS_PER_TURN {
                if let Some(event) = translate(ct::read()?) {
                    queue.extend(app.update(event));
                    dirty = true;
                }
                if !term::tty_alive() || !ct::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        if stop.stop_requested() && !stopping {
            stopping = true;
            queue.extend(app.update(Event::StopRequested));
        }
        for event in rt.background() {
            queue.extend(app.update(event));
            dirty = true;
        }
        rt.retire(app);
        if Instant::now() >= next_tick {
            // A tick only asks for a refresh: nothing to draw until its snapshot comes (a
            // frame costs a few milliseconds at tens of thousands of sockets).
            queue.extend(app.update(Event::Tick));
            next_tick = Instant::now() + app.tick_interval();
        }
    }
}
