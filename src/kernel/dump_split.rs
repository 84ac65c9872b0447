//! Splitting one sock_diag dump into two halves that the kernel fills at the same time.
//!
//! At tens of thousands of sockets the kernel's dump is most of a dashboard refresh, and most
//! of the dump is filling each socket's message (addresses, queues, timers, attributes), not
//! walking the hash table. Two dumps on two netlink sockets, each with a bytecode filter
//! (`INET_DIAG_REQ_BYTECODE`, the filter language `ss` compiles its expressions to), each walk
//! the table but fill only their half: on two cores the refresh takes about the walk plus half
//! the filling.
//!
//! The halves are `(local port, remote port) <= pivot` and `> pivot` in lexicographic order:
//! disjoint and together complete, whatever the sockets. The pivot is the median pair of the
//! previous scan, so the halves stay balanced even when one port (a busy server's) holds half
//! of the machine's sockets.

/// `struct inet_diag_bc_op` codes (linux/inet_diag.h).
const BC_JMP: u8 = 1;
const BC_S_GE: u8 = 2;
const BC_S_LE: u8 = 3;
const BC_D_LE: u8 = 5;
/// `INET_DIAG_REQ_BYTECODE`, the request attribute that carries a filter.
const REQ_BYTECODE: u16 = 1;

/// Which half of the sockets a filter keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    /// `(sport, dport) <= pivot`.
    Low,
    /// `(sport, dport) > pivot`.
    High,
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
/// lead to the next op, and a "no" may jump forward to an op, to the end (keep the socket) or
/// one op past it (drop it). Port ops take two slots, the port in the second one's `no`.
pub fn filter_attr(half: Half, (sport, dport): (u16, u16)) -> Vec<u8> {
    let mut ops: Vec<(u8, u8, u16)> = Vec::with_capacity(7);
    match half {
        // sport < P1 → keep; sport > P1 → drop; sport == P1: keep iff dport <= P2.
        Half::Low => {
            let len = 24;
            ops.push((BC_S_GE, 8, len)); // sport >= P1, else keep (jump to the end)
            ops.push((0, 0, sport));
            ops.push((BC_S_LE, 8, len - 8 + 4)); // sport <= P1, else drop
            ops.push((0, 0, sport));
            ops.push((BC_D_LE, 8, 8 + 4)); // dport <= P2 → keep (the end), else drop
            ops.push((0, 0, dport));
        }
        // sport > P1 → keep; sport < P1 → drop; sport == P1: keep iff dport > P2.
        Half::High => {
            let len = 28;
            ops.push((BC_S_LE, 8, len)); // sport <= P1, else keep
            ops.push((0, 0, sport));
            ops.push((BC_S_GE, 8, len - 8 + 4)); // sport >= P1, else drop
            ops.push((0, 0, sport));
            ops.push((BC_D_LE, 8, len - 16)); // dport <= P2 → on to the drop, else keep
            ops.push((0, 0, dport));
            ops.push((BC_JMP, 4, 4 + 4)); // drop
        }
    }
    let body = ops.len() * 4;
    let mut attr = Vec::with_capacity(4 + body);
    attr.extend_from_slice(&((4 + body) as u16).to_ne_bytes());
    attr.extend_from_slice(&REQ_BYTECODE.to_ne_bytes());
    for (code, yes, no) in ops {
        attr.push(code);
        attr.push(yes);
        attr.extend_from_slice(&no.to_ne_bytes());
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
            BC_D_LE => dport <= port(),
            _ => panic!("unexpected op {code}"),
        };
        at += if ok { yes } else { no };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_halves_are_disjoint_and_complete() {
        let ports = [0u16, 1, 2, 79, 80, 81, 8080, 65534, 65535];
        for p1 in ports {
            for p2 in ports {
                let low = filter_attr(Half::Low, (p1, p2));
                let high = filter_attr(Half::High, (p1, p2));
                for s in ports {
                    for d in ports {
                        let want_low = (s, d) <= (p1, p2);
                        assert_eq!(keeps(&low, s, d), want_low, "low {p1}/{p2} {s}/{d}");
                        assert_eq!(keeps(&high, s, d), !want_low, "high {p1}/{p2} {s}/{d}");
                    }
                }
            }
        }
    }

    #[test]
    fn filters_pass_the_kernel_audit_rules() {
        for half in [Half::Low, Half::High] {
            let attr = filter_attr(half, (80, 443));
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
                    assert!(matches!(bc[at + no], BC_S_GE | BC_S_LE | BC_D_LE | BC_JMP));
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
