//! Helpers for the demo tests: start `tcplab demo ...` with its stdout followed line by line
//! (with deadlines, never blocking forever), and read the kernel's view of a pid independently
//! of tcplab's own code (raw /proc text, `ps`, `ss`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use crate::{tcplab, Running};

/// A demo process and the lines it has printed so far.
pub struct Demo {
    pub running: Running,
    lines: Receiver<String>,
    pub seen: Vec<String>,
    claimed: Vec<bool>,
}

impl Demo {
    /// Starts `tcplab demo <args>` with stdout piped (stderr inherited, so failures show).
    pub fn start(args: &[&str]) -> Demo {
        let mut cmd = tcplab();
        cmd.arg("demo").args(args);
        Demo::spawn(cmd)
    }

    /// Starts a prepared command (e.g. the demo under `prlimit`) the same way.
    pub fn spawn(mut cmd: Command) -> Demo {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn tcplab demo");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Demo {
            running: Running {
                child,
                stderr: None,
            },
            lines: rx,
            seen: Vec::new(),
            claimed: Vec::new(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.running.pid()
    }

    /// Returns the first line not returned before that contains `needle`, reading more lines
    /// as needed: lines from different processes of a demo interleave, so earlier lines are
    /// searched too. Panics with everything printed so far if the deadline passes or the demo
    /// closes its stdout first.
    pub fn line_with(&mut self, needle: &str, timeout: Duration) -> String {
        self.line_where(&format!("{needle:?}"), |l| l.contains(needle), timeout)
    }

    /// As [`Demo::line_with`], for the first line `pred` accepts; `what` names it in the
    /// failure.
    pub fn line_where(
        &mut self,
        what: &str,
        pred: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> String {
        let deadline = Instant::now() + timeout;
        let mut i = 0;
        loop {
            while i < self.seen.len() {
                if !self.claimed[i] && pred(&self.seen[i]) {
                    self.claimed[i] = true;
                    return self.seen[i].clone();
                }
                i += 1;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line);
                    self.claimed.push(false);
                }
                Err(e) => panic!(
                    "no line with {what} ({e}); the demo printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Reads the rest of the output after the demo exited (stdout closed).
    pub fn rest(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
            self.claimed.push(false);
        }
        self.seen.join("\n")
    }

    /// Sends `sig` and waits for a clean exit (status 0).
    pub fn stop(&mut self, sig: nix::sys::signal::Signal) {
        self.running.signal(sig);
        let status = self.running.wait_exit(Duration::from_secs(15));
        assert!(
            status.success(),
            "demo exited with {status}; it printed:\n{}",
            self.rest(Duration::from_secs(1))
        );
    }
}

impl Drop for Demo {
    /// On a failed test the demo may not have cleaned up: kill its whole tree (the test is a
    /// subreaper, so the orphans come back here) and reap it, leaving nothing on the machine.
    fn drop(&mut self) {
        if self.running.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let mut tree = vec![self.pid()];
        let mut i = 0;
        while i < tree.len() {
            tree.extend(children_of(tree[i]));
            i += 1;
        }
        for pid in tree.iter().rev() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.running.child.wait();
        let deadline = Instant::now() + Duration::from_secs(5);
        while tree.iter().any(|&p| exists(p)) && Instant::now() < deadline {
            for &pid in &tree {
                crate::try_reap(pid);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The numbers that follow `word ` in `line`: `numbers_after("zombies 1 2 3", "zombies")`.
pub fn numbers_after(line: &str, word: &str) -> Vec<i32> {
    let rest = line
        .split(&format!("{word} "))
        .nth(1)
        .unwrap_or_else(|| panic!("no {word:?} in {line:?}"));
    rest.split_whitespace()
        .map_while(|w| w.trim_end_matches([',', ';', '.', ')']).parse().ok())
        .collect()
}

/// State letter and ppid of `pid` as /proc says, None once it is gone.
pub fn state_ppid(pid: i32) -> Option<(char, i32)> {
    crate::server_procs::stat(pid).map(|st| (st.state, st.ppid))
}

/// True while /proc/PID exists (alive or zombie: not yet reaped).
pub fn exists(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// `ps -o FIELDS= -p PID`, trimmed; None if ps does not list it.
pub fn ps(pid: i32, fields: &str) -> Option<String> {
    let out = Command::new("ps")
        .args(["-o", &format!("{fields}="), "-p", &pid.to_string()])
        .output()
        .expect("run ps");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Pids whose parent is `pid`, from /proc (every process, read raw).
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut kids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if state_ppid(p).is_some_and(|(_, ppid)| ppid == pid) {
            kids.push(p);
        }
    }
    kids
}

/// The lines of `ss ARGS` (with -H: no header).
pub fn ss(args: &[&str]) -> Vec<String> {
    let out = Command::new("ss")
        .arg("-H")
        .args(args)
        .output()
        .expect("run ss");
    assert!(out.status.success(), "ss {args:?} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// `port` as a word of an ss line: `127.0.0.1:8080` has port 8080 at its local or peer column.
pub fn has_addr(line: &str, addr: &str) -> bool {
    line.split_whitespace().any(|w| w == addr)
}
