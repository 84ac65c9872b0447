//! Shared by the integration tests (`tests/<area>/main.rs`): start the real binary, wait with
//! deadlines (never sleeps), and leave nothing running. A crate of its own so that every test
//! binary uses one copy and the compiler still sees what is unused.

pub mod dashboard;
pub mod demo;
pub mod http;
pub mod inspect;
pub mod needs;
pub mod server_procs;
pub mod ss;
pub mod tmux;

pub use needs::{skip_without, Need};

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The binary under test: cargo builds it next to the test binaries' `deps/` directory
/// (`CARGO_BIN_EXE_tcplab` is only given to the test crates themselves, not to this one).
pub fn bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's own path");
    let mut dir = exe.parent().expect("the test binary's directory").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(format!("tcplab{}", std::env::consts::EXE_SUFFIX))
}

/// A command running the binary under test.
pub fn tcplab() -> Command {
    Command::new(bin())
}

/// Makes this test process a child subreaper, once: whatever a test orphans (daemons, demos)
/// comes back here and is reaped by the test (by pid, or `reap_orphaned_daemons`), not left to
/// PID 1.
pub fn subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tcplab::kernel::subreaper::become_subreaper().expect("PR_SET_CHILD_SUBREAPER")
    });
}

/// Reaps the exited children of this process that left its session: daemons a test orphaned
/// (they come back here, see `subreaper`) whose pid no test knows. Never a child still in our
/// session, which another test thread may be about to wait for: a blanket `waitpid(-1)` would
/// steal that exit from it.
pub fn reap_orphaned_daemons() {
    let ours = nix::unistd::getsid(None).expect("getsid").as_raw();
    for pid in children_of_self() {
        let Some(st) = server_procs::stat(pid) else {
            continue;
        };
        if st.state == 'Z' && st.sid != ours {
            try_reap(pid);
        }
    }
}

/// Reaps `pid` if it is an exited child of this process; true if it was reaped or is not (or no
/// longer) our child.
pub fn try_reap(pid: i32) -> bool {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    !matches!(
        waitpid(nix::unistd::Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)),
        Ok(WaitStatus::StillAlive)
    )
}

/// The children of every thread of this process.
fn children_of_self() -> Vec<i32> {
    let me = std::process::id();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{me}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .flat_map(|task| {
            std::fs::read_to_string(task.path().join("children")).unwrap_or_default()
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect()
}

/// Polls `f` until it returns Some or the deadline passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A child process that is killed and reaped when the test ends, pass or fail.
pub struct Running {
    pub child: Child,
    pub stderr: Option<BufReader<ChildStderr>>,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends a signal by name ("TERM", "INT", ...).
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig);
    }

    /// Waits for the exit with a deadline; panics if it does not come.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        wait_for("process exit", timeout, || {
            self.child.try_wait().ok().flatten()
        })
    }
}

impl Drop for Running {
    /// TERM first, so a server master stops its workers and reaps them itself; KILL only if it
    /// does not go within a few seconds. Workers that a killed master orphans come back to this
    /// test process (a subreaper, see `serve`) and are reaped here by pid, never left to PID 1.
    /// Only our own pids are waited for: a blanket waitpid(-1) would steal other tests' exits.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let kids = children_of(self.pid());
            self.signal(nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
            for kid in kids {
                reap_pid(kid, Duration::from_secs(5));
            }
        }
    }
}

/// The direct children of `pid` (/proc/PID/task/PID/children).
pub fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Waits for `child` to exit, then reads what it wrote to its (piped) stderr. One still running
/// after `timeout` is killed and reaped, and the test fails saying it hung in `what`.
pub fn exit_and_stderr(
    child: &mut Child,
    what: &str,
    timeout: Duration,
) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waitpid on the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} hung: still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        stderr
            .read_to_string(&mut err)
            .expect("the child's stderr");
    }
    (status, err)
}

/// Waits for one adopted orphan to exit and reaps it; returns at once if it is not our child
/// (its own parent reaped it).
pub fn reap_pid(pid: i32, timeout: Duration) {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let deadline = Instant::now() + timeout;
    let pid = nix::unistd::Pid::from_raw(pid);
    while Instant::now() < deadline {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(5)),
            Ok(_) | Err(_) => return,
        }
    }
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = waitpid(pid, None);
}

/// Starts `tcplab serve --listen 127.0.0.1:0 <extra>` and returns it with the address from its
/// ready line (`tcplab serve: listening on http://IP:PORT (...)`).
pub fn serve(extra: &[&str]) -> (Running, SocketAddr) {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    start_listening(&args)
}

/// Starts `tcplab <args>` (a command that prints a `listening on http://IP:PORT` line, as
/// `serve` and `metrics` do) and returns it with that address.
pub fn start_listening(args: &[&str]) -> (Running, SocketAddr) {
    let mut cmd = tcplab();
    cmd.args(args);
    start_listening_command(cmd)
}

/// As [`start_listening`], for a command the caller built (its own environment, say).
pub fn start_listening_command(mut cmd: Command) -> (Running, SocketAddr) {
    subreaper();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn tcplab {args:?}: {e}"));
    let mut running = Running {
        child,
        stderr: None,
    };
    let mut reader = BufReader::new(running.child.stderr.take().unwrap());
    // A command that never prints its ready line would block the read for ever: past the
    // deadline it is killed, the read ends, and the test fails with what it printed.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let pid = nix::unistd::Pid::from_raw(running.pid());
    let watchdog = std::thread::spawn(move || {
        if ready_rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    });
    let addr = read_ready_line(&mut reader);
    let _ = ready_tx.send(());
    let _ = watchdog.join();
    running.stderr = Some(reader);
    (running, addr)
}

/// Reads stderr lines until the ready line; panics with what was printed if it never comes.
pub fn read_ready_line(reader: &mut impl BufRead) -> SocketAddr {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("read stderr");
        if n == 0 {
            panic!("server exited before its ready line; it printed:\n{seen}");
        }
        if let Some(addr) = tcplab::server::ready::listening_addr(&line) {
            return addr;
        }
        seen.push_str(&line);
    }
}

/// The MARK column of `pid` in `tcplab ps` (`daemon`, `leader`, `zombie,unreaped=2`, `-`).
pub fn ps_mark(pid: i32) -> Option<String> {
    let out = tcplab().arg("ps").output().expect("run tcplab ps");
    assert!(out.status.success(), "tcplab ps failed");
    // PPID PID PGID SID TTY TPGID STAT UID TIME MARK COMMAND
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.get(1) == Some(&pid.to_string().as_str()))
        .and_then(|f| f.get(9).map(|m| m.to_string()))
}
