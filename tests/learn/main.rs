//! `tcplab learn`: every kind of check against the real kernel (the lesson's action done here,
//! the check passes; the state absent, it does not), and `tcplab learn check` on small exercise
//! programs (tests/learn/*.py): a correct forking server, one that leaks zombies, one that never
//! closes, a daemon.

mod checks;
mod exercises;
mod panel;
mod session;
mod tmux;
mod walk;

/// Held by every test that starts a zombie demo: the lessons' checks look at the whole machine
/// (any process running `demo zombie`), so two of these at once would see each other's.
pub static ZOMBIE_DEMOS: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn zombie_demos() -> std::sync::MutexGuard<'static, ()> {
    ZOMBIE_DEMOS.lock().unwrap_or_else(|e| e.into_inner())
}
