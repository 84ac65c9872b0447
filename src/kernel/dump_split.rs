//! Splitting one sock_diag dump into two halves that the kernel fills at the same time.
//!
//! At tens of thousands of sockets the kernel's dump is most of a dashboard refresh, and most
//! of the dump is filling each socket's message (addresses, queues, timers, attributes), not
//! walking the hash table. Two dumps on two netlink sockets, each with a bytecode filter
//! (`INET_DIAG_REQ_BYTECODE`, the filter language `ss` compiles its expressions to), each walk
//! the table but fill only their half: on two cores the refresh takes about the walk plus half
//! the filling.
//!
//! Two ways to cut, both disjoint and together complete whatever the sockets:
//! - [`Split::Pivot`]: `(local port, remote port) <= pivot` and `> pivot` in lexicographic
//!   order, the pivot being the median pair of the previous scan, so the halves stay balanced
//!   even when one port (a busy server's) holds half of the machine's sockets.
//! - [`Split::Crossed`], for a first scan with nothing to take a median of: whether exactly one
//!   of the two ports lies below the middle of the ephemeral port range. Every connection has an
//!   ephemeral port at one end at least, spread over that range, so each listener's accepted
//!   sockets, and each client's, fall on both sides.

/// `struct inet_diag_bc_op` codes (linux/inet_diag.h).
const BC_JMP: u8 = 1;
const BC_S_GE: u8 = 2;
const BC_S_LE: u8 = 3;
const BC_D_GE: u8 = 4;
const BC_D_LE: u8 = 5;
/// `INET_DIAG_REQ_BYTECODE`, the request attribute that carries a filter.
const REQ_BYTECODE: u16 = 1;

/// Where a dump is cut in two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// First half `(sport, dport) <= pivot`, second the rest.
    Pivot((u16, u16)),
    /// First half: exactly one of sport and dport below this port (at least 1); second the rest.
    Crossed(u16),
}

/// Which half of the sockets a filter keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    First,
    Second,
}

/// The middle of the ephemeral port range (`ip_local_port_range`), for [`Split::Crossed`].
pub fn ephemeral_middle() -> u16 {
    let range =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut ports = range
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok());
    match (ports.next(), ports.next()) {
        (Some(lo), Some(hi)) if lo <= hi && hi <= 65535 => (lo + hi).div_ceil(2).max(1) as u16,
        _ => 46884, // Linux's default range, 32768-60999
    }
}

/// How many TCP sockets the machine has now, from /proc/net/sockstat{,6} (in use and
/// TIME_WAIT): cheap enough to decide whether a first dump is worth splitting.
pub fn tcp_socket_count() -> usize {
    let mut total = 0;
    for path in ["/proc/net/sockstat", "/proc/net/sockstat6"] {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text
            .lines()
            .filter(|l| l.starts_with("TCP: ") || l.starts_with("TCP6: "))
        {
            let words: Vec<&str> = line.split_whitespace().collect();
            for pair in words.windows(2) {
                if pair[0] == "inuse" || pair[0] == "tw" {
                    total += pair[1].parse::<usize>().unwrap_or(0);
                }
            }
        }
    }
    total
}

/// The pivot that splits these sockets' (local port, remote port) pairs in two equal halves.
pub fn median_pivot(mut pairs: Vec<(u16, u16)>) -> Option<(u16, u16)> {
    if pairs.is_empty() {
        return None;
    }
    let mid = (pairs.len() - 1) / 2;
    Some(*pairs.select_nth_unstable(mid).1)
}

/// The request attribute (`nlattr` header and bytecode) for one half.
///
/// The kernel checks a filter before running it (`inet_diag_bc_audit`): every op's "yes" must
/// lead to the next op, and a "no" may jump forward to an op on that chain, to the end (keep the
/// socket) or one op past it (drop it). Port ops take two slots, the port in the second one's
/// `no`.
pub fn filter_attr(half: Half, split: Split) -> Vec<u8> {
    let first = half == Half::First;
    // (code, yes, no, port): a port op is followed by its port slot.
    let mut ops: Vec<(u8, u8, u16, Option<u16>)> = Vec::with_capacity(4);
    match split {
        Split::Pivot((sport, dport)) if first => {
            // sport < P1 → keep; sport > P1 → drop; sport == P1: keep iff dport <= P2.
            ops.push((BC_S_GE, 8, 24, Some(sport))); // else keep (the end)
            ops.push((BC_S_LE, 8, 16 + 4, Some(sport))); // else drop
            ops.push((BC_D_LE, 8, 8 + 4, Some(dport))); // yes: the end (keep), else drop
        }
        Split::Pivot((sport, dport)) => {
            // sport > P1 → keep; sport < P1 → drop; sport == P1: keep iff dport > P2.
            ops.push((BC_S_LE, 8, 28, Some(sport))); // else keep
            ops.push((BC_S_GE, 8, 20 + 4, Some(sport))); // else drop
            ops.push((BC_D_LE, 8, 12, Some(dport))); // yes: on to the drop, else keep
            ops.push((BC_JMP, 4, 4 + 4, None)); // drop
        }
        Split::Crossed(mid) => {
            let mid = mid.max(1);
            // sport >= M: keep the first half iff dport < M; sport < M: iff dport >= M.
            ops.push((BC_S_GE, 8, 20, Some(mid))); // sport < M: to the last op
            ops.push((BC_D_GE, 8, if first { 20 } else { 24 }, Some(mid))); // dport < M: crossed
            ops.push((BC_JMP, 4, if first { 16 } else { 12 }, None)); // both >= M
            if first {
                ops.push((BC_D_GE, 8, 8 + 4, Some(mid))); // crossed iff dport >= M
            } else {
                ops.push((BC_D_LE, 8, 8 + 4, Some(mid - 1))); // both below M
            }
        }
    }
    encode(&ops)
}

/// The request attribute that keeps the sockets with `port` at either end (`sport = :P or
/// dport = :P` in `ss`'s language), for a scan of one port: the kernel still walks its table
/// but fills a message only for those. Same rules as [`filter_attr`].
pub fn port_filter_attr(port: u16) -> Vec<u8> {
    encode(&[
        (BC_S_GE, 8, 20, Some(port)), // sport < P: on to dport
        (BC_S_LE, 8, 12, Some(port)), // sport > P: on to dport
        (BC_JMP, 4, 20, None),        // sport == P: the end (keep)
        (BC_D_GE, 8, 20, Some(port)), // dport < P: drop
        (BC_D_LE, 8, 12, Some(port)), // dport == P: the end (keep), else drop
    ])
}

/// The `nlattr` header and bytecode of `(code, yes, no, port)` ops; a port op is followed by
/// its port slot.
fn encode(ops: &[(u8, u8, u16, Option<u16>)]) -> Vec<u8> {
    let body: usize = ops.iter().map(|o| if o.3.is_some() { 8 } else { 4 }).sum();
    let mut attr = Vec::with_capacity(4 + body);
    attr.extend_from_slice(&((4 + body) as u16).to_ne_bytes());
    attr.extend_from_slice(&REQ_BYTECODE.to_ne_bytes());
    for &(code, yes, no, port) in ops {
        attr.push(code);
        attr.push(yes);
        attr.extend_from_slice(&no.to_ne_bytes());
        if let Some(port) = port {
            attr.extend_from_slice(&[0, 0]);
            attr.extend_from_slice(&port.to_ne_bytes());
        }
    }
    attr
}

/// Runs a filter the way the kernel does (`inet_diag_bc_run`, port ops only), so the tests
/// can check both halves against every kind of pair without a kernel.
#[cfg(test)]
fn keeps(attr: &[u8], sport: u16, dport: u16) -> bool {
    let bc = &attr[4..];
    let mut at = 0usize;
    loop {
        let len = bc.len() as isize - at as isize;
        if len == 0 {
            return true;
        }
        if len < 0 {
            return false;
        }
        let (code, yes, no) = (
            bc[at],
            bc[at + 1] as usize,
            u16::from_ne_bytes([bc[at + 2], bc[at + 3]]) as usize,
        );
        let port = || u16::from_ne_bytes([bc[at + 6], bc[at + 7]]);
        let ok = match code {
            BC_JMP => false,
            BC_S_GE => sport >= port(),
            BC_S_LE => sport <= port(),
            BC_D_GE => dport >= port(),
            BC_D_LE => dport <= port(),
            _ => panic!("unexpected op {code}"),
        };
        at += if ok { yes } else { no };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORTS: [u16; 11] = [0, 1, 2, 79, 80, 81, 8080, 46883, 46884, 65534, 65535];

    #[test]
    fn pivot_halves_are_disjoint_and_complete() {
        for p1 in PORTS {
            for p2 in PORTS {
                let first = filter_attr(Half::First, Split::Pivot((p1, p2)));
                let second = filter_attr(Half::Second, Split::Pivot((p1, p2)));
                for s in PORTS {
                    for d in PORTS {
                        let want = (s, d) <= (p1, p2);
                        assert_eq!(keeps(&first, s, d), want, "first {p1}/{p2} {s}/{d}");
                        assert_eq!(keeps(&second, s, d), !want, "second {p1}/{p2} {s}/{d}");
                    }
                }
            }
        }
    }

    #[test]
    fn crossed_halves_are_disjoint_and_complete() {
        for mid in PORTS {
            let first = filter_attr(Half::First, Split::Crossed(mid));
            let second = filter_attr(Half::Second, Split::Crossed(mid));
            let m = mid.max(1);
            for s in PORTS {
                for d in PORTS {
                    let want = (s < m) != (d < m);
                    assert_eq!(keeps(&first, s, d), want, "first {mid} {s}/{d}");
                    assert_eq!(keeps(&second, s, d), !want, "second {mid} {s}/{d}");
                }
            }
        }
    }

    #[test]
    fn crossed_splits_a_listener_and_its_clients() {
        // One listener on an ephemeral port, 1,000 connections from ephemeral ports spread
        // over the whole range: both ends of each land in one half, the halves near even.
        let mid = 46884;
        let first = filter_attr(Half::First, Split::Crossed(mid));
        let listener = 50000;
        let clients: Vec<u16> = (0..1000).map(|i| 32768 + i * 28).collect();
        let kept = clients
            .iter()
            .flat_map(|&c| [(listener, c), (c, listener)])
            .filter(|&(s, d)| keeps(&first, s, d))
            .count();
        assert!(
            (800..=1200).contains(&kept),
            "{kept} of 2000 in the first half"
        );
    }

    #[test]
    fn the_port_filter_keeps_either_end_on_the_port() {
        for p in PORTS {
            let attr = port_filter_attr(p);
            for s in PORTS {
                for d in PORTS {
                    assert_eq!(keeps(&attr, s, d), s == p || d == p, "port {p}: {s}/{d}");
                }
            }
        }
    }

    #[test]
    fn filters_pass_the_kernel_audit_rules() {
        let splits = [Split::Pivot((80, 443)), Split::Crossed(46884)];
        let mut filters: Vec<(String, Vec<u8>)> = [Half::First, Half::Second]
            .into_iter()
            .flat_map(|half| {
                splits.map(|split| (format!("{half:?} {split:?}"), filter_attr(half, split)))
            })
            .collect();
        filters.extend([0, 8080, 65535].map(|p| (format!("port {p}"), port_filter_attr(p))));
        for (name, attr) in filters {
            assert_eq!(u16::from_ne_bytes([attr[0], attr[1]]) as usize, attr.len());
            let bc = &attr[4..];
            // Walk the "yes" chain as inet_diag_bc_audit does.
            let mut at = 0usize;
            while at < bc.len() {
                let len = bc.len() - at;
                let (code, yes, no) = (
                    bc[at],
                    bc[at + 1] as usize,
                    u16::from_ne_bytes([bc[at + 2], bc[at + 3]]) as usize,
                );
                let min = if code == BC_JMP { 4 } else { 8 };
                assert!(no >= min && no <= len + 4 && no % 4 == 0, "no {no} at {at}");
                assert!(
                    yes >= min && yes <= len + 4 && yes % 4 == 0,
                    "yes {yes} at {at}"
                );
                if no < len {
                    // A jump into the program must land on an op of the "yes" chain.
                    let mut chain = 0;
                    while chain < at + no {
                        chain += bc[chain + 1] as usize;
                    }
                    assert_eq!(chain, at + no, "{name}: no-jump at {at} off the chain");
                }
                at += yes;
            }
            assert_eq!(at, bc.len());
        }
    }

    #[test]
    fn the_median_pivot_balances_a_port_that_holds_half() {
        // 1,000 server-side sockets on port 8080 (remote: ephemeral ports) and 1,000 clients.
        let mut pairs: Vec<(u16, u16)> = (0..1000).map(|i| (8080, 40000 + i)).collect();
        pairs.extend((0..1000).map(|i| (40000 + i, 8080)));
        let pivot = median_pivot(pairs.clone()).unwrap();
        let low = pairs.iter().filter(|&&p| p <= pivot).count();
        assert_eq!(low, 1000);
        assert_eq!(median_pivot(Vec::new()), None);
    }
}
