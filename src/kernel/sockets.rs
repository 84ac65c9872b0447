//! Every TCP socket of the machine (IPv4 and IPv6), the way `ss` gets them: a netlink
//! sock_diag dump, with /proc/net/tcp{,6} as the fallback when netlink is unavailable.
//! No processes are read here, so this is the cheap call for whoever only needs sockets
//! (the tracer's sampling fallback); owners are `None` until `owners::OwnerIndex` fills them.

use std::io::Read;
use std::net::SocketAddr;

use anyhow::Context;
use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::protocols::NETLINK_SOCK_DIAG;

pub use super::dump_split::tcp_socket_count;
use super::dump_split::{self, Half, Split};
use super::parse::net_tcp::parse_net_tcp;
pub use super::parse::sock_diag::ScanDetail;
use super::parse::sock_diag::{parse_datagram, Dump, DumpError, TCPDIAG_GETSOCK};
use super::parse::tcp_info::{EXT_INFO, EXT_INFO_AND_CONG};
use crate::model::{Socket, TcpState};

/// One scan's sockets and where they came from.
#[derive(Debug, Clone, Default)]
pub struct TcpScan {
    pub sockets: Vec<Socket>,
    /// True when netlink was unavailable and /proc/net/tcp{,6} was read instead.
    pub from_procfs: bool,
}

/// How a [`SocketScanner`] reads the kernel. `Default` is what most callers want: netlink,
/// split when it pays, no `tcp_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanOptions {
    pub detail: ScanDetail,
    pub source: ScanSource,
    pub split: SplitPolicy,
    /// Only the sockets in this state; None: every state. The kernel skips the others while it
    /// walks its table, without filling a message for them, so a watch for one state (the
    /// tracer's TIME_WAIT watch) costs the walk, not a full dump.
    pub only: Option<TcpState>,
    /// Only the sockets with this port at either end; None: every port. The kernel runs the
    /// filter while it walks its table (`sport = :P or dport = :P`, as `ss` would ask), so a
    /// watch of one port (a demo's) costs the walk, not a dump of the whole machine: at tens
    /// of thousands of sockets that is the difference between milliseconds and seconds.
    pub port: Option<u16>,
}

/// The request's state bits (`1 << state`): every state, NEW_SYN_RECV (12) included.
const EVERY_STATE: u32 = 0x1ffe;

/// Where sockets are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScanSource {
    /// A netlink sock_diag dump; /proc/net/tcp{,6} when netlink cannot be used.
    #[default]
    Netlink,
    /// /proc/net/tcp{,6} only (tests, and comparing the two sources). No listen backlog, no
    /// `tcp_info`.
    Procfs,
}

/// Whether a large dump may run as two half dumps at once (see `dump_split`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SplitPolicy {
    /// Split from `SPLIT_MIN` sockets on, on two cores or more.
    #[default]
    Auto,
    /// Never: for callers whose other threads already keep every core busy, and for tests
    /// that compare a split scan with a whole one.
    Never,
}

/// The request the kernel answers with every socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DumpRequest {
    /// The older `TCPDIAG_GETSOCK`: both families in one walk of the hash table.
    Combined,
    /// One `SOCK_DIAG_BY_FAMILY` dump per family, for kernels that refuse the combined one.
    PerFamily,
}

/// Scans TCP sockets repeatedly, keeping the netlink socket and the buffers between scans.
pub struct SocketScanner {
    options: ScanOptions,
    netlink: Option<netlink_sys::Socket>,
    /// Starts as the options say; becomes `Procfs` when no netlink sock_diag socket can be
    /// opened. A dump that fails half-way falls back for that scan only and reopens next time.
    source: ScanSource,
    /// Becomes `PerFamily` once the kernel refused the combined dump.
    request: DumpRequest,
    buf: Vec<u8>,
    seq: u32,
    clk_tck: u64,
    /// The last scan's count, to size the next vector in one allocation; None before the
    /// first scan.
    last_len: Option<usize>,
    /// The second netlink socket and buffer of a split dump (see `dump_split`).
    second: Option<(netlink_sys::Socket, Vec<u8>)>,
    /// Where the next scan splits its dump in two; None: one dump (few sockets, one core,
    /// no combined dump, or the last split failed).
    split: Option<Split>,
    /// Starts as the options say (`Never` on one core); becomes `Never` when a split failed.
    split_policy: SplitPolicy,
    /// How the last scan ran.
    last_shape: DumpShape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DumpShape {
    Whole,
    Split,
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
    /// Netlink, split when it pays, no `tcp_info`: the cheap scan.
    pub fn new() -> SocketScanner {
        SocketScanner::with(ScanOptions::default())
    }

    pub fn with(options: ScanOptions) -> SocketScanner {
        let one_core = std::thread::available_parallelism().map_or(true, |n| n.get() < 2);
        SocketScanner {
            options,
            netlink: None,
            source: options.source,
            request: DumpRequest::Combined,
            buf: vec![0; RECV_BUF],
            seq: 0,
            clk_tck: super::clock_ticks(),
            last_len: None,
            second: None,
            split: None,
            split_policy: if one_core {
                SplitPolicy::Never
            } else {
                options.split
            },
            last_shape: DumpShape::Whole,
        }
    }

    /// Never splits the dump (`SplitPolicy::Never`).
    pub fn unsplit() -> SocketScanner {
        SocketScanner::with(ScanOptions {
            split: SplitPolicy::Never,
            ..ScanOptions::default()
        })
    }

    /// Forces the /proc/net/tcp fallback (`ScanSource::Procfs`).
    pub fn procfs_only() -> SocketScanner {
        SocketScanner::with(ScanOptions {
            source: ScanSource::Procfs,
            ..ScanOptions::default()
        })
    }

    pub fn options(&self) -> ScanOptions {
        self.options
    }

    /// Asks for `tcp_info` from the next scan on, or stops asking: the dashboard wants it only
    /// while a view shows it.
    pub fn set_detail(&mut self, detail: ScanDetail) {
        self.options.detail = detail;
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
        self.last_shape == DumpShape::Split
    }

    /// Whether a dump of `count` sockets should be split.
    fn splits(&self, count: usize) -> bool {
        self.split_policy == SplitPolicy::Auto
            && self.options.port.is_none()
            && self.request == DumpRequest::Combined
            && count >= SPLIT_MIN
    }

    /// Every TCP socket now. Netlink first; /proc/net/tcp{,6} when netlink cannot be used.
    pub fn scan(&mut self) -> anyhow::Result<TcpScan> {
        let expected = match self.last_len {
            Some(len) => len,
            // One port's sockets: a few, whatever the machine holds.
            None if self.options.port.is_some() => 0,
            None => {
                // A first scan has no sockets to take a median of, nor a count to size for;
                // the kernel's counters (one small read) give the count, and a split at the
                // middle of the ephemeral port range when there are enough sockets to pay.
                let count = dump_split::tcp_socket_count();
                if self.splits(count) {
                    self.split = Some(Split::Crossed(dump_split::ephemeral_middle()));
                }
                count
            }
        };
        let mut sockets = Vec::with_capacity(expected + expected / 8 + 16);
        if self.source == ScanSource::Netlink {
            match self.dump_netlink(&mut sockets) {
                Ok(()) => {
                    // The per-family request carries no filter.
                    self.keep_port(&mut sockets);
                    self.last_len = Some(sockets.len());
                    self.split = self
                        .splits(sockets.len())
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
                    self.source = ScanSource::Procfs;
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
        if let Some(only) = self.options.only {
            sockets.retain(|s| s.state == only);
        }
        self.keep_port(&mut sockets);
        self.last_len = Some(sockets.len());
        Ok(TcpScan {
            sockets,
            from_procfs: true,
        })
    }

    /// Drops the sockets without `options.port` at either end, where the kernel did not.
    fn keep_port(&self, sockets: &mut Vec<Socket>) {
        if let Some(port) = self.options.port {
            sockets.retain(|s| s.local.port() == port || s.remote.port() == port);
        }
    }

    fn dump_netlink(&mut self, out: &mut Vec<Socket>) -> Result<(), DumpFailure> {
        self.ensure_open()?;
        self.last_shape = DumpShape::Whole;
        if let Some(split) = self.split {
            match self.split_dump(split, out) {
                Ok(()) => {
                    self.last_shape = DumpShape::Split;
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
                    self.split_policy = SplitPolicy::Never;
                    self.ensure_open()?;
                }
            }
        }
        // Both families share one hash table; the older request walks it once for both, the
        // per-family one twice (see bench/RESULTS.md). Kernels without it get two dumps.
        let (ext, states) = (self.ext(), self.states());
        if self.request == DumpRequest::Combined {
            self.seq = self.seq.wrapping_add(1);
            let filter = self
                .options
                .port
                .map(dump_split::port_filter_attr)
                .unwrap_or_default();
            match self.run_dump(&filtered_request(self.seq, ext, states, filter), out) {
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
                    self.request = DumpRequest::PerFamily;
                    self.ensure_open()?;
                }
            }
        }
        for family in [AF_INET, AF_INET6] {
            self.seq = self.seq.wrapping_add(1);
            self.run_dump(&dump_request(family, self.seq, ext, states), out)
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
        run_dump(sock, &mut self.buf, request, self.options.detail, out)
    }

    /// The request's `idiag_states`: which sockets the kernel lists.
    fn states(&self) -> u32 {
        self.options.only.map_or(EVERY_STATE, |s| 1 << s as u32)
    }

    /// The request's `idiag_ext`: which attributes the kernel adds to each socket.
    fn ext(&self) -> u8 {
        ext_of(self.options.detail)
    }

    /// Two half dumps at once, one on a second thread and netlink socket (see `dump_split`).
    fn split_dump(&mut self, split: Split, out: &mut Vec<Socket>) -> anyhow::Result<()> {
        let (ext, states, detail) = (self.ext(), self.states(), self.options.detail);
        if self.second.is_none() {
            self.second = Some((open_netlink()?, vec![0; RECV_BUF]));
        }
        let (second, second_buf) = self.second.as_mut().expect("just opened");
        let first = self.netlink.as_ref().expect("opened by dump_netlink");
        self.seq = self.seq.wrapping_add(2);
        let low = filtered_request(
            self.seq.wrapping_sub(1),
            ext,
            states,
            dump_split::filter_attr(Half::First, split),
        );
        let high = filtered_request(
            self.seq,
            ext,
            states,
            dump_split::filter_attr(Half::Second, split),
        );
        let mut high_half = Vec::with_capacity(out.capacity() / 2 + 16);
        let buf = &mut self.buf;
        let (low_done, high_done) = std::thread::scope(|scope| {
            let other = scope.spawn(|| run_dump(second, second_buf, &high, detail, &mut high_half));
            let low_done = run_dump(first, buf, &low, detail, out);
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

impl SocketScanner {
    /// The one socket whose ends are `local` and `remote`, with `detail`'s attributes, asked
    /// of the kernel directly: a lookup in its hash table, where a dump walks every socket.
    /// None when the kernel has no such socket (closed, or a TIME_WAIT that ended). An error
    /// when netlink sock_diag cannot be used: the caller scans instead.
    pub fn lookup(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        detail: ScanDetail,
    ) -> anyhow::Result<Option<Socket>> {
        if self.source != ScanSource::Netlink {
            anyhow::bail!("netlink sock_diag is unavailable");
        }
        self.ensure_open()
            .map_err(|_| anyhow::anyhow!("cannot open a netlink sock_diag socket"))?;
        self.seq = self.seq.wrapping_add(1);
        let request = lookup_request(local, remote, self.seq, ext_of(detail));
        let sock = self.netlink.as_ref().expect("just opened");
        let mut found = Vec::with_capacity(1);
        let answer = sock
            .send(&request, 0)
            .map_err(anyhow::Error::from)
            .and_then(|_| {
                let n = recv_datagram(sock, &mut self.buf)?;
                Ok(parse_datagram(&self.buf[..n], detail, &mut found)?)
            });
        match answer {
            Ok(_) => {}
            Err(e) => {
                // ENOENT: no such socket. Anything else leaves the socket in doubt: reopen.
                if matches!(
                    e.downcast_ref::<DumpError>(),
                    Some(DumpError::Kernel(ENOENT))
                ) {
                    return Ok(None);
                }
                self.netlink = None;
                return Err(e);
            }
        }
        // Without a connection of these ends the kernel answers with the listener on the
        // local port, if there is one: only the asked-for pair is an answer.
        Ok(found
            .into_iter()
            .find(|s| s.local == local && s.remote == remote))
    }
}

const ENOENT: i32 = 2;

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
    detail: ScanDetail,
    out: &mut Vec<Socket>,
) -> anyhow::Result<()> {
    sock.send(request, 0)?;
    loop {
        let n = recv_datagram(sock, buf)?;
        if parse_datagram(&buf[..n], detail, out)? == Dump::Done {
            return Ok(());
        }
    }
}

/// The next datagram of an answer, whole, into `buf`; its length.
fn recv_datagram(sock: &netlink_sys::Socket, buf: &mut [u8]) -> anyhow::Result<usize> {
    loop {
        match sock.recv(&mut &mut buf[..], 0) {
            Ok(n) if n > buf.len() => {
                anyhow::bail!("sock_diag datagram larger than {} bytes", buf.len())
            }
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The `idiag_ext` bits that ask for `detail`.
fn ext_of(detail: ScanDetail) -> u8 {
    match detail {
        ScanDetail::Basic => 0,
        ScanDetail::TcpInfo => EXT_INFO_AND_CONG,
        ScanDetail::Brief => EXT_INFO,
    }
}

/// Why a netlink scan did not complete.
enum DumpFailure {
    /// No sock_diag socket could be opened (no permission, no such protocol): use /proc.
    Unavailable,
    /// A dump failed half-way: use /proc for this scan, try netlink again next time.
    Failed,
}

/// The bytes of a `SOCK_DIAG_BY_FAMILY` dump request for the TCP sockets of one family in
/// `states` (bits `1 << state`).
fn dump_request(family: u8, seq: u32, ext: u8, states: u32) -> Vec<u8> {
    let socket_id = if family == AF_INET {
        SocketId::new_v4()
    } else {
        SocketId::new_v6()
    };
    inet_request(
        NLM_F_REQUEST | NLM_F_DUMP,
        family,
        seq,
        ext,
        states,
        socket_id,
    )
}

/// The bytes of a `SOCK_DIAG_BY_FAMILY` request for the one TCP socket whose ends are `local`
/// and `remote` (no dump: the kernel looks it up in its hash table).
fn lookup_request(local: SocketAddr, remote: SocketAddr, seq: u32, ext: u8) -> Vec<u8> {
    let family = if local.is_ipv4() { AF_INET } else { AF_INET6 };
    let scope = match local {
        SocketAddr::V6(v6) => v6.scope_id(),
        SocketAddr::V4(_) => 0,
    };
    let socket_id = SocketId {
        source_port: local.port(),
        destination_port: remote.port(),
        source_address: local.ip(),
        destination_address: remote.ip(),
        interface_id: scope,
        // INET_DIAG_NOCOOKIE: any socket with these ends.
        cookie: [0xff; 8],
    };
    inet_request(NLM_F_REQUEST, family, seq, ext, EVERY_STATE, socket_id)
}

fn inet_request(
    flags: u16,
    family: u8,
    seq: u32,
    ext: u8,
    states: u32,
    socket_id: SocketId,
) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut msg = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::from_bits_retain(ext),
            // Raw bits: the crate's flags do not name NEW_SYN_RECV (12).
            states: StateFlags::from_bits_retain(states),
            socket_id,
        })
        .into(),
    );
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// A `TCPDIAG_GETSOCK` dump request (`struct inet_diag_req`), followed by a request attribute
/// (a filter) or by nothing: the kernel answers it for every family in one walk of the TCP
/// tables. Built by hand: the crate only speaks the newer request.
fn filtered_request(seq: u32, ext: u8, states: u32, attr: Vec<u8>) -> Vec<u8> {
    let len = 16 + 60 + attr.len();
    let mut buf = Vec::with_capacity(len);
    buf.extend_from_slice(&(len as u32).to_ne_bytes());
    buf.extend_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
    buf.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
                                                // family (ignored: the compat path dumps all), src_len, dst_len, ext (attributes wanted)
    buf.extend_from_slice(&[AF_INET, 0, 0, ext]);
    buf.extend_from_slice(&[0u8; 48]); // inet_diag_sockid: no filter
    buf.extend_from_slice(&states.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // dbs
    buf.extend_from_slice(&attr);
    buf
}

/// One scan with a fresh scanner; for callers that look once.
pub fn tcp_sockets() -> anyhow::Result<TcpScan> {
    SocketScanner::new().scan()
}

/// A TCP address the process `pid` listens on: the sockets it holds matched against the
/// kernel's table. None when it holds no listening socket (or is gone, or may not be read).
pub fn listening_addr_of(pid: i32) -> Option<std::net::SocketAddr> {
    let inodes = super::proc::socket_inodes(pid).ok()?;
    if inodes.is_empty() {
        return None;
    }
    tcp_sockets()
        .ok()?
        .sockets
        .into_iter()
        .find(|s| s.state == crate::model::TcpState::Listen && inodes.contains(&s.inode))
        .map(|s| s.local)
}
