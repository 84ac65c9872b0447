//! One connection of the tutorial's models, without I/O: bytes read go in, bytes to write come
//! out, and the session says what it waits for (more bytes, a timer, or only flushing before
//! close). The blocking models drive it with blocking reads and writes; select and poll drive it
//! from their readiness loops. Requests are parsed and answered by the reactor's own
//! [`exchange`], so every model speaks exactly the same HTTP; this file adds only what the
//! reactor's `Conn` does around it (buffers, `/sleep` timers, file bodies, timeouts).

use std::net::IpAddr;
use std::time::Instant;

use crate::server::config::Config;
use crate::server::exchange::{self, Next, OUT_HIGH_WATER};
use crate::server::routes::{self, Deferred, Site, Sleep};
use crate::server::static_files::FileBody;

/// One read takes at most this much.
const READ_CHUNK: usize = 16 << 10;
/// A static file is read into the output this much at a time.
const FILE_CHUNK: usize = 64 << 10;

enum State {
    /// Reading requests and answering them.
    Exchanging,
    /// `/sleep`: the answer is due at `until`.
    Sleeping { until: Instant, sleep: Sleep },
    /// A static file's body is being copied out.
    Streaming { body: FileBody, keep_alive: bool },
    /// Write what is left, then close.
    Closing,
}

pub struct Session {
    peer: IpAddr,
    exchange: exchange::Session,
    /// Bytes read and not yet used by the exchange (a partial or pipelined request).
    buf: Vec<u8>,
    /// Where the read in progress started.
    read_at: usize,
    /// Bytes fed in since the last `advance`.
    fresh: bool,
    pub out: Vec<u8>,
    state: State,
    /// When the current wait for the client ends: the header timeout while a request is
    /// arriving (or before the first), the keep-alive timeout between requests.
    read_deadline: Instant,
    between_requests: bool,
    /// The client has closed its side: answer what was read, then close.
    eof: bool,
    /// Requests answered on this connection.
    answered: u64,
}

impl Session {
    pub fn new(peer: IpAddr, now: Instant, config: &Config) -> Session {
        Session {
            peer,
            exchange: exchange::Session::default(),
            buf: Vec::new(),
            read_at: 0,
            fresh: false,
            out: Vec::new(),
            state: State::Exchanging,
            read_deadline: now + config.header_timeout,
            between_requests: false,
            eof: false,
            answered: 0,
        }
    }

    /// Where the next read should put its bytes; then `filled(n)` (0 = end of file) or
    /// `read_nothing()`.
    pub fn read_buf(&mut self) -> &mut [u8] {
        self.read_at = self.buf.len();
        self.buf.resize(self.read_at + READ_CHUNK, 0);
        &mut self.buf[self.read_at..]
    }

    pub fn filled(&mut self, n: usize) {
        self.buf.truncate(self.read_at + n);
        if n == 0 {
            self.eof = true;
        }
        self.fresh |= n > 0;
    }

    /// The read that `read_buf` prepared got nothing (a timeout, would-block, an error).
    pub fn read_nothing(&mut self) {
        self.buf.truncate(self.read_at);
    }

    /// True while the session would take more request bytes now.
    pub fn wants_read(&self) -> bool {
        !self.eof && self.out.len() < OUT_HIGH_WATER && matches!(self.state, State::Exchanging)
    }

    /// The next instant `advance` must run even without I/O: a `/sleep`'s answer, or the end
    /// of the client's time to send.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Sleeping { until, .. } => Some(*until),
            State::Exchanging if !self.eof => Some(self.read_deadline),
            _ => None,
        }
    }

    /// Everything answered and written: close the socket.
    pub fn finished(&self) -> bool {
        self.out.is_empty() && matches!(self.state, State::Closing)
    }

    /// An idle keep-alive connection: at least one request answered, the next not begun, all
    /// written. A graceful stop closes these at once. A connection just accepted is not idle:
    /// its client has sent, or is sending, a request that must be answered.
    pub fn idle(&self) -> bool {
        self.answered > 0
            && matches!(self.state, State::Exchanging)
            && self.buf.is_empty()
            && self.exchange.is_idle()
            && self.out.is_empty()
    }

    /// The socket failed: drop what is unwritten and finish.
    pub fn abort(&mut self) {
        self.out.clear();
        self.state = State::Closing;
    }

    /// Marks `n` bytes of the output written.
    pub fn wrote(&mut self, n: usize) {
        self.out.drain(..n);
    }

    /// Answers as far as the bytes read and the clock allow; adds the requests answered to
    /// `requests`.
    pub fn advance(&mut self, now: Instant, site: &mut Site<'_>, requests: &mut u64) {
        loop {
            if self.out.len() >= OUT_HIGH_WATER {
                return;
            }
            match &mut self.state {
                State::Closing => return,
                State::Exchanging => {
                    if !self.fresh {
                        self.check_read_deadline(now, site.config);
                        return;
                    }
                    self.fresh = false;
                    let progress = exchange::serve(
                        &mut self.exchange,
                        &self.buf,
                        self.peer,
                        site,
                        &mut self.out,
                    );
                    self.buf.drain(..progress.consumed);
                    *requests += progress.requests;
                    self.answered += progress.requests;
                    if progress.requests > 0 {
                        self.between_requests = false;
                    }
                    match progress.next {
                        Next::NeedMore => {
                            self.check_read_deadline(now, site.config);
                            return;
                        }
                        // Past the high-water mark: the top of the loop waits for a write.
                        Next::Flush => self.fresh = true,
                        Next::Close => self.state = State::Closing,
                        Next::Defer(Deferred::Sleep(sleep)) => {
                            self.state = State::Sleeping {
                                until: now + sleep.duration,
                                sleep,
                            };
                        }
                        Next::Defer(Deferred::File { body, keep_alive }) => {
                            self.state = State::Streaming { body, keep_alive }
                        }
                    }
                }
                State::Sleeping { until, sleep } => {
                    if now < *until {
                        return;
                    }
                    let sleep = *sleep;
                    let keep =
                        routes::finish_sleep(&sleep, site.clock, site.draining, &mut self.out);
                    self.next_request(keep);
                }
                State::Streaming { body, keep_alive } => {
                    let keep = *keep_alive;
                    match body.fill(&mut self.out, FILE_CHUNK) {
                        Ok(true) => self.next_request(keep),
                        Ok(false) => {}
                        Err(_) => self.state = State::Closing,
                    }
                }
            }
        }
    }

    /// After a deferred answer: the next request (possibly pipelined already), or close.
    fn next_request(&mut self, keep_alive: bool) {
        if keep_alive {
            self.state = State::Exchanging;
            self.fresh = !self.buf.is_empty();
        } else {
            self.state = State::Closing;
        }
    }

    /// Keeps the read deadline right for what we wait for, and gives up once it passes
    /// (a slowloris client, or an idle keep-alive connection): close without a word.
    fn check_read_deadline(&mut self, now: Instant, config: &Config) {
        let idle = self.buf.is_empty() && self.exchange.is_idle() && self.answered > 0;
        if idle && !self.between_requests {
            self.between_requests = true;
            self.read_deadline = now + config.keepalive_timeout;
        } else if !idle && self.between_requests {
            // The next request has begun: it has the header timeout to arrive whole.
            self.between_requests = false;
            self.read_deadline = now + config.header_timeout;
        }
        if self.eof || now >= self.read_deadline {
            self.state = State::Closing;
        }
    }
}
