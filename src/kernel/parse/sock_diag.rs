//! The answer to a netlink `SOCK_DIAG_BY_FAMILY` dump, read straight from the received bytes.
//!
//! Each `inet_diag_msg` is a fixed 72-byte record holding everything `tcplab net` shows (state,
//! addresses, queues, timer, uid, inode); reading it in place avoids building a message object
//! per socket, which matters at tens of thousands of sockets (see bench/RESULTS.md). The
//! attributes after it are decoded only for a scan that asked for `tcp_info`
//! ([`ScanDetail::TcpInfo`], [`ScanDetail::Brief`]); the plain scan never walks them.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use crate::model::{Socket, TcpInfo, TcpState, Timer};

use super::net_tcp::timer_kind;
use super::tcp_info::{parse_attributes, parse_brief};
use super::ParseError;

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
pub const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// The older request type (`inet_diag_req`), which dumps IPv4 and IPv6 in one table walk.
pub const TCPDIAG_GETSOCK: u16 = 18;
const INET_DIAG_MSG_LEN: usize = 72;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// How much of each socket a scan asks the kernel for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScanDetail {
    /// The 72-byte record only: state, addresses, queues, timer, uid, inode.
    #[default]
    Basic,
    /// Also `tcp_info` and the congestion control's name (`ss -ti`).
    TcpInfo,
    /// `tcp_info` without the congestion control's name, kept as a [`TcpBrief`] inline in
    /// each socket (`Socket::brief`; `info` stays None): what the dashboard's rate columns
    /// need, a tenth less for the kernel to fill than with the names, and no allocation per
    /// socket.
    ///
    /// [`TcpBrief`]: crate::model::TcpBrief
    Brief,
}

/// Where a dump stands after one received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dump {
    /// More datagrams follow.
    More,
    /// NLMSG_DONE was seen: the dump is complete.
    Done,
}

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("the kernel refused the sock_diag dump (errno {0})")]
    Kernel(i32),
    #[error(transparent)]
    Malformed(#[from] ParseError),
}

/// Parses one received datagram (several netlink messages), appending sockets to `out`.
pub fn parse_datagram(
    buf: &[u8],
    detail: ScanDetail,
    out: &mut Vec<Socket>,
) -> Result<Dump, DumpError> {
    let err = |d: &str| ParseError::new("sock_diag message", d);
    let mut off = 0;
    while off + NLMSG_HDRLEN <= buf.len() {
        let len = u32_at(buf, off) as usize;
        let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
        if len < NLMSG_HDRLEN || off + len > buf.len() {
            return Err(err("bad length").into());
        }
        let payload = &buf[off + NLMSG_HDRLEN..off + len];
        match kind {
            NLMSG_DONE => return Ok(Dump::Done),
            NLMSG_ERROR => {
                let code = payload
                    .get(..4)
                    .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                if code != 0 {
                    return Err(DumpError::Kernel(-code));
                }
            }
            SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => {
                if let Some(mut sock) = parse_inet_diag_msg(payload)? {
                    let attrs = &payload[INET_DIAG_MSG_LEN..];
                    match detail {
                        ScanDetail::Basic => {}
                        ScanDetail::TcpInfo => {
                            let info = parse_attributes(attrs);
                            sock.brief = info.as_ref().map(TcpInfo::brief);
                            sock.info = info.map(Box::new);
                        }
                        ScanDetail::Brief => sock.brief = parse_brief(attrs),
                    }
                    out.push(sock);
                }
            }
            _ => {}
        }
        off += (len + 3) & !3;
    }
    Ok(Dump::More)
}

/// Parses one `struct inet_diag_msg`; None for a family or state this program does not know.
pub fn parse_inet_diag_msg(p: &[u8]) -> Result<Option<Socket>, ParseError> {
    if p.len() < INET_DIAG_MSG_LEN {
        return Err(ParseError::new("inet_diag_msg", "shorter than 72 bytes"));
    }
    let Some(state) = TcpState::from_kernel(p[1]) else {
        return Ok(None);
    };
    let sport = u16::from_be_bytes([p[4], p[5]]);
    let dport = u16::from_be_bytes([p[6], p[7]]);
    let ifindex = u32_at(p, 40);
    let (local, remote) = match p[0] {
        AF_INET => (v4(&p[8..12], sport), v4(&p[24..28], dport)),
        AF_INET6 => (
            v6(&p[8..24], sport, ifindex),
            v6(&p[24..40], dport, ifindex),
        ),
        _ => return Ok(None),
    };
    Ok(Some(Socket {
        state,
        local,
        remote,
        recv_q: u32_at(p, 56),
        send_q: u32_at(p, 60),
        inode: u32_at(p, 68) as u64,
        uid: u32_at(p, 64),
        timer: Timer {
            kind: timer_kind(p[2]),
            expires_in: Duration::from_millis(u32_at(p, 52) as u64),
            retransmits: p[3] as u32,
        },
        owners: None,
        info: None,
        brief: None,
    }))
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn v4(b: &[u8], port: u16) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::new(b[0], b[1], b[2], b[3]).into(), port)
}

fn v6(b: &[u8], port: u16, ifindex: u32) -> SocketAddr {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(b);
    let ip = Ipv6Addr::from(bytes);
    // A link-local address means nothing without its interface; others carry no scope.
    let scope = if ip.segments()[0] & 0xffc0 == 0xfe80 {
        ifindex
    } else {
        0
    };
    SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope))
}
