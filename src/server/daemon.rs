//! `--daemon`: the tutorial's recipe (umask(0), fork, setsid, fork again, chdir /, stdio to
//! /dev/null), plus what the recipe forgets: the command a person typed must not return before
//! the server listens, and a bind error must reach their terminal, not a log nobody reads. A pipe
//! from the daemon back to the launcher carries `ok`, the ready line and the pid file, one a line,
//! or `err MESSAGE`.
//!
//! Owns only the detaching and the readiness pipe; binding and serving are the caller's.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::sys::stat::{umask, Mode};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, setsid, ForkResult};

use super::ready::ReadyLine;

/// What the launcher prints once the daemon says it is ready.
pub struct ReadyReport<'a> {
    pub ready: ReadyLine,
    pub pid_file: &'a Path,
}

/// The daemon's end of the readiness pipe. Dropping it without `ready` tells the launcher the
/// server died before it listened.
pub struct Readiness {
    pipe: File,
}

impl Readiness {
    /// Tells the launcher the server listens; it prints the ready line and exits 0.
    pub fn ready(mut self, report: &ReadyReport) {
        let line = format!("ok\n{}\n{}\n", report.ready, report.pid_file.display());
        let _ = self.pipe.write_all(line.as_bytes());
    }

    /// Tells the launcher why the server could not start; it prints this and exits 1.
    pub fn failed(mut self, message: &str) {
        let line = format!("err {}\n", message.replace('\n', " "));
        let _ = self.pipe.write_all(line.as_bytes());
    }
}

/// Detaches. Returns in the daemon (the grandchild: its own session, no controlling tty,
/// cwd /, stdin and stdout on /dev/null) with its end of the readiness pipe. In the launcher it
/// never returns: it waits for the daemon's word and exits with the matching code.
///
/// Must be called while the process is single-threaded (fork copies only the calling thread).
pub fn detach() -> anyhow::Result<Readiness> {
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // The tutorial's first step: files the daemon creates get exactly the modes it asks for.
    // (Every file tcplab creates passes an explicit mode, so nothing becomes world-writable.)
    umask(Mode::empty());
    // SAFETY: `serve` has started no thread yet (it is called before any listener, pool or
    // runtime exists), so the child cannot inherit a lock held by a thread that does not exist
    // in it; the child only calls setsid and fork before returning into ordinary code.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => {
            drop(write_end);
            // The first child exits as soon as it has forked the daemon; reap it so it does not
            // linger as a zombie while we wait.
            let _ = waitpid(child, None);
            std::process::exit(report_launch(read_end));
        }
        ForkResult::Child => {}
    }
    drop(read_end);
    // A new session: no controlling terminal, we lead our own process group.
    setsid()?;
    // SAFETY: still single-threaded (the same process as above, one fork later).
    match unsafe { fork() }? {
        // The session leader leaves at once: the daemon, not a session leader, can never
        // acquire a controlling terminal by opening a tty. Nothing is buffered yet to flush.
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {}
    }
    nix::unistd::chdir("/")?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    nix::unistd::dup2_stdin(&null)?;
    nix::unistd::dup2_stdout(&null)?;
    Ok(Readiness {
        pipe: File::from(write_end),
    })
}

/// Points stderr at the error log, or at /dev/null: called once the daemon is ready, so that
/// startup errors still reach the launcher's terminal through the pipe.
pub fn redirect_stderr(error_log: Option<&Path>) -> std::io::Result<()> {
    let target = match error_log {
        Some(path) => open_log(path)?,
        None => std::fs::OpenOptions::new().write(true).open("/dev/null")?,
    };
    nix::unistd::dup2_stderr(&target)?;
    Ok(())
}

/// Opens a log file for appending with mode 0644 (explicit: the daemon's umask is 0).
pub fn open_log(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

/// The launcher's side: wait for the daemon's one line, print it for the person, return the
/// exit code.
fn report_launch(read_end: OwnedFd) -> i32 {
    let mut text = String::new();
    let _ = File::from(read_end).read_to_string(&mut text);
    let mut lines = text.lines();
    let line = lines.next().unwrap_or("");
    let ready = lines.next().and_then(ReadyLine::parse);
    if let (Some(ready), "ok") = (ready, line) {
        let pid_file = lines.next().unwrap_or("-");
        eprintln!("{ready}");
        eprintln!(
            "tcplab serve: running as a daemon, pid {}, pid file {pid_file}",
            ready.pid
        );
        0
    } else if let Some(message) = line.strip_prefix("err ") {
        eprintln!("tcplab serve: {message}");
        1
    } else {
        eprintln!("tcplab serve: the daemon exited before it was listening (see the error log)");
        1
    }
}
