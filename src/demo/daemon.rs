//! `tcplab demo daemon`: lesson 15, the daemon recipe one step at a time, printing pid, ppid,
//! pgid, sid and tty after each: umask(0); fork and let the parent exit (the child is no group
//! leader, so setsid may succeed); setsid (a new session and group, no controlling terminal);
//! fork again (not a session leader, so it can never acquire a terminal). Then it lives as a
//! daemon until `kill PID` or `--duration`.
//!
//! The demo process stands in for the shell that started the daemon, and is a child subreaper:
//! the parents that exit hand their children to it, not to PID 1, and it reaps the daemon when
//! the daemon ends. The daemon keeps stdout so that you can read it; a real one would also
//! chdir("/") and point stdin/stdout/stderr at /dev/null (`tcplab serve --daemon` does).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::stat::{umask, Mode};
use nix::unistd::{getppid, setsid};

use super::reap::supervise;
use super::waiter::Waiter;
use super::{in_child, say};
use crate::cli::DemoCommon;
use crate::kernel::exit::describe;
use crate::kernel::{family, fork::fork_child, subreaper};

pub fn run(common: DemoCommon) -> anyhow::Result<ExitCode> {
    subreaper::become_subreaper().context("cannot become a child subreaper")?;
    let supervisor = std::process::id() as i32;
    say(&format!(
        "daemon demo: supervisor {supervisor} (stands in for your shell, and is a child subreaper)"
    ));
    let duration = common.duration;
    fork_child(move || in_child("daemon", || recipe(duration)))?;
    let mut waiter = Waiter::with_children(None)?;
    let stop = supervise(&mut waiter, |pid, status| {
        say(&format!(
            "  supervisor: reaped {pid} ({})",
            describe(status)
        ));
    })?;
    if let Some(stop) = stop {
        say(&format!(
            "daemon demo: supervisor {supervisor} got {stop} and stopped the daemon"
        ));
    }
    say("daemon demo: done, nothing left");
    Ok(ExitCode::SUCCESS)
}

fn step(n: u32, what: &str, why: &str) -> anyhow::Result<()> {
    say(&format!(
        "  step {n} {what:<22} {}",
        family::my_ids()?.line()
    ));
    if !why.is_empty() {
        say(&format!("         {:<22} {why}", ""));
    }
    Ok(())
}

/// Waits until the parent that just exited is gone and we have been adopted, so the ids
/// printed next are the settled ones.
fn wait_adopted(old_parent: i32) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while getppid().as_raw() == old_parent {
        if Instant::now() > deadline {
            anyhow::bail!("parent {old_parent} did not exit within 10s");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn recipe(duration: Option<Duration>) -> anyhow::Result<()> {
    step(
        0,
        "started",
        "a child of the shell, in its process group and session",
    )?;
    let old = umask(Mode::empty());
    step(
        1,
        "umask(0)",
        &format!(
            "was {:03o}: files the daemon creates get exactly the modes it asks for",
            old.bits()
        ),
    )?;
    let first = std::process::id() as i32;
    fork_child(move || in_child("daemon", || after_first_fork(first, duration)))?;
    // The parent exits at once: the shell gets its prompt back.
    Ok(())
}

fn after_first_fork(first: i32, duration: Option<Duration>) -> anyhow::Result<()> {
    wait_adopted(first)?;
    step(
        2,
        "fork, parent exits",
        "not a process group leader any more, so setsid() is allowed",
    )?;
    setsid().context("setsid failed")?;
    step(
        3,
        "setsid()",
        "leader of a new session and group; no controlling terminal (tty ?)",
    )?;
    let leader = std::process::id() as i32;
    fork_child(move || in_child("daemon", || daemon_life(leader, duration)))?;
    Ok(())
}

fn daemon_life(leader: i32, duration: Option<Duration>) -> anyhow::Result<()> {
    wait_adopted(leader)?;
    step(
        4,
        "fork, leader exits",
        "not a session leader: it can never acquire a terminal again",
    )?;
    let me = std::process::id();
    let mut waiter = Waiter::new(duration, &[])?;
    say(&format!("daemon demo: daemon {me} running"));
    say(&format!(
        "  look: `ps -o pid,ppid,pgid,sid,tty,stat,cmd -p {me}` or `tcplab ps` (sid != pid, tty ?)"
    ));
    say(&format!(
        "  stop: `kill {me}` (Ctrl+C cannot reach it: it has no terminal; here the demo passes it on)"
    ));
    let stop = waiter.until_stop()?;
    say(&format!("daemon demo: daemon {me} got {stop}; exiting"));
    Ok(())
}
