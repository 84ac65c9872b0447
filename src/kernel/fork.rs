//! Forking a child that runs a closure and exits: the one `unsafe` the demos need.
//! fork(2) is only sound while the process has a single thread (the child gets a copy of the
//! caller's thread alone, and a lock another thread held would stay locked forever), so this
//! checks the thread count from /proc first instead of trusting every caller to remember.

use std::io::Write;

use anyhow::{bail, Context};
use nix::unistd::{fork, ForkResult, Pid};

/// Forks; the child runs `child` and exits with the code it returns (101 if it panics), never
/// returning into the caller's code. Fails, without forking, if this process has more than one
/// thread.
pub fn fork_child(child: impl FnOnce() -> i32) -> anyhow::Result<Pid> {
    let threads = thread_count().context("cannot count this process's threads")?;
    if threads != 1 {
        bail!("refusing to fork: this process has {threads} threads, fork is only safe with one");
    }
    // SAFETY: the process has exactly one thread (checked just above from /proc/self/stat), so
    // the child is a complete copy with no lock held by a thread that does not exist there.
    match unsafe { fork() }.context("fork failed")? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            // A panic must not unwind into the parent's code that called fork.
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(101);
            let _ = std::io::stdout().flush();
            std::process::exit(code)
        }
    }
}

/// Threads of this process, from the `num_threads` field of /proc/self/stat.
fn thread_count() -> anyhow::Result<i64> {
    Ok(super::proc::own_stat()?.threads)
}
