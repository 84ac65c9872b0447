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

use super::parse::net_tcp::parse_net_tcp;
use super::parse::sock_diag::{parse_datagram, Dump};
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
    /// Set once netlink failed; later scans go straight to /proc.
    netlink_broken: bool,
    buf: Vec<u8>,
    seq: u32,
    clk_tck: u64,
    /// The last scan's count, to size the next vector in one allocation.
    last_len: usize,
}

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
            buf: vec![0; RECV_BUF],
            seq: 0,
            clk_tck: super::clock_ticks(),
            last_len: 0,
        }
    }

    /// Forces the /proc/net/tcp fallback (for tests and for comparing the two sources).
    pub fn procfs_only() -> SocketScanner {
        SocketScanner {
            netlink_broken: true,
            ..SocketScanner::new()
        }
    }

    /// Every TCP socket now. Netlink first; /proc/net/tcp{,6} when netlink cannot be used.
    pub fn scan(&mut self) -> anyhow::Result<TcpScan> {
        let mut sockets = Vec::with_capacity(self.last_len + self.last_len / 8 + 16);
        if !self.netlink_broken {
            match self.dump_netlink(&mut sockets) {
                Ok(()) => {
                    self.last_len = sockets.len();
                    return Ok(TcpScan {
                        sockets,
                        from_procfs: false,
                    });
                }
                Err(_) => {
                    self.netlink_broken = true;
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

    fn dump_netlink(&mut self, out: &mut Vec<Socket>) -> anyhow::Result<()> {
        if self.netlink.is_none() {
            let mut sock = netlink_sys::Socket::new(NETLINK_SOCK_DIAG)?;
            sock.bind_auto()?;
            sock.connect(&netlink_sys::SocketAddr::new(0, 0))?;
            self.netlink = Some(sock);
        }
        for family in [AF_INET, AF_INET6] {
            self.seq = self.seq.wrapping_add(1);
            let request = dump_request(family, self.seq);
            let sock = self.netlink.as_ref().expect("opened above");
            sock.send(&request, 0)?;
            loop {
                let n = sock.recv(&mut &mut self.buf[..], 0)?;
                if n > self.buf.len() {
                    anyhow::bail!("sock_diag datagram larger than {} bytes", self.buf.len());
                }
                if parse_datagram(&self.buf[..n], out)? == Dump::Done {
                    break;
                }
            }
        }
        Ok(())
    }
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

/// One scan with a fresh scanner; for callers that look once.
pub fn tcp_sockets() -> anyhow::Result<TcpScan> {
    SocketScanner::new().scan()
}
