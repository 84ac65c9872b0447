//! The blocking models. `iterative` is the tutorial's first server: one process that blocks in
//! accept, then reads, answers and closes before it looks at the next client; a slow client (or
//! a `/sleep`) makes everyone wait. `prefork` runs the same loop in N forked processes that all
//! block in accept on one shared listening socket (the tutorial's "leader-follower"): the kernel
//! hands each new connection to one of them, and N slow clients make everyone wait.
//!
//! Blocking calls carry timeouts (SO_RCVTIMEO, also honoured by accept) so the loop sees the
//! signal flags within a tenth of a second: signal-hook restarts interrupted calls.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeVal;

use super::session::Session;
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
    loop {
        w.housekeeping();
        if w.intents.draining() {
            return 0;
        }
        match listener.accept() {
            Ok((stream, peer)) => serve(stream, peer.ip(), w),
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
fn serve(mut stream: TcpStream, peer: std::net::IpAddr, w: &mut Worker) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(w.config.header_timeout));
    w.clock.tick();
    let mut session = Session::new(peer, w.clock.now, &w.config);
    let stats = w.board.own();
    stats.opened();
    loop {
        w.clock.tick();
        let now = w.clock.now;
        let mut requests = 0;
        session.advance(now, &mut w.site(), &mut requests);
        stats.add_requests(requests);
        if !session.out.is_empty() {
            match stream.write(&session.out) {
                Ok(n) => {
                    stats.add_bytes_out(n as u64);
                    session.wrote(n);
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        if session.finished() || w.intents.stop_now() {
            break;
        }
        if w.intents.draining() && session.idle() {
            break;
        }
        let wait = session
            .deadline()
            .map_or(CHECK_FLAGS, |d| d.saturating_duration_since(now))
            .clamp(Duration::from_millis(1), CHECK_FLAGS);
        if session.wants_read() {
            let _ = stream.set_read_timeout(Some(wait));
            match stream.read(session.read_buf()) {
                Ok(n) => {
                    stats.add_bytes_in(n as u64);
                    session.filled(n);
                }
                Err(e) => {
                    session.read_nothing();
                    if !matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) {
                        break;
                    }
                }
            }
        } else {
            // A /sleep in a blocking model blocks the process: that is the lesson.
            std::thread::sleep(wait);
        }
    }
    stats.closed();
    w.housekeeping();
}
