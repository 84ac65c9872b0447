//! Signals, as the tutorial's models see them: each signal only sets a flag (and, for the
//! multiplexing models, writes a byte to a self-pipe so select/poll wake up at once). The loops
//! read the flags between requests; no work ever happens in a handler.
//!
//! TERM/INT: stop now. QUIT: finish what is in flight, then stop. USR1: reopen the logs.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGQUIT, SIGTERM, SIGUSR1};

pub struct Intents {
    stop: Arc<AtomicBool>,
    graceful: Arc<AtomicBool>,
    reopen: Arc<AtomicBool>,
    wake: UnixStream,
}

impl Intents {
    /// Registers the handlers. Call before `master::unblock_worker_signals` in a worker, so a
    /// signal that arrived in between is delivered to them and not to the default action.
    pub fn install() -> std::io::Result<Intents> {
        let stop = Arc::new(AtomicBool::new(false));
        let graceful = Arc::new(AtomicBool::new(false));
        let reopen = Arc::new(AtomicBool::new(false));
        let (wake, wake_writer) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        for (sig, flag) in [
            (SIGTERM, &stop),
            (SIGINT, &stop),
            (SIGQUIT, &graceful),
            (SIGUSR1, &reopen),
        ] {
            signal_hook::flag::register(sig, Arc::clone(flag))?;
            signal_hook::low_level::pipe::register(sig, wake_writer.try_clone()?)?;
        }
        Ok(Intents {
            stop,
            graceful,
            reopen,
            wake,
        })
    }

    pub fn stop_now(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// A graceful stop was asked for (or a stop now, which implies it).
    pub fn draining(&self) -> bool {
        self.graceful.load(Ordering::Relaxed) || self.stop_now()
    }

    /// True once per USR1.
    pub fn take_reopen(&self) -> bool {
        self.reopen.swap(false, Ordering::Relaxed)
    }

    /// Readable after a signal; select/poll watch it.
    pub fn wake_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    /// Empties the self-pipe after a wake-up.
    pub fn drain_wake(&self) {
        let mut buf = [0u8; 64];
        while matches!((&self.wake).read(&mut buf), Ok(n) if n > 0) {}
    }
}
