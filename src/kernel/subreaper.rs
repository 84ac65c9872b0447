//! Child subreaper: what this process's descendants orphan comes back to it, not to PID 1.
//! PID 1 here reaps late, and in containers without an init never; demos, tests and the
//! dashboard make themselves subreapers so that what they orphan is reaped at once.

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Makes the calling process a child subreaper (prctl PR_SET_CHILD_SUBREAPER).
pub fn become_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// Reaps every child that has already exited, without blocking; returns what was reaped.
pub fn reap_exited() -> Vec<(Pid, WaitStatus)> {
    let mut reaped = Vec::new();
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
            Ok(status) => {
                if let Some(pid) = status.pid() {
                    reaped.push((pid, status));
                }
            }
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    reaped
}
