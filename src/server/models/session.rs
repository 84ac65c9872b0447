//! One HTTP/1.1 connection of the tutorial's models, without I/O: bytes read go in, bytes to
//! write come out, and the session says what it waits for (more bytes, a timer, or nothing but
//! flushing before close). The blocking models drive it with blocking reads and writes; select
//! and poll drive it from their readiness loops. Parsing and answering are the reactor's own
//! (`http`, `body`, `routes`), so every model speaks exactly the same HTTP.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::server::body::BodyDecoder;
use crate::server::config::Config;
use crate::server::http::parse_head;
use crate::server::routes::{self, Answered, Deferred, Request, Site, Sleep};
use crate::server::static_files::FileBody;

/// Output gathered past this stops reading more requests until it is written (backpressure).
pub const OUT_HIGH_WATER: usize = 256 << 10;
/// One read takes at most this much.
const READ_CHUNK: usize = 16 << 10;
/// A static file is read into the output this much at a time.
const FILE_CHUNK: usize = 64 << 10;

enum State {
    /// Waiting for (the rest of) a request head.
    Head,
    /// Walking past a request body; `then` is the answer already written or deferred.
    Body {
        decoder: BodyDecoder,
        then: After,
    },
    /// `/sleep`: the answer is due at `until`.
    Sleeping { until: Instant, sleep: Sleep },
    /// A static file's body is being copied out.
    Streaming { body: FileBody, keep_alive: bool },
    /// Write what is left, then close.
    Closing,
}

/// What follows once a request (and its body) is read.
enum After {
    Done { keep_alive: bool },
    Deferred(Deferred),
}

pub struct Session {
    peer: IpAddr,
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed.
    pos: usize,
    /// Where the read in progress started.
    read_at: usize,
    pub out: Vec<u8>,
    state: State,
    /// When the current wait for the client ends (header timeout or keep-alive idle).
    read_deadline: Instant,
    /// The client has closed its side: answer what was read, then close.
    eof: bool,
}

impl Session {
    pub fn new(peer: IpAddr, now: Instant, config: &Config) -> Session {
        Session {
            peer,
            buf: Vec::with_capacity(4096),
            pos: 0,
            read_at: 0,
            out: Vec::new(),
            state: State::Head,
            read_deadline: now + config.header_timeout,
            eof: false,
        }
    }

    /// Where the next read should put its bytes; call `filled(n)` after (0 = end of file).
    pub fn read_buf(&mut self) -> &mut [u8] {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        self.read_at = self.buf.len();
        self.buf.resize(self.read_at + READ_CHUNK, 0);
        &mut self.buf[self.read_at..]
    }

    pub fn filled(&mut self, n: usize) {
        self.buf.truncate(self.read_at + n);
        if n == 0 {
            self.eof = true;
        }
    }

    /// The read that `read_buf` prepared got nothing (a timeout, would-block, an error).
    pub fn read_nothing(&mut self) {
        self.buf.truncate(self.read_at);
    }

    /// True while the session would take more request bytes now.
    pub fn wants_read(&self) -> bool {
        !self.eof
            && self.out.len() < OUT_HIGH_WATER
            && matches!(self.state, State::Head | State::Body { .. })
    }

    /// The next instant `advance` must run even without I/O: a /sleep's answer, or the end of
    /// the client's time to send.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Sleeping { until, .. } => Some(*until),
            State::Head | State::Body { .. } if !self.eof => Some(self.read_deadline),
            _ => None,
        }
    }

    /// Done: everything answered and written; close the socket.
    pub fn finished(&self) -> bool {
        self.out.is_empty() && matches!(self.state, State::Closing)
    }

    /// Parses and answers as far as the bytes read allow; `requests` counts answers begun.
    pub fn advance(&mut self, now: Instant, site: &mut Site<'_>, requests: &mut u64) {
        loop {
            if self.out.len() >= OUT_HIGH_WATER {
                return;
            }
            match &mut self.state {
                State::Closing => return,
                State::Head => {
                    let config = site.config;
                    let input = &self.buf[self.pos..];
                    let head = match parse_head(input, &config.limits) {
                        Ok(Some(head)) => head,
                        Ok(None) => {
                            if self.eof {
                                self.state = State::Closing;
                            } else if now >= self.read_deadline {
                                // Slowloris or an idle keep-alive: close without a word.
                                self.state = State::Closing;
                            }
                            return;
                        }
                        Err(e) => {
                            routes::refuse(e.status(), self.peer, site, &mut self.out);
                            self.state = State::Closing;
                            return;
                        }
                    };
                    *requests += 1;
                    let decoder = BodyDecoder::new(head.framing);
                    if head.expect_continue && decoder.is_some() {
                        self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    }
                    let req = Request {
                        method: head.method,
                        method_name: head.method_name,
                        target: head.target,
                        minor_version: head.minor_version,
                        keep_alive: head.keep_alive,
                        referer: head.referer,
                        user_agent: head.user_agent,
                    };
                    let answered = routes::respond(&req, self.peer, site, &mut self.out);
                    self.pos += head.len;
                    let then = match answered {
                        Answered::Done { keep_alive } => After::Done { keep_alive },
                        Answered::Deferred(d) => After::Deferred(d),
                    };
                    self.read_deadline = now + config.header_timeout;
                    self.state = match decoder {
                        Some(decoder) => State::Body { decoder, then },
                        None => self.after(then, now, site.config),
                    };
                }
                State::Body { decoder, .. } => {
                    let input = &self.buf[self.pos..];
                    match decoder.decode(input, site.config.limits.max_body) {
                        Ok(d) => {
                            self.pos += d.consumed;
                            if !d.done {
                                if self.eof || now >= self.read_deadline {
                                    self.state = State::Closing;
                                }
                                return;
                            }
                            let State::Body { then, .. } =
                                std::mem::replace(&mut self.state, State::Closing)
                            else {
                                unreachable!()
                            };
                            self.state = self.after(then, now, site.config);
                        }
                        Err(e) => {
                            // The answer to the head is already out; a broken body ends the
                            // connection (the next request's start cannot be found).
                            let _ = e;
                            self.state = State::Closing;
                            return;
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
                    self.state = self.next_request(keep, now, site.config);
                }
                State::Streaming { body, keep_alive } => {
                    let keep = *keep_alive;
                    match body.fill(&mut self.out, FILE_CHUNK) {
                        Ok(true) => self.state = self.next_request(keep, now, site.config),
                        Ok(false) => {}
                        Err(_) => self.state = State::Closing,
                    }
                }
            }
        }
    }

    fn after(&mut self, then: After, now: Instant, config: &Config) -> State {
        match then {
            After::Done { keep_alive } => self.next_request(keep_alive, now, config),
            After::Deferred(Deferred::Sleep(sleep)) => State::Sleeping {
                until: now + sleep.duration,
                sleep,
            },
            After::Deferred(Deferred::File { body, keep_alive }) => {
                State::Streaming { body, keep_alive }
            }
        }
    }

    fn next_request(&mut self, keep_alive: bool, now: Instant, config: &Config) -> State {
        if !keep_alive {
            return State::Closing;
        }
        // Bytes already buffered are a pipelined request: the header timeout applies.
        self.read_deadline = now
            + if self.pos < self.buf.len() {
                config.header_timeout
            } else {
                config.keepalive_timeout
            };
        State::Head
    }

    /// Answers in flight are finished, nothing is half-read: a graceful stop may close it now.
    pub fn idle(&self) -> bool {
        matches!(self.state, State::Head) && self.pos == self.buf.len() && self.out.is_empty()
    }

    /// The socket failed: drop what is unwritten and finish.
    pub fn abort(&mut self) {
        self.out.clear();
        self.state = State::Closing;
    }

    /// Marks the output written.
    pub fn wrote(&mut self, n: usize) {
        self.out.drain(..n);
    }
}

/// How long a blocking driver may wait before `advance` must run again.
pub fn until(deadline: Option<Instant>, now: Instant) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(now))
}
