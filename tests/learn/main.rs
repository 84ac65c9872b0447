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
