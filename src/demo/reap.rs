//! Cleaning up after a demo: every child, own or adopted through the subreaper, is stopped and
//! reaped before the demo exits, so nothing it made outlives it.

use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use super::waiter::{Stop, Waiter, Wake};
use crate::kernel::family::children_of;
use crate::kernel::subreaper::{self, Children};

/// Reaps what has already exited without blocking; true once this process has no child left
/// (or reaping failed, which leaves nothing to wait for either).
pub fn reap_exited(reaped: &mut Vec<(Pid, WaitStatus)>) -> bool {
    subreaper::reap_exited_into(reaped) != Ok(Children::Remain)
}

/// Sends TERM to every child still alive, then reaps until none is left, escalating to KILL
/// after `grace`. Returns everything reaped, in order.
pub fn stop_and_reap_all(waiter: &mut Waiter, grace: Duration) -> Vec<(Pid, WaitStatus)> {
    let me = std::process::id() as i32;
    let mut reaped = Vec::new();
    if reap_exited(&mut reaped) {
        return reaped;
    }
    for pid in children_of(me) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    let kill_at = Instant::now() + grace;
    let mut killed = false;
    loop {
        if reap_exited(&mut reaped) {
            return reaped;
        }
        if !killed && Instant::now() >= kill_at {
            for pid in children_of(me) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            killed = true;
        }
        // CHLD wakes this early; a second Ctrl+C while cleaning up changes nothing.
        waiter.nap(Duration::from_millis(100));
    }
}

/// A supervisor's life: reaps children as they exit (calling `on_reaped` for each), until a
/// stop condition (then stops and reaps the rest) or until no child is left. Returns the stop
/// condition, None when the children ended on their own.
pub fn supervise(
    waiter: &mut Waiter,
    mut on_reaped: impl FnMut(Pid, &WaitStatus),
) -> anyhow::Result<Option<Stop>> {
    loop {
        let mut reaped = Vec::new();
        let none_left = reap_exited(&mut reaped);
        for (pid, status) in &reaped {
            on_reaped(*pid, status);
        }
        if none_left {
            return Ok(None);
        }
        match waiter.wait(None)? {
            Wake::Stop(stop) => {
                for (pid, status) in stop_and_reap_all(waiter, Duration::from_secs(5)) {
                    on_reaped(pid, &status);
                }
                return Ok(Some(stop));
            }
            Wake::Child | Wake::Signal(_) | Wake::Tick => {}
        }
    }
}
