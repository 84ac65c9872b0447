//! `tcplab demo NAME`: one live demo per lesson of the tutorial. Each makes the kernel show
//! what its lesson teaches, says in two or three lines what to look at, runs until Ctrl+C, TERM
//! or `--duration`, and cleans up: a demo that forks is a child subreaper and reaps everything
//! it made before it exits.
//!
//! Owns: one file per demo, the waiting (`waiter`) and the cleanup (`reap`) they share. Demos
//! fork only while single-threaded (`kernel::fork` checks) and install signal handlers only
//! after their last fork.

mod reap;
mod waiter;
mod zombie;

use std::process::ExitCode;

use crate::cli::{Demo, DemoArgs};

pub use waiter::Stop;

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    match args.demo {
        Demo::Zombie { count, common } => zombie::run(count, common),
        Demo::Fork(_) => crate::not_available("demo fork"),
        Demo::Orphan(_) => crate::not_available("demo orphan"),
        Demo::Daemon(_) => crate::not_available("demo daemon"),
        Demo::Signal(_) => crate::not_available("demo signal"),
        Demo::TimeWait(_) => crate::not_available("demo time-wait"),
        Demo::CloseWait(_) => crate::not_available("demo close-wait"),
        Demo::Backlog(_) => crate::not_available("demo backlog"),
        Demo::SharedAccept(_) => crate::not_available("demo shared-accept"),
        Demo::SelectLimit(_) => crate::not_available("demo select-limit"),
    }
}

/// Prints one line of a demo's story and flushes it at once (a reader such as the dashboard
/// follows it live). A reader that went away does not stop the demo: it still cleans up.
pub(crate) fn say(line: &str) {
    let _ = crate::cmd::output::print_line(line);
}
