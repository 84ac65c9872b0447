//! The single-process, non-blocking loop shared by the `select` and `poll` models: every socket
//! is non-blocking, one call waits until any of them is ready, and each connection is the
//! reactor's own state machine ([`Conn`]) driven when its socket is ready, its `/sleep` timer is
//! due or its deadline passes. The two models differ only in the waiting call
//! ([`Demultiplexer`]): select(2) takes bitmaps of at most FD_SETSIZE descriptors, poll(2) an
//! array of any length; both are level-triggered and scan every descriptor on every call.

use std::cmp::Reverse;
use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use crate::server::conn::{Conn, Drive};
use crate::server::slab::Slab;

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

/// Most connections accepted in one turn, so established clients are not starved.
const ACCEPT_BATCH: usize = 64;

struct Loop {
    conns: Slab<Conn<TcpStream>>,
    next_id: u64,
    /// A graceful stop began at this instant.
    draining_since: Option<Instant>,
}

pub fn run(listener: &TcpListener, w: &mut Worker, demux: &mut dyn Demultiplexer) -> i32 {
    if let Err(e) = listener.set_nonblocking(true) {
        w.error(format_args!("cannot make the listener non-blocking: {e}"));
        return 1;
    }
    if let Err(why) = demux.admits(listener.as_raw_fd()) {
        w.error(format_args!("cannot watch the listener: {why}"));
        return 1;
    }
    let mut l = Loop {
        conns: Slab::new(),
        next_id: 0,
        draining_since: None,
    };
    loop {
        w.clock.tick();
        w.housekeeping();
        if w.intents.stop_now() {
            break;
        }
        if w.intents.draining() && !l.drain(w) {
            break;
        }
        let accepting = l.draining_since.is_none() && l.conns.len() < w.config.max_connections;
        let (keys, ready) = {
            let (interests, keys, timeout) = l.interests(w, listener, accepting);
            match demux.wait(&interests, timeout) {
                Ok(r) => (keys, r),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    w.error(format_args!("waiting for sockets: {e}"));
                    return 1;
                }
            }
        };
        if ready[0].read {
            w.intents.drain_wake();
        }
        w.clock.tick();
        for (key, r) in keys.iter().zip(&ready[2..]) {
            if r.read || r.write {
                if r.read {
                    if let Some(c) = l.conns.get_mut(*key) {
                        c.mark_readable();
                    }
                }
                l.drive(w, *key, false);
            }
        }
        l.fire_timers(w);
        l.sweep(w);
        if ready[1].read && accepting {
            l.accept_some(listener, w, demux);
        }
    }
    let keys: Vec<usize> = l.conns.iter().map(|(k, _)| k).collect();
    for key in keys {
        l.close(w, key);
    }
    w.housekeeping();
    0
}

impl Loop {
    /// What to wait for: the signal pipe, the listener, then every connection (`keys` says
    /// which), and until when.
    fn interests<'a>(
        &'a self,
        w: &'a Worker,
        listener: &'a TcpListener,
        accepting: bool,
    ) -> (Vec<Interest<'a>>, Vec<usize>, Option<Duration>) {
        let now = w.clock.now;
        let mut interests = Vec::with_capacity(self.conns.len() + 2);
        let mut keys = Vec::with_capacity(self.conns.len());
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
        let mut next: Option<Instant> = w.timers.peek().map(|Reverse((t, _, _))| *t);
        // A connection waiting on its /sleep timer reads nothing until it fires: watching its
        // socket would wake the loop for pipelined bytes it will not take yet.
        let sleeping: std::collections::HashSet<(usize, u64)> = w
            .timers
            .iter()
            .map(|Reverse((_, slot, id))| (*slot, *id))
            .collect();
        for (key, c) in self.conns.iter() {
            let sleeping = sleeping.contains(&(key, c.id));
            interests.push(Interest {
                fd: c.stream.as_fd(),
                read: !c.wants_write() && !sleeping,
                write: c.wants_write(),
            });
            keys.push(key);
            next = Some(next.map_or(c.deadline, |n| n.min(c.deadline)));
        }
        if let Some(since) = self.draining_since {
            let end = since + w.config.shutdown_timeout;
            next = Some(next.map_or(end, |n| n.min(end)));
        }
        let timeout = next.map(|t| t.saturating_duration_since(now));
        (interests, keys, timeout)
    }

    /// Graceful stop: idle keep-alive connections close now, busy ones may finish until
    /// `--shutdown-timeout`. False when the loop should end.
    fn drain(&mut self, w: &mut Worker) -> bool {
        let since = *self.draining_since.get_or_insert(w.clock.now);
        let idle: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.is_idle())
            .map(|(k, _)| k)
            .collect();
        for key in idle {
            self.close(w, key);
        }
        if self.conns.is_empty() {
            return false;
        }
        if w.clock.now >= since + w.config.shutdown_timeout {
            let n = self.conns.len();
            w.error(format_args!(
                "graceful stop: --shutdown-timeout passed, closing {n} connections"
            ));
            return false;
        }
        true
    }

    fn drive(&mut self, w: &mut Worker, key: usize, wake: bool) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let mut io = w.io(key);
        let result = if wake {
            conn.wake(&mut io)
        } else {
            conn.drive(&mut io)
        };
        if result == Drive::Close || (io.site.draining && conn.is_idle()) {
            self.close(w, key);
        }
    }

    fn fire_timers(&mut self, w: &mut Worker) {
        while let Some(Reverse((t, key, id))) = w.timers.peek().copied() {
            if t > w.clock.now {
                return;
            }
            w.timers.pop();
            if self.conns.get_mut(key).is_some_and(|c| c.id == id) {
                self.drive(w, key, true);
            }
        }
    }

    /// Cuts every connection past its deadline (a slowloris head, an idle keep-alive).
    fn sweep(&mut self, w: &mut Worker) {
        let now = w.clock.now;
        let late: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(k, _)| k)
            .collect();
        for key in late {
            if let Some(c) = self.conns.get_mut(key) {
                c.time_out(&mut w.io(key));
            }
            self.close(w, key);
        }
    }

    fn close(&mut self, w: &mut Worker, key: usize) {
        if self.conns.remove(key).is_some() {
            w.board.own().closed();
        }
    }

    fn accept_some(&mut self, listener: &TcpListener, w: &mut Worker, demux: &dyn Demultiplexer) {
        for _ in 0..ACCEPT_BATCH {
            if self.conns.len() >= w.config.max_connections {
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
                    self.next_id += 1;
                    let conn = Conn::new(stream, self.next_id, peer.ip(), w.clock.now, &w.config);
                    self.conns.insert(conn);
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
}
