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

/// Whether this process has children left after a round of reaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Children {
    /// Some child still runs (or has stopped): its exit is yet to come.
    Remain,
    /// Nothing left to wait for (ECHILD).
    NoneLeft,
}

/// The one reaping loop: reaps every child that has already exited, without blocking, appending
/// each to `reaped` in the order the kernel gave them, and says whether any child is left. An
/// error other than ECHILD or EINTR (none is expected from `waitpid(-1, WNOHANG)`) ends the round.
pub fn reap_exited_into(reaped: &mut Vec<(Pid, WaitStatus)>) -> nix::Result<Children> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return Ok(Children::Remain),
            Ok(status) => {
                if let Some(pid) = status.pid() {
                    reaped.push((pid, status));
                }
            }
            Err(Errno::ECHILD) => return Ok(Children::NoneLeft),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Reaps every child that has already exited, without blocking; returns what was reaped.
pub fn reap_exited() -> Vec<(Pid, WaitStatus)> {
    let mut reaped = Vec::new();
    let _ = reap_exited_into(&mut reaped);
    reaped
}
