//! The owner walk on a process with thousands of descriptors.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use tcplab::kernel::live::LiveSource;
use tcplab::kernel::sockets::{SocketScanner, TcpScan};
use tcplab::model::SnapshotSource;

use inspect::{inode_of, owners_of};
use testkit::inspect;

/// A process with more descriptors than one thread reads (the walk splits them): every one of
/// its sockets still gets exactly its (pid, fd).
#[test]
fn thousands_of_descriptors_all_found() {
    let _alone = crate::alone();
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
    let mut source = LiveSource::new();
    // The first refresh dumps sockets whole; with 4,400 sockets on the machine, the second one
    // splits the dump in two halves filtered in the kernel (kernel::dump_split). Both must
    // find every socket exactly once, with its owner.
    for refresh in ["first", "second (split dump)"] {
        let snap = source.snapshot().unwrap();
        for sock in &held {
            assert_eq!(
                owners_of(&snap, inode_of(sock)),
                Some(vec![(me, sock.as_raw_fd())]),
                "{refresh} refresh, fd {}",
                sock.as_raw_fd()
            );
        }
        let mut inodes: Vec<u64> = snap
            .sockets
            .iter()
            // Inode 0: a TIME_WAIT left on this port number by an earlier test, not ours.
            .filter(|s| s.inode != 0)
            .filter(|s| s.local.port() == addr.port() || s.remote.port() == addr.port())
            .map(|s| s.inode)
            .collect();
        inodes.sort_unstable();
        let before = inodes.len();
        inodes.dedup();
        assert_eq!(
            before,
            inodes.len(),
            "{refresh} refresh: a socket listed twice"
        );
        assert_eq!(before, 2 * PAIRS + 1, "{refresh} refresh: sockets missing");
    }
    let ours = |scan: TcpScan| -> Vec<(SocketAddr, SocketAddr, u64)> {
        let mut v: Vec<_> = scan
            .sockets
            .into_iter()
            .filter(|s| s.inode != 0)
            .filter(|s| s.local.port() == addr.port() || s.remote.port() == addr.port())
            .map(|s| (s.local, s.remote, s.inode))
            .collect();
        v.sort_unstable();
        v
    };
    let same = |what: &str,
                halves: &[(SocketAddr, SocketAddr, u64)],
                whole: &[(SocketAddr, SocketAddr, u64)]| {
        let missing: Vec<_> = whole
            .iter()
            .filter(|s| !halves.contains(s))
            .take(3)
            .collect();
        assert!(
            halves.len() == whole.len() && missing.is_empty(),
            "{what}: {} sockets, whole dump: {}; missing from the split: {missing:?}",
            halves.len(),
            whole.len()
        );
    };
    let whole = ours(SocketScanner::unsplit().scan().unwrap());

    // A first scan has no median to split at: with 4,400 sockets it splits on whether exactly
    // one port lies below the middle of the ephemeral range.
    let mut split = SocketScanner::new();
    same(
        "first (crossed) split",
        &ours(split.scan().unwrap()),
        &whole,
    );
    assert!(
        split.last_split(),
        "the first scan did not split (or the kernel refused it)"
    );
    assert!(
        split.will_split(),
        "4,400 sockets should split the next dump"
    );

    // Then at a pivot among this test's sockets, wherever the machine's median lies: the
    // listener's accepted sockets share its port and differ by remote port, so both halves of
    // the filter (port below, equal, above) are exercised.
    let mut remote_ports: Vec<u16> = held.iter().map(|s| s.peer_addr().unwrap().port()).collect();
    remote_ports.sort_unstable();
    split.split_at((addr.port(), remote_ports[remote_ports.len() / 2]));
    same("pivot split", &ours(split.scan().unwrap()), &whole);
    assert!(
        split.last_split(),
        "the kernel refused the pivot split's filters"
    );

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
    // `--port` also matches other sockets that merely use the same port number (another
    // process's ephemeral port, a TIME_WAIT left by an earlier listener on it): count only
    // this test's own, those with the listener's exact address at one end, outside TIME_WAIT.
    let at = addr.to_string();
    let ours_in_json = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["state"] != "TIME_WAIT" && (s["local"] == at.as_str() || s["remote"] == at.as_str())
        })
        .count();
    assert_eq!(ours_in_json, 2 * PAIRS + 1);
}
