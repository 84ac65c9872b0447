//! The blocking models. `iterative` is the tutorial's first server: one process that blocks in
//! accept, then reads, answers and closes before it looks at the next client; a slow client (or
//! a `/sleep`) makes everyone wait. `prefork` runs the same loop in N forked processes that all
//! block in accept on one shared listening socket (the tutorial's "leader-follower"): the kernel
//! hands each new connection to one of them, and N slow clients make everyone wait.
//!
//! Every blocking call carries a timeout (SO_RCVTIMEO, which accept honours too), so the loop
//! looks at the signal flags at least every tenth of a second: signal-hook restarts interrupted
//! calls. A connection is the reactor's [`Conn`] over a blocking socket: its reads block up to
//! that timeout, and a `/sleep` blocks the whole process (that is the lesson).

use std::cmp::Reverse;
use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeVal;

use crate::server::conn::{Conn, Drive};

use super::Worker;

/// How often a blocked call comes back to look at the signal flags.
const CHECK_FLAGS: Duration = Duration::from_millis(100);

/// Accepts and serves one connection at a time until TERM/INT/QUIT. Returns the exit code.
pub fn run(listener: &TcpListener, w: &mut Worker) -> i32 {
    let tick = TimeVal::new(0, CHECK_FLAGS.as_micros() as i64);
    if let Err(e) = setsockopt(listener, sockopt::ReceiveTimeout, &tick) {
        w.error(format_args!("cannot set an accept timeout: {e}"));
        return 1;
    }
    let mut id = 0;
    loop {
        w.housekeeping();
        if w.intents.draining() {
            return 0;
        }
        match listener.accept() {
            Ok((stream, peer)) => {
                id += 1;
                serve(stream, id, peer.ip(), w);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(e) => {
                // EMFILE/ENFILE and friends: say so, breathe, keep going.
                w.error(format_args!("accept: {e}"));
                std::thread::sleep(CHECK_FLAGS);
            }
        }
    }
}

/// Answers every request on one connection, blocking, until it closes.
fn serve(stream: TcpStream, id: u64, peer: std::net::IpAddr, w: &mut Worker) {
    let tick = TimeVal::new(0, CHECK_FLAGS.as_micros() as i64);
    if setsockopt(&stream, sockopt::ReceiveTimeout, &tick).is_err()
        || stream
            .set_write_timeout(Some(w.config.header_timeout))
            .is_err()
    {
        return;
    }
    let _ = stream.set_nodelay(true);
    w.clock.tick();
    let mut conn = Conn::new(stream, id, peer, w.clock.now, &w.config);
    w.board.own().opened();
    w.timers.clear();
    loop {
        w.clock.tick();
        if w.intents.stop_now() {
            break;
        }
        // A timer is due only while the connection waits on a /sleep: block right here.
        let wake = match w.timers.peek() {
            Some(Reverse((due, _, _))) if *due > w.clock.now => {
                std::thread::sleep((*due - w.clock.now).min(CHECK_FLAGS));
                continue;
            }
            Some(_) => {
                w.timers.pop();
                true
            }
            None => {
                conn.mark_readable();
                false
            }
        };
        let mut io = w.io(0);
        let result = if wake {
            conn.wake(&mut io)
        } else {
            conn.drive(&mut io)
        };
        if result == Drive::Close || (io.site.draining && conn.is_idle()) {
            break;
        }
        if w.clock.now >= conn.deadline && w.timers.is_empty() {
            conn.time_out(&mut w.io(0));
            break;
        }
        w.housekeeping();
    }
    w.timers.clear();
    w.board.own().closed();
    w.housekeeping();
}
