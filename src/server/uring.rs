//! `--model uring`: the step after epoll. The reactor waits for readiness and then makes the
//! system calls itself (accept, read, write: one each per request); io_uring is completion
//! based (a proactor): the loop submits operations, the kernel performs them and reports what
//! it did, and one `io_uring_enter` carries every submission and completion of a turn.
//!
//! - one multishot accept on the listener: each new connection is a completion;
//! - one multishot receive per connection into a ring of provided buffers
//!   ([`kernel::uring`](crate::kernel::uring)): an idle connection holds no buffer;
//! - the answers of a turn are queued as sends and submitted together with the next wait;
//! - signals are a multishot poll on the [`Intents`] self-pipe.
//!
//! The HTTP exchange, limits, timeouts and the drain are the reactor's own ([`Conn`] in
//! [`Connections`]): [`Socket`] lets a `Conn` read what a completion delivered and queue what
//! it writes, as if over a non-blocking socket.
//!
//! [`Conn`]: super::conn::Conn

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::config::Config;
use super::conn::Stream;
use super::connections::{Cause, Connections, LoopStart, Stopped};
use super::intents::Intents;
use super::reactor::{accept_failure, AcceptFailure, ACCEPT_BACKOFF};
use crate::kernel::uring::{Completion, Ring, Unavailable};

/// Submission queue entries (the completion queue is twice that).
const ENTRIES: u32 = 1024;
/// A connection whose unread input grows past this stops receiving until it catches up (a
/// client pipelining into a `/sleep`, or not reading its answers).
const INBOX_LIMIT: usize = 64 << 10;
/// Answers queued on one connection before its writes say WouldBlock (the Conn keeps the rest).
const OUTBOX_LIMIT: usize = 256 << 10;
/// Output buffers kept for reuse, and the largest kept (a big answer's buffer is let go).
const SPARE_OUTBOXES: usize = 1024;
const SPARE_OUTBOX_CAPACITY: usize = 16 << 10;

/// Whether io_uring can serve here: the one sentence `--model uring` exits with when not.
pub fn check() -> Result<(), Unavailable> {
    Ring::new(8).map(drop)
}

/// What a completion is about: the low 8 bits of its user data. The rest is the connection's
/// slot (high 32 bits) and the low 24 bits of its id (slots are reused; a late completion for
/// a closed connection must not reach the next one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Accept = 1,
    Signal = 2,
    Recv = 3,
    Send = 4,
    Cancel = 5,
    Close = 6,
}

fn user_data(op: Op, slot: usize, id: u64) -> u64 {
    ((slot as u64) << 32) | ((id & 0xff_ffff) << 8) | op as u64
}

fn decode(user_data: u64) -> (Option<Op>, usize, u64) {
    let op = match user_data & 0xff {
        1 => Some(Op::Accept),
        2 => Some(Op::Signal),
        3 => Some(Op::Recv),
        4 => Some(Op::Send),
        5 => Some(Op::Cancel),
        6 => Some(Op::Close),
        _ => None,
    };
    (op, (user_data >> 32) as usize, (user_data >> 8) & 0xff_ffff)
}

/// Shared by the loop and its sockets: which sockets have output or a state change to submit,
/// and the sockets dropped since the last turn (the loop cancels their operations and closes
/// them behind what was already queued).
#[derive(Default)]
struct Pending {
    dirty: RefCell<Vec<usize>>,
    dead: RefCell<Vec<Dead>>,
}

struct Dead {
    fd: OwnedFd,
    recv: Option<u64>,
    send: Option<u64>,
    /// Queued output no send carried yet.
    unsent: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fin {
    No,
    /// The Conn shut down its side: send FIN once the output is out.
    Wanted,
    Sent,
}

/// A connection's socket as a [`Conn`](super::conn::Conn) sees it: reads take what receive
/// completions delivered, writes queue output for the loop to send.
pub struct Socket {
    fd: Option<OwnedFd>,
    slot: usize,
    inbox: Vec<u8>,
    /// How much of `inbox` was read.
    inpos: usize,
    eof: bool,
    error: Option<i32>,
    outbox: Vec<u8>,
    fin: Fin,
    dirty: bool,
    /// The multishot receive in flight, if armed.
    recv: Option<u64>,
    /// The send in flight, and how far into its buffer it has got.
    send: Option<(u64, usize)>,
    pending: Rc<Pending>,
}

impl Socket {
    fn new(fd: OwnedFd, slot: usize, pending: Rc<Pending>) -> Socket {
        Socket {
            fd: Some(fd),
            slot,
            inbox: Vec::new(),
            inpos: 0,
            eof: false,
            error: None,
            outbox: Vec::new(),
            fin: Fin::No,
            dirty: false,
            recv: None,
            send: None,
            pending,
        }
    }

    fn mark_dirty(&mut self) {
        if !self.dirty {
            self.dirty = true;
            self.pending.dirty.borrow_mut().push(self.slot);
        }
    }

    fn unread(&self) -> usize {
        self.inbox.len() - self.inpos
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.inpos < self.inbox.len() {
            let n = buf.len().min(self.unread());
            buf[..n].copy_from_slice(&self.inbox[self.inpos..self.inpos + n]);
            self.inpos += n;
            if self.inpos == self.inbox.len() {
                self.inbox.clear();
                self.inpos = 0;
                if self.recv.is_none() {
                    self.mark_dirty(); // receiving paused or ended: the loop re-arms it
                }
            }
            return Ok(n);
        }
        if let Some(errno) = self.error {
            return Err(io::Error::from_raw_os_error(errno));
        }
        if self.eof {
            return Ok(0);
        }
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(errno) = self.error {
            return Err(io::Error::from_raw_os_error(errno));
        }
        if self.fin != Fin::No {
            return Err(io::Error::from_raw_os_error(libc::EPIPE));
        }
        if self.outbox.len() >= OUTBOX_LIMIT {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.outbox.extend_from_slice(buf);
        self.mark_dirty();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stream for Socket {
    /// Queued: the FIN goes once every byte written before it is sent.
    fn shutdown_write(&mut self) -> io::Result<()> {
        if self.fin == Fin::No {
            self.fin = Fin::Wanted;
            self.mark_dirty();
        }
        Ok(())
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let Some(fd) = self.fd.take() {
            self.pending.dead.borrow_mut().push(Dead {
                fd,
                recv: self.recv,
                send: self.send.map(|(ud, _)| ud),
                unsent: std::mem::take(&mut self.outbox),
            });
        }
    }
}

/// Serves the listener until a signal stops it (an [`EventLoop`](super::connections::EventLoop)).
pub fn run(start: LoopStart<'_>) -> anyhow::Result<Stopped> {
    let ring = Ring::new(ENTRIES).context("io_uring")?;
    let config = Config {
        uring_receives: Some(ring.receives().name()),
        ..start.config.clone()
    };
    let board = start.board;
    let mut l = Uring {
        ring,
        listener: Some(OwnedFd::from(start.listener)),
        accept: Accept::default(),
        intents: start.intents,
        conns: Connections::open(config, board)?,
        pending: Rc::new(Pending::default()),
        spare_inbox: Vec::new(),
        spare_outboxes: Vec::new(),
    };
    l.arm_signals()?;
    board.own().claim();
    let stopped = l.run();
    board.own().release();
    l.conns.close_all();
    if let Err(e) = l.ring.cancel_everything(Duration::from_secs(1)) {
        l.conns
            .log_error(format_args!("io_uring: cancelling at exit: {e}"));
        l.conns.flush_logs();
    }
    stopped
}

#[derive(Default)]
struct Accept {
    /// The generation of the multishot accept in flight, until its last completion: it may
    /// still deliver connections the kernel accepted before a cancel took effect.
    armed: Option<u64>,
    /// A cancel for it was submitted.
    cancelled: bool,
    generation: u64,
    /// Accepting is paused until then (EMFILE backoff).
    paused_until: Option<Instant>,
    /// The last accept hit a resource limit and was logged; log again only after a success.
    error_logged: bool,
}

struct Uring {
    ring: Ring,
    listener: Option<OwnedFd>,
    accept: Accept,
    intents: Intents,
    conns: Connections<Socket>,
    pending: Rc<Pending>,
    /// Lent to a connection while it has unread input, so a steady stream of requests
    /// allocates nothing.
    spare_inbox: Vec<u8>,
    /// Output buffers back from their sends, for the next answers: a turn sends many at once,
    /// each in flight until its completion, so one spare would leave the others to allocate.
    spare_outboxes: Vec<Vec<u8>>,
}

impl Uring {
    fn run(&mut self) -> anyhow::Result<Stopped> {
        let mut completions = Vec::with_capacity(ENTRIES as usize);
        loop {
            self.arm_accept()?;
            let timeout = self.timeout();
            self.ring
                .submit_and_wait(timeout)
                .context("io_uring_enter failed")?;
            self.conns.tick();
            self.ring.completions(&mut completions);
            // Signals first, as in the reactor.
            if completions
                .iter()
                .any(|c| decode(c.user_data).0 == Some(Op::Signal))
            {
                for intent in self.intents.take() {
                    if let Some(stopped) = self.conns.on_intent(intent) {
                        return Ok(stopped);
                    }
                }
                if self.conns.draining() {
                    self.stop_accepting()?;
                }
            }
            for c in completions.drain(..) {
                self.complete(c)?;
            }
            self.submit_dirty()?;
            self.bury_dead()?;
            self.conns.flush_logs();
            // A drain ends once the cancelled accept has handed over its last connection.
            if self.accept.armed.is_none() {
                if let Some(stopped) = self.conns.drained() {
                    return Ok(stopped);
                }
            }
        }
    }

    fn timeout(&self) -> Option<Duration> {
        let next = match (self.conns.next_wake(), self.accept.paused_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        next.map(|t| t.saturating_duration_since(Instant::now()))
    }

    fn arm_signals(&mut self) -> anyhow::Result<()> {
        self.ring
            .poll_readable_multi(self.intents.wake_fd(), user_data(Op::Signal, 0, 0))
            .context("cannot watch signals")
    }

    /// Keeps one multishot accept armed while the listener is open, there is room, and no
    /// backoff runs; cancels it at --max-connections.
    fn arm_accept(&mut self) -> anyhow::Result<()> {
        let Some(listener) = &self.listener else {
            return Ok(());
        };
        let now = self.conns.now();
        if self.accept.paused_until.is_some_and(|t| now < t) {
            return Ok(());
        }
        self.accept.paused_until = None;
        match self.accept.armed {
            None if !self.conns.full() => {
                self.accept.generation += 1;
                let ud = user_data(Op::Accept, 0, self.accept.generation);
                self.ring
                    .accept_multi(listener.as_fd(), ud)
                    .context("cannot submit an accept")?;
                self.accept.armed = Some(self.accept.generation);
            }
            Some(generation) if self.conns.full() && !self.accept.cancelled => {
                // Leave the rest in the kernel's accept queue until a slot frees.
                self.cancel(user_data(Op::Accept, 0, generation))?;
                self.accept.cancelled = true;
            }
            _ => {}
        }
        Ok(())
    }

    fn stop_accepting(&mut self) -> anyhow::Result<()> {
        if let (Some(generation), false) = (self.accept.armed, self.accept.cancelled) {
            self.cancel(user_data(Op::Accept, 0, generation))?;
            self.accept.cancelled = true;
        }
        // Closes this process's descriptor (other workers keep theirs) once the cancel is in.
        if let Some(listener) = self.listener.take() {
            self.ring
                .close(listener, user_data(Op::Close, 0, 0))
                .context("cannot submit a close")?;
        }
        Ok(())
    }

    fn cancel(&mut self, target: u64) -> anyhow::Result<()> {
        self.ring
            .cancel(target, user_data(Op::Cancel, 0, 0))
            .context("cannot submit a cancel")
    }

    fn complete(&mut self, c: Completion) -> anyhow::Result<()> {
        let (op, slot, tag) = decode(c.user_data);
        match op {
            Some(Op::Accept) => self.accepted(c, tag)?,
            Some(Op::Signal) if !c.more => self.arm_signals()?,
            Some(Op::Recv) => self.received(c, slot, tag),
            Some(Op::Send) => self.sent(c, slot, tag)?,
            _ => {}
        }
        Ok(())
    }

    fn accepted(&mut self, c: Completion, generation: u64) -> anyhow::Result<()> {
        if !c.more && self.accept.armed == Some(generation) {
            // Re-armed at the top of the next turn, unless draining.
            self.accept.armed = None;
            self.accept.cancelled = false;
        }
        let Some(fd) = c.accepted else {
            if c.result < 0 && c.result != -libc::ECANCELED {
                self.accept_failed(&io::Error::from_raw_os_error(-c.result));
            }
            return Ok(());
        };
        self.accept.error_logged = false;
        let Ok(peer) =
            nix::sys::socket::getpeername::<nix::sys::socket::SockaddrStorage>(fd.as_raw_fd())
        else {
            return Ok(()); // gone already: dropping the descriptor closes it
        };
        let ip = match (peer.as_sockaddr_in(), peer.as_sockaddr_in6()) {
            (Some(v4), _) => IpAddr::V4(v4.ip()),
            (_, Some(v6)) => IpAddr::V6(v6.ip()),
            _ => return Ok(()),
        };
        // Answers are small and written whole; Nagle would only delay them.
        let _ = nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::TcpNoDelay, &true);
        let slot = self.conns.vacant_key();
        let socket = Socket::new(fd, slot, Rc::clone(&self.pending));
        self.conns.insert(socket, ip);
        self.arm_recv(slot)
    }

    fn accept_failed(&mut self, e: &io::Error) {
        match accept_failure(e) {
            AcceptFailure::OneClient => {}
            failure => {
                if failure == AcceptFailure::Other {
                    self.conns.log_error(format_args!("accept: {e}"));
                } else if !self.accept.error_logged {
                    self.accept.error_logged = true;
                    let open = crate::units::count(self.conns.len(), "connection", "connections");
                    self.conns.log_error(format_args!(
                        "accept: {e}; pausing accepts, still serving {open}"
                    ));
                }
                self.accept.paused_until = Some(self.conns.now() + ACCEPT_BACKOFF);
            }
        }
    }

    fn arm_recv(&mut self, slot: usize) -> anyhow::Result<()> {
        let Some(conn) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        let ud = user_data(Op::Recv, slot, conn.id);
        let socket = &mut conn.stream;
        let Some(fd) = &socket.fd else {
            return Ok(());
        };
        self.ring
            .recv(fd.as_fd(), ud)
            .context("cannot submit a receive")?;
        socket.recv = Some(ud);
        Ok(())
    }

    fn received(&mut self, c: Completion, slot: usize, tag: u64) {
        let conn = self
            .conns
            .get_mut(slot)
            .filter(|conn| conn.id & 0xff_ffff == tag);
        let Some(conn) = conn else {
            if let Some(id) = c.buffer {
                self.ring.recycle(id);
            }
            return;
        };
        let socket = &mut conn.stream;
        if !c.more {
            socket.recv = None;
        }
        if c.result > 0 {
            if socket.inbox.capacity() == 0 {
                socket.inbox = std::mem::take(&mut self.spare_inbox);
            }
            if let Some(id) = c.buffer {
                socket
                    .inbox
                    .extend_from_slice(self.ring.received(id, c.result as usize));
                self.ring.recycle(id);
            }
            if socket.recv.is_none() {
                socket.mark_dirty(); // re-arm
            }
            conn.mark_readable();
        } else if c.result == 0 {
            socket.eof = true;
            conn.mark_read_closed();
        } else if c.result == -libc::ENOBUFS {
            socket.mark_dirty(); // every buffer was in use: re-arm once this turn freed some
            return;
        } else if c.result == -libc::ECANCELED {
            return;
        } else {
            socket.error = Some(-c.result);
            conn.mark_readable();
        }
        self.conns.drive(slot, Cause::Ready);
        if let Some(conn) = self.conns.get_mut(slot) {
            let socket = &mut conn.stream;
            if socket.unread() == 0 && socket.inbox.capacity() > 0 {
                socket.inbox.clear();
                socket.inpos = 0;
                if self.spare_inbox.capacity() == 0 {
                    self.spare_inbox = std::mem::take(&mut socket.inbox);
                } else {
                    socket.inbox = Vec::new();
                }
            }
            if socket.unread() > INBOX_LIMIT {
                socket.mark_dirty(); // pause receiving
            }
        }
    }

    fn sent(&mut self, c: Completion, slot: usize, tag: u64) -> anyhow::Result<()> {
        let buf = self.ring.take_send(c.user_data);
        let conn = self
            .conns
            .get_mut(slot)
            .filter(|conn| conn.id & 0xff_ffff == tag);
        let (Some(conn), Some(mut buf)) = (conn, buf) else {
            return Ok(());
        };
        let socket = &mut conn.stream;
        let Some((ud, from)) = socket.send.take() else {
            return Ok(());
        };
        if c.result < 0 {
            if c.result != -libc::ECANCELED {
                socket.error = Some(-c.result);
                conn.mark_readable();
                self.conns.drive(slot, Cause::Ready);
            }
            return Ok(());
        }
        let from = from + c.result as usize;
        if from < buf.len() {
            // A short send: the rest goes next, before anything queued after it.
            let fd = socket.fd.as_ref().map(|fd| fd.as_fd());
            if let Some(fd) = fd {
                self.ring
                    .send(fd, buf, from, ud)
                    .context("cannot submit a send")?;
                socket.send = Some((ud, from));
            }
            return Ok(());
        }
        buf.clear();
        if self.spare_outboxes.len() < SPARE_OUTBOXES && buf.capacity() <= SPARE_OUTBOX_CAPACITY {
            self.spare_outboxes.push(buf);
        }
        socket.mark_dirty();
        if conn.wants_write() {
            // The Conn kept output the outbox refused: now it fits.
            self.conns.drive(slot, Cause::Ready);
        }
        Ok(())
    }

    /// Submits what the sockets changed this turn: output, FIN, receives to re-arm or pause.
    fn submit_dirty(&mut self) -> anyhow::Result<()> {
        let dirty = std::mem::take(&mut *self.pending.dirty.borrow_mut());
        for slot in dirty {
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            let (send_ud, recv_ud) = (
                user_data(Op::Send, slot, conn.id),
                user_data(Op::Recv, slot, conn.id),
            );
            let socket = &mut conn.stream;
            socket.dirty = false;
            let Some(fd) = socket.fd.as_ref().map(|fd| fd.as_fd()) else {
                continue;
            };
            if socket.send.is_none() && !socket.outbox.is_empty() {
                let next = self.spare_outboxes.pop().unwrap_or_default();
                let buf = std::mem::replace(&mut socket.outbox, next);
                self.ring
                    .send(fd, buf, 0, send_ud)
                    .context("cannot submit a send")?;
                socket.send = Some((send_ud, 0));
            } else if socket.send.is_none() && socket.fin == Fin::Wanted {
                // Directly, not as an io_uring operation: IORING_OP_SHUTDOWN runs on a worker
                // thread that resolves the descriptor number late (see `Ring::close`). Best
                // effort, as in the reactor: a client that went away makes it fail.
                let _ =
                    nix::sys::socket::shutdown(fd.as_raw_fd(), nix::sys::socket::Shutdown::Write);
                socket.fin = Fin::Sent;
            }
            let wants_input = !socket.eof && socket.error.is_none();
            match socket.recv {
                Some(ud) if socket.unread() > INBOX_LIMIT => {
                    self.ring
                        .cancel(ud, user_data(Op::Cancel, 0, 0))
                        .context("cannot submit a cancel")?;
                    socket.recv = None;
                }
                None if wants_input && socket.unread() <= INBOX_LIMIT => {
                    self.ring
                        .recv(fd, recv_ud)
                        .context("cannot submit a receive")?;
                    socket.recv = Some(recv_ud);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Closed connections: cancel what they have in flight, hand over what they had queued
    /// (best effort, as a close after a write), close them behind the queued submissions.
    fn bury_dead(&mut self) -> anyhow::Result<()> {
        let dead = std::mem::take(&mut *self.pending.dead.borrow_mut());
        for d in dead {
            if let Some(ud) = d.recv {
                self.cancel(ud)?;
            }
            match d.send {
                Some(ud) => self.cancel(ud)?,
                None if !d.unsent.is_empty() => {
                    let _ = nix::sys::socket::send(
                        d.fd.as_raw_fd(),
                        &d.unsent,
                        nix::sys::socket::MsgFlags::MSG_DONTWAIT
                            | nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
                    );
                }
                None => {}
            }
            self.ring
                .close(d.fd, user_data(Op::Close, 0, 0))
                .context("cannot submit a close")?;
        }
        Ok(())
    }
}
