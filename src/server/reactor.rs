//! The reactor: one thread, one mio (epoll) loop, every connection a state machine ([`Conn`]).
//! The loop is the tutorial's last design: a demultiplexer (epoll) hands readiness events to
//! handlers (accept, a connection's `drive`, signals), and nothing ever blocks it — `/sleep`
//! is a timer, timeouts are a periodic sweep, signals arrive as events (signal-hook-mio).
//!
//! Signals: INT/TERM stop now; QUIT stops gracefully (stop accepting and close the listener,
//! finish what is in flight, close idle keep-alive connections, exit when none is left or
//! after `--shutdown-timeout`); USR1 reopens the log files.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::time::{Duration, Instant};

use anyhow::Context;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGQUIT, SIGTERM, SIGUSR1};
use signal_hook_mio::v1_0::Signals;

use super::config::Config;
use super::conn::{Conn, Drive, Io, Timer};
use super::date::Clock;
use super::logs::LogSink;
use super::routes::Site;
use super::slab::Slab;
use super::stats::Scoreboard;

const LISTENER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);

/// How often deadlines are checked: the precision of every timeout.
const SWEEP_EVERY: Duration = Duration::from_millis(100);
/// After EMFILE/ENFILE on accept, wait this long before accepting again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Bytes read at once into the shared scratch buffer.
const SCRATCH: usize = 64 << 10;

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// INT or TERM.
    Now,
    /// QUIT, and every connection finished.
    Gracefully,
    /// QUIT, and `--shutdown-timeout` passed with connections still open.
    ShutdownTimeout,
}

/// Serves `listener` until a signal stops it. Callable in a forked worker: it installs its
/// own signal handling, opens its own logs, and writes its counters to `board`'s own slot.
pub fn run(
    listener: std::net::TcpListener,
    config: &Config,
    board: Scoreboard,
) -> anyhow::Result<Stopped> {
    let signals = Signals::new(HANDLED_SIGNALS).context("cannot install signal handling")?;
    run_with_signals(listener, config, board, signals)
}

/// The signals the loop acts on; `run_with_signals` expects exactly these registered.
pub const HANDLED_SIGNALS: [i32; 4] = [SIGINT, SIGTERM, SIGQUIT, SIGUSR1];

/// As [`run`], with signals the caller set up (e.g. created in a forked child while signals
/// were still blocked, then unblocked).
pub fn run_with_signals(
    listener: std::net::TcpListener,
    config: &Config,
    board: Scoreboard,
    signals: Signals,
) -> anyhow::Result<Stopped> {
    listener
        .set_nonblocking(true)
        .context("cannot make the listener non-blocking")?;
    let mut reactor = Reactor::new(TcpListener::from_std(listener), config, board, signals)?;
    board.own().claim();
    let stopped = reactor.run();
    board.own().release();
    reactor.flush_logs();
    stopped
}

struct Reactor<'c> {
    poll: Poll,
    listener: Option<TcpListener>,
    signals: Signals,
    conns: Slab<Conn>,
    shared: Shared<'c>,
    next_id: u64,
    next_sweep: Instant,
    /// Accepting is paused until then (EMFILE backoff).
    accept_paused_until: Option<Instant>,
    /// The last accept hit a resource limit and was logged; log again only after a success.
    accept_error_logged: bool,
    /// Stopped accepting at --max-connections; resume when one closes.
    accept_full: bool,
    /// A graceful stop began; the loop ends at this deadline at the latest.
    draining_until: Option<Instant>,
}

/// What every connection borrows while it is driven (apart from `conns`, so both can be
/// borrowed at once).
struct Shared<'c> {
    config: &'c Config,
    board: Scoreboard,
    clock: Clock,
    scratch: Vec<u8>,
    out: Vec<u8>,
    timers: BinaryHeap<Timer>,
    access_log: Option<LogSink>,
    error_log: LogSink,
}

impl Shared<'_> {
    fn io(&mut self, slot: usize, draining: bool) -> Io<'_> {
        Io {
            scratch: &mut self.scratch,
            out: &mut self.out,
            site: Site {
                config: self.config,
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

impl<'c> Reactor<'c> {
    fn new(
        mut listener: TcpListener,
        config: &'c Config,
        board: Scoreboard,
        mut signals: Signals,
    ) -> anyhow::Result<Reactor<'c>> {
        let poll = Poll::new().context("cannot create the epoll instance")?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .context("cannot register the listener")?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .context("cannot register signals")?;
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
        Ok(Reactor {
            poll,
            listener: Some(listener),
            signals,
            conns: Slab::new(),
            next_sweep: clock.now + SWEEP_EVERY,
            shared: Shared {
                config,
                board,
                clock,
                scratch: vec![0; SCRATCH],
                out: Vec::with_capacity(SCRATCH),
                timers: BinaryHeap::new(),
                access_log,
                error_log,
            },
            next_id: 0,
            accept_paused_until: None,
            accept_error_logged: false,
            accept_full: false,
            draining_until: None,
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
            self.shared.clock.tick();
            // Signals first: a stop or a log reopen that arrived with requests applies to them
            // (the reopened log gets their lines; a stop-now does not serve them first).
            if events.iter().any(|e| e.token() == SIGNALS) {
                if let Some(stopped) = self.on_signals() {
                    return Ok(stopped);
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
                            self.drive(slot, false);
                        }
                    }
                }
            }
            self.fire_timers();
            if self.shared.clock.now >= self.next_sweep {
                self.sweep();
            }
            if self.listener.is_some()
                && (self.accept_full && self.conns.len() < self.shared.config.max_connections
                    || self
                        .accept_paused_until
                        .is_some_and(|t| self.shared.clock.now >= t))
            {
                self.accept_all();
            }
            self.flush_logs();
            if let Some(until) = self.draining_until {
                if self.conns.is_empty() {
                    return Ok(Stopped::Gracefully);
                }
                if self.shared.clock.now >= until {
                    let n = self.conns.len();
                    self.log_error(format_args!(
                        "graceful stop: --shutdown-timeout passed, closing {n} connections"
                    ));
                    return Ok(Stopped::ShutdownTimeout);
                }
            }
        }
    }

    /// Until the next timer, sweep, accept retry or shutdown deadline; forever when idle.
    fn poll_timeout(&self) -> Option<Duration> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        if !self.conns.is_empty() {
            consider(self.next_sweep);
        }
        if let Some(Reverse((t, _, _))) = self.shared.timers.peek() {
            consider(*t);
        }
        if let Some(t) = self.accept_paused_until {
            consider(t);
        }
        if let Some(t) = self.draining_until {
            consider(t);
        }
        next.map(|t| {
            // Round up to the next millisecond: epoll's resolution; rounding down would wake
            // early and spin until the deadline.
            t.saturating_duration_since(Instant::now()) + Duration::from_micros(999)
        })
    }

    fn accept_all(&mut self) {
        self.accept_full = false;
        if let Some(t) = self.accept_paused_until {
            if self.shared.clock.now < t {
                return;
            }
            self.accept_paused_until = None;
        }
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            if self.conns.len() >= self.shared.config.max_connections {
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
                        self.log_error(format_args!("cannot register a connection: {e}"));
                        continue;
                    }
                    self.next_id += 1;
                    let conn = Conn::new(
                        stream,
                        self.next_id,
                        peer.ip(),
                        self.shared.clock.now,
                        self.shared.config,
                    );
                    self.conns.insert(conn);
                    self.shared.board.own().opened();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let errno = e.raw_os_error().unwrap_or(0);
                    if [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM].contains(&errno) {
                        if !self.accept_error_logged {
                            self.accept_error_logged = true;
                            let open = self.conns.len();
                            self.log_error(format_args!(
                                "accept: {e}; pausing accepts, still serving {open} connections"
                            ));
                        }
                        self.accept_paused_until = Some(self.shared.clock.now + ACCEPT_BACKOFF);
                        return;
                    }
                    // ECONNABORTED and the like concern one client only: go on.
                    if ![libc::ECONNABORTED, libc::EPROTO, libc::EPERM].contains(&errno) {
                        self.log_error(format_args!("accept: {e}"));
                        self.accept_paused_until = Some(self.shared.clock.now + ACCEPT_BACKOFF);
                        return;
                    }
                }
            }
        }
    }

    /// Reads every pending signal; Some when the loop must end now.
    fn on_signals(&mut self) -> Option<Stopped> {
        let pending: Vec<i32> = self.signals.pending().collect();
        for sig in pending {
            match sig {
                SIGINT | SIGTERM => return Some(Stopped::Now),
                SIGQUIT => self.begin_graceful_stop(),
                SIGUSR1 => self.reopen_logs(),
                _ => {}
            }
        }
        None
    }

    fn begin_graceful_stop(&mut self) {
        if self.draining_until.is_some() {
            return;
        }
        self.draining_until = Some(self.shared.clock.now + self.shared.config.shutdown_timeout);
        // Dropping the listener closes its fd in this process (other workers keep theirs).
        self.listener = None;
        let idle: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.is_idle())
            .map(|(slot, _)| slot)
            .collect();
        for slot in idle {
            self.close(slot);
        }
        let busy = self.conns.len();
        self.log_error(format_args!(
            "graceful stop: listener closed, finishing {busy} busy connections"
        ));
    }

    fn reopen_logs(&mut self) {
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

    /// Runs a connection's `drive` (or `wake` for a fired timer) and closes it when done.
    fn drive(&mut self, slot: usize, wake: bool) {
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        let mut io = self.shared.io(slot, self.draining_until.is_some());
        let result = if wake {
            conn.wake(&mut io)
        } else {
            conn.drive(&mut io)
        };
        let close = result == Drive::Close || (io.site.draining && conn.is_idle());
        if close {
            self.close(slot);
        }
    }

    fn fire_timers(&mut self) {
        while let Some(Reverse((t, slot, id))) = self.shared.timers.peek().copied() {
            if t > self.shared.clock.now {
                break;
            }
            self.shared.timers.pop();
            if self.conns.get_mut(slot).is_some_and(|c| c.id == id) {
                self.drive(slot, true);
            }
        }
    }

    /// Cuts every connection past its deadline.
    fn sweep(&mut self) {
        self.next_sweep = self.shared.clock.now + SWEEP_EVERY;
        let now = self.shared.clock.now;
        let late: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(slot, _)| slot)
            .collect();
        for slot in late {
            if let Some(conn) = self.conns.get_mut(slot) {
                conn.time_out(&mut self.shared.io(slot, true));
            }
            self.close(slot);
        }
    }

    fn close(&mut self, slot: usize) {
        if let Some(mut conn) = self.conns.remove(slot) {
            // Dropping the stream closes the fd, which also removes it from epoll.
            let _ = self.poll.registry().deregister(&mut conn.stream);
            self.shared.board.own().closed();
        }
    }

    fn flush_logs(&mut self) {
        self.shared.error_log.flush();
        if let Some(log) = &mut self.shared.access_log {
            log.flush();
        }
    }

    fn log_error(&mut self, msg: std::fmt::Arguments<'_>) {
        self.shared.error_log.error(&self.shared.clock, msg);
    }
}
