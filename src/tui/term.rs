//! The terminal: raw mode, alternate screen and mouse on start; all of it undone on quit, on a
//! panic (a hook restores before the message is printed) and on TERM/HUP/INT (flags the loop
//! reads, so the loop exits through the same restore). Nothing else writes to the terminal.

use std::io::{self, Stdout};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Puts the terminal back as it was. Safe to call more than once.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
}

/// Restores the terminal when dropped, whatever path leaves the loop.
pub struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Takes over the terminal; the returned guard gives it back.
pub fn setup() -> anyhow::Result<(Term, Guard)> {
    install_panic_hook();
    enable_raw_mode()?;
    let guard = Guard;
    execute!(
        io::stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        cursor::Hide
    )?;
    let term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    Ok((term, guard))
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Set when TERM, HUP or INT arrives; the loop quits cleanly when it sees it.
pub struct StopSignals {
    flag: Arc<AtomicBool>,
}

/// How long after a stop signal the loop gets to finish on its own before the watchdog ends
/// the process (children killed, terminal restored as far as it still exists).
const WATCHDOG: Duration = Duration::from_secs(8);

impl StopSignals {
    pub fn register() -> anyhow::Result<StopSignals> {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
            signal_hook::consts::SIGINT,
        ] {
            signal_hook::flag::register(sig, Arc::clone(&flag))?;
        }
        let watched = Arc::clone(&flag);
        std::thread::Builder::new()
            .name("tcplab-watchdog".into())
            .spawn(move || watchdog(&watched))?;
        Ok(StopSignals { flag })
    }

    pub fn stop_requested(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}

/// A last resort: a library call stuck on a dead terminal must not leave the dashboard (and
/// its demos) running forever after a hangup.
fn watchdog(flag: &AtomicBool) {
    while !flag.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(WATCHDOG);
    restore();
    let me = std::process::id() as i32;
    for child in crate::kernel::family::children_of(me) {
        let _ = kill(Pid::from_raw(-child), Signal::SIGKILL);
        let _ = kill(Pid::from_raw(child), Signal::SIGKILL);
    }
    std::process::exit(1);
}

/// False once the terminal hung up. crossterm's reader spins forever on a dead tty (its read
/// loop ignores EIO), so the loop asks this before every call into it.
pub fn tty_alive() -> bool {
    let stdin = io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => !fds[0].revents().is_some_and(|r| {
            r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
        }),
        Err(_) => false,
    }
}

/// Waits up to `timeout` for input on the terminal; false on timeout (or a hangup, which
/// `tty_alive` then reports).
pub fn wait_input(timeout: Duration) -> bool {
    let stdin = io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0)
}
