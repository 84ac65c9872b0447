//! Signals, as every model's loop sees them: a handler only sets a flag and writes a byte to a
//! self-pipe (so a loop waiting in epoll, select, poll or io_uring wakes at once); the loop then
//! takes the flags as [`Intent`]s and acts on them between requests. No work ever happens in a
//! handler.
//!
//! TERM/INT: stop now. QUIT: drain (finish what is in flight, then stop). USR1: reopen the logs.
//! HUP: reload, which only a one-process server takes here; a worker leaves HUP to its master.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1};

/// What a signal asks a loop to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// TERM or INT: close everything and exit.
    StopNow,
    /// QUIT (a graceful stop, a reload's or TTOU's retirement): stop accepting, finish.
    Drain,
    /// USR1: a log rotation moved the files away.
    ReopenLogs,
    /// HUP to a one-process server: reload what can be reloaded without workers.
    Reload,
}

/// Who takes the signals: a forked worker or a server that is one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A master's worker. HUP belongs to the master (a reload forks fresh workers); the worker
    /// keeps it blocked and installs no handler for it, as nginx's workers ignore it.
    Worker,
    /// `iterative`, `select`, `poll`: no master, so HUP comes here. Without a handler its
    /// default action would kill the server on `tcplab reload` or a closed terminal.
    Alone,
}

pub struct Intents {
    stop: Arc<AtomicBool>,
    drain: Arc<AtomicBool>,
    reopen: Arc<AtomicBool>,
    reload: Arc<AtomicBool>,
    wake: UnixStream,
}

impl Intents {
    /// Registers the handlers. Call before `master::unblock_worker_signals` in a worker, so a
    /// signal that arrived in between is delivered to them and not to the default action.
    pub fn install(role: Role) -> std::io::Result<Intents> {
        let stop = Arc::new(AtomicBool::new(false));
        let drain = Arc::new(AtomicBool::new(false));
        let reopen = Arc::new(AtomicBool::new(false));
        let reload = Arc::new(AtomicBool::new(false));
        let (wake, wake_writer) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        let hup = (role == Role::Alone).then_some((SIGHUP, &reload));
        for (sig, flag) in [
            (SIGTERM, &stop),
            (SIGINT, &stop),
            (SIGQUIT, &drain),
            (SIGUSR1, &reopen),
        ]
        .into_iter()
        .chain(hup)
        {
            signal_hook::flag::register(sig, Arc::clone(flag))?;
            signal_hook::low_level::pipe::register(sig, wake_writer.try_clone()?)?;
        }
        Ok(Intents {
            stop,
            drain,
            reopen,
            reload,
            wake,
        })
    }

    /// Readable after a signal: the loops wait on it beside their sockets.
    pub fn wake_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    /// What the signals since the last call ask for, the most urgent first. Empties the
    /// self-pipe before it reads the flags, so a signal that lands in between leaves a byte
    /// (and a wake-up) behind rather than being lost.
    pub fn take(&self) -> impl Iterator<Item = Intent> {
        let mut buf = [0u8; 64];
        while matches!((&self.wake).read(&mut buf), Ok(n) if n > 0) {}
        [
            (&self.stop, Intent::StopNow),
            (&self.drain, Intent::Drain),
            (&self.reopen, Intent::ReopenLogs),
            (&self.reload, Intent::Reload),
        ]
        .map(|(flag, intent)| flag.swap(false, Ordering::Relaxed).then_some(intent))
        .into_iter()
        .flatten()
    }
}
