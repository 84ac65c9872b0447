//! `tcplab demo signal`: lesson 16 (and 17). Handlers for INT, TERM, HUP, USR1 and USR2 go
//! through signal-hook's iterator: the real handler only writes to a pipe, and this loop does
//! the work, so nothing unsafe runs in signal context. PIPE stays ignored (Rust's runtime sets
//! SIG_IGN before main, as servers want) and QUIT is blocked with sigprocmask, so `kill -QUIT`
//! stays pending instead of killing. After each signal it prints its own masks from
//! /proc/self/status, decoded, so what it claims can be checked against what the kernel says.

use std::process::ExitCode;

use anyhow::Context;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use signal_hook::consts::{SIGHUP, SIGUSR1, SIGUSR2};

use super::say;
use super::waiter::{Stop, Waiter, Wake};
use crate::cli::DemoCommon;
use crate::kernel::signals::masks;
use crate::model::signals::signal_name;
use crate::model::SignalSet;

pub fn run(common: DemoCommon) -> anyhow::Result<ExitCode> {
    let me = std::process::id() as i32;
    let mut blocked = SigSet::empty();
    blocked.add(Signal::SIGQUIT);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&blocked), None).context("sigprocmask failed")?;
    // INT, TERM and HUP are the waiter's; USR1 and USR2 are extra.
    let mut waiter = Waiter::new(common.duration, &[SIGUSR1, SIGUSR2])?;
    say(&format!("signal demo: pid {me}"));
    say("  caught:  INT TERM HUP USR1 USR2 (signal-hook: the handler only writes to a pipe; this loop does the work)");
    // Setting SIG_IGN ourselves would take an `unsafe` sigaction; Rust's runtime already did
    // it for PIPE before main. Say so only if the kernel agrees.
    if masks(me)?.ignored.contains(libc::SIGPIPE as u32) {
        say("  ignored: PIPE (Rust's runtime sets SIG_IGN before main: a write to a closed socket returns EPIPE instead of killing)");
    } else {
        say("  ignored: none (this build leaves PIPE at its default: a write to a closed socket kills)");
    }
    say(&format!(
        "  blocked: QUIT (sigprocmask: `kill -QUIT {me}` stays pending, never delivered)"
    ));
    print_masks(me)?;
    say("  (SEGV and BUS in SigCgt are Rust's stack-overflow guard, installed before main)");
    say(&format!(
        "  look: `grep Sig /proc/{me}/status`, or Enter on it in `tcplab tui`; try `kill -USR1 {me}`, `kill -HUP {me}`, `kill -QUIT {me}`"
    ));
    say(&format!("  stop: Ctrl+C or `kill {me}`"));
    loop {
        let received = match waiter.wait(None)? {
            Wake::Stop(Stop::Signal(SIGHUP)) => SIGHUP,
            Wake::Stop(stop @ Stop::Signal(_)) => {
                say(&format!("signal demo: received {stop}: exiting"));
                break;
            }
            Wake::Stop(Stop::Duration) => {
                say("signal demo: --duration is over: exiting");
                break;
            }
            Wake::Signal(n) => n,
            Wake::Child | Wake::Tick => continue,
        };
        say(&format!(
            "signal demo: received SIG{} ({received})",
            signal_name(received as u32)
        ));
        print_masks(me)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the five masks of /proc/PID/status as hex (what the file says) and as names.
fn print_masks(pid: i32) -> anyhow::Result<()> {
    let m = masks(pid)?;
    say(&format!("  /proc/{pid}/status:"));
    let rows: [(&str, SignalSet); 5] = [
        ("SigBlk", m.blocked),
        ("SigIgn", m.ignored),
        ("SigCgt", m.caught),
        ("SigPnd", m.pending),
        ("ShdPnd", m.shared_pending),
    ];
    for (field, set) in rows {
        let names = if set.is_empty() {
            "-".to_string()
        } else {
            set.names().join(" ")
        };
        say(&format!("    {field} {:016x}  {names}", set.0));
    }
    Ok(())
}
