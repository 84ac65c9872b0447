//! `tcplab demo fork`: lesson 7. fork returns twice: the child's pid in the parent, 0 in the
//! child; both print who they are; the child lives until the demo ends and exits with status
//! 7; the parent's waitpid collects that status (between the two the child is a zombie).

use std::process::ExitCode;

use anyhow::Context;

use super::reap::supervise;
use super::waiter::Waiter;
use super::{in_child, say};
use crate::cli::DemoCommon;
use crate::kernel::exit::describe;
use crate::kernel::{family, fork::fork_child, subreaper};

/// The child's exit status, distinctive so that it is clearly the one waitpid reports.
const CHILD_STATUS: i32 = 7;

pub fn run(common: DemoCommon) -> anyhow::Result<ExitCode> {
    subreaper::become_subreaper().context("cannot become a child subreaper")?;
    let me = family::my_ids()?;
    let duration = common.duration;
    let child = fork_child(move || match in_child("fork", || child_main(duration)) {
        0 => CHILD_STATUS,
        failed => failed,
    })?;
    // The child ends at --duration by itself; the parent only reacts to it or to a signal.
    let mut waiter = Waiter::with_children(None)?;
    say(&format!("fork demo: parent {}, child {child}", me.pid));
    say(&format!(
        "  parent: fork() returned {child} here; I am {}",
        me.line()
    ));
    say(&format!(
        "  look: `ps -o pid,ppid,pgid,stat,cmd --pid {} --ppid {}`; stop: Ctrl+C, `kill {}` or `kill {child}`",
        me.pid, me.pid, me.pid
    ));
    let stop = supervise(&mut waiter, |pid, status| {
        say(&format!(
            "  parent: waitpid() returned {pid}: {}; the child was a zombie until this moment",
            describe(status)
        ));
    })?;
    if let Some(stop) = stop {
        say(&format!("fork demo: parent {} got {stop}", me.pid));
    }
    say("fork demo: done, nothing left");
    Ok(ExitCode::SUCCESS)
}

fn child_main(duration: Option<std::time::Duration>) -> anyhow::Result<()> {
    let me = family::my_ids()?;
    let mut waiter = Waiter::new(duration, &[])?;
    say(&format!(
        "  child:  fork() returned 0 here; I am {} (my ppid is the parent)",
        me.line()
    ));
    let stop = waiter.until_stop()?;
    say(&format!(
        "  child:  got {stop}; exiting with status {CHILD_STATUS}"
    ));
    Ok(())
}
