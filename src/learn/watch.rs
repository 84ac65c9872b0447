//! The checks' eyes: one live source (processes, sockets, owners) and, for checks that read
//! transitions, a tracer on the lesson's port (the kernel tracepoint, or sampling when that is
//! not possible, and then said).

use std::time::{Duration, Instant};

use super::check::{Check, Context, Learner, Memory, Observation, Tracing, Verdict};
use super::lang::Lang;
use crate::kernel::live::LiveSource;
use crate::model::{Snapshot, SnapshotSource, Transition};
use crate::trace::live::{LiveEvent, LiveTrace};

/// Transitions kept at most (the oldest go first).
const KEEP: usize = 10_000;

pub struct Watcher {
    pub port: u16,
    pub lang: Lang,
    source: LiveSource,
    trace: Option<LiveTrace>,
    pub tracing: Tracing,
    transitions: Vec<Transition>,
    /// Things the tracer said that are not transitions (lost events, failures).
    pub notices: Vec<String>,
    /// When the current step began (the last `forget_transitions`).
    step_started: Instant,
    /// Whose processes count, and since when (`begin_lesson`).
    learner: Option<Learner>,
}

impl Watcher {
    pub fn new(port: u16, lang: Lang) -> Watcher {
        Watcher {
            port,
            lang,
            source: LiveSource::new(),
            trace: None,
            tracing: Tracing::None,
            transitions: Vec::new(),
            notices: Vec::new(),
            step_started: Instant::now(),
            learner: None,
        }
        .began()
    }

    /// Starts the lesson's clock: processes started before now are not the lesson's doing
    /// (unless a step finds them). Also the step's, as [`Watcher::forget_transitions`].
    pub fn begin_lesson(&mut self) {
        self.learner = crate::kernel::host::uptime().map(|lesson_began| Learner {
            uid: crate::kernel::proc::own_uid(),
            lesson_began,
        });
        self.forget_transitions();
    }

    fn began(mut self) -> Watcher {
        self.begin_lesson();
        self
    }

    /// Starts the tracer on the port (once); checks that read transitions need it.
    pub fn start_tracing(&mut self) -> std::io::Result<()> {
        if self.trace.is_none() {
            self.trace = Some(LiveTrace::start(Some(self.port))?);
        }
        Ok(())
    }

    /// Waits until the tracer is live (or has failed), at most `timeout`.
    pub fn wait_tracing(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.tracing == Tracing::None && self.trace.is_some() {
            self.drain();
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.tracing != Tracing::None
    }

    /// Forgets the transitions seen so far and starts the step's clock: a step's check counts
    /// only what happens after it began.
    pub fn forget_transitions(&mut self) {
        self.drain();
        self.transitions.clear();
        self.step_started = Instant::now();
    }

    /// Takes in what the tracer reported since the last call.
    pub fn drain(&mut self) {
        let Some(trace) = self.trace.as_mut() else {
            return;
        };
        for ev in trace.drain() {
            match ev {
                LiveEvent::Ready { source, detail } => {
                    self.tracing = Tracing::from_source(source, &detail)
                }
                LiveEvent::Transition(t) => self.transitions.push(t),
                LiveEvent::Lost(n) => self.notices.push(format!(
                    "{} lost",
                    crate::units::count(n, "transition", "transitions")
                )),
                LiveEvent::Notice(n) => self.notices.push(n),
                LiveEvent::Failed(e) => {
                    self.notices.push(e.clone());
                    self.tracing = Tracing::Sampled {
                        interval: Duration::ZERO,
                        why: e,
                    };
                }
            }
        }
        if self.transitions.len() > KEEP {
            let extra = self.transitions.len() - KEEP;
            self.transitions.drain(..extra);
        }
    }

    /// A fresh snapshot, and the tracer's news up to the moment it was taken. A snapshot of a
    /// busy machine takes seconds: what the tracer reported meanwhile is taken in after it, so
    /// a check sees every transition that came before it is evaluated, not only those that
    /// came before the snapshot began (a check that needs the next snapshot to see them could
    /// run out of time waiting for it).
    pub fn snapshot(&mut self) -> anyhow::Result<Snapshot> {
        let snap = self.source.snapshot();
        self.drain();
        snap
    }

    /// Evaluates `check` on `snap` and the transitions seen since the step began.
    pub fn evaluate(&self, check: &Check, snap: &Snapshot, memory: &mut Memory) -> Verdict {
        let obs = Observation {
            snap,
            transitions: &self.transitions,
            tracing: &self.tracing,
            step_age: Some(self.step_started.elapsed()),
            learner: self.learner,
        };
        let mut cx = Context {
            port: self.port,
            lang: self.lang,
            memory,
        };
        check.evaluate(&obs, &mut cx)
    }

    /// Takes snapshots until `check` passes or `timeout` ends; the last verdict.
    pub fn until(&mut self, check: &Check, memory: &mut Memory, timeout: Duration) -> Verdict {
        let deadline = Instant::now() + timeout;
        loop {
            let verdict = match self.snapshot() {
                Ok(snap) => self.evaluate(check, &snap, memory),
                Err(e) => Verdict::Cannot(format!("{e:#}")),
            };
            if verdict.passed() || Instant::now() > deadline {
                return verdict;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
