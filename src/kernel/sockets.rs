//! Every TCP socket of the machine (IPv4 and IPv6), the way `ss` gets them: a netlink
//! sock_diag dump, with /proc/net/tcp{,6} as the fallback when netlink is unavailable.
//! No processes are read here, so this is the cheap call for whoever only needs sockets
//! (the tracer's sampling fallback); owners are `None` until `owners::OwnerIndex` fills them.

use std::io::Read;

use anyhow::Context;
use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::protocols::NETLINK_SOCK_DIAG;

use super::dump_split::{self, Half, Split};
use super::parse::net_tcp::parse_net_tcp;
use super::parse::sock_diag::{parse_datagram, Dump, DumpError, TCPDIAG_GETSOCK};
use crate::model::Socket;

/// One scan's sockets and where they came from.
#[derive(Debug, Clone, Default)]
pub struct TcpScan {
    pub sockets: Vec<Socket>,
    /// True when netlink was unavailable and /proc/net/tcp{,6} was read instead.
    pub from_procfs: bool,
}

/// Scans TCP sockets repeatedly, keeping the netlink socket and the buffers between scans.
pub struct SocketScanner {
    netlink: Option<netlink_sys::Socket>,
    /// Set when no netlink sock_diag socket can be opened (or for tests); scans read /proc.
    /// A dump that fails half-way falls back for that scan only and reopens next time.
    netlink_broken: bool,
    /// Set once the kernel refused the combined IPv4+IPv6 dump.
    no_combined_dump: bool,
    buf: Vec<u8>,
    seq: u32,
    clk_tck: u64,
    /// The last scan's count, to size the next vector in one allocation.
    last_len: usize,
    /// The second netlink socket and buffer of a split dump (see `dump_split`).
    second: Option<(netlink_sys::Socket, Vec<u8>)>,
    /// Where the next scan splits its dump in two; None: one dump (few sockets, one core,
    /// no combined dump, or the last split failed).
    split: Option<Split>,
    split_allowed: bool,
    /// A scan has run: the next split can come from its sockets.
    scanned: bool,
    /// The last scan ran as two half dumps.
    last_split: bool,
}

/// Below this many sockets one dump is quick enough that a second thread is not worth it.
const SPLIT_MIN: usize = 4096;

/// The kernel hands out at most 32 KiB per dump datagram; a larger buffer guards truncation.
const RECV_BUF: usize = 64 * 1024;

impl Default for SocketScanner {
    fn default() -> Self {
        SocketScanner::new()
    }
}

impl SocketScanner {
    pub fn new() -> SocketScanner {
        SocketScanner {
            netlink: None,
            netlink_broken: false,
            no_combined_dump: false,
            buf: vec![0; RECV_BUF],
            seq: 0,
            clk_tck: super::clock_ticks(),
            last_len: 0,
            second: None,
            split: None,
            scanned: false,
            split_allowed: std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2),
            last_split: false,
        }
    }

    /// Never splits the dump: for callers whose other threads already keep every core busy,
    /// and for tests that compare a split scan with a whole one.
    pub fn unsplit() -> SocketScanner {
        SocketScanner {
            split_allowed: false,
            ..SocketScanner::new()
        }
    }

    /// True when the next scan will try two half dumps at once.
    pub fn will_split(&self) -> bool {
        self.split.is_some()
    }

    /// Makes the next scan split its dump at `pivot` (a (local port, remote port) pair), so
    /// that tests can place the split among their own sockets.
    pub fn split_at(&mut self, pivot: (u16, u16)) {
        self.split = Some(Split::Pivot(pivot));
    }

    /// True when the last scan ran as two half dumps (a split that failed fell back whole, and
    /// the scanner does not split again).
    pub fn last_split(&self) -> bool {
        self.last_split
    }

    /// Forces the /proc/net/tcp fallback (for tests and for comparing the two sources).
    pub fn procfs_only() -> SocketScanner {
        SocketScanner {
            netlink_broken: true,
            ..SocketScanner::new()
        }
    }

    /// Netlink with one dump per family (the newer request), as kernels without the combined
    /// dump get; for tests that compare the two.
    pub fn per_family() -> SocketScanner {
        SocketScanner {
            no_combined_dump: true,
            ..SocketScanner::new()
        }
    }

    /// Every TCP socket now. Netlink first; /proc/net/tcp{,6} when netlink cannot be used.
    pub fn scan(&mut self) -> anyhow::Result<TcpScan> {
        let expected = if self.scanned {
            self.last_len
        } else {
            // A first scan has no sockets to take a median of, nor a count to size for; the
            // kernel's counters (one small read) give the count, and a split at the middle of
            // the ephemeral port range when there are enough sockets for it to pay.
            self.scanned = true;
            let count = dump_split::tcp_socket_count();
            if self.split_allowed && !self.no_combined_dump && count >= SPLIT_MIN {
                self.split = Some(Split::Crossed(dump_split::ephemeral_middle()));
            }
            count
        };
        let mut sockets = Vec::with_capacity(expected + expected / 8 + 16);
        if !self.netlink_broken {
            match self.dump_netlink(&mut sockets) {
                Ok(()) => {
                    self.last_len = sockets.len();
                    self.split = (self.split_allowed
                        && !self.no_combined_dump
                        && sockets.len() >= SPLIT_MIN)
                        .then(|| {
                            let pairs = sockets.iter().map(|s| (s.local.port(), s.remote.port()));
                            dump_split::median_pivot(pairs.collect()).map(Split::Pivot)
                        })
                        .flatten();
                    return Ok(TcpScan {
                        sockets,
                        from_procfs: false,
                    });
                }
                Err(DumpFailure::Unavailable) => {
                    self.netlink_broken = true;
                    sockets.clear();
                }
                Err(DumpFailure::Failed) => {
                    // Replies of the broken dump may still be queued: start over next time.
                    self.netlink = None;
                    sockets.clear();
                }
            }
        }
        for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let mut text = Vec::new();
            match std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut text)) {
                Ok(_) => {}
                // A kernel without IPv6 has no tcp6.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.ends_with('6') => {
                    continue
                }
                Err(e) => return Err(e).with_context(|| format!("cannot read {path}")),
            }
            parse_net_tcp(&text, self.clk_tck, &mut sockets)
                .with_context(|| format!("in {path}"))?;
        }
        self.last_len = sockets.len();
        Ok(TcpScan {
            sockets,
            from_procfs: true,
        })
    }

    fn dump_netlink(&mut self, out: &mut Vec<Socket>) -> Result<(), DumpFailure> {
        self.ensure_open()?;
        self.last_split = false;
        if let Some(split) = self.split {
            match self.split_dump(split, out) {
                Ok(()) => {
                    self.last_split = true;
                    return Ok(());
                }
                Err(_) => {
                    // Start both sockets afresh (replies may be queued) and dump whole, from
                    // now on: a kernel that refuses the filters would refuse them every time,
                    // and each refusal costs a dump.
                    out.clear();
                    self.netlink = None;
                    self.second = None;
                    self.split = None;
                    self.split_allowed = false;
                    self.ensure_open()?;
                }
            }
        }
        // Both families share one hash table; the older request walks it once for both, the
        // per-family one twice (see bench/RESULTS.md). Kernels without it get two dumps.
        if !self.no_combined_dump {
            self.seq = self.seq.wrapping_add(1);
            match self.run_dump(&combined_request(self.seq), out) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    out.clear();
                    // Replies of the failed dump may still be queued on this socket.
                    self.netlink = None;
                    let refused =
                        matches!(e.downcast_ref::<DumpError>(), Some(DumpError::Kernel(_)));
                    if !refused {
                        return Err(DumpFailure::Failed);
                    }
                    self.no_combined_dump = true;
                    self.ensure_open()?;
                }
            }
        }
        for family in [AF_INET, AF_INET6] {
            self.seq = self.seq.wrapping_add(1);
            self.run_dump(&dump_request(family, self.seq), out)
                .map_err(|_| DumpFailure::Failed)?;
        }
        Ok(())
    }

    fn ensure_open(&mut self) -> Result<(), DumpFailure> {
        if self.netlink.is_none() {
            self.netlink = Some(open_netlink().map_err(|_| DumpFailure::Unavailable)?);
        }
        Ok(())
    }

    fn run_dump(&mut self, request: &[u8], out: &mut Vec<Socket>) -> anyhow::Result<()> {
        let sock = self.netlink.as_ref().expect("opened by dump_netlink");
        run_dump(sock, &mut self.buf, request, out)
    }

    /// Two half dumps at once, one on a second thread and netlink socket (see `dump_split`).
    fn split_dump(&mut self, split: Split, out: &mut Vec<Socket>) -> anyhow::Result<()> {
        if self.second.is_none() {
            self.second = Some((open_netlink()?, vec![0; RECV_BUF]));
        }
        let (second, second_buf) = self.second.as_mut().expect("just opened");
        let first = self.netlink.as_ref().expect("opened by dump_netlink");
        self.seq = self.seq.wrapping_add(2);
        let low = filtered_request(
            self.seq.wrapping_sub(1),
            dump_split::filter_attr(Half::First, split),
        );
        let high = filtered_request(self.seq, dump_split::filter_attr(Half::Second, split));
        let mut high_half = Vec::with_capacity(out.capacity() / 2 + 16);
        let buf = &mut self.buf;
        let (low_done, high_done) = std::thread::scope(|scope| {
            let other = scope.spawn(|| run_dump(second, second_buf, &high, &mut high_half));
            let low_done = run_dump(first, buf, &low, out);
            let high_done = other
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the second dump panicked")));
            (low_done, high_done)
        });
        low_done?;
        high_done?;
        out.append(&mut high_half);
        Ok(())
    }
}

fn open_netlink() -> std::io::Result<netlink_sys::Socket> {
    let mut sock = netlink_sys::Socket::new(NETLINK_SOCK_DIAG)?;
    sock.bind_auto()?;
    sock.connect(&netlink_sys::SocketAddr::new(0, 0))?;
    Ok(sock)
}

/// Sends one dump request and reads its replies into `out` until the kernel says done.
fn run_dump(
    sock: &netlink_sys::Socket,
    buf: &mut [u8],
    request: &[u8],
    out: &mut Vec<Socket>,
) -> anyhow::Result<()> {
    sock.send(request, 0)?;
    loop {
        let n = match sock.recv(&mut &mut buf[..], 0) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if n > buf.len() {
            anyhow::bail!("sock_diag datagram larger than {} bytes", buf.len());
        }
        if parse_datagram(&buf[..n], out)? == Dump::Done {
            return Ok(());
        }
    }
}

/// Why a netlink scan did not complete.
enum DumpFailure {
    /// No sock_diag socket could be opened (no permission, no such protocol): use /proc.
    Unavailable,
    /// A dump failed half-way: use /proc for this scan, try netlink again next time.
    Failed,
}

/// The bytes of a `SOCK_DIAG_BY_FAMILY` dump request for every TCP state of one family.
fn dump_request(family: u8, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    let socket_id = if family == AF_INET {
        SocketId::new_v4()
    } else {
        SocketId::new_v6()
    };
    let mut msg = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            // Every state bit, NEW_SYN_RECV (12) included, which the crate's flags do not name.
            states: StateFlags::from_bits_retain(0x1ffe),
            socket_id,
        })
        .into(),
    );
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// A `TCPDIAG_GETSOCK` dump request (`struct inet_diag_req`): the kernel answers it for every
/// family in one walk of the TCP tables. Built by hand: the crate only speaks the newer request.
fn combined_request(seq: u32) -> Vec<u8> {
    filtered_request(seq, Vec::new())
}

/// The same request followed by a request attribute (a filter), or by nothing.
fn filtered_request(seq: u32, attr: Vec<u8>) -> Vec<u8> {
    let len = 16 + 60 + attr.len();
    let mut buf = Vec::with_capacity(len);
    buf.extend_from_slice(&(len as u32).to_ne_bytes());
    buf.extend_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
    buf.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
                                                // family (ignored: the compat path dumps all), src_len, dst_len, ext (no attributes)
    buf.extend_from_slice(&[AF_INET, 0, 0, 0]);
    buf.extend_from_slice(&[0u8; 48]); // inet_diag_sockid: no filter
    buf.extend_from_slice(&0x1ffeu32.to_ne_bytes()); // every state
    buf.extend_from_slice(&0u32.to_ne_bytes()); // dbs
    buf.extend_from_slice(&attr);
    buf
}

/// One scan with a fresh scanner; for callers that look once.
pub fn tcp_sockets() -> anyhow::Result<TcpScan> {
    SocketScanner::new().scan()
}
