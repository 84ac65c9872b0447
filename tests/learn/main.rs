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

/// Held by every test that starts a process demo a check finds by its command (`demo zombie`,
/// `demo signal`): a check counts any of the learner's (this user's) started since the lesson
/// began, so two tests of this binary at once would see each other's.
pub static DEMOS: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn one_demo_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    DEMOS.lock().unwrap_or_else(|e| e.into_inner())
}
