//! The /proc parsers on real text captured from a Linux 6.18 machine (tests/fixtures/, made by
//! tests/fixtures/capture.py), and the two socket sources agreeing on the live kernel.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use tcplab::kernel::parse::net_tcp::parse_net_tcp;
use tcplab::kernel::parse::stat::parse_stat;
use tcplab::kernel::parse::status::parse_status;
use tcplab::kernel::sockets::SocketScanner;
use tcplab::model::{Socket, TcpState, TimerKind};

const STAT: &[u8] = include_bytes!("../fixtures/proc_pid_stat.txt");
const STATUS: &[u8] = include_bytes!("../fixtures/proc_pid_status.txt");
const NET_TCP: &[u8] = include_bytes!("../fixtures/proc_net_tcp.txt");
const NET_TCP6: &[u8] = include_bytes!("../fixtures/proc_net_tcp6.txt");
const NET_TCP_HANDSHAKE: &[u8] = include_bytes!("../fixtures/proc_net_tcp_handshake.txt");
const NET_TCP6_HANDSHAKE: &[u8] = include_bytes!("../fixtures/proc_net_tcp6_handshake.txt");

#[test]
fn stat_with_spaces_and_parentheses_in_comm() {
    let st = parse_stat(STAT).unwrap();
    assert_eq!(st.comm, "we ird) (name");
    assert_eq!(st.pid, 25670);
    assert_eq!(st.state, 'S');
    assert_eq!((st.ppid, st.pgid, st.sid), (25629, 25625, 8200));
    assert_eq!((st.tty_nr, st.tpgid), (0, -1));
    assert_eq!(st.flags, 4194304, "PF_* flags");
    assert_eq!(st.flags & tcplab::kernel::parse::stat::PF_KTHREAD, 0);
    assert_eq!(st.threads, 1);
    assert_eq!(st.start_ticks, 81162);
    assert_eq!(st.rss_pages, 798);
    // Cut anywhere before the 24th field, the line is malformed, never misread.
    for cut in [10, 20, 40, 60] {
        assert!(
            parse_stat(&STAT[..cut]).is_err(),
            "accepted a stat cut at {cut}"
        );
    }
}

#[test]
fn status_uid_and_signal_masks() {
    let st = parse_status(STATUS).unwrap();
    assert_eq!(st.uid, 0);
    // The captured bash ran `trap '' HUP` and `trap : TERM USR1`; bash itself ignores QUIT
    // and catches CHLD.
    assert_eq!(st.masks.ignored.names(), ["HUP", "QUIT"]);
    assert_eq!(st.masks.caught.names(), ["USR1", "TERM", "CHLD"]);
    assert!(st.masks.blocked.is_empty());
    assert!(st.masks.pending.is_empty() && st.masks.shared_pending.is_empty());
    let without_sigcgt: Vec<u8> = String::from_utf8_lossy(STATUS)
        .lines()
        .filter(|l| !l.starts_with("SigCgt"))
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect();
    assert!(parse_status(&without_sigcgt).is_err());
}

fn parse_all(text: &[u8]) -> Vec<Socket> {
    let mut out = Vec::new();
    parse_net_tcp(text, 100, &mut out).unwrap();
    out
}

fn find<'a>(socks: &'a [Socket], local: &str, remote: &str) -> &'a Socket {
    let (l, r): (SocketAddr, SocketAddr) = (local.parse().unwrap(), remote.parse().unwrap());
    socks
        .iter()
        .find(|s| s.local == l && s.remote == r)
        .unwrap_or_else(|| panic!("no {local} -> {remote}"))
}

#[test]
fn proc_net_tcp_every_state_and_field() {
    let socks = parse_all(NET_TCP);
    let lines = NET_TCP
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(
        socks.len(),
        lines - 1,
        "one socket per line after the header"
    );
    let states: BTreeSet<TcpState> = socks.iter().map(|s| s.state).collect();
    use TcpState::*;
    for st in [
        Listen,
        Established,
        FinWait1,
        FinWait2,
        TimeWait,
        CloseWait,
        LastAck,
        Closing,
    ] {
        assert!(states.contains(&st), "fixture lacks {st}");
    }

    let listen = find(&socks, "0.0.0.0:2024", "0.0.0.0:0");
    assert_eq!((listen.state, listen.inode, listen.uid), (Listen, 34, 0));

    // FIN_WAIT2 holding 0x1F600 unread bytes (rx_queue is the second of tx:rx).
    let fw2 = find(&socks, "127.0.0.1:45887", "127.0.0.1:55846");
    assert_eq!((fw2.state, fw2.recv_q, fw2.send_q), (FinWait2, 0x1F600, 0));
    assert_eq!(fw2.inode, 35713);

    // FIN_WAIT1: FIN queued behind 0x39B601 unsent bytes, zero-window probe timer running.
    let fw1 = find(&socks, "127.0.0.1:33932", "127.0.0.1:53575");
    assert_eq!((fw1.state, fw1.send_q), (FinWait1, 0x39B601));
    assert_eq!(fw1.timer.kind, TimerKind::Probe);
    assert_eq!(fw1.timer.expires_in, Duration::from_millis(140));

    // TIME_WAIT: no inode, no uid, the timewait countdown in clock ticks.
    let tw = find(&socks, "127.0.0.1:33684", "127.0.0.1:33559");
    assert_eq!((tw.state, tw.inode), (TimeWait, 0));
    assert_eq!(tw.timer.kind, TimerKind::TimeWait);
    assert_eq!(tw.timer.expires_in, Duration::from_millis(0xF7D * 10));

    let closing = find(&socks, "127.0.0.1:55846", "127.0.0.1:45887");
    assert_eq!((closing.state, closing.recv_q), (Closing, 1));
}

#[test]
fn proc_net_tcp6_addresses() {
    let socks = parse_all(NET_TCP6);
    assert!(socks.iter().all(|s| s.local.is_ipv6()));
    let listen = find(&socks, "[::1]:54071", "[::]:0");
    assert_eq!(listen.state, TcpState::Listen);
    assert_eq!(listen.local.to_string(), "[::1]:54071");
    let lastack = find(&socks, "[::1]:54071", "[::1]:60834");
    assert_eq!(
        (lastack.state, lastack.send_q),
        (TcpState::LastAck, 0x39B601)
    );
    assert_eq!(lastack.inode, 35729);
}

/// The handshake capture (`capture.py --handshake`, in a network namespace of its own, sockets
/// made by uid 65534): per family, a backlog-0 listener whose queue holds one completed
/// connection, two clients left in SYN_SENT, and a TCP_DEFER_ACCEPT listener holding a
/// request socket in SYN_RECV.
fn handshake_states(text: &[u8], family: &str) -> Vec<Socket> {
    let socks = parse_all(text);
    assert_eq!(
        socks.len(),
        8,
        "{family}: the capture holds only its own sockets"
    );
    assert!(socks.iter().all(|s| s.uid == 65534), "{family}: uid column");
    let count = |st| socks.iter().filter(|s| s.state == st).count();
    use TcpState::*;
    assert_eq!(
        [
            count(Listen),
            count(Established),
            count(SynSent),
            count(SynRecv)
        ],
        [2, 3, 2, 1],
        "{family}: states"
    );
    socks
}

/// One end of a handshake in progress: nothing received, `send_q` unacknowledged (a SYN_SENT
/// client's SYN counts as one byte), the SYN (or SYN-ACK) retransmit timer running with `ticks`
/// of 10 ms left and not yet fired, made by uid 65534.
fn assert_handshake(
    socks: &[Socket],
    (local, remote): (&str, &str),
    state: TcpState,
    send_q: u32,
    ticks: u64,
    inode: u64,
) {
    let s = find(socks, local, remote);
    assert_eq!((s.state, s.send_q, s.recv_q), (state, send_q, 0), "{local}");
    assert_eq!(s.timer.kind, TimerKind::Retransmit, "{local}");
    assert_eq!(
        s.timer.expires_in,
        Duration::from_millis(ticks * 10),
        "{local}"
    );
    assert_eq!(s.timer.retransmits, 0, "{local}");
    assert_eq!((s.inode, s.uid), (inode, 65534), "{local}");
}

fn assert_syn_sent(socks: &[Socket], local: &str, remote: &str, ticks: u64, inode: u64) {
    assert_handshake(socks, (local, remote), TcpState::SynSent, 1, ticks, inode);
}

/// A request socket (printed in the kernel's short form for requests): inode 0, the listener's
/// uid. Its client, which sent the final ACK (dropped under TCP_DEFER_ACCEPT), is ESTABLISHED
/// with inode `client`.
fn assert_syn_recv(socks: &[Socket], local: &str, remote: &str, ticks: u64, client: u64) {
    assert_handshake(socks, (local, remote), TcpState::SynRecv, 0, ticks, 0);
    let c = find(socks, remote, local);
    assert_eq!(
        (c.state, c.inode, c.timer.kind),
        (TcpState::Established, client, TimerKind::Off)
    );
}

#[test]
fn proc_net_tcp_syn_sent_and_syn_recv() {
    use TcpState::*;
    let socks = handshake_states(NET_TCP_HANDSHAKE, "tcp");
    // The full listener: one connection in its accept queue (rx_queue), nobody accepting.
    let full = find(&socks, "127.0.0.1:47289", "0.0.0.0:0");
    assert_eq!((full.state, full.recv_q, full.inode), (Listen, 1, 15203907));
    // That connection, completed by the kernel but not accepted: no file yet, so no inode.
    let queued = find(&socks, "127.0.0.1:47289", "127.0.0.1:59594");
    assert_eq!(
        (queued.state, queued.inode, queued.uid),
        (Established, 0, 65534)
    );
    assert_syn_sent(&socks, "127.0.0.1:59596", "127.0.0.1:47289", 0x61, 15203909);
    assert_syn_sent(&socks, "127.0.0.1:59610", "127.0.0.1:47289", 0x61, 15203910);
    assert_syn_recv(&socks, "127.0.0.1:53487", "127.0.0.1:39940", 0x62, 15203912);
}

#[test]
fn proc_net_tcp6_syn_sent_and_syn_recv() {
    let socks = handshake_states(NET_TCP6_HANDSHAKE, "tcp6");
    let full = find(&socks, "[::1]:47703", "[::]:0");
    assert_eq!(
        (full.state, full.recv_q, full.inode),
        (TcpState::Listen, 1, 15203913)
    );
    assert_syn_sent(&socks, "[::1]:60738", "[::1]:47703", 0x61, 15203915);
    assert_syn_sent(&socks, "[::1]:60740", "[::1]:47703", 0x61, 15203916);
    assert_syn_recv(&socks, "[::1]:50079", "[::1]:48964", 0x61, 15203918);
}

#[test]
fn garbage_is_an_error_not_a_socket() {
    let mut out = Vec::new();
    let bad = b"  sl  local_address rem_address\n   0: 0100007F:ZZZZ 00000000:0000 0A\n";
    assert!(parse_net_tcp(bad, 100, &mut out).is_err());
    let bad_state = b"header\n   0: 0100007F:0050 00000000:0000 2F 00000000:00000000 00:00000000 00000000     0        0 1 1\n";
    assert!(parse_net_tcp(bad_state, 100, &mut out).is_err());
    assert!(out.is_empty());
}

/// Netlink and /proc/net/tcp describe the same sockets identically (the fallback is faithful),
/// for the sockets this test makes.
#[test]
fn netlink_and_procfs_agree_on_live_sockets() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    // Exactly this test's three sockets: a TIME_WAIT left by an earlier connection to the same
    // port number (another test's, since reused) shares the port but not these address pairs.
    let pairs = [
        (listener.local_addr().unwrap(), "0.0.0.0:0".parse().unwrap()),
        (client.local_addr().unwrap(), client.peer_addr().unwrap()),
        (server.local_addr().unwrap(), server.peer_addr().unwrap()),
    ];
    let mine = |s: &Socket| pairs.contains(&(s.local, s.remote));
    let netlink = SocketScanner::new().scan().unwrap();
    let procfs = SocketScanner::procfs_only().scan().unwrap();
    assert!(!netlink.from_procfs && procfs.from_procfs);
    let key = |s: &Socket| (s.inode, s.local, s.remote, s.state, s.uid, s.recv_q);
    let mut a: Vec<_> = netlink
        .sockets
        .iter()
        .filter(|s| mine(s))
        .map(key)
        .collect();
    let mut b: Vec<_> = procfs.sockets.iter().filter(|s| mine(s)).map(key).collect();
    a.sort();
    b.sort();
    assert_eq!(a.len(), 3, "{a:?}");
    assert_eq!(a, b);
    drop((client, server));
}

/// A scan of one port lists the sockets with that port at either end, IPv4 and IPv6, from
/// netlink (the kernel runs the filter) and from /proc/net/tcp (filtered here), and no other.
#[test]
fn a_scan_of_one_port_lists_the_sockets_on_it_and_no_other() {
    use tcplab::kernel::sockets::{ScanOptions, ScanSource};
    let connected = |ip: &str| {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (listener, client, server)
    };
    let (v4, v6, other) = (
        connected("127.0.0.1"),
        connected("::1"),
        connected("127.0.0.1"),
    );
    let other_pairs = [
        (other.1.local_addr().unwrap(), other.1.peer_addr().unwrap()),
        (other.2.local_addr().unwrap(), other.2.peer_addr().unwrap()),
    ];
    for (listener, client, server) in [&v4, &v6] {
        let port = listener.local_addr().unwrap().port();
        let pairs = [
            (client.local_addr().unwrap(), client.peer_addr().unwrap()),
            (server.local_addr().unwrap(), server.peer_addr().unwrap()),
        ];
        for source in [ScanSource::Netlink, ScanSource::Procfs] {
            let scan = SocketScanner::with(ScanOptions {
                port: Some(port),
                source,
                ..ScanOptions::default()
            })
            .scan()
            .unwrap();
            assert_eq!(scan.from_procfs, source == ScanSource::Procfs);
            let on_port = |s: &Socket| s.local.port() == port || s.remote.port() == port;
            assert!(
                scan.sockets.iter().all(on_port),
                "{source:?}: {:?}",
                scan.sockets
            );
            let found = |pair: &(SocketAddr, SocketAddr)| {
                scan.sockets.iter().any(|s| (s.local, s.remote) == *pair)
            };
            assert!(
                pairs.iter().all(found),
                "{source:?} port {port}: {:?}",
                scan.sockets
            );
            assert!(
                scan.sockets
                    .iter()
                    .any(|s| s.state == TcpState::Listen
                        && s.local == listener.local_addr().unwrap()),
                "{source:?}: no listener in {:?}",
                scan.sockets
            );
            assert!(
                !other_pairs.iter().any(found),
                "{source:?}: another port's sockets"
            );
        }
    }
}

/// Kernel threads are known by the kernel's PF_KTHREAD flag, as `ps` knows them: kthreadd (pid
/// 2 outside a container) is one, this test is not.
#[test]
fn kernel_threads_by_their_flag() {
    let procs = tcplab::kernel::processes::ProcessScanner::new()
        .scan()
        .unwrap();
    let me = procs
        .iter()
        .find(|p| p.pid == std::process::id() as i32)
        .unwrap();
    assert!(!me.is_kernel_thread());
    if let Some(kthreadd) = procs.iter().find(|p| p.pid == 2 && p.comm == "kthreadd") {
        assert!(kthreadd.is_kernel_thread());
        assert!(procs
            .iter()
            .filter(|p| p.ppid == 2)
            .all(|p| p.is_kernel_thread()));
    }
}

/// Closes a connection from the client first, so the client's end waits in TIME_WAIT. shutdown,
/// not drop: a test of this binary that forks meanwhile holds copies of these descriptors.
fn close_client_first(client: &TcpStream, server: &TcpStream) {
    client.shutdown(std::net::Shutdown::Both).unwrap();
    testkit::wait_for(
        "the server to read the client's FIN",
        Duration::from_secs(10),
        || {
            let mut buf = [0u8; 1];
            matches!((&*server).read(&mut buf), Ok(0)).then_some(())
        },
    );
    server.shutdown(std::net::Shutdown::Both).unwrap();
}

/// A scan for one state lists that state's sockets and nothing else, from netlink (where the
/// kernel skips the rest) and from /proc/net/tcp alike: a TIME_WAIT this test leaves is listed,
/// its established pair and listener are not.
#[test]
fn a_scan_for_one_state_lists_only_that_state() {
    use tcplab::kernel::sockets::{ScanOptions, ScanSource};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let kept = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (kept_server, _) = listener.accept().unwrap();
    let closing = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (closing_server, _) = listener.accept().unwrap();
    let tw = (closing.local_addr().unwrap(), closing.peer_addr().unwrap());
    close_client_first(&closing, &closing_server);
    let established = (kept.local_addr().unwrap(), kept.peer_addr().unwrap());
    for source in [ScanSource::Netlink, ScanSource::Procfs] {
        let mut scanner = SocketScanner::with(ScanOptions {
            only: Some(TcpState::TimeWait),
            source,
            ..ScanOptions::default()
        });
        let scan = testkit::wait_for("the TIME_WAIT socket", Duration::from_secs(10), || {
            let scan = scanner.scan().unwrap();
            scan.sockets
                .iter()
                .any(|s| (s.local, s.remote) == tw)
                .then_some(scan)
        });
        assert_eq!(scan.from_procfs, source == ScanSource::Procfs);
        assert!(scan.sockets.iter().all(|s| s.state == TcpState::TimeWait));
        assert!(!scan
            .sockets
            .iter()
            .any(|s| (s.local, s.remote) == established));
    }
    // The same scanner without the state sees the established pair.
    let all = SocketScanner::new().scan().unwrap();
    assert!(all
        .sockets
        .iter()
        .any(|s| (s.local, s.remote) == established));
    drop((kept, kept_server, closing, closing_server, listener));
}

/// `tcp_info` whole (with the congestion control's name) or as the brief the rate columns
/// read: the same socket's fields either way; the brief alone allocates no struct.
#[test]
fn tcp_info_whole_or_brief_agree() {
    use tcplab::kernel::sockets::{ScanDetail, ScanOptions};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    // Bytes both ways, so the counters are not zero; read back, so nothing is in flight.
    client.write_all(&[7; 3000]).unwrap();
    server.read_exact(&mut [0; 3000]).unwrap();
    server.write_all(&[9; 500]).unwrap();
    client.read_exact(&mut [0; 500]).unwrap();
    let pair = (client.local_addr().unwrap(), client.peer_addr().unwrap());
    let sock_of = |detail| {
        let mut scanner = SocketScanner::with(ScanOptions {
            detail,
            ..ScanOptions::default()
        });
        let scan = scanner.scan().unwrap();
        scan.sockets
            .into_iter()
            .find(|s| (s.local, s.remote) == pair)
            .expect("the test's connection")
    };
    let full = sock_of(ScanDetail::TcpInfo);
    let info = full
        .info
        .as_deref()
        .expect("tcp_info of an established socket");
    assert!(info.congestion.is_some());
    assert_eq!(full.brief, Some(info.brief()));
    let bare = sock_of(ScanDetail::Brief);
    assert_eq!(bare.info, None);
    let brief = bare.brief.expect("the brief of an established socket");
    // Nothing moves between the two scans: the server's answer carried the ack of the
    // client's bytes, and the client read the answer.
    assert_eq!(
        (brief.bytes_received, brief.listener, brief.total_retrans),
        (500, false, 0)
    );
    assert_eq!(
        (brief.bytes_acked, brief.bytes_received, brief.snd_cwnd),
        (info.bytes_acked, info.bytes_received, info.snd_cwnd)
    );
    assert!(brief.rtt_us().is_some());
    // A listener's brief says so.
    let listening = SocketScanner::with(ScanOptions {
        detail: ScanDetail::Brief,
        ..ScanOptions::default()
    })
    .scan()
    .unwrap()
    .sockets
    .into_iter()
    .find(|s| s.state == TcpState::Listen && s.local == listener.local_addr().unwrap())
    .expect("the test's listener");
    assert!(listening.brief.expect("a listener's tcp_info").listener);
    drop((client, server, listener));
}

/// One socket looked up by its two ends, without a dump: an established pair with its
/// tcp_info (brief or whole), a TIME_WAIT, and a closed pair whose local end is a listener's
/// address, for which the kernel answers with that listener: not the pair, so None.
#[test]
fn one_socket_is_looked_up_by_its_ends() {
    use tcplab::kernel::sockets::ScanDetail;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let kept = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_kept_server, _) = listener.accept().unwrap();
    let closing = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (closing_server, _) = listener.accept().unwrap();
    let pair = |s: &TcpStream| (s.local_addr().unwrap(), s.peer_addr().unwrap());
    let (established, tw, closed) = (pair(&kept), pair(&closing), pair(&closing_server));
    let mut scanner = SocketScanner::new();
    let brief = scanner
        .lookup(established.0, established.1, ScanDetail::Brief)
        .unwrap()
        .expect("the established socket");
    assert_eq!((brief.local, brief.remote), established);
    assert_eq!(brief.state, TcpState::Established);
    assert_eq!(brief.inode, {
        let all = scanner.scan().unwrap();
        all.sockets
            .iter()
            .find(|s| (s.local, s.remote) == established)
            .unwrap()
            .inode
    });
    assert!(brief.brief.is_some() && brief.info.is_none());
    let whole = scanner
        .lookup(established.0, established.1, ScanDetail::TcpInfo)
        .unwrap()
        .expect("the established socket");
    let info = whole.info.expect("tcp_info");
    assert!(info.congestion.is_some());
    assert_eq!(whole.brief, Some(info.brief()));
    // The server's end is gone once its FIN is acknowledged.
    close_client_first(&closing, &closing_server);
    let waiting = testkit::wait_for("the TIME_WAIT socket", Duration::from_secs(10), || {
        scanner
            .lookup(tw.0, tw.1, ScanDetail::Basic)
            .unwrap()
            .filter(|s| s.state == TcpState::TimeWait)
    });
    assert_eq!((waiting.local, waiting.remote), tw);
    testkit::wait_for("the server's end to close", Duration::from_secs(10), || {
        scanner
            .lookup(closed.0, closed.1, ScanDetail::Basic)
            .unwrap()
            .is_none()
            .then_some(())
    });
    // The listener is still there, on the closed pair's local address.
    assert_eq!(closed.0, listener.local_addr().unwrap());
    assert!(scanner
        .scan()
        .unwrap()
        .sockets
        .iter()
        .any(|s| s.state == TcpState::Listen && s.local == closed.0));
}
