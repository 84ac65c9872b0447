//! How a demo waits: for Ctrl+C (INT), TERM or HUP, for its `--duration` to run out, for a child
//! to change state (CHLD), or for a tick. Signals arrive through signal-hook's self-pipe and a mio
//! poll, so no work ever happens inside a signal handler and nothing here starts a thread.
//!
//! Create a `Waiter` only after the demo's last fork: a child would otherwise inherit the
//! handlers and write its signals into the parent's pipe.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::Context;
use mio::{Events, Interest, Poll, Token};
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::model::signals::signal_name;

/// Why a demo stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Signal(i32),
    Duration,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Signal(n) => write!(f, "SIG{}", signal_name(*n as u32)),
            Stop::Duration => write!(f, "the end of --duration"),
        }
    }
}

/// What woke the demo up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    Stop(Stop),
    /// A child exited or stopped (SIGCHLD): time to reap.
    Child,
    /// Another signal the demo asked for.
    Signal(i32),
    /// The tick passed without anything else happening.
    Tick,
}

const SIGNALS: Token = Token(0);

fn stop_signals() -> SigSet {
    let mut set = SigSet::empty();
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(sig);
    }
    set
}

/// Blocks INT, TERM and HUP until a `Waiter` exists (or `release_stop_signals`): a Ctrl+C
/// that comes between the demo's start and its handlers then waits instead of killing the
/// demo before it could clean up. Forked children inherit the block; `in_child` lifts it.
pub fn hold_stop_signals() -> anyhow::Result<()> {
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&stop_signals()), None)
        .context("cannot block INT, TERM and HUP")
}

/// Lifts `hold_stop_signals`.
pub fn release_stop_signals() -> anyhow::Result<()> {
    sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&stop_signals()), None)
        .context("cannot unblock INT, TERM and HUP")
}

pub struct Waiter {
    poll: Poll,
    events: Events,
    signals: Signals,
    pending: VecDeque<i32>,
    deadline: Option<Instant>,
}

impl Waiter {
    /// Watches INT, TERM and HUP (stop), the `extra` signals (CHLD among them for demos with
    /// children), and the deadline `duration` from now.
    pub fn new(duration: Option<Duration>, extra: &[i32]) -> anyhow::Result<Waiter> {
        let poll = Poll::new().context("cannot create a poll instance")?;
        let mut wanted = vec![SIGINT, SIGTERM, SIGHUP];
        wanted.extend_from_slice(extra);
        let mut signals = Signals::new(&wanted).context("cannot install signal handlers")?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .context("cannot watch the signal pipe")?;
        // What arrived while held comes through the handlers, into the pipe, now.
        release_stop_signals()?;
        Ok(Waiter {
            poll,
            events: Events::with_capacity(8),
            signals,
            pending: VecDeque::new(),
            deadline: duration.map(|d| Instant::now() + d),
        })
    }

    /// A waiter for demos with children: CHLD wakes it too.
    pub fn with_children(duration: Option<Duration>) -> anyhow::Result<Waiter> {
        Waiter::new(duration, &[SIGCHLD])
    }

    /// Blocks until something happens, or until `tick` passes (None: no tick).
    pub fn wait(&mut self, tick: Option<Duration>) -> anyhow::Result<Wake> {
        let tick_at = tick.map(|t| Instant::now() + t);
        loop {
            if let Some(sig) = self.pending.pop_front() {
                return Ok(match sig {
                    SIGINT | SIGTERM | SIGHUP => Wake::Stop(Stop::Signal(sig)),
                    SIGCHLD => Wake::Child,
                    other => Wake::Signal(other),
                });
            }
            let now = Instant::now();
            if self.deadline.is_some_and(|d| now >= d) {
                return Ok(Wake::Stop(Stop::Duration));
            }
            if tick_at.is_some_and(|t| now >= t) {
                return Ok(Wake::Tick);
            }
            let until = [self.deadline, tick_at].into_iter().flatten().min();
            let timeout = until.map(|u| u.saturating_duration_since(now));
            match self.poll.poll(&mut self.events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).context("waiting for signals failed"),
            }
            self.pending.extend(self.signals.pending());
        }
    }

    /// Sleeps up to `d`, waking early on any signal (a CHLD while reaping), whatever the
    /// deadline; the signals seen are kept for the next `wait`.
    pub fn nap(&mut self, d: Duration) {
        // An error (Interrupted: a signal arrived) only ends the nap early; that is not worth
        // failing a cleanup for.
        let _ = self.poll.poll(&mut self.events, Some(d));
        self.pending.extend(self.signals.pending());
    }

    /// Waits until a stop condition, ignoring other wake-ups.
    pub fn until_stop(&mut self) -> anyhow::Result<Stop> {
        loop {
            if let Wake::Stop(stop) = self.wait(None)? {
                return Ok(stop);
            }
        }
    }
}
