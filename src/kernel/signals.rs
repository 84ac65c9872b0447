//! One process's signal masks as the kernel reports them in /proc/PID/status.

use anyhow::Context;

use super::parse::status::parse_status;
use crate::model::SignalMasks;

/// The blocked, ignored, caught and pending masks of `pid`.
pub fn masks(pid: i32) -> anyhow::Result<SignalMasks> {
    let path = format!("/proc/{pid}/status");
    let buf = std::fs::read(&path).with_context(|| format!("cannot read {path}"))?;
    Ok(parse_status(&buf)?.masks)
}

/// Sends `signal` to `pid` only if it is still the process that started `start` after boot (the
/// start time of /proc/PID/stat): a pid chosen a while ago may name another process by now
/// (pids wrap, at 32768 by default). Checked and sent through a pidfd, so the process checked
/// is the one signalled. ESRCH when the process has exited, even if its pid is taken again.
pub fn signal_if_same(
    pid: i32,
    start: std::time::Duration,
    signal: nix::sys::signal::Signal,
) -> Result<(), nix::errno::Errno> {
    use nix::errno::Errno;
    use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags};
    let errno = |e: rustix::io::Errno| Errno::from_raw(e.raw_os_error());
    let target = Pid::from_raw(pid).ok_or(Errno::ESRCH)?;
    let fd = pidfd_open(target, PidfdFlags::empty()).map_err(errno)?;
    // The pidfd holds the process that had the pid when it was opened: if that one started at
    // `start`, it is the one chosen, and the signal cannot reach a later owner of the pid.
    if super::proc::start_time(pid) != Some(start) {
        return Err(Errno::ESRCH);
    }
    let sig = rustix::process::Signal::from_named_raw(signal as i32).ok_or(Errno::EINVAL)?;
    pidfd_send_signal(&fd, sig).map_err(errno)
}

/// A socket that becomes readable when INT, TERM or HUP arrives: the handler only writes a
/// byte to it, and a command's poll loop sees it and stops cleanly (removing what it set up,
/// such as a tracefs instance). Register before setting anything up.
pub fn stop_on_signals() -> std::io::Result<std::os::unix::net::UnixStream> {
    let (stop_rx, stop_tx) = std::os::unix::net::UnixStream::pair()?;
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::low_level::pipe::register(sig, stop_tx.try_clone()?)?;
    }
    Ok(stop_rx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;
    use nix::sys::signal::Signal;
    use std::time::Duration;

    /// A process that has the pid but did not start at the time given is not signalled
    /// (ESRCH); the one that started then is; once reaped, its pid names nothing of it.
    #[test]
    fn signal_if_same_checks_the_start_time() {
        let mut child = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let start = super::super::proc::start_time(pid).unwrap();
        let later = start + Duration::from_millis(10);
        assert_eq!(
            signal_if_same(pid, later, Signal::SIGTERM),
            Err(Errno::ESRCH)
        );
        assert!(super::super::proc::stat(pid).is_some_and(|st| super::super::proc::is_live(&st)));
        assert_eq!(signal_if_same(pid, start, Signal::SIGTERM), Ok(()));
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
        assert_eq!(
            signal_if_same(pid, start, Signal::SIGTERM),
            Err(Errno::ESRCH)
        );
    }

    /// A pid really reused: in a pid namespace of its own (so the host's pids are left alone)
    /// this test runs again as its init, ends and reaps a `sleep`, sets ns_last_pid so that the
    /// next `sleep` is given the same pid, and signals the first one's pid with its start time:
    /// the newcomer lives on.
    #[test]
    fn a_reused_pid_is_not_signalled() {
        const INSIDE: &str = "TCPLAB_TEST_IN_PID_NAMESPACE";
        if std::env::var_os(INSIDE).is_none() {
            if testkit::skip_without(testkit::Need::Root) {
                return;
            }
            let out = std::process::Command::new("unshare")
                .args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"])
                .arg(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "kernel::signals::tests::a_reused_pid_is_not_signalled",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(INSIDE, "1")
                .stdin(std::process::Stdio::null())
                .output()
                .expect("unshare (util-linux)");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && text.contains("1 passed"),
                "{text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        let sleep = || {
            std::process::Command::new("sleep")
                .arg("600")
                .spawn()
                .unwrap()
        };
        let mut first = sleep();
        let pid = first.id() as i32;
        let start_of = |pid: i32| super::super::proc::start_time(pid).unwrap();
        let start = start_of(pid);
        first.kill().unwrap();
        first.wait().unwrap();
        // The boot clock moves on (hundredths of a second), so the newcomer's start differs.
        while super::super::host::uptime().unwrap() < start + Duration::from_millis(20) {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).unwrap();
        let mut newcomer = sleep();
        assert_eq!(newcomer.id() as i32, pid, "the pid was not reused");
        assert_ne!(start_of(pid), start);
        assert_eq!(
            signal_if_same(pid, start, Signal::SIGTERM),
            Err(Errno::ESRCH)
        );
        let st = super::super::proc::stat(pid).unwrap();
        assert!(
            super::super::proc::is_live(&st),
            "the newcomer was signalled"
        );
        newcomer.kill().unwrap();
        newcomer.wait().unwrap();
    }
}
