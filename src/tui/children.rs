//! The processes the dashboard starts (demos, a server): spawned from this very binary, each in
//! its own process group (so signalling a group from the menu never hits the dashboard), with
//! stdout and stderr to a log file (never the screen; and a detached server keeps a valid
//! stderr after the dashboard exits). The runtime follows each log for new lines.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use crate::kernel::exit::Exit;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// One child's log and how far it has been read.
struct Followed {
    path: PathBuf,
    offset: u64,
    partial: String,
}

#[derive(Default)]
pub struct Children {
    dir: Option<PathBuf>,
    logs: HashMap<i32, Followed>,
}

impl Children {
    /// The directory for the logs, made on first use: `$TMPDIR/tcplab-tui-PID`.
    fn dir(&mut self) -> std::io::Result<PathBuf> {
        if let Some(d) = &self.dir {
            return Ok(d.clone());
        }
        let d = std::env::temp_dir().join(format!("tcplab-tui-{}", std::process::id()));
        std::fs::create_dir_all(&d)?;
        self.dir = Some(d.clone());
        Ok(d)
    }

    /// Starts `tcplab ARGS...` and follows its output; returns its pid.
    pub fn spawn(&mut self, label: &str, args: &[String]) -> anyhow::Result<i32> {
        let exe = std::env::current_exe()?;
        let path = self.dir()?.join(format!("{label}.log"));
        let log = File::create(&path)?;
        let child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()?;
        let pid = child.id() as i32;
        // The runtime reaps with waitpid(-1); the handle is not needed (dropping it neither
        // kills nor waits).
        drop(child);
        let final_path = path.with_file_name(format!("{label}-{pid}.log"));
        let path = match std::fs::rename(&path, &final_path) {
            Ok(()) => final_path,
            Err(_) => path,
        };
        self.logs.insert(
            pid,
            Followed {
                path,
                offset: 0,
                partial: String::new(),
            },
        );
        Ok(pid)
    }

    /// Complete new lines every child wrote since the last call.
    pub fn new_lines(&mut self) -> Vec<(i32, String)> {
        let mut out = Vec::new();
        for (pid, f) in &mut self.logs {
            let Ok(mut file) = File::open(&f.path) else {
                continue;
            };
            if file.seek(SeekFrom::Start(f.offset)).is_err() {
                continue;
            }
            let mut buf = Vec::new();
            if let Ok(n) = file.take(64 * 1024).read_to_end(&mut buf) {
                f.offset += n as u64;
                f.partial.push_str(&String::from_utf8_lossy(&buf));
                while let Some(i) = f.partial.find('\n') {
                    let line: String = f.partial.drain(..=i).collect();
                    out.push((*pid, line.trim_end().to_string()));
                }
            }
        }
        out.sort_by_key(|(pid, _)| *pid);
        out
    }

    /// Stops following a child that was reaped (after reading what it wrote last).
    pub fn forget(&mut self, pid: i32) {
        self.logs.remove(&pid);
    }

    /// The log of a child, for a detached server's message at quit.
    pub fn log_path(&self, pid: i32) -> Option<PathBuf> {
        self.logs.get(&pid).map(|f| f.path.clone())
    }

    /// Removes the log directory, keeping the logs of `keep` (a detached server still writes
    /// there).
    pub fn cleanup(&mut self, keep: &[i32]) {
        let Some(dir) = &self.dir else { return };
        if keep.iter().any(|p| self.logs.contains_key(p)) {
            for (pid, f) in &self.logs {
                if !keep.contains(pid) {
                    let _ = std::fs::remove_file(&f.path);
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Ends `pids`: TERM, a grace period for their own cleanup (the demos reap their zombies, the
/// server stops its workers), then KILL to whatever is left of them and of their process
/// groups; reaps everything, adopted orphans included. Returns what was reaped.
/// Only those of `pids` still children of ours are signalled: a child already reaped (here, or
/// by the runtime before the app heard of it) has given its pid back, and any process may have
/// it now.
pub fn end_and_reap(pids: &[i32], grace: Duration) -> Vec<(i32, Exit)> {
    let mut reaped = Vec::new();
    for pid in still_ours(pids) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    loop {
        reaped.extend(reap_now());
        let left = still_ours(pids);
        if left.is_empty() || Instant::now() >= deadline {
            for pid in left {
                let _ = kill(Pid::from_raw(-pid), Signal::SIGKILL);
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Whatever is still a child of ours now (adopted orphans of what we ended) goes too.
    let deadline = Instant::now() + grace;
    loop {
        reaped.extend(reap_now());
        let me = std::process::id() as i32;
        let kids = crate::kernel::family::children_of(me);
        if kids.is_empty() || Instant::now() >= deadline {
            break;
        }
        for k in kids {
            let _ = kill(Pid::from_raw(k), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    reaped
}

/// Of `pids`, those that are children of ours now, running or exited but not yet reaped (so
/// their pids cannot have been given to another process).
fn still_ours(pids: &[i32]) -> Vec<i32> {
    let mine = crate::kernel::family::children_of(std::process::id() as i32);
    pids.iter().copied().filter(|p| mine.contains(p)).collect()
}

/// Reaps every exited child without blocking: (pid, how it ended).
pub fn reap_now() -> Vec<(i32, Exit)> {
    crate::kernel::subreaper::reap_exited()
        .into_iter()
        .filter_map(|(pid, status)| Some((pid.as_raw(), Exit::of(&status)?)))
        .collect()
}

#[cfg(test)]
mod pid_reuse_tests {
    use super::*;

    /// A pid that is no child of ours (here a grandchild; after a reap, whatever process was
    /// given the pid) is never among those ended; a child, running or a zombie, is.
    #[test]
    fn only_children_not_yet_reaped_are_ours_to_end() {
        use std::io::BufRead;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 600 & echo $!; exec sleep 600"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let grandchild: i32 = line.trim().parse().unwrap();
        let pid = child.id() as i32;
        assert_eq!(still_ours(&[pid, grandchild]), vec![pid]);
        let _ = kill(Pid::from_raw(grandchild), Signal::SIGKILL);
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        // Exited, not reaped: still ours (its pid is held).
        use nix::sys::wait::{waitid, Id, WaitPidFlag};
        waitid(
            Id::Pid(Pid::from_raw(pid)),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
        )
        .unwrap();
        assert_eq!(still_ours(&[pid]), vec![pid]);
        child.wait().unwrap();
        assert_eq!(still_ours(&[pid]), Vec::<i32>::new());
    }
}
