//! Helpers for the inspector's tests.

use std::os::fd::AsRawFd;
use std::process::{Command, Output};

use tcplab::model::Snapshot;

/// (pid, fd) of every holder of `inode` in a snapshot; None when the socket is missing or its
/// owners are unknown.
pub fn owners_of(snap: &Snapshot, inode: u64) -> Option<Vec<(i32, i32)>> {
    let sock = snap.sockets.iter().find(|s| s.inode == inode)?;
    Some(
        sock.owners
            .as_ref()?
            .iter()
            .map(|o| (o.pid, o.fd))
            .collect(),
    )
}

/// The socket inode behind one of this process's descriptors, as /proc/self/fd shows it.
pub fn inode_of(fd: &impl AsRawFd) -> u64 {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
    let s = link.to_string_lossy();
    s.trim_start_matches("socket:[")
        .trim_end_matches(']')
        .parse()
        .unwrap()
}

/// Runs the binary as uid/gid 65534 when this test runs as root; otherwise as the current
/// (already unprivileged) user.
pub fn as_nobody(args: &[&str]) -> Output {
    let bin = crate::bin();
    if nix::unistd::geteuid().is_root() {
        Command::new("setpriv")
            .args([
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
            ])
            .arg(bin)
            .args(args)
            .output()
            .expect("run setpriv")
    } else {
        Command::new(bin).args(args).output().expect("run tcplab")
    }
}

/// A listener on 127.0.0.1 whose port no other TCP socket uses, as `ss` sees it. Port 0 can
/// hand out a port number whose earlier connections still sit in TIME_WAIT (for a minute);
/// a test that counts the sockets of its port must not count those.
pub fn listener_on_a_quiet_port() -> std::net::TcpListener {
    for _ in 0..100 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = format!(":{}", listener.local_addr().unwrap().port());
        let others = crate::ss::ss("-tan")
            .iter()
            .filter(|l| l.local.ends_with(&port) || l.remote.ends_with(&port))
            .count();
        // The listener itself is the one line.
        if others == 1 {
            return listener;
        }
    }
    panic!("no quiet port on 127.0.0.1 in 100 tries");
}
