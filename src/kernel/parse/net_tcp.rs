//! `/proc/net/tcp` and `/proc/net/tcp6`: the fallback when netlink sock_diag is unavailable.
//! Slower (the kernel formats text under a lock) and it lacks a listener's backlog, but every
//! kernel has it.
//!
//! Addresses are the kernel's `__be32` words printed with `%08X` as host-order integers, so the
//! bytes come back with `to_ne_bytes`; ports are printed already in host order.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use crate::model::{Socket, TcpState, Timer, TimerKind};

use super::{dec_u64, hex_u64, ParseError};

/// Parses a whole /proc/net/tcp or tcp6 file (header line included), appending to `out`.
/// `clk_tck` converts the timer column (clock ticks) to time.
pub fn parse_net_tcp(buf: &[u8], clk_tck: u64, out: &mut Vec<Socket>) -> Result<(), ParseError> {
    for line in buf.split(|&b| b == b'\n').skip(1) {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        out.push(parse_line(line, clk_tck)?);
    }
    Ok(())
}

/// Parses one entry line: `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`.
pub fn parse_line(line: &[u8], clk_tck: u64) -> Result<Socket, ParseError> {
    let err = |d: &str| ParseError::new("/proc/net/tcp line", d);
    let mut f = line.split(|&b| b == b' ').filter(|s| !s.is_empty());
    let mut next = |what: &str| f.next().ok_or_else(|| err(what));
    let _sl = next("no sl")?;
    let local = addr(next("no local address")?).ok_or_else(|| err("bad local address"))?;
    let remote = addr(next("no remote address")?).ok_or_else(|| err("bad remote address"))?;
    let st = hex_u64(next("no state")?).ok_or_else(|| err("bad state"))?;
    let state = TcpState::from_kernel(st as u8).ok_or_else(|| err("unknown state"))?;
    let (tx, rx) = pair(next("no queues")?).ok_or_else(|| err("bad queues"))?;
    let (tr, when) = pair(next("no timer")?).ok_or_else(|| err("bad timer"))?;
    let retrans = hex_u64(next("no retrnsmt")?).ok_or_else(|| err("bad retrnsmt"))?;
    let uid = dec_u64(next("no uid")?).ok_or_else(|| err("bad uid"))?;
    let _timeout = next("no timeout")?;
    let inode = dec_u64(next("no inode")?).ok_or_else(|| err("bad inode"))?;
    let ticks = clk_tck.max(1);
    Ok(Socket {
        state,
        local,
        remote,
        recv_q: rx as u32,
        send_q: tx as u32,
        inode,
        uid: uid as u32,
        timer: Timer {
            kind: timer_kind(tr as u8),
            expires_in: Duration::from_millis(when * 1000 / ticks),
            retransmits: retrans as u32,
        },
        owners: None,
        info: None,
        brief: None,
    })
}

/// The timer codes shared by /proc/net/tcp's `tr` and sock_diag's `idiag_timer`.
pub fn timer_kind(code: u8) -> TimerKind {
    match code {
        1 => TimerKind::Retransmit,
        2 => TimerKind::Keepalive,
        3 => TimerKind::TimeWait,
        4 => TimerKind::Probe,
        _ => TimerKind::Off,
    }
}

fn pair(s: &[u8]) -> Option<(u64, u64)> {
    let colon = s.iter().position(|&b| b == b':')?;
    Some((hex_u64(&s[..colon])?, hex_u64(&s[colon + 1..])?))
}

fn addr(s: &[u8]) -> Option<SocketAddr> {
    let colon = s.iter().position(|&b| b == b':')?;
    let (ip, port) = (&s[..colon], &s[colon + 1..]);
    let port = hex_u64(port)? as u16;
    match ip.len() {
        8 => {
            let word = hex_u64(ip)? as u32;
            Some(SocketAddr::new(
                Ipv4Addr::from(word.to_ne_bytes()).into(),
                port,
            ))
        }
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in ip.chunks(8).enumerate() {
                let word = hex_u64(chunk)? as u32;
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_ne_bytes());
            }
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(bytes),
                port,
                0,
                0,
            )))
        }
        _ => None,
    }
}
