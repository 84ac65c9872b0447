//! `tcplab demo zombie`: lesson 8. A parent forks N children that exit at once and never reaps
//! them, so they stay in the process table as zombies (state Z, `<defunct>`) until the parent
//! dies and whoever adopts them reaps them.
//!
//! Three generations: this process (a child subreaper, the demo's supervisor) forks the
//! negligent parent, which forks the children. When the parent exits, the kernel hands its
//! zombies to the nearest subreaper, this process, which reaps them at once; without one they
//! would go to PID 1.
//!
//! The parent's first line is made for programs (the dashboard's `z` key reads it):
//! `zombie demo: parent PID, zombies P1 P2 P3`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use super::reap::supervise;
use super::waiter::Waiter;
use super::{in_child, say};
use crate::cli::DemoCommon;
use crate::kernel::exit::describe;
use crate::kernel::{family, fork::fork_child, subreaper};
use crate::model::signals::signal_name;

pub fn run(count: usize, common: DemoCommon) -> anyhow::Result<ExitCode> {
    subreaper::become_subreaper().context("cannot become a child subreaper")?;
    let supervisor = std::process::id() as i32;
    let parent = fork_child(|| in_child("zombie", || negligent_parent(count, supervisor)))?;
    let mut waiter = Waiter::with_children(common.duration)?;
    let mut zombies = Vec::new();
    let mut parent_end = "gone".to_string();
    // Ends when the parent is killed (from the dashboard, say): its zombies come to us.
    let stop = supervise(&mut waiter, |pid, status| {
        if pid == parent {
            parent_end = describe(status);
        } else {
            zombies.push(pid.to_string());
        }
    })?;
    if let Some(stop) = stop {
        say(&format!(
            "zombie demo: supervisor {supervisor} got {stop}; parent {parent} and its zombies stopped"
        ));
    }
    say(&format!(
        "zombie demo: parent {parent} {parent_end}; subreaper {supervisor} adopted and reaped \
         zombies {}; nothing left",
        zombies.join(" ")
    ));
    Ok(ExitCode::SUCCESS)
}

/// The parent that never calls wait: forks `count` children that exit at once, says who they
/// are once the kernel shows them as zombies, and waits for a signal to exit.
fn negligent_parent(count: usize, supervisor: i32) -> anyhow::Result<()> {
    let me = std::process::id() as i32;
    let mut zombies = Vec::with_capacity(count);
    for _ in 0..count {
        zombies.push(fork_child(|| 0)?.as_raw());
    }
    // Say it only once it is true: every child is a zombie in /proc.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !zombies
        .iter()
        .all(|&z| family::ids(z).is_ok_and(|i| i.state == 'Z'))
    {
        if Instant::now() > deadline {
            anyhow::bail!("children {zombies:?} did not become zombies within 5s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // A plain blocking iterator: this process has nothing else to do and forks no more.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("cannot install signal handlers")?;
    super::waiter::release_stop_signals()?;
    let list: Vec<String> = zombies.iter().map(|z| z.to_string()).collect();
    let list = list.join(" ");
    say(&format!("zombie demo: parent {me}, zombies {list}"));
    say(&format!(
        "  the children exited at once; parent {me} never calls wait(), so they stay <defunct> (state Z)"
    ));
    say(&format!(
        "  look: `tcplab ps --zombies`, `ps -o pid,ppid,stat,cmd --ppid {me}`, or press z in `tcplab tui`"
    ));
    say(&format!(
        "  stop: Ctrl+C, `kill {supervisor}` (the demo) or `kill {me}` (the parent: its zombies are then adopted and reaped)"
    ));
    let sig = signals.forever().next().unwrap_or(SIGTERM);
    say(&format!(
        "zombie demo: parent {me} got SIG{}, exiting without reaping; zombies {list} will be \
         adopted by the nearest subreaper, PID {supervisor} (this demo; without one, PID 1), \
         which reaps them",
        signal_name(sig as u32)
    ));
    Ok(())
}
