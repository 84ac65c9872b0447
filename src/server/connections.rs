//! The connection table every model's loop shares: the slots ([`Slab`]) of [`Conn`]s, their
//! `/sleep` timers, the sweep that cuts connections past their deadlines, the graceful drain,
//! closing, the buffers a connection borrows while it is driven ([`Io`]), and the logs. A loop
//! (epoll in [`reactor`](super::reactor), select/poll in
//! [`multiplex`](super::models::multiplex), blocking reads in
//! [`blocking`](super::models::blocking)) keeps only its own way of waiting: it calls
//! [`Connections::drive`] when a socket is ready, [`Connections::tick`] after every wait, and
//! waits at most until [`Connections::next_wake`].
//!
//! The drain is HAProxy's `idle-close-on-response`: a connection idle between keep-alive
//! requests is not closed when the drain begins (its client may be sending the next request
//! right now, and would see the close as a failure); its next request is answered with
//! `Connection: close`, and only a connection that stays idle is closed, at its keep-alive
//! timeout or at `--shutdown-timeout`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::config::Config;
use super::conn::{Conn, Drive, Io, Stream, Timer};
use super::date::Clock;
use super::intents::Intent;
use super::logs::LogSink;
use super::routes::Site;
use super::slab::Slab;
use super::stats::Scoreboard;
use crate::units::count;

/// How often deadlines are checked: the precision of every timeout.
const SWEEP_EVERY: Duration = Duration::from_millis(100);
/// Bytes read at once into the shared scratch buffer.
const SCRATCH: usize = 64 << 10;

/// Why a connection is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Its socket is ready (or may be: drive does what it can and stops at WouldBlock).
    Ready,
    /// Its `/sleep` timer fired.
    TimerFired,
}

/// What a worker's event loop ([`reactor`](super::reactor), [`uring`](super::uring)) starts
/// with, in a forked worker: its listener, the server's configuration, the scoreboard whose own
/// slot it counts into, and the signal intents the caller installed. The loop opens the logs.
pub struct LoopStart<'a> {
    pub listener: std::net::TcpListener,
    pub config: &'a Config,
    pub board: Scoreboard,
    pub intents: super::intents::Intents,
}

/// A worker's event loop: serves until a signal stops it.
pub type EventLoop = fn(LoopStart<'_>) -> anyhow::Result<Stopped>;

/// Why a loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// INT or TERM.
    Now,
    /// QUIT, and every connection finished.
    Gracefully,
    /// QUIT, and `--shutdown-timeout` passed with connections still open.
    ShutdownTimeout,
}

pub struct Connections<S: Stream> {
    slab: Slab<Conn<S>>,
    shared: Shared,
    /// Unique per connection for the life of the process (slots are reused).
    next_id: u64,
    next_sweep: Instant,
    /// A drain began; the loop ends at this deadline at the latest.
    draining_until: Option<Instant>,
}

impl<S: Stream> Connections<S> {
    /// Opens the logs the configuration names (stderr for errors by default).
    pub fn open(config: Config, board: Scoreboard) -> anyhow::Result<Connections<S>> {
        let error_log = match &config.error_log {
            Some(p) => LogSink::open(p).with_context(|| format!("--error-log {}", p.display()))?,
            None => LogSink::stderr(),
        };
        let access_log = match &config.access_log {
            Some(p) => {
                Some(LogSink::open(p).with_context(|| format!("--access-log {}", p.display()))?)
            }
            None => None,
        };
        let clock = Clock::new();
        Ok(Connections {
            slab: Slab::new(),
            next_sweep: clock.now + SWEEP_EVERY,
            shared: Shared {
                config,
                clock,
                board,
                access_log,
                scratch: vec![0; SCRATCH],
                out: Vec::with_capacity(SCRATCH),
                timers: BinaryHeap::new(),
                error_log,
            },
            next_id: 0,
            draining_until: None,
        })
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The cached clock's instant, as of the last [`tick`](Self::tick).
    pub fn now(&self) -> Instant {
        self.shared.clock.now
    }

    /// This process's slot on the scoreboard.
    pub fn board(&self) -> &Scoreboard {
        &self.shared.board
    }

    pub fn len(&self) -> usize {
        self.slab.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// At `--max-connections`: leave the rest in the kernel's accept queue.
    pub fn full(&self) -> bool {
        self.slab.len() >= self.shared.config.max_connections
    }

    /// The slot the next `insert` will use (the reactor registers it as the socket's token).
    pub fn vacant_key(&self) -> usize {
        self.slab.vacant_key()
    }

    /// Takes in a connection just accepted; returns its slot.
    pub fn insert(&mut self, stream: S, peer: IpAddr) -> usize {
        self.next_id += 1;
        let conn = Conn::new(
            stream,
            self.next_id,
            peer,
            self.shared.clock.now,
            &self.shared.config,
        );
        self.shared.board.own().opened();
        self.slab.insert(conn)
    }

    pub fn get_mut(&mut self, slot: usize) -> Option<&mut Conn<S>> {
        self.slab.get_mut(slot)
    }

    pub fn iter(&self) -> impl Iterator<Item = (usize, &Conn<S>)> {
        self.slab.iter()
    }

    /// The `/sleep` timers pending, soonest first at the top.
    pub fn timers(&self) -> &BinaryHeap<Timer> {
        &self.shared.timers
    }

    /// Forgets every pending timer: for a loop that serves one connection at a time, once it
    /// closed (a closed connection's timers are otherwise skipped when they fire).
    pub fn clear_timers(&mut self) {
        self.shared.timers.clear();
    }

    pub fn draining(&self) -> bool {
        self.draining_until.is_some()
    }

    /// Does what the connection in `slot` can do now, and closes it when it is done.
    pub fn drive(&mut self, slot: usize, cause: Cause) {
        let Some(conn) = self.slab.get_mut(slot) else {
            return;
        };
        let mut io = self.shared.io(slot, self.draining_until.is_some());
        let result = match cause {
            Cause::Ready => conn.drive(&mut io),
            Cause::TimerFired => conn.wake(&mut io),
        };
        // Draining, an idle connection stays open (see the module's note): its next answer
        // says Connection: close, and the connection ends after it.
        if result == Drive::Close {
            self.close(slot);
        }
    }

    /// After every wait: the clock, due timers, the sweep, the access log.
    pub fn tick(&mut self) {
        self.shared.clock.tick();
        self.fire_timers();
        if self.shared.clock.now >= self.next_sweep {
            self.sweep();
        }
    }

    fn fire_timers(&mut self) {
        while let Some(Reverse((t, slot, id))) = self.shared.timers.peek().copied() {
            if t > self.shared.clock.now {
                return;
            }
            self.shared.timers.pop();
            if self.slab.get_mut(slot).is_some_and(|c| c.id == id) {
                self.drive(slot, Cause::TimerFired);
            }
        }
    }

    /// Cuts every connection past its deadline (a slowloris head, an idle keep-alive, a
    /// client that stopped reading).
    fn sweep(&mut self) {
        self.next_sweep = self.shared.clock.now + SWEEP_EVERY;
        let now = self.shared.clock.now;
        let late: Vec<usize> = self
            .slab
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(slot, _)| slot)
            .collect();
        for slot in late {
            if let Some(conn) = self.slab.get_mut(slot) {
                conn.time_out(&mut self.shared.io(slot, true));
            }
            self.close(slot);
        }
    }

    /// The latest instant the loop may wait until: the next timer, sweep or drain deadline;
    /// None (forever) when there is nothing to wait for.
    pub fn next_wake(&self) -> Option<Instant> {
        let mut next: Option<Instant> = self.shared.timers.peek().map(|Reverse((t, _, _))| *t);
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        if !self.slab.is_empty() {
            consider(self.next_sweep);
        }
        if let Some(t) = self.draining_until {
            consider(t);
        }
        next
    }

    /// Acts on a signal's intent; Some when the loop must end now.
    pub fn on_intent(&mut self, intent: Intent) -> Option<Stopped> {
        match intent {
            Intent::StopNow => return Some(Stopped::Now),
            Intent::Drain => self.begin_drain(),
            Intent::ReopenLogs => self.reopen_logs(),
            Intent::Reload => self.reload_in_place(),
        }
        None
    }

    /// HUP to a one-process server. A master's reload forks workers that start from the flags
    /// and open the logs afresh; one process has no workers to replace, no configuration file
    /// to re-read (flags are fixed, `--root` is read on every request), so what is left of a
    /// reload is opening the logs afresh. Counted in the server's reloads, which `/status`
    /// publishes for `tcplab reload` to see it done.
    fn reload_in_place(&mut self) {
        self.reopen_logs();
        self.shared.board.server_totals().bump_reloads();
        let model = self.shared.config.model.name();
        self.log_error(format_args!(
            "HUP: reloaded in place: the {model} model is one process, with no workers to \
             replace; log files reopened"
        ));
    }

    /// The loop has stopped accepting (and closed its listener): finish what is in flight.
    fn begin_drain(&mut self) {
        if self.draining_until.is_some() {
            return;
        }
        self.draining_until = Some(self.shared.clock.now + self.shared.config.shutdown_timeout);
        let open = self.slab.len();
        let idle = self.slab.iter().filter(|(_, c)| c.is_idle()).count();
        self.log_error(format_args!(
            "graceful stop: listener closed, finishing {} \
             ({idle} idle: each closes after its next answer or at its keep-alive timeout)",
            count(open, "connection", "connections")
        ));
    }

    /// Some once a drain is over: every connection finished, or the shutdown timeout passed.
    pub fn drained(&mut self) -> Option<Stopped> {
        let until = self.draining_until?;
        if self.slab.is_empty() {
            return Some(Stopped::Gracefully);
        }
        if self.shared.clock.now >= until {
            let n = self.slab.len();
            self.log_error(format_args!(
                "graceful stop: --shutdown-timeout passed, closing {}",
                count(n, "connection", "connections")
            ));
            return Some(Stopped::ShutdownTimeout);
        }
        None
    }

    pub fn close(&mut self, slot: usize) {
        // Dropping the stream closes its descriptor (which also takes it out of epoll).
        if self.slab.remove(slot).is_some() {
            self.shared.board.own().closed();
        }
    }

    /// The loop ended: close whatever is left, write out the logs.
    pub fn close_all(&mut self) {
        let slots: Vec<usize> = self.slab.iter().map(|(slot, _)| slot).collect();
        for slot in slots {
            self.close(slot);
        }
        self.flush_logs();
    }

    pub fn reopen_logs(&mut self) {
        if let Some(log) = &mut self.shared.access_log {
            if let Err(e) = log.reopen() {
                self.shared
                    .error_log
                    .error(&self.shared.clock, format_args!("access log: {e}"));
            }
        }
        if let Err(e) = self.shared.error_log.reopen() {
            // The error log itself failed; the old file stays in use and says so.
            self.shared
                .error_log
                .error(&self.shared.clock, format_args!("error log: {e}"));
        }
    }

    /// Writes out what the logs gathered; loops call it once per turn, not per request.
    pub fn flush_logs(&mut self) {
        self.shared.error_log.flush();
        if let Some(log) = &mut self.shared.access_log {
            log.flush();
        }
    }

    pub fn log_error(&mut self, msg: std::fmt::Arguments<'_>) {
        self.shared.error_log.error(&self.shared.clock, msg);
    }
}

/// What a connection borrows while it is driven, apart from the slab so both can be borrowed.
struct Shared {
    config: Config,
    clock: Clock,
    board: Scoreboard,
    access_log: Option<LogSink>,
    error_log: LogSink,
    /// Reads land here and answers are encoded there, for whichever connection is driven.
    scratch: Vec<u8>,
    out: Vec<u8>,
    timers: BinaryHeap<Timer>,
}

impl Shared {
    fn io(&mut self, slot: usize, draining: bool) -> Io<'_> {
        Io {
            scratch: &mut self.scratch,
            out: &mut self.out,
            site: Site {
                config: &self.config,
                clock: &self.clock,
                board: &self.board,
                access_log: self.access_log.as_mut(),
                error_log: Some(&mut self.error_log),
                draining,
            },
            stats: self.board.own(),
            timers: &mut self.timers,
            now: self.clock.now,
            slot,
        }
    }
}
