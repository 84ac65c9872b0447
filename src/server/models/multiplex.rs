//! The single-process, non-blocking loop shared by the `select` and `poll` models: every socket
//! is non-blocking, one call waits until any of them is ready, and each connection is driven
//! when its socket is ready (the rest, timers, sweep and drain, is the shared
//! [`Connections`](crate::server::connections::Connections)). The two models differ only in the
//! waiting call ([`Demultiplexer`]): select(2) takes bitmaps of at most FD_SETSIZE descriptors,
//! poll(2) an array of any length; both are level-triggered and scan every descriptor on every
//! call.

use std::cmp::Reverse;
use std::collections::HashSet;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use nix::sys::socket::Shutdown;

use crate::server::connections::{Cause, Stopped};
use crate::server::intents::Intents;

use super::Table;

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

/// A descriptor the waiting call cannot watch (select's FD_SETSIZE).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("descriptor {fd} is at or past FD_SETSIZE ({limit}); select(2) cannot watch it")]
pub struct Unwatchable {
    pub fd: RawFd,
    pub limit: usize,
}

/// The waiting call: select(2) or poll(2).
pub trait Demultiplexer {
    /// Whether a descriptor can be waited on at all; one that cannot is refused at accept.
    fn admits(&self, fd: RawFd) -> Result<(), Unwatchable>;
    /// Waits until one of `interests` is ready or `timeout` passes; one answer per interest.
    fn wait(
        &mut self,
        interests: &[Interest<'_>],
        timeout: Option<Duration>,
    ) -> std::io::Result<Vec<Readiness>>;
}

/// Most connections accepted in one turn, so established clients are not starved.
const ACCEPT_BATCH: usize = 64;

/// Serves until a signal stops it; returns the exit code.
pub fn run(
    listener: &TcpListener,
    conns: &mut Table,
    intents: &Intents,
    demux: &mut dyn Demultiplexer,
) -> i32 {
    if let Err(e) = listener.set_nonblocking(true) {
        conns.log_error(format_args!("cannot make the listener non-blocking: {e}"));
        return 1;
    }
    if let Err(why) = demux.admits(listener.as_raw_fd()) {
        conns.log_error(format_args!("cannot watch the listener: {why}"));
        return 1;
    }
    let stopped = serve(listener, conns, intents, demux);
    conns.close_all();
    match stopped {
        Ok(_) => 0,
        Err(e) => {
            conns.log_error(format_args!("waiting for sockets: {e}"));
            conns.flush_logs();
            1
        }
    }
}

fn serve(
    listener: &TcpListener,
    conns: &mut Table,
    intents: &Intents,
    demux: &mut dyn Demultiplexer,
) -> std::io::Result<Stopped> {
    let mut signalled = true; // a signal may have come before the loop: look once
    loop {
        if std::mem::take(&mut signalled) {
            let was_draining = conns.draining();
            for intent in intents.take() {
                if let Some(stopped) = conns.on_intent(intent) {
                    return Ok(stopped);
                }
            }
            if conns.draining() && !was_draining {
                // The one process stops listening (as a retiring reactor worker closes its
                // listener): new clients are refused now rather than queued until the exit.
                let _ = nix::sys::socket::shutdown(listener.as_raw_fd(), Shutdown::Read);
            }
        }
        conns.flush_logs();
        if let Some(stopped) = conns.drained() {
            return Ok(stopped);
        }
        let accepting = !conns.draining() && !conns.full();
        let (keys, ready) = {
            let (interests, keys, timeout) = interests(conns, intents, listener, accepting);
            match demux.wait(&interests, timeout) {
                Ok(r) => (keys, r),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        signalled = ready[0].read;
        conns.tick();
        for (key, r) in keys.iter().zip(&ready[2..]) {
            if r.read || r.write {
                if r.read {
                    if let Some(c) = conns.get_mut(*key) {
                        c.mark_readable();
                    }
                }
                conns.drive(*key, Cause::Ready);
            }
        }
        if ready[1].read && accepting {
            accept_some(listener, conns, demux);
        }
    }
}

/// What to wait for: the signal pipe, the listener, then every connection (`keys` says which),
/// and until when.
fn interests<'a>(
    conns: &'a Table,
    intents: &'a Intents,
    listener: &'a TcpListener,
    accepting: bool,
) -> (Vec<Interest<'a>>, Vec<usize>, Option<Duration>) {
    let mut interests = Vec::with_capacity(conns.len() + 2);
    let mut keys = Vec::with_capacity(conns.len());
    interests.push(Interest {
        fd: intents.wake_fd(),
        read: true,
        write: false,
    });
    interests.push(Interest {
        fd: listener.as_fd(),
        read: accepting,
        write: false,
    });
    // A connection waiting on its /sleep timer reads nothing until it fires: watching its
    // socket would wake the loop for pipelined bytes it will not take yet.
    let sleeping: HashSet<(usize, u64)> = conns
        .timers()
        .iter()
        .map(|Reverse((_, slot, id))| (*slot, *id))
        .collect();
    for (key, c) in conns.iter() {
        let sleeping = sleeping.contains(&(key, c.id));
        interests.push(Interest {
            fd: c.stream.as_fd(),
            read: !c.wants_write() && !sleeping,
            write: c.wants_write(),
        });
        keys.push(key);
    }
    let timeout = conns
        .next_wake()
        .map(|t| t.saturating_duration_since(conns.now()));
    (interests, keys, timeout)
}

fn accept_some(listener: &TcpListener, conns: &mut Table, demux: &dyn Demultiplexer) {
    for _ in 0..ACCEPT_BATCH {
        if conns.full() {
            return;
        }
        match listener.accept() {
            Ok((stream, peer)) => {
                if let Err(why) = demux.admits(stream.as_raw_fd()) {
                    conns.log_error(format_args!("refusing a connection from {peer}: {why}"));
                    continue; // dropping the stream closes it
                }
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                let _ = stream.set_nodelay(true);
                conns.insert(stream, peer.ip());
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                // EMFILE/ENFILE: the connection waits in the queue; the open ones go on.
                conns.log_error(format_args!("accept: {e}"));
                return;
            }
        }
    }
}
