//! The owner cache stays true between refreshes: a descriptor closed and another socket opened
//! in the same slot (same count, so the cheap check cannot see it) is still found, with the
//! long-lived `LiveSource` the dashboard uses.

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use tcplab::kernel::live::LiveSource;
use tcplab::kernel::owners::OwnerIndex;
use tcplab::model::{SnapshotSource, Socket, TcpState, Timer, TimerKind};

use inspect::{inode_of, owners_of};
use testkit::inspect;

#[test]
fn swapped_descriptor_is_found_on_the_next_refresh() {
    let _alone = crate::alone();
    let me = std::process::id() as i32;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut source = LiveSource::new();
    // The source keeps a netlink socket open from its first refresh on; open it now so this
    // process's descriptor count is only changed by the test.
    source.snapshot().unwrap();

    let first = TcpStream::connect(addr).unwrap();
    let (accepted1, _) = listener.accept().unwrap();
    let first_fd = first.as_raw_fd();
    let first_inode = inode_of(&first);
    let snap = source.snapshot().unwrap();
    assert_eq!(owners_of(&snap, first_inode), Some(vec![(me, first_fd)]));
    assert_eq!(
        owners_of(&snap, inode_of(&listener)),
        Some(vec![(me, listener.as_raw_fd())])
    );
    let me_proc = snap
        .processes
        .iter()
        .find(|p| p.pid == me)
        .expect("this process");
    assert!(me_proc.fd_count.is_some_and(|n| n >= 4));

    let count_before = me_proc.fd_count;

    // Close a pair and open another: the kernel reuses the lowest free descriptors, so the
    // count of open descriptors is unchanged; only the inodes behind the numbers differ.
    drop((first, accepted1));
    let second = TcpStream::connect(addr).unwrap();
    let (_accepted2, _) = listener.accept().unwrap();
    let second_inode = inode_of(&second);
    assert_ne!(second_inode, first_inode);
    let snap = source.snapshot().unwrap();
    let me_proc = snap.processes.iter().find(|p| p.pid == me).unwrap();
    assert_eq!(
        me_proc.fd_count, count_before,
        "the count must not reveal the swap"
    );
    assert_eq!(
        owners_of(&snap, second_inode),
        Some(vec![(me, second.as_raw_fd())])
    );
    // The first socket, if the kernel still lists it, is an orphan with no inode.
    assert!(snap.sockets.iter().all(|s| s.inode != first_inode));
    assert!(!snap.sockets_from_procfs);
    sockets_only_scan_has_no_owners(&mut source, addr.port());
}

/// Runs after the swap test in the same thread, so it cannot disturb the descriptor count.
fn sockets_only_scan_has_no_owners(source: &mut LiveSource, port: u16) {
    let scan = source.sockets_only().unwrap();
    let mine: Vec<_> = scan
        .sockets
        .iter()
        .filter(|s| s.local.port() == port)
        .collect();
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|s| s.owners.is_none()));
}

/// A socket inode no process holds (a connection closed before its holder's descriptors were
/// read, as a busy machine makes every refresh) does not send every process to be read again
/// at once: it waits one refresh with its owners unknown, then is looked for once, then is
/// known to have no holder.
#[test]
fn an_unheld_inode_waits_one_refresh_before_the_hunt() {
    let _alone = crate::alone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let real = Socket {
        state: TcpState::Listen,
        local: listener.local_addr().unwrap(),
        remote: "0.0.0.0:0".parse().unwrap(),
        recv_q: 0,
        send_q: 0,
        inode: inode_of(&listener),
        uid: 0,
        timer: Timer {
            kind: TimerKind::Off,
            expires_in: Duration::ZERO,
            retransmits: 0,
        },
        owners: None,
        info: None,
        brief: None,
    };
    // Inodes count up from 1 and are 32 bits in sock_diag: nothing holds this one.
    let ghost = Socket {
        inode: u64::from(u32::MAX) - 7,
        ..real.clone()
    };
    let mut index = OwnerIndex::new();
    index.refresh(std::slice::from_ref(&real)).unwrap();
    let everyone = index.last_reads();
    assert!(everyone > 1, "the first refresh reads every process");
    let me = std::process::id() as i32;
    let mine = |index: &OwnerIndex| index.owners(real.inode).map(|o| o[0].pid);
    assert_eq!(mine(&index), Some(me));

    let both = [real.clone(), ghost.clone()];
    index.refresh(&both).unwrap();
    assert_eq!(index.owners(ghost.inode), None, "not looked for yet");
    // Only processes that changed meanwhile are read (others' tests may start some), never
    // every one of them.
    assert!(
        index.last_reads() < everyone,
        "{} of {everyone} read",
        index.last_reads()
    );
    assert_eq!(mine(&index), Some(me));

    index.refresh(&both).unwrap();
    assert_eq!(
        index.owners(ghost.inode),
        Some(vec![]),
        "looked for, not found"
    );
    index.refresh(&both).unwrap();
    assert!(index.last_reads() < everyone, "and not looked for again");
}
