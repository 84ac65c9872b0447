//! Helpers for the master/daemon/model tests: a tiny HTTP client, the kernel's view of a
//! process (/proc/PID/stat), a master's workers, and reaping what a test orphaned, by pid (never
//! `waitpid(-1)`, which could steal another test's child).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::wait_for;

/// GET `path` on a fresh connection (Connection: close): (status, body).
pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> std::io::Result<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{text:?}"));
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .ok_or_else(bad)?;
    let body = text.split_once("\r\n\r\n").ok_or_else(bad)?.1.to_string();
    Ok((status, body))
}

/// Fields of /proc/PID/stat the tests check: the tests' one reader of it, kept apart from
/// tcplab's own parser so that a test checks that parser instead of trusting it.
#[derive(Debug, Clone)]
pub struct Stat {
    pub state: char,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub tty_nr: i32,
}

pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = text.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: f[0].chars().next()?,
        ppid: f[1].parse().ok()?,
        pgid: f[2].parse().ok()?,
        sid: f[3].parse().ok()?,
        tty_nr: f[4].parse().ok()?,
    })
}

/// Live workers of a master, from the kernel's process table.
pub fn workers(master: i32) -> Vec<i32> {
    tcplab::server::control::workers_of(Pid::from_raw(master))
        .into_iter()
        .map(|p| p.as_raw())
        .collect()
}

/// Waits until `master` has exactly `n` live workers; returns them.
pub fn wait_workers(master: i32, n: usize) -> Vec<i32> {
    wait_for(
        &format!("{n} workers of {master}"),
        Duration::from_secs(10),
        || {
            let w = workers(master);
            (w.len() == n).then_some(w)
        },
    )
}

/// Reaps `pid` (a child, or an orphan adopted by this subreaper) once it exits, then checks
/// the kernel has forgotten it: no process, no zombie.
pub fn reap(pid: i32) {
    let p = Pid::from_raw(pid);
    wait_for(
        &format!("pid {pid} to exit and be reaped"),
        Duration::from_secs(15),
        || {
            match waitpid(p, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => None,
                Ok(_) => Some(()),
                // Not our child (reaped elsewhere, or never ours): it must be gone all the same.
                Err(_) => (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(()),
            }
        },
    );
    assert_gone(pid);
}

/// The kernel has no process (not even a zombie) with this pid.
pub fn assert_gone(pid: i32) {
    if let Some(st) = stat(pid) {
        panic!("pid {pid} is still there: {st:?}");
    }
}

/// Waits until `pid` has exited (a zombie counts: its parent reaps it).
pub fn wait_exited(pid: i32) {
    wait_for(
        &format!("pid {pid} to exit"),
        Duration::from_secs(15),
        || match stat(pid) {
            None => Some(()),
            Some(s) if s.state == 'Z' => Some(()),
            _ => None,
        },
    );
}

/// What the server has printed on stderr so far (after its ready line), without waiting: for
/// failure messages.
pub fn stderr_so_far(server: &mut crate::Running) -> String {
    use std::io::Read;
    use std::os::fd::AsFd;
    let Some(reader) = server.stderr.as_mut() else {
        return String::new();
    };
    let fd = reader.get_ref().as_fd();
    let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL).unwrap_or(0);
    let nonblocking = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
    let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(nonblocking));
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = reader.read(&mut buf) {
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text
}

/// True when `pid` has `path` open (one of its /proc/PID/fd links points at it).
pub fn holds_file(pid: i32, path: &std::path::Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .any(|target| target == path)
}

/// Waits until the server has read a request for `target` and started on its answer: the
/// access log (`--access-log`) holds its line. A `/sleep` is logged as soon as it is read, before
/// the wait, so the line says the request is in flight and stays said: unlike a look at the
/// kernel's socket table (seconds to read when the machine holds tens of thousands of
/// sockets), it cannot be missed because the answer went out before the look ended.
pub fn wait_request_logged(access_log: &std::path::Path, target: &str) {
    let line = format!("\"GET {target} HTTP/1.1\"");
    wait_for(
        &format!("{line} in {}", access_log.display()),
        Duration::from_secs(20),
        || {
            std::fs::read_to_string(access_log)
                .ok()?
                .contains(&line)
                .then_some(())
        },
    );
}
