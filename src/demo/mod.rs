//! `tcplab demo NAME`: one live demo per lesson of the tutorial. Each makes the kernel show
//! what its lesson teaches, says in two or three lines what to look at, runs until Ctrl+C, TERM
//! or `--duration`, and cleans up: a demo that forks is a child subreaper and reaps everything
//! it made before it exits.
//!
//! Owns: one file per demo, the waiting (`waiter`) and the cleanup (`reap`) they share. Demos
//! fork only while single-threaded (`kernel::fork` checks) and install signal handlers only
//! after their last fork.

mod backlog;
mod close_wait;
mod congestion;
mod daemon;
pub mod focus;
mod fork;
mod net;
mod orphan;
mod reap;
mod select_limit;
mod shared_accept;
mod signal;
mod time_wait;
mod waiter;
mod zombie;

use std::process::ExitCode;

use crate::cli::{Demo, DemoArgs};

pub use waiter::Stop;

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    waiter::hold_stop_signals()?;
    match args.demo {
        Demo::Zombie { count, common } => zombie::run(count, common),
        Demo::Fork(common) => fork::run(common),
        Demo::Orphan(common) => orphan::run(common),
        Demo::Daemon(common) => daemon::run(common),
        Demo::Signal(common) => signal::run(common),
        Demo::TimeWait { closer, net } => time_wait::run(closer, net),
        Demo::CloseWait { count, net } => close_wait::run(count, net),
        Demo::Backlog {
            backlog,
            clients,
            net,
        } => backlog::run(backlog, clients, net),
        Demo::SharedAccept {
            workers,
            connections,
            net,
        } => shared_accept::run(workers, connections, net),
        Demo::SelectLimit(net) => select_limit::run(net),
        Demo::Congestion(args) => congestion::run(args),
    }
}

/// Prints one line of a demo's story and flushes it at once (a reader such as the dashboard
/// follows it live). A reader that went away does not stop the demo: it still cleans up.
pub(crate) fn say(line: &str) {
    let _ = crate::output::print_line(line);
}

/// The body of a forked process: runs `f`; an error is one line on stderr naming the demo,
/// and exit status 1. Returns the exit status for `fork_child`. INT, TERM and HUP stay held
/// (inherited from `hold_stop_signals`) until the child makes its own `Waiter`, or releases
/// them itself to die of them by default.
pub(crate) fn in_child(demo: &str, f: impl FnOnce() -> anyhow::Result<()>) -> i32 {
    match f() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("tcplab demo {demo} (pid {}): {e:#}", std::process::id());
            1
        }
    }
}
