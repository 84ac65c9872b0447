//! The reactor: one thread, one mio (epoll) loop, every connection a state machine ([`Conn`]).
//! The loop is the tutorial's last design: a demultiplexer (epoll) hands readiness events to
//! handlers (accept, a connection's `drive`, signals), and nothing ever blocks it — `/sleep`
//! is a timer, timeouts are a periodic sweep, signals arrive as events (a self-pipe).
//!
//! What is not about waiting (the connection table, timers, sweep, drain, logs) is
//! [`Connections`]; signals are [`Intents`].
//!
//! [`Conn`]: super::conn::Conn

use std::io;
use std::time::{Duration, Instant};

use anyhow::Context;
use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use super::config::Config;
use super::connections::{Cause, Connections, LoopStart, Stopped};
use super::intents::Intents;
use super::stats::Scoreboard;

const LISTENER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);

/// After EMFILE/ENFILE on accept, wait this long before accepting again.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves the listener until a signal stops it (an [`EventLoop`](super::connections::EventLoop)).
pub fn run(start: LoopStart<'_>) -> anyhow::Result<Stopped> {
    let board = start.board;
    start
        .listener
        .set_nonblocking(true)
        .context("cannot make the listener non-blocking")?;
    let listener = TcpListener::from_std(start.listener);
    let mut reactor = Reactor::new(listener, start.config, board, start.intents)?;
    board.own().claim();
    let stopped = reactor.run();
    board.own().release();
    reactor.conns.close_all();
    stopped
}

struct Reactor {
    poll: Poll,
    listener: Option<TcpListener>,
    intents: Intents,
    conns: Connections<TcpStream>,
    /// Accepting is paused until then (EMFILE backoff).
    accept_paused_until: Option<Instant>,
    /// The last accept hit a resource limit and was logged; log again only after a success.
    accept_error_logged: bool,
    /// Stopped accepting at --max-connections; resume when one closes.
    accept_full: bool,
}

impl Reactor {
    fn new(
        mut listener: TcpListener,
        config: &Config,
        board: Scoreboard,
        intents: Intents,
    ) -> anyhow::Result<Reactor> {
        let poll = Poll::new().context("cannot create the epoll instance")?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .context("cannot register the listener")?;
        poll.registry()
            .register(
                &mut SourceFd(&std::os::fd::AsRawFd::as_raw_fd(&intents.wake_fd())),
                SIGNALS,
                Interest::READABLE,
            )
            .context("cannot register signals")?;
        Ok(Reactor {
            poll,
            listener: Some(listener),
            intents,
            conns: Connections::open(config.clone(), board)?,
            accept_paused_until: None,
            accept_error_logged: false,
            accept_full: false,
        })
    }

    fn run(&mut self) -> anyhow::Result<Stopped> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e).context("epoll_wait failed");
            }
            self.conns.tick();
            // Signals first: a stop or a log reopen that arrived with requests applies to them
            // (the reopened log gets their lines; a stop-now does not serve them first).
            if events.iter().any(|e| e.token() == SIGNALS) {
                for intent in self.intents.take() {
                    if let Some(stopped) = self.conns.on_intent(intent) {
                        return Ok(stopped);
                    }
                }
                if self.conns.draining() {
                    // Dropping the listener closes its fd in this process (other workers keep
                    // theirs).
                    self.listener = None;
                }
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    SIGNALS => {} // handled above
                    Token(slot) => {
                        if let Some(conn) = self.conns.get_mut(slot) {
                            if event.is_read_closed() {
                                conn.mark_read_closed();
                            } else if event.is_readable() || event.is_error() {
                                conn.mark_readable();
                            }
                            self.conns.drive(slot, Cause::Ready);
                        }
                    }
                }
            }
            if self.listener.is_some()
                && (self.accept_full && !self.conns.full()
                    || self
                        .accept_paused_until
                        .is_some_and(|t| self.conns.now() >= t))
            {
                self.accept_all();
            }
            self.conns.flush_logs();
            if let Some(stopped) = self.conns.drained() {
                return Ok(stopped);
            }
        }
    }

    /// Until the next timer, sweep, accept retry or shutdown deadline; forever when idle.
    fn poll_timeout(&self) -> Option<Duration> {
        let next = match (self.conns.next_wake(), self.accept_paused_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        next.map(|t| {
            // Round up to the next millisecond: epoll's resolution; rounding down would wake
            // early and spin until the deadline.
            t.saturating_duration_since(Instant::now()) + Duration::from_micros(999)
        })
    }

    fn accept_all(&mut self) {
        self.accept_full = false;
        if let Some(t) = self.accept_paused_until {
            if self.conns.now() < t {
                return;
            }
            self.accept_paused_until = None;
        }
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            if self.conns.full() {
                // Leave the rest in the kernel's accept queue until a slot frees.
                self.accept_full = true;
                return;
            }
            match listener.accept() {
                Ok((mut stream, peer)) => {
                    self.accept_error_logged = false;
                    // Answers are small and written whole; Nagle would only delay them.
                    let _ = stream.set_nodelay(true);
                    let slot = self.conns.vacant_key();
                    if let Err(e) = self.poll.registry().register(
                        &mut stream,
                        Token(slot),
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        self.conns
                            .log_error(format_args!("cannot register a connection: {e}"));
                        continue;
                    }
                    self.conns.insert(stream, peer.ip());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => match accept_failure(&e) {
                    AcceptFailure::OneClient => {}
                    failure => {
                        if failure == AcceptFailure::Resources && !self.accept_error_logged {
                            self.accept_error_logged = true;
                            let open =
                                crate::units::count(self.conns.len(), "connection", "connections");
                            self.conns.log_error(format_args!(
                                "accept: {e}; pausing accepts, still serving {open}"
                            ));
                        } else if failure == AcceptFailure::Other {
                            self.conns.log_error(format_args!("accept: {e}"));
                        }
                        self.accept_paused_until = Some(self.conns.now() + ACCEPT_BACKOFF);
                        return;
                    }
                },
            }
        }
    }
}

/// What a failed accept means for the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptFailure {
    /// Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): pause accepting, keep
    /// serving the open connections, log once.
    Resources,
    /// ECONNABORTED and the like concern one client only: go on.
    OneClient,
    /// Anything else: log it and pause.
    Other,
}

pub fn accept_failure(e: &io::Error) -> AcceptFailure {
    let errno = e.raw_os_error().unwrap_or(0);
    if [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM].contains(&errno) {
        AcceptFailure::Resources
    } else if [libc::ECONNABORTED, libc::EPROTO, libc::EPERM].contains(&errno) {
        AcceptFailure::OneClient
    } else {
        AcceptFailure::Other
    }
}
