//! A real terminal for end-to-end tests: a tmux server of the test's own, whose socket lies in
//! a scratch directory of the test (so tests and people never share a server, and no socket
//! file is left in /tmp/tmux-UID), everything killed, reaped and removed when it is dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long `wait_screen` polls before it fails, showing the last screen.
pub const SCREEN_DEADLINE: Duration = Duration::from_secs(30);

/// A tmux server of our own running one session, killed on drop.
pub struct Tmux {
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Tmux {
    /// Starts `cmd` in a detached session of `cols` x `rows` on a fresh tmux server; `name`
    /// names the scratch directory (`tcplab-NAME-...`) that holds its socket.
    pub fn start(name: &str, (cols, rows): (u16, u16), cmd: &str) -> Tmux {
        // tmux daemonizes its server: as a subreaper we get it back, not PID 1 (which reaps late).
        crate::subreaper();
        let dir = tempfile::Builder::new()
            .prefix(&format!("tcplab-{name}-"))
            .tempdir()
            .expect("a scratch directory");
        let tmux = Tmux {
            socket: dir.path().join("tmux.sock"),
            dir,
        };
        let (cols, rows) = (cols.to_string(), rows.to_string());
        let ok = tmux
            .cmd(&["new-session", "-d", "-x", &cols, "-y", &rows, cmd])
            .status()
            .expect("tmux runs")
            .success();
        assert!(ok, "tmux new-session failed");
        tmux
    }

    /// A directory for the test's files, removed with the tmux.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A tmux command addressed to this server.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Types `keys` (tmux key names or text) into the pane.
    pub fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status().expect("tmux runs").success());
    }

    /// The pane's text as it is on screen now.
    pub fn screen(&self) -> String {
        let out = self
            .cmd(&["capture-pane", "-p", "-t", "0"])
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// One of tmux's formats (`#{pane_pid}`, `#{alternate_on}`) for the pane.
    pub fn display(&self, format: &str) -> String {
        let out = self
            .cmd(&["display", "-p", "-t", "0", format])
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Polls the screen until `pred` holds; on timeout, fails showing the last screen.
    pub fn wait_screen(&self, what: &str, mut pred: impl FnMut(&str) -> bool) -> String {
        let deadline = Instant::now() + SCREEN_DEADLINE;
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out after {SCREEN_DEADLINE:?} waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Like [`Tmux::wait_screen`], but returns only a screen captured twice alike in a row: a
    /// capture can fall in the middle of a redraw (half a line old, half new), which a test
    /// that reads more than what its predicate checked must not see.
    pub fn wait_screen_settled(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let mut before = String::new();
        self.wait_screen(what, |s| {
            let settled = pred(s) && s == before;
            before = s.to_string();
            settled
        })
    }

    /// Waits until the session has ended (its program exited); fails after the deadline.
    pub fn wait_session_gone(&self, what: &str) {
        crate::wait_for(what, SCREEN_DEADLINE, || {
            (!self
                .cmd(&["has-session"])
                .status()
                .is_ok_and(|s| s.success()))
            .then_some(())
        });
    }

    /// The tmux server's pid and the pane's program: both are orphans of this test process (a
    /// subreaper) once the server daemonizes or dies, so they are reaped here by pid.
    fn pids(&self) -> Vec<i32> {
        ["#{pid}", "#{pane_pid}"]
            .iter()
            .filter_map(|f| self.display(f).parse().ok())
            .collect()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let pids = self.pids();
        let _ = self.cmd(&["kill-server"]).status();
        for pid in pids {
            crate::reap_pid(pid, Duration::from_secs(5));
        }
    }
}
