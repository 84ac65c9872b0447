//! `tcplab demo orphan`: a child outlives its parent and is adopted. The demo (a child
//! subreaper) forks a parent that forks a child; the child prints its ppid, the parent exits,
//! and the child prints its new ppid: the nearest subreaper, here the demo itself (without one,
//! PID 1 or whatever subreaper is above). The demo reaps the parent, then the child at the end.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::unistd::{pipe, read, write};

use super::reap::supervise;
use super::waiter::Waiter;
use super::{in_child, say};
use crate::cli::DemoCommon;
use crate::kernel::exit::describe;
use crate::kernel::{family, fork::fork_child, subreaper};

pub fn run(common: DemoCommon) -> anyhow::Result<ExitCode> {
    subreaper::become_subreaper().context("cannot become a child subreaper")?;
    let supervisor = std::process::id() as i32;
    let duration = common.duration;
    let parent = fork_child(move || in_child("orphan", || parent_main(supervisor, duration)))?;
    let mut waiter = Waiter::with_children(duration)?;
    let stop = supervise(&mut waiter, |pid, status| {
        let who = if pid == parent { "parent" } else { "child" };
        say(&format!(
            "  demo:   reaped {who} {pid} ({})",
            describe(status)
        ));
    })?;
    if let Some(stop) = stop {
        say(&format!("orphan demo: supervisor {supervisor} got {stop}"));
    }
    say("orphan demo: done, nothing left");
    Ok(ExitCode::SUCCESS)
}

/// Forks the child, waits until it has printed its first ppid, then exits: orphaning it.
fn parent_main(supervisor: i32, duration: Option<Duration>) -> anyhow::Result<()> {
    let me = std::process::id() as i32;
    // Two one-byte messages keep the story in order: the parent speaks first ("go"), the
    // child prints its ppid and answers ("ready"), and only then does the parent exit.
    let (go_r, go_w) = pipe().context("pipe failed")?;
    let (ready_r, ready_w) = pipe().context("pipe failed")?;
    // The closure owns go_r and ready_w: they close in the parent when fork_child drops it.
    let child = fork_child(move || {
        in_child("orphan", || {
            wait_byte(&go_r)?;
            child_main(me, supervisor, ready_w, duration)
        })
    })?;
    say(&format!("orphan demo: parent {me}, child {child}"));
    say(&format!(
        "  look: `ps -o pid,ppid,stat,cmd --pid {child}` before and after; stop: Ctrl+C or `kill {supervisor}`"
    ));
    write(&go_w, b"g").context("cannot tell the child to go")?;
    wait_byte(&ready_r)?;
    say(&format!(
        "  parent: {me} exits now without waiting for child {child}"
    ));
    Ok(())
}

/// Blocks until one byte arrives on `fd` (or its writer is gone).
fn wait_byte(fd: &std::os::fd::OwnedFd) -> anyhow::Result<()> {
    let mut byte = [0u8; 1];
    loop {
        match read(fd, &mut byte) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => {
                other.context("read from the pipe failed")?;
                return Ok(());
            }
        }
    }
}

fn child_main(
    parent: i32,
    supervisor: i32,
    ready: std::os::fd::OwnedFd,
    duration: Option<Duration>,
) -> anyhow::Result<()> {
    let me = std::process::id() as i32;
    let before = family::my_ids()?.ppid;
    say(&format!(
        "  child:  {me} ppid before: {before}{}",
        if before == parent {
            " (its parent)"
        } else {
            ""
        }
    ));
    write(&ready, b"x").context("cannot tell the parent")?;
    drop(ready);
    // getppid changes the moment the kernel re-parents us; poll it with a deadline.
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let ppid = nix::unistd::getppid().as_raw();
        if ppid != before {
            break ppid;
        }
        if Instant::now() > deadline {
            anyhow::bail!("still the child of {before} after 10s");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let mut waiter = Waiter::new(duration, &[])?;
    let who = if after == supervisor {
        "the nearest subreaper: this demo; without one, PID 1"
    } else {
        "not the demo: something else adopted it"
    };
    say(&format!(
        "  child:  {me} ppid after:  {after} (adopted by {who})"
    ));
    let stop = waiter.until_stop()?;
    say(&format!("  child:  {me} got {stop}; exiting"));
    Ok(())
}
