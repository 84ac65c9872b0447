//! The owner walk probes descriptor numbers up to the process's descriptor count, then lists
//! whatever lies beyond: a socket parked on a high descriptor number (a sparse table, as
//! `dup2` or a daemon's fixed fds make) must still be found.

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use tcplab::kernel::live::LiveSource;
use tcplab::model::SnapshotSource;

use inspect::{inode_of, owners_of};
use testkit::inspect;

#[test]
fn socket_on_a_high_descriptor_is_found() {
    let _alone = crate::alone();
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    const HIGH: i32 = 900;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(
        hard > HIGH as u64,
        "RLIMIT_NOFILE hard limit {hard} too low for this test"
    );
    if soft <= HIGH as u64 {
        setrlimit(Resource::RLIMIT_NOFILE, HIGH as u64 + 1, hard).unwrap();
    }
    let me = std::process::id() as i32;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    // The same socket on a second, far-away descriptor: two holders of one inode.
    let high = rustix::io::fcntl_dupfd_cloexec(&client, HIGH).unwrap();
    assert_eq!(
        high.as_raw_fd(),
        HIGH,
        "descriptor {HIGH} was already taken"
    );

    let mut source = LiveSource::new();
    for refresh in ["first", "second"] {
        let snap = source.snapshot().unwrap();
        let mut owners = owners_of(&snap, inode_of(&client)).expect("the client socket");
        owners.sort_unstable();
        assert_eq!(
            owners,
            vec![(me, client.as_raw_fd()), (me, HIGH)],
            "{refresh} refresh"
        );
        assert_eq!(
            owners_of(&snap, inode_of(&server)),
            Some(vec![(me, server.as_raw_fd())]),
            "{refresh} refresh"
        );
    }
    drop(high);
    let snap = source.snapshot().unwrap();
    assert_eq!(
        owners_of(&snap, inode_of(&client)),
        Some(vec![(me, client.as_raw_fd())]),
        "after closing the high descriptor"
    );
}
