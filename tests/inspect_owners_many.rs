//! The owner walk on a process with thousands of descriptors (its own test binary, so no other
//! test changes this process's descriptors meanwhile).

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use tcplab::kernel::live::LiveSource;
use tcplab::model::SnapshotSource;

#[path = "common/inspect.rs"]
mod inspect;
use inspect::{inode_of, owners_of};

/// A process with more descriptors than one thread reads (the walk splits them): every one of
/// its sockets still gets exactly its (pid, fd).
#[test]
fn thousands_of_descriptors_all_found() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    const PAIRS: usize = 2200; // 4,400 sockets: past the parallel-walk threshold of 4,096
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let want = (2 * PAIRS as u64 + 200).min(hard);
    if soft < want {
        setrlimit(Resource::RLIMIT_NOFILE, want, hard).unwrap();
    }
    assert!(
        want >= 2 * PAIRS as u64 + 200,
        "RLIMIT_NOFILE hard limit {hard} too low for this test"
    );
    let me = std::process::id() as i32;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::with_capacity(2 * PAIRS);
    for _ in 0..PAIRS {
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = listener.accept().unwrap();
        held.push(c);
        held.push(s);
    }
    let snap = LiveSource::new().snapshot().unwrap();
    for sock in &held {
        assert_eq!(
            owners_of(&snap, inode_of(sock)),
            Some(vec![(me, sock.as_raw_fd())]),
            "fd {}",
            sock.as_raw_fd()
        );
    }

    // The command streams its JSON in chunks; at ~1 MB of output they must join into one array.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tcplab"))
        .args(["net", "--json", "--port", &addr.port().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stdout.len() > 256 * 1024,
        "only {} bytes",
        out.stdout.len()
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one valid JSON array");
    assert_eq!(v.as_array().unwrap().len(), 2 * PAIRS + 1);
}
