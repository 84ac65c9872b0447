//! The single-process, non-blocking loop shared by the `select` and `poll` models: every socket
//! is non-blocking, one call waits for any of them to be ready, and each connection is a
//! [`Session`] advanced when its socket is ready or its timer is due. The two models differ only
//! in the waiting call ([`Demultiplexer`]): select(2) takes bitmaps of at most FD_SETSIZE
//! descriptors, poll(2) an array of any length.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use super::session::Session;
use super::Worker;

/// One descriptor to wait on, and for what.
pub struct Interest<'a> {
    pub fd: BorrowedFd<'a>,
    pub read: bool,
    pub write: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Readiness {
    pub read: bool,
    pub write: bool,
}

/// The waiting call: select(2) or poll(2).
pub trait Demultiplexer {
    /// Whether a descriptor can be waited on at all; one that cannot is refused at accept.
    fn admits(&self, fd: RawFd) -> Result<(), String>;
    /// Waits until one of `interests` is ready or `timeout` passes; one answer per interest.
    fn wait(
        &mut self,
        interests: &[Interest<'_>],
        timeout: Option<Duration>,
    ) -> std::io::Result<Vec<Readiness>>;
}

struct Conn {
    stream: TcpStream,
    session: Session,
}

/// Most connections accepted in one turn, so established clients are not starved.
const ACCEPT_BATCH: usize = 64;

pub fn run(listener: &TcpListener, w: &mut Worker, demux: &mut dyn Demultiplexer) -> i32 {
    if let Err(e) = listener.set_nonblocking(true) {
        w.error(format_args!("cannot make the listener non-blocking: {e}"));
        return 1;
    }
    if let Err(why) = demux.admits(listener.as_raw_fd()) {
        w.error(format_args!("cannot watch the listener: {why}"));
        return 1;
    }
    let stats = w.board.own();
    let mut conns: Vec<Conn> = Vec::new();
    loop {
        w.clock.tick();
        w.housekeeping();
        if w.intents.stop_now() {
            break;
        }
        let draining = w.intents.draining();
        if draining {
            // Graceful stop: idle keep-alive connections close now, busy ones finish first.
            conns.retain(|c| !c.session.idle());
            if conns.is_empty() {
                break;
            }
        }
        let accepting = !draining && conns.len() < w.config.max_connections;
        let now = w.clock.now;
        let mut interests = Vec::with_capacity(conns.len() + 2);
        interests.push(Interest {
            fd: w.intents.wake_fd(),
            read: true,
            write: false,
        });
        interests.push(Interest {
            fd: listener.as_fd(),
            read: accepting,
            write: false,
        });
        let mut timeout: Option<Duration> = None;
        for c in &conns {
            interests.push(Interest {
                fd: c.stream.as_fd(),
                read: c.session.wants_read(),
                write: !c.session.out.is_empty(),
            });
            if let Some(d) = c.session.deadline() {
                let left = d.saturating_duration_since(now);
                timeout = Some(timeout.map_or(left, |t: Duration| t.min(left)));
            }
        }
        let ready = match demux.wait(&interests, timeout) {
            Ok(r) => r,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                w.error(format_args!("waiting for sockets: {e}"));
                return 1;
            }
        };
        drop(interests);
        if ready[0].read {
            w.intents.drain_wake();
        }
        w.clock.tick();
        let now = w.clock.now;
        for (c, r) in conns.iter_mut().zip(&ready[2..]) {
            if r.read {
                match c.stream.read(c.session.read_buf()) {
                    Ok(n) => {
                        stats.add_bytes_in(n as u64);
                        c.session.filled(n);
                    }
                    Err(e)
                        if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) =>
                    {
                        c.session.read_nothing()
                    }
                    Err(_) => c.session.filled(0),
                }
            }
        }
        let mut requests = 0;
        for c in conns.iter_mut() {
            c.session.advance(now, &mut w.site(), &mut requests);
            flush(c, stats);
        }
        stats.add_requests(requests);
        let before = conns.len();
        conns.retain(|c| !c.session.finished());
        for _ in conns.len()..before {
            stats.closed();
        }
        if ready[1].read && accepting {
            accept_some(listener, w, demux, &mut conns);
        }
    }
    for _ in conns.drain(..) {
        stats.closed();
    }
    w.housekeeping();
    0
}

/// Writes what a session has ready, without blocking; a failed write ends the session.
fn flush(c: &mut Conn, stats: &crate::server::stats::Stats) {
    while !c.session.out.is_empty() {
        match c.stream.write(&c.session.out) {
            Ok(n) => {
                stats.add_bytes_out(n as u64);
                c.session.wrote(n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                c.session.abort();
                return;
            }
        }
    }
}

fn accept_some(
    listener: &TcpListener,
    w: &mut Worker,
    demux: &dyn Demultiplexer,
    conns: &mut Vec<Conn>,
) {
    for _ in 0..ACCEPT_BATCH {
        if conns.len() >= w.config.max_connections {
            return;
        }
        match listener.accept() {
            Ok((stream, peer)) => {
                if let Err(why) = demux.admits(stream.as_raw_fd()) {
                    w.error(format_args!("refusing a connection from {peer}: {why}"));
                    continue; // dropping the stream closes it
                }
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                let _ = stream.set_nodelay(true);
                w.board.own().opened();
                conns.push(Conn {
                    session: Session::new(peer.ip(), w.clock.now, &w.config),
                    stream,
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                // EMFILE/ENFILE: the connection waits in the queue; the open ones go on.
                w.error(format_args!("accept: {e}"));
                return;
            }
        }
    }
}
