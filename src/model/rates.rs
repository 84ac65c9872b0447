//! Throughput from two samples of the kernel's per-socket byte counters (`tcp_info`'s
//! bytes_acked and bytes_received): per socket, and summed per owning process — what nethogs
//! measures with packet capture, here from counters any user may read.
//!
//! Only sockets present in both samples have a rate: a connection that opened and closed
//! between them is not seen at all, and one that opened between them starts counting at the
//! next sample.

use std::collections::HashMap;
use std::time::Duration;

use super::socket::InodeHash;
use super::{Socket, TcpBrief, TcpState};

/// Bytes per second in each direction.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Throughput {
    /// Bytes sent and acknowledged by the peer, per second.
    pub send: f64,
    /// Bytes received, per second.
    pub recv: f64,
}

impl Throughput {
    pub fn total(&self) -> f64 {
        self.send + self.recv
    }
}

impl std::ops::AddAssign for Throughput {
    fn add_assign(&mut self, other: Throughput) {
        self.send += other.send;
        self.recv += other.recv;
    }
}

/// One sample's counters, kept between refreshes (the dashboard) or between the two scans of
/// `net --rate`: per connection only what a rate needs, in the order of the sockets they came
/// from. 32 bytes a connection: a map of inode to both addresses and counters took ~400 bytes a
/// connection at its high-water mark (two samples alive during an update: 14.6 MB at 36,000
/// sockets).
///
/// The kernel lists sockets in the order of its hash table, so the next sample lists nearly
/// all of them in the same order: a socket's counters are looked for a few places after the
/// last match first, and only the few that are not there (new, or moved by a change of the
/// dump's split) are looked up by inode. Sorting every sample by inode instead, and a binary
/// search per socket, was most of the dashboard's update at 18,000 sockets.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    samples: Vec<Sample>,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    inode: u64,
    /// Both addresses, hashed: an inode reused by another connection has other ends.
    ends: u64,
    acked: u64,
    received: u64,
}

/// How far past the last match a socket's counters are looked for in order: a few sockets
/// closed since the last sample leave that many gaps.
const LOOKAHEAD: usize = 8;

/// Both ends folded into 64 bits (a multiplicative mix, not SipHash: it runs for every
/// connection twice a refresh).
fn ends(s: &Socket) -> u64 {
    let mix = |h: u64, v: u64| (h ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(31);
    [s.local, s.remote].iter().fold(0, |h, addr| {
        let ip = match addr.ip() {
            std::net::IpAddr::V4(ip) => u32::from(ip) as u128,
            std::net::IpAddr::V6(ip) => u128::from(ip),
        };
        let h = mix(h, ip as u64);
        let h = mix(h, (ip >> 64) as u64);
        mix(h, addr.port() as u64)
    })
}

/// The byte counters of a socket that has a rate: a connection with `tcp_info` (listeners
/// move no bytes; TIME_WAIT has no inode).
fn counted(s: &Socket) -> Option<&TcpBrief> {
    if s.inode == 0 || s.state == TcpState::Listen {
        return None;
    }
    s.brief.as_ref()
}

impl Counters {
    /// The counters of every connection that carries `tcp_info`.
    pub fn of(sockets: &[Socket]) -> Counters {
        let mut samples =
            Vec::with_capacity(sockets.iter().filter(|s| counted(s).is_some()).count());
        samples.extend(sockets.iter().filter_map(|s| {
            let info = counted(s)?;
            Some(Sample {
                inode: s.inode,
                ends: ends(s),
                acked: info.bytes_acked,
                received: info.bytes_received,
            })
        }));
        Counters { samples }
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Bytes of heap held (what the dashboard keeps between refreshes).
    pub fn heap_bytes(&self) -> usize {
        self.samples.capacity() * std::mem::size_of::<Sample>()
    }

    /// Each socket's throughput since this sample, `elapsed` ago (None: not in this sample, or
    /// counters that went backwards, i.e. another socket reusing the inode).
    pub fn rates(&self, now: &[Socket], elapsed: Duration) -> Vec<Option<Throughput>> {
        let secs = elapsed.as_secs_f64();
        let rate = |s: &Socket, info: &TcpBrief, before: &Sample| {
            if secs <= 0.0 || before.ends != ends(s) {
                return None;
            }
            let sent = info.bytes_acked.checked_sub(before.acked)?;
            let got = info.bytes_received.checked_sub(before.received)?;
            Some(Throughput {
                send: sent as f64 / secs,
                recv: got as f64 / secs,
            })
        };
        let mut out = vec![None; now.len()];
        // Sockets not found in order: looked up by inode afterwards.
        let mut elsewhere = Vec::new();
        let mut next = 0;
        for (i, s) in now.iter().enumerate() {
            let Some(info) = counted(s) else { continue };
            let ahead = &self.samples[next.min(self.samples.len())..];
            match ahead
                .iter()
                .take(LOOKAHEAD)
                .position(|c| c.inode == s.inode)
            {
                Some(k) => {
                    out[i] = rate(s, info, &ahead[k]);
                    next += k + 1;
                }
                None => elsewhere.push(i),
            }
        }
        if elsewhere.is_empty() {
            return out;
        }
        let mut by_inode: Vec<(u64, u32)> = self
            .samples
            .iter()
            .enumerate()
            .map(|(at, c)| (c.inode, at as u32))
            .collect();
        by_inode.sort_unstable();
        for i in elsewhere {
            let s = &now[i];
            let Some(info) = counted(s) else { continue };
            let found = by_inode.partition_point(|&(inode, _)| inode < s.inode);
            if let Some(&(inode, at)) = by_inode.get(found) {
                if inode == s.inode {
                    out[i] = rate(s, info, &self.samples[at as usize]);
                }
            }
        }
        out
    }
}

/// One process's share: the sum over every socket it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessRate {
    pub pid: i32,
    pub comm: String,
    pub sockets: usize,
    /// Of those, sockets other processes hold too: their throughput is counted in full for
    /// each holder, so the per-process rows may add up to more than the machine moved.
    pub shared: usize,
    pub rate: Throughput,
}

/// Per-process sums of per-socket rates (`rates` index-aligned with `sockets`, whose owners
/// are filled), busiest first; and the sum over sockets whose owners are unknown (another
/// user's, when not root) with their count.
pub fn by_process(
    sockets: &[Socket],
    rates: &[Option<Throughput>],
) -> (Vec<ProcessRate>, Throughput, usize) {
    let mut procs: HashMap<i32, ProcessRate, InodeHash> = HashMap::default();
    let mut unknown = Throughput::default();
    let mut unknown_count = 0;
    for (s, rate) in sockets.iter().zip(rates) {
        let Some(rate) = *rate else { continue };
        let Some(owners) = &s.owners else {
            unknown += rate;
            unknown_count += 1;
            continue;
        };
        // A process holding the socket in two descriptors counts it once.
        // One holder is the common case: no list to build.
        let single;
        let mut pids: Vec<(i32, &str)> = Vec::new();
        let pids: &[(i32, &str)] = match owners.as_slice() {
            [one] => {
                single = [(one.pid, one.comm.as_str())];
                &single
            }
            _ => {
                pids.extend(owners.iter().map(|o| (o.pid, o.comm.as_str())));
                pids.sort_unstable();
                pids.dedup_by_key(|p| p.0);
                &pids[..]
            }
        };
        let shared = pids.len() > 1;
        for &(pid, comm) in pids {
            let entry = procs.entry(pid).or_insert_with(|| ProcessRate {
                pid,
                comm: comm.to_string(),
                sockets: 0,
                shared: 0,
                rate: Throughput::default(),
            });
            entry.sockets += 1;
            entry.shared += shared as usize;
            entry.rate += rate;
        }
    }
    let mut list: Vec<ProcessRate> = procs.into_values().collect();
    list.sort_by(|a, b| {
        b.rate
            .total()
            .total_cmp(&a.rate.total())
            .then(a.pid.cmp(&b.pid))
    });
    (list, unknown, unknown_count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Owner, Timer};

    fn sock(inode: u64, port: u16, acked: u64, received: u64, owners: &[(i32, i32)]) -> Socket {
        Socket {
            state: TcpState::Established,
            local: format!("127.0.0.1:{port}").parse().unwrap(),
            remote: "127.0.0.1:80".parse().unwrap(),
            recv_q: 0,
            send_q: 0,
            inode,
            uid: 0,
            timer: Timer::default(),
            owners: (!owners.is_empty()).then(|| {
                owners
                    .iter()
                    .map(|&(pid, fd)| Owner {
                        pid,
                        fd,
                        comm: format!("p{pid}"),
                    })
                    .collect()
            }),
            info: None,
            brief: Some(TcpBrief {
                bytes_acked: acked,
                bytes_received: received,
                ..TcpBrief::default()
            }),
        }
    }

    #[test]
    fn rates_come_from_counter_deltas_of_the_same_socket() {
        let before = [sock(1, 1000, 100, 0, &[]), sock(2, 1001, 0, 0, &[])];
        let after = [
            sock(1, 1000, 2100, 500, &[]),
            // Same inode, another connection: no rate.
            sock(2, 1002, 50, 0, &[]),
            // New since the first sample: no rate yet.
            sock(3, 1003, 9999, 0, &[]),
        ];
        let rates = Counters::of(&before).rates(&after, Duration::from_millis(500));
        assert_eq!(
            rates[0],
            Some(Throughput {
                send: 4000.0,
                recv: 1000.0
            })
        );
        assert_eq!(rates[1], None);
        assert_eq!(rates[2], None);
        // Counters that went backwards belong to another socket.
        let back = Counters::of(&after).rates(&before, Duration::from_secs(1));
        assert_eq!(back[0], None);
    }

    #[test]
    fn counters_keep_32_bytes_a_connection() {
        let sockets: Vec<Socket> = (0..10_000)
            .map(|i| sock(10_000 - i, (i % 60_000) as u16, i, i, &[]))
            .collect();
        let counters = Counters::of(&sockets);
        assert!(
            counters.heap_bytes() <= 32 * sockets.len(),
            "{}",
            counters.heap_bytes()
        );
        let later: Vec<Socket> = (0..10_000)
            .map(|i| sock(10_000 - i, (i % 60_000) as u16, i + 10, i + 20, &[]))
            .collect();
        let rates = counters.rates(&later, Duration::from_secs(2));
        assert!(rates.iter().all(|r| *r
            == Some(Throughput {
                send: 5.0,
                recv: 10.0
            })));
    }

    #[test]
    fn counters_are_found_whatever_the_next_samples_order() {
        // The next sample: some sockets closed, some opened, the rest in another order (a
        // split dump whose pivot moved lists its halves the other way round).
        let before: Vec<Socket> = (1..=1000).map(|i| sock(i, i as u16, i, 0, &[])).collect();
        let mut after: Vec<Socket> = (1..=1000)
            .filter(|i| i % 7 != 0)
            .map(|i| sock(i, i as u16, i + 2 * i, 0, &[]))
            .collect();
        after.rotate_left(400);
        for i in [0, 5, 300, 301, 302, 800] {
            after.insert(i, sock(5000 + i as u64, 7, 1, 0, &[]));
        }
        after[10..20].reverse();
        let rates = Counters::of(&before).rates(&after, Duration::from_secs(1));
        for (s, r) in after.iter().zip(&rates) {
            let want = (s.inode <= 1000).then_some(Throughput {
                send: 2.0 * s.inode as f64,
                recv: 0.0,
            });
            assert_eq!(*r, want, "inode {}", s.inode);
        }
    }

    #[test]
    fn a_shared_socket_counts_in_full_for_each_holder_once() {
        let sockets = [
            sock(1, 1000, 0, 0, &[(10, 3), (10, 4), (11, 3)]),
            sock(2, 1001, 0, 0, &[(10, 5)]),
            sock(3, 1002, 0, 0, &[]),
        ];
        let r = |send| Some(Throughput { send, recv: 1.0 });
        let (procs, unknown, unknown_count) = by_process(&sockets, &[r(100.0), r(10.0), r(1.0)]);
        assert_eq!(procs.len(), 2);
        assert_eq!(
            (procs[0].pid, procs[0].sockets, procs[0].shared),
            (10, 2, 1)
        );
        assert_eq!(procs[0].rate.send, 110.0);
        assert_eq!(
            (procs[1].pid, procs[1].sockets, procs[1].shared),
            (11, 1, 1)
        );
        assert_eq!(procs[1].rate.send, 100.0);
        assert_eq!((unknown.send, unknown_count), (1.0, 1));
    }
}
