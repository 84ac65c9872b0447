//! SYN_SENT and SYN_RECV on loopback, IPv4 and IPv6: `tcplab net --json` (netlink) and the
//! /proc/net/tcp fallback name them as `ss -tan` does. Loopback loses nothing, so both states
//! are held by the receiving side: a backlog-0 listener that never accepts drops every SYN
//! once one connection waits in its queue (the next client stays in SYN_SENT, retransmitting),
//! and a TCP_DEFER_ACCEPT listener drops a silent client's final ACK, keeping the request
//! socket in SYN_RECV (the client side is ESTABLISHED). Only this test's sockets are compared.

use testkit::ss;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use nix::sys::socket::{listen, setsockopt, Backlog};
use nix::{setsockopt_impl, sockopt_impl};
use tcplab::kernel::sockets::SocketScanner;

const DEADLINE: Duration = Duration::from_secs(10);

sockopt_impl!(
    /// TCP_DEFER_ACCEPT, in seconds (nix does not name it).
    TcpDeferAccept,
    SetOnly,
    libc::IPPROTO_TCP,
    libc::TCP_DEFER_ACCEPT,
    i32
);

/// (local, remote) -> state, for the sockets of this test.
type States = BTreeMap<(String, String), String>;

/// One family's handshakes, held open until the test ends.
struct Handshakes {
    /// Backlog 0, never accepts; `queued` fills its accept queue.
    full: TcpListener,
    queued: TcpStream,
    /// The client whose SYNs `full` drops: SYN_SENT.
    syn_sent: mio::net::TcpStream,
    /// TCP_DEFER_ACCEPT; holds `silent`'s request socket in SYN_RECV.
    deferred: TcpListener,
    silent: TcpStream,
}

impl Handshakes {
    fn make(ip: IpAddr) -> Handshakes {
        let full = TcpListener::bind((ip, 0)).unwrap();
        // listen() again on a listening socket only changes its backlog (std chooses its own).
        listen(&full, Backlog::new(0).unwrap()).unwrap();
        let full_addr = full.local_addr().unwrap();
        let queued = TcpStream::connect(full_addr).unwrap();
        // The queue is full only once the server has taken the final ACK; a SYN before that
        // would still get a request socket.
        testkit::wait_for("the first connection in the accept queue", DEADLINE, || {
            ss::ss("-tan")
                .iter()
                .any(|l| l.state == "LISTEN" && l.local == full_addr.to_string() && l.recv_q == 1)
                .then_some(())
        });
        let syn_sent = mio::net::TcpStream::connect(full_addr).unwrap();

        let deferred = TcpListener::bind((ip, 0)).unwrap();
        setsockopt(&deferred, TcpDeferAccept, &30).unwrap();
        let silent = TcpStream::connect(deferred.local_addr().unwrap()).unwrap();
        Handshakes {
            full,
            queued,
            syn_sent,
            deferred,
            silent,
        }
    }

    /// Every socket of this family's handshakes, by (local, remote), with the state it must
    /// be in. Exact address pairs: a TIME_WAIT left on a reused port number is not ours.
    fn expected(&self) -> Vec<((String, String), &'static str)> {
        let full = self.full.local_addr().unwrap();
        let deferred = self.deferred.local_addr().unwrap();
        let queued = self.queued.local_addr().unwrap();
        let silent = self.silent.local_addr().unwrap();
        let syn_sent = self.syn_sent.local_addr().unwrap();
        let any = SocketAddr::new(
            match full.ip() {
                IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
                IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
            },
            0,
        );
        [
            (full, any, "LISTEN"),
            (queued, full, "ESTABLISHED"),
            // Completed by the kernel, waiting in the accept queue.
            (full, queued, "ESTABLISHED"),
            (syn_sent, full, "SYN_SENT"),
            (deferred, any, "LISTEN"),
            (silent, deferred, "ESTABLISHED"),
            (deferred, silent, "SYN_RECV"),
        ]
        .into_iter()
        .map(|(l, r, st)| ((l.to_string(), r.to_string()), st))
        .collect()
    }
}

/// Keeps the sockets among `keys`.
fn ours(
    keys: &[(String, String)],
    socks: impl Iterator<Item = (String, String, String)>,
) -> States {
    socks
        .map(|(st, l, r)| ((l, r), st))
        .filter(|(key, _)| keys.contains(key))
        .collect()
}

fn ss_states(keys: &[(String, String)]) -> States {
    let socks = ss::ss("-tan").into_iter();
    ours(keys, socks.map(|l| (l.state, l.local, l.remote)))
}

fn tcplab_states(keys: &[(String, String)], ports: &[u16]) -> States {
    let mut all = States::new();
    for port in ports {
        let out = testkit::tcplab()
            .args(["net", "--json", "--port", &port.to_string()])
            .output()
            .expect("run tcplab net");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let socks = v.as_array().expect("an array").iter().map(|s| {
            let field = |k: &str| s[k].as_str().unwrap().to_string();
            (field("state"), field("local"), field("remote"))
        });
        all.extend(ours(keys, socks));
    }
    all
}

fn procfs_states(keys: &[(String, String)]) -> States {
    let scan = SocketScanner::procfs_only().scan().unwrap();
    assert!(scan.from_procfs);
    let socks = scan.sockets.into_iter().map(|s| {
        (
            s.state.to_string(),
            s.local.to_string(),
            s.remote.to_string(),
        )
    });
    ours(keys, socks)
}

#[test]
fn syn_sent_and_syn_recv_as_ss_sees_them() {
    let families = [
        Handshakes::make(Ipv4Addr::LOCALHOST.into()),
        Handshakes::make(Ipv6Addr::LOCALHOST.into()),
    ];
    let expected: States = families
        .iter()
        .flat_map(|h| h.expected())
        .map(|(key, st)| (key, st.to_string()))
        .collect();
    let keys: Vec<(String, String)> = expected.keys().cloned().collect();
    let mut ports: Vec<u16> = families
        .iter()
        .flat_map(|h| [&h.full, &h.deferred])
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    ports.sort();
    ports.dedup();

    let theirs = testkit::wait_for("SYN_SENT and SYN_RECV in ss", DEADLINE, || {
        let ss = ss_states(&keys);
        (ss == expected).then_some(ss)
    });
    // Every state is stable (SYN_SENT retransmits for minutes, the deferral lasts 30 s), so
    // one read of each source suffices.
    assert_eq!(
        tcplab_states(&keys, &ports),
        theirs,
        "tcplab net --json vs ss -tan"
    );
    assert_eq!(
        procfs_states(&keys),
        theirs,
        "the /proc fallback vs ss -tan"
    );
}
