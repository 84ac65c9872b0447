//! One connection of the reactor: a non-blocking socket, what is buffered in and out of it,
//! and its place in the HTTP exchange. The reactor calls [`Conn::drive`] on every readiness
//! event; `drive` does all the work that can be done without blocking and says whether the
//! connection lives on.
//!
//! Memory: an idle keep-alive connection owns no buffer at all. Reads go into the reactor's
//! shared scratch buffer and are answered from there; only the bytes of an incomplete request
//! are copied into the connection, and only output the socket refused is kept.
//!
//! A `Conn` is generic over its socket ([`Stream`]), so the select and poll models drive the
//! very same state machine over a non-blocking std `TcpStream`: call `mark_readable` when the
//! socket is readable, `drive` on any readiness, watch `wants_write` and `deadline`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown};
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use super::config::Config;
use super::exchange::{self, Next, Progress, Session};
use super::routes::{self, Deferred, Site};
use super::stats::Stats;

/// After answering with `Connection: close`, keep reading (and dropping) what the client still
/// sends for this long, so that closing does not reset the connection under the client before
/// it has read the answer.
const LINGER: Duration = Duration::from_secs(2);

/// A file body goes out this much at a time.
const FILE_CHUNK: usize = 64 << 10;

/// A `/sleep` timer: when, which slot, which connection (slots are reused).
pub type Timer = Reverse<(Instant, usize, u64)>;

/// What the reactor lends a connection for one `drive`.
pub struct Io<'a> {
    pub scratch: &'a mut [u8],
    pub out: &'a mut Vec<u8>,
    pub site: Site<'a>,
    pub stats: &'static Stats,
    pub timers: &'a mut BinaryHeap<Timer>,
    pub now: Instant,
    /// Slot index, to name this connection in a timer.
    pub slot: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    /// Write what is queued, then shut down our side and linger.
    Closing,
    /// Our side is shut down; drop input until the client closes or LINGER passes.
    Lingering,
}

/// Whether the connection lives on after `drive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drive {
    Open,
    Close,
}

/// A non-blocking byte stream a connection can be driven over.
pub trait Stream: Read + Write {
    /// Sends FIN: our side is done writing (after what was written before).
    fn shutdown_write(&mut self) -> io::Result<()>;
}

impl Stream for TcpStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl Stream for std::net::TcpStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

pub struct Conn<S: Stream = TcpStream> {
    pub stream: S,
    /// Unique for the life of the process, unlike the slot, which is reused.
    pub id: u64,
    pub peer: IpAddr,
    /// Bytes of an incomplete request (or of requests not yet answered); usually empty.
    rbuf: Vec<u8>,
    /// `rbuf` may hold complete requests: offer it to the exchange before reading more.
    rbuf_fresh: bool,
    /// Output the socket would not take yet, from `wpos` on.
    wbuf: Vec<u8>,
    wpos: usize,
    session: Session,
    deferred: Option<Box<Deferred>>,
    /// The last read did not drain the socket; mio is edge-triggered, so no new event will
    /// come for bytes already there.
    read_ready: bool,
    /// The peer shut down its side (RDHUP): read on to EOF even after a short read, since the
    /// FIN came with the last bytes and no further edge will announce it.
    peer_done: bool,
    phase: Phase,
    /// When the sweep cuts this connection; recomputed at the end of every `drive`.
    pub deadline: Instant,
    /// When the first byte of the request being received arrived (slowloris clock).
    head_started: Option<Instant>,
    /// When output last moved (or began to wait): a client that stops reading is cut after
    /// --header-timeout, however much it keeps sending.
    wrote_at: Instant,
    answered_any: bool,
}

impl<S: Stream> Conn<S> {
    pub fn new(stream: S, id: u64, peer: IpAddr, now: Instant, config: &Config) -> Conn<S> {
        Conn {
            stream,
            id,
            peer,
            rbuf: Vec::new(),
            rbuf_fresh: false,
            wbuf: Vec::new(),
            wpos: 0,
            session: Session::default(),
            deferred: None,
            read_ready: true,
            peer_done: false,
            phase: Phase::Open,
            deadline: now + config.header_timeout,
            head_started: None,
            wrote_at: now,
            answered_any: false,
        }
    }

    /// Between keep-alive requests with nothing queued (what a drain reports). A connection
    /// that has not had its first answer is not idle: its request may be in flight.
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Open
            && self.answered_any
            && self.rbuf.is_empty()
            && self.wpos == self.wbuf.len()
            && self.deferred.is_none()
            && self.session.is_idle()
    }

    /// A request head has started arriving and is not complete.
    pub fn is_reading_head(&self) -> bool {
        self.phase == Phase::Open
            && !self.rbuf.is_empty()
            && self.session.is_idle()
            && self.deferred.is_none()
    }

    /// Output is queued that the socket refused: wait for it to become writable.
    pub fn wants_write(&self) -> bool {
        self.wpos < self.wbuf.len()
    }

    /// The readiness event said the socket can be read.
    pub fn mark_readable(&mut self) {
        self.read_ready = true;
    }

    /// The readiness event said the peer shut down its side (EPOLLRDHUP/POLLRDHUP).
    pub fn mark_read_closed(&mut self) {
        self.read_ready = true;
        self.peer_done = true;
    }

    /// Does every piece of work possible now without blocking.
    pub fn drive(&mut self, io: &mut Io<'_>) -> Drive {
        match self.drive_inner(io) {
            Ok(Drive::Open) => {
                self.set_deadline(io.now, io.site.config);
                Drive::Open
            }
            Ok(Drive::Close) | Err(_) => Drive::Close,
        }
    }

    fn drive_inner(&mut self, io: &mut Io<'_>) -> io::Result<Drive> {
        loop {
            if self.wpos < self.wbuf.len() && !self.flush_wbuf(io.stats, io.now)? {
                return Ok(Drive::Open);
            }
            match self.phase {
                Phase::Open => {}
                Phase::Closing => {
                    // Best effort: a client that already went away makes this fail.
                    let _ = self.stream.shutdown_write();
                    self.phase = Phase::Lingering;
                    self.deadline = io.now + LINGER;
                    self.rbuf = Vec::new();
                    self.deferred = None;
                    continue;
                }
                Phase::Lingering => return self.linger(io),
            }
            if let Some(deferred) = self.deferred.as_deref_mut() {
                match deferred {
                    Deferred::Sleep(_) => return Ok(Drive::Open),
                    Deferred::File { body, keep_alive } => {
                        let finished = body.fill(io.out, FILE_CHUNK)?;
                        if finished {
                            if !*keep_alive {
                                self.phase = Phase::Closing;
                            }
                            self.deferred = None;
                        }
                        self.write_out(io)?;
                        continue;
                    }
                }
            }
            if self.rbuf_fresh {
                self.rbuf_fresh = false;
                let progress = exchange::serve(
                    &mut self.session,
                    &self.rbuf,
                    self.peer,
                    &mut io.site,
                    io.out,
                );
                self.rbuf.drain(..progress.consumed);
                if self.rbuf.is_empty() {
                    self.rbuf = Vec::new();
                }
                self.after(progress, io)?;
                continue;
            }
            if !self.read_ready {
                return Ok(Drive::Open);
            }
            let n = match self.stream.read(io.scratch) {
                Ok(0) => return Ok(Drive::Close),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.read_ready = false;
                    return Ok(Drive::Open);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            io.stats.add_bytes_in(n as u64);
            // A short read drained the socket: the next bytes bring a new edge (nginx relies
            // on the same), which saves a read that would only say WouldBlock.
            if n < io.scratch.len() && !self.peer_done {
                self.read_ready = false;
            }
            if self.rbuf.is_empty() {
                let input = &io.scratch[..n];
                let progress =
                    exchange::serve(&mut self.session, input, self.peer, &mut io.site, io.out);
                let rest = &input[progress.consumed..];
                if !rest.is_empty() && !matches!(progress.next, Next::Close) {
                    self.rbuf.extend_from_slice(rest);
                }
                self.after(progress, io)?;
            } else {
                self.rbuf.extend_from_slice(&io.scratch[..n]);
                self.rbuf_fresh = true;
            }
        }
    }

    /// Acts on what the exchange said, then writes what it produced.
    fn after(&mut self, progress: Progress, io: &mut Io<'_>) -> io::Result<()> {
        if progress.requests > 0 {
            self.answered_any = true;
            self.head_started = None;
        }
        match progress.next {
            Next::NeedMore => {}
            Next::Flush => self.rbuf_fresh = true,
            Next::Close => {
                self.phase = Phase::Closing;
                self.rbuf = Vec::new();
            }
            Next::Defer(d) => {
                self.rbuf_fresh = !self.rbuf.is_empty();
                if let Deferred::Sleep(s) = &d {
                    io.timers
                        .push(Reverse((io.now + s.duration, io.slot, self.id)));
                }
                self.deferred = Some(Box::new(d));
            }
        }
        self.write_out(io)
    }

    /// The `/sleep` timer fired: answer, then carry on with what was pipelined behind it.
    pub fn wake(&mut self, io: &mut Io<'_>) -> Drive {
        if let Some(Deferred::Sleep(s)) = self.deferred.as_deref() {
            let keep_alive = routes::finish_sleep(s, io.site.clock, io.site.draining, io.out);
            self.deferred = None;
            if !keep_alive {
                self.phase = Phase::Closing;
                self.rbuf = Vec::new();
                self.rbuf_fresh = false;
            }
            if self.write_out(io).is_err() {
                return Drive::Close;
            }
        }
        self.drive(io)
    }

    /// Writes the shared output buffer; whatever the socket refuses is kept in `wbuf`.
    fn write_out(&mut self, io: &mut Io<'_>) -> io::Result<()> {
        if io.out.is_empty() {
            return Ok(());
        }
        let mut written = 0;
        if self.wpos == self.wbuf.len() {
            while written < io.out.len() {
                match self.stream.write(&io.out[written..]) {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        io.out.clear();
                        return Err(e);
                    }
                }
            }
            io.stats.add_bytes_out(written as u64);
            self.wrote_at = io.now;
        }
        if written < io.out.len() {
            if self.wbuf.is_empty() {
                self.wrote_at = io.now; // the wait for the client starts now
            }
            self.wbuf.extend_from_slice(&io.out[written..]);
        }
        io.out.clear();
        Ok(())
    }

    /// Ok(true) once everything queued is written.
    fn flush_wbuf(&mut self, stats: &Stats, now: Instant) -> io::Result<bool> {
        while self.wpos < self.wbuf.len() {
            match self.stream.write(&self.wbuf[self.wpos..]) {
                Ok(n) => {
                    self.wpos += n;
                    stats.add_bytes_out(n as u64);
                    self.wrote_at = now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.wbuf = Vec::new();
        self.wpos = 0;
        Ok(true)
    }

    /// Drops input until the client closes its side.
    fn linger(&mut self, io: &mut Io<'_>) -> io::Result<Drive> {
        loop {
            match self.stream.read(io.scratch) {
                Ok(0) => return Ok(Drive::Close),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Drive::Open),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn set_deadline(&mut self, now: Instant, config: &Config) {
        if self.phase == Phase::Lingering {
            return; // set once, when lingering began
        }
        if !self.rbuf.is_empty() && self.session.is_idle() && self.deferred.is_none() {
            let started = *self.head_started.get_or_insert(now);
            self.deadline = started + config.header_timeout;
            return;
        }
        self.deadline = match self.deferred.as_deref() {
            // The timer answers it; the sleep is capped, so this is only a backstop.
            Some(Deferred::Sleep(_)) => now + super::config::MAX_SLEEP + config.header_timeout,
            // Output waiting on the client: cut after this long without it moving.
            Some(Deferred::File { .. }) => self.wrote_at + config.header_timeout,
            None if self.wpos < self.wbuf.len() => self.wrote_at + config.header_timeout,
            // A body arriving: cut after this long without a byte of it.
            None if !self.session.is_idle() => now + config.header_timeout,
            None if self.answered_any => now + config.keepalive_timeout,
            None => now + config.header_timeout,
        };
    }

    /// The sweep found the deadline passed: a client stuck mid-head hears 408 (best effort).
    pub fn time_out(&mut self, io: &mut Io<'_>) {
        if self.is_reading_head() && self.wpos == self.wbuf.len() {
            routes::refuse(
                super::response::Status::RequestTimeout,
                super::http::is_head_request(&self.rbuf),
                self.peer,
                &mut io.site,
                io.out,
            );
            let _ = self.stream.write(io.out);
            io.out.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    /// An idle connection costs its slot and nothing else; keep the slot small (nginx spends
    /// about 370 bytes per idle keep-alive connection).
    #[test]
    fn an_idle_connection_is_small() {
        let size = std::mem::size_of::<super::Conn>();
        assert!(size <= 176, "Conn grew to {size} bytes");
    }
}
