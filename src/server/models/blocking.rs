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

use crate::server::connections::{Cause, Stopped};
use crate::server::intents::Intents;

use super::Table;

/// How often a blocked call comes back to look at the signal flags.
const CHECK_FLAGS: Duration = Duration::from_millis(100);

/// Accepts and serves one connection at a time until TERM/INT/QUIT. Returns the exit code.
pub fn run(listener: &TcpListener, conns: &mut Table, intents: &Intents) -> i32 {
    let tick = TimeVal::new(0, CHECK_FLAGS.as_micros() as i64);
    if let Err(e) = setsockopt(listener, sockopt::ReceiveTimeout, &tick) {
        conns.log_error(format_args!("cannot set an accept timeout: {e}"));
        conns.flush_logs();
        return 1;
    }
    loop {
        if take_intents(conns, intents).is_some() || conns.draining() {
            break;
        }
        conns.flush_logs();
        match listener.accept() {
            Ok((stream, peer)) => {
                if serve(stream, peer.ip(), conns, intents).is_some() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(e) => {
                // EMFILE/ENFILE and friends: say so, breathe, keep going.
                conns.log_error(format_args!("accept: {e}"));
                std::thread::sleep(CHECK_FLAGS);
            }
        }
    }
    conns.close_all();
    0
}

/// Acts on the signals that came; Some when the process must stop now.
fn take_intents(conns: &mut Table, intents: &Intents) -> Option<Stopped> {
    intents.take().find_map(|intent| conns.on_intent(intent))
}

/// Answers every request on one connection, blocking, until it closes. Some when a signal
/// or the end of a drain says the process must stop.
fn serve(
    stream: TcpStream,
    peer: std::net::IpAddr,
    conns: &mut Table,
    intents: &Intents,
) -> Option<Stopped> {
    let tick = TimeVal::new(0, CHECK_FLAGS.as_micros() as i64);
    if setsockopt(&stream, sockopt::ReceiveTimeout, &tick).is_err()
        || stream
            .set_write_timeout(Some(conns.config().header_timeout))
            .is_err()
    {
        return None;
    }
    let _ = stream.set_nodelay(true);
    conns.tick();
    let slot = conns.insert(stream, peer);
    loop {
        // The clock, a due /sleep timer (it answers), the deadline (it cuts).
        conns.tick();
        if let Some(stopped) = take_intents(conns, intents).or_else(|| conns.drained()) {
            conns.close(slot);
            return Some(stopped);
        }
        if conns.get_mut(slot).is_none() {
            // Closed: a timer it left behind must not hold up the next client.
            conns.clear_timers();
            return None;
        }
        // A timer is pending only while the connection waits on a /sleep: block right here.
        if let Some(Reverse((due, _, _))) = conns.timers().peek() {
            std::thread::sleep(due.saturating_duration_since(conns.now()).min(CHECK_FLAGS));
            continue;
        }
        if let Some(conn) = conns.get_mut(slot) {
            conn.mark_readable();
        }
        conns.drive(slot, Cause::Ready);
        conns.flush_logs();
    }
}
