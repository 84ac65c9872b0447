//! The tutorial's server designs before the reactor. Each connection is the reactor's own state
//! machine ([`Conn`](crate::server::conn::Conn), over a std `TcpStream`), so every model speaks
//! exactly the same HTTP and only the way it waits for sockets differs:
//! - [`blocking`]: `iterative` (one process: accept, answer, close; one client at a time) and
//!   `prefork` (N processes blocking in accept on one shared listener);
//! - [`multiplex`] with [`select`] or [`poll`]: one process, non-blocking sockets, one loop.

pub mod blocking;
pub mod intents;
pub mod multiplex;
pub mod poll;
pub mod select;

use std::collections::BinaryHeap;

use crate::server::config::Config;
use crate::server::conn::{Io, Timer};
use crate::server::date::Clock;
use crate::server::logs::LogSink;
use crate::server::routes::Site;
use crate::server::stats::Scoreboard;

use intents::Intents;

/// What every model's loop holds: the configuration, the cached clock, this process's slot on
/// the scoreboard, the logs, and the flags the signals set.
pub struct Worker {
    pub config: Config,
    pub clock: Clock,
    pub board: Scoreboard,
    pub access_log: Option<LogSink>,
    pub error_log: LogSink,
    pub intents: Intents,
    /// What a connection borrows while it is driven (as in the reactor).
    scratch: Vec<u8>,
    out: Vec<u8>,
    pub timers: BinaryHeap<Timer>,
}

/// Bytes read at once.
const SCRATCH: usize = 64 << 10;

impl Worker {
    pub fn new(config: Config, board: Scoreboard, intents: Intents) -> std::io::Result<Worker> {
        let access_log = config
            .access_log
            .as_deref()
            .map(LogSink::open)
            .transpose()?;
        let error_log = match config.error_log.as_deref() {
            Some(path) => LogSink::open(path)?,
            None => LogSink::stderr(),
        };
        Ok(Worker {
            config,
            clock: Clock::new(),
            board,
            access_log,
            error_log,
            intents,
            scratch: vec![0; SCRATCH],
            out: Vec::new(),
            timers: BinaryHeap::new(),
        })
    }

    /// What the connection in `slot` borrows for one `drive`.
    pub fn io(&mut self, slot: usize) -> Io<'_> {
        Io {
            scratch: &mut self.scratch,
            out: &mut self.out,
            site: Site {
                config: &self.config,
                clock: &self.clock,
                board: &self.board,
                access_log: self.access_log.as_mut(),
                error_log: Some(&mut self.error_log),
                draining: self.intents.draining(),
            },
            stats: self.board.own(),
            timers: &mut self.timers,
            now: self.clock.now,
            slot,
        }
    }

    pub fn error(&mut self, msg: std::fmt::Arguments<'_>) {
        self.error_log.error(&self.clock, msg);
        self.error_log.flush();
    }

    /// Between requests: reopen the logs after USR1, write what the access log gathered.
    pub fn housekeeping(&mut self) {
        if self.intents.take_reopen() {
            let mut failed = Vec::new();
            if let Some(log) = self.access_log.as_mut() {
                if let Err(e) = log.reopen() {
                    failed.push(e.to_string());
                }
            }
            if let Err(e) = self.error_log.reopen() {
                failed.push(e.to_string());
            }
            for e in failed {
                self.error(format_args!("USR1: {e}"));
            }
        }
        if let Some(log) = self.access_log.as_mut() {
            log.flush();
        }
    }
}
