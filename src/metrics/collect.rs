//! Reading the kernel for one scrape of `tcplab metrics`: one socket dump (the scanner's plain
//! scan), one pass over /proc/PID/stat, /proc/net/netstat, and the transition counts so far.
//! Nothing is read between scrapes; the scanners only keep their buffers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use super::inspector::{process_states, Listener, Scrape, Transitions, ZombieParent};
use super::transitions::Counter;
use crate::kernel::processes::ProcessScanner;
use crate::kernel::sockets::SocketScanner;
use crate::model::counts::StateCounts;
use crate::model::zombies::unreaped_children;
use crate::model::{Process, Socket, TcpState};

/// What the flags of `tcplab metrics` bound.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Ports broken down by state; empty: every listening port.
    pub ports: Vec<u16>,
    pub max_ports: usize,
    pub max_parents: usize,
}

pub struct Collector {
    sockets: SocketScanner,
    processes: ProcessScanner,
    limits: Limits,
    transitions: Option<Counter>,
}

impl Collector {
    pub fn new(limits: Limits, transitions: Option<Counter>) -> Collector {
        Collector {
            sockets: SocketScanner::new(),
            processes: ProcessScanner::new(),
            limits,
            transitions,
        }
    }

    /// Hands over the transition counter (to stop it before the process exits).
    pub fn take_transitions(&mut self) -> Option<Counter> {
        self.transitions.take()
    }

    /// Reads the machine now. Only a failure to list sockets or processes at all is an error;
    /// a process that vanishes half-way is skipped, an unreadable netstat leaves its counters
    /// out.
    pub fn scrape(&mut self) -> anyhow::Result<Scrape> {
        let started = Instant::now();
        let sockets = self.sockets.scan()?.sockets;
        let procs = self.processes.scan_stat_only()?;
        let netstat = crate::kernel::netstat::read().ok();
        let now = SystemTime::now();
        let mut scrape = of_machine(&sockets, &procs, now, &self.limits);
        scrape.listen_overflows = netstat
            .as_ref()
            .and_then(|n| n.get("TcpExt", "ListenOverflows"));
        scrape.listen_drops = netstat
            .as_ref()
            .and_then(|n| n.get("TcpExt", "ListenDrops"));
        scrape.transitions = self
            .transitions
            .as_ref()
            .map_or(Transitions::Unavailable, Counter::read);
        scrape.duration = started.elapsed();
        Ok(scrape)
    }
}

/// The pure part: sockets and processes (as read at `now`) to what is reported.
pub fn of_machine(
    sockets: &[Socket],
    procs: &[Process],
    now: SystemTime,
    limits: &Limits,
) -> Scrape {
    let (ports, ports_dropped) = ports(sockets, limits);
    let kept: HashSet<u16> = ports.iter().map(|(p, _)| *p).collect();
    let (zombie_parents, zombie_parents_dropped) = zombie_parents(procs, now, limits.max_parents);
    let mut processes = process_states();
    for p in procs {
        *processes.entry(p.state.name()).or_insert(0) += 1;
    }
    Scrape {
        sockets: StateCounts::of(sockets),
        ports,
        ports_dropped,
        listeners: listeners(sockets, &kept),
        processes,
        zombies: procs.iter().filter(|p| p.is_zombie()).count(),
        zombie_parents,
        zombie_parents_dropped,
        ..Scrape::default()
    }
}

/// The ports to break down with their counts: the asked ones or every listening one; over
/// the cap, those with the most sockets are kept. Returned in port order.
fn ports(sockets: &[Socket], limits: &Limits) -> (Vec<(u16, StateCounts)>, usize) {
    let wanted: HashSet<u16> = if limits.ports.is_empty() {
        sockets
            .iter()
            .filter(|s| s.state == TcpState::Listen)
            .map(|s| s.local.port())
            .collect()
    } else {
        limits.ports.iter().copied().collect()
    };
    let mut by_port: HashMap<u16, Vec<&Socket>> = wanted.iter().map(|p| (*p, Vec::new())).collect();
    for s in sockets {
        if let Some(list) = by_port.get_mut(&s.local.port()) {
            list.push(s);
        }
    }
    let mut rows: Vec<(u16, StateCounts)> = by_port
        .into_iter()
        .map(|(port, list)| (port, list.into_iter().collect()))
        .collect();
    rows.sort_by_key(|(port, counts)| (std::cmp::Reverse(counts.total()), *port));
    let dropped = rows.len().saturating_sub(limits.max_ports);
    rows.truncate(limits.max_ports);
    rows.sort_by_key(|(port, _)| *port);
    (rows, dropped)
}

/// Listening sockets of the kept ports, summed per address.
fn listeners(sockets: &[Socket], kept: &HashSet<u16>) -> Vec<Listener> {
    let mut by_addr: BTreeMap<SocketAddr, Listener> = BTreeMap::new();
    for s in sockets
        .iter()
        .filter(|s| s.state == TcpState::Listen && kept.contains(&s.local.port()))
    {
        let l = by_addr.entry(s.local).or_insert(Listener {
            local: s.local,
            sockets: 0,
            queue: 0,
            backlog: 0,
        });
        l.sockets += 1;
        l.queue += u64::from(s.recv_q);
        l.backlog += u64::from(s.send_q);
    }
    by_addr.into_values().collect()
}

/// Parents with unreaped zombies, most first (then by pid), at most `max`.
fn zombie_parents(procs: &[Process], now: SystemTime, max: usize) -> (Vec<ZombieParent>, usize) {
    let unreaped = unreaped_children(procs);
    let mut oldest: HashMap<i32, std::time::Duration> = HashMap::new();
    for z in procs.iter().filter(|p| p.is_zombie()) {
        if let Some(since) = z.zombie_since {
            let waited = now.duration_since(since).unwrap_or_default();
            let o = oldest.entry(z.ppid).or_default();
            *o = (*o).max(waited);
        }
    }
    let comm: HashMap<i32, &str> = procs.iter().map(|p| (p.pid, p.comm.as_str())).collect();
    let mut parents: Vec<ZombieParent> = unreaped
        .into_iter()
        .map(|(pid, n)| ZombieParent {
            pid,
            // A parent that exited meanwhile (its zombies go to a reaper soon) has no comm.
            comm: comm.get(&pid).map_or("?", |c| c).to_string(),
            unreaped: n,
            oldest: oldest.get(&pid).copied(),
        })
        .collect();
    parents.sort_by_key(|p| (std::cmp::Reverse(p.unreaped), p.pid));
    let dropped = parents.len().saturating_sub(max);
    parents.truncate(max);
    (parents, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ProcState, Timer};
    use std::time::Duration;

    fn sock(state: TcpState, local: &str, recv_q: u32, send_q: u32) -> Socket {
        Socket {
            state,
            local: local.parse().unwrap(),
            remote: "10.0.0.1:5000".parse().unwrap(),
            recv_q,
            send_q,
            inode: 1,
            uid: 0,
            timer: Timer::default(),
            owners: None,
            info: None,
            brief: None,
        }
    }

    fn limits(ports: &[u16], max_ports: usize, max_parents: usize) -> Limits {
        Limits {
            ports: ports.to_vec(),
            max_ports,
            max_parents,
        }
    }

    #[test]
    fn listening_ports_are_broken_down_busiest_first_under_the_cap() {
        let mut sockets = vec![
            sock(TcpState::Listen, "0.0.0.0:80", 3, 511),
            sock(TcpState::Listen, "0.0.0.0:80", 4, 511),
            sock(TcpState::Listen, "[::]:80", 0, 511),
            sock(TcpState::Listen, "127.0.0.1:22", 0, 128),
            sock(TcpState::Listen, "127.0.0.1:9000", 0, 128),
            // A client's socket: its local port is ephemeral, never broken down.
            sock(TcpState::Established, "10.0.0.2:40000", 0, 0),
        ];
        for _ in 0..5 {
            sockets.push(sock(TcpState::TimeWait, "10.0.0.2:80", 0, 0));
        }
        sockets.push(sock(TcpState::Established, "10.0.0.2:9000", 0, 0));
        let s = of_machine(&sockets, &[], SystemTime::now(), &limits(&[], 2, 5));
        let ports: Vec<u16> = s.ports.iter().map(|(p, _)| *p).collect();
        assert_eq!(ports, vec![80, 9000]);
        assert_eq!(s.ports_dropped, 1);
        assert_eq!(s.ports[0].1.get(TcpState::TimeWait), 5);
        assert_eq!(s.ports[0].1.get(TcpState::Listen), 3);
        // Listeners of the kept ports, summed per address.
        let l: Vec<(String, usize, u64, u64)> = s
            .listeners
            .iter()
            .map(|l| (l.local.to_string(), l.sockets, l.queue, l.backlog))
            .collect();
        assert_eq!(
            l,
            vec![
                ("0.0.0.0:80".into(), 2, 7, 1022),
                ("127.0.0.1:9000".into(), 1, 0, 128),
                ("[::]:80".into(), 1, 0, 511),
            ]
        );
        // Asked ports replace the listening ones.
        let s = of_machine(
            &sockets,
            &[],
            SystemTime::now(),
            &limits(&[22, 40000], 10, 5),
        );
        let ports: Vec<u16> = s.ports.iter().map(|(p, _)| *p).collect();
        assert_eq!(ports, vec![22, 40000]);
    }

    #[test]
    fn zombie_parents_most_first_with_their_oldest() {
        let now = SystemTime::now();
        let p = |pid, ppid, state, comm: &str, since: Option<u64>| Process {
            pid,
            ppid,
            state,
            comm: comm.into(),
            zombie_since: since.map(|s| now - Duration::from_secs(s)),
            ..Process::default()
        };
        let procs = vec![
            p(10, 1, ProcState::Sleeping, "one-zombie", None),
            p(11, 10, ProcState::Zombie, "z", Some(5)),
            p(20, 1, ProcState::Sleeping, "three", None),
            p(21, 20, ProcState::Zombie, "z", Some(70)),
            p(22, 20, ProcState::Zombie, "z", Some(3)),
            p(23, 20, ProcState::Zombie, "z", None),
            p(30, 1, ProcState::Running, "other", None),
            p(41, 40, ProcState::Zombie, "orphaned?", Some(1)),
        ];
        let s = of_machine(&[], &procs, now, &limits(&[], 10, 2));
        assert_eq!(s.zombies, 5);
        assert_eq!(s.processes["zombie"], 5);
        assert_eq!(s.processes["sleeping"], 2);
        assert_eq!(s.processes["disk_sleep"], 0);
        let parents: Vec<(i32, &str, usize, Option<u64>)> = s
            .zombie_parents
            .iter()
            .map(|z| {
                (
                    z.pid,
                    z.comm.as_str(),
                    z.unreaped,
                    z.oldest.map(|d| d.as_secs()),
                )
            })
            .collect();
        assert_eq!(
            parents,
            vec![(20, "three", 3, Some(70)), (10, "one-zombie", 1, Some(5))]
        );
        assert_eq!(s.zombie_parents_dropped, 1);
    }
}
