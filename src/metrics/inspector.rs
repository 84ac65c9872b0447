//! What one scrape of `tcplab metrics` saw ([`Scrape`], plain data) and its exposition. The
//! kernel is read in [`super::collect`]; this file only names and labels, so a fixed scrape
//! gives a fixed page (the snapshot test).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use prometheus_client::registry::Unit;

use super::exposition::{self, labels, Exposition, Labels};
use crate::model::counts::StateCounts;
use crate::model::{ProcState, TcpState};

/// Everything one scrape reports.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    pub sockets: StateCounts,
    /// Sockets by state for each port broken down (at most the cap), in port order.
    pub ports: Vec<(u16, StateCounts)>,
    /// Ports that qualified but were left out by the cap.
    pub ports_dropped: usize,
    /// Listening addresses (several sockets on one address, SO_REUSEPORT, are summed).
    pub listeners: Vec<Listener>,
    /// TcpExt ListenOverflows and ListenDrops; None when /proc/net/netstat was unreadable.
    pub listen_overflows: Option<u64>,
    pub listen_drops: Option<u64>,
    pub processes: BTreeMap<&'static str, usize>,
    pub zombies: usize,
    /// Parents with unreaped zombies, most zombies first, at most the cap.
    pub zombie_parents: Vec<ZombieParent>,
    pub zombie_parents_dropped: usize,
    pub transitions: Transitions,
    /// How long reading the kernel took for this scrape.
    pub duration: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub local: SocketAddr,
    pub sockets: usize,
    /// Connections waiting to be accepted.
    pub queue: u64,
    /// The accept queue's limit (listen's backlog, capped by somaxconn).
    pub backlog: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZombieParent {
    pub pid: i32,
    pub comm: String,
    pub unreaped: usize,
    /// The oldest of its zombies has been one at least this long (since this exporter first
    /// saw it); None when unknown.
    pub oldest: Option<Duration>,
}

/// Where transition counts come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Transitions {
    /// Counted from the kernel tracepoint since the exporter started.
    Tracepoint {
        counts: BTreeMap<(TcpState, TcpState), u64>,
        lost: u64,
    },
    /// No tracepoint (not root, no tracefs): nothing is counted, and the page says so.
    #[default]
    Unavailable,
}

impl Scrape {
    pub fn exposition(&self) -> Exposition {
        let mut e = Exposition::new();
        exposition::build_info(&mut e);
        e.gauges(
            "tcplab_tcp_sockets",
            "TCP sockets (IPv4 and IPv6) by state",
            None,
            TcpState::ALL
                .iter()
                .map(|s| (state(*s), self.sockets.get(*s) as i64))
                .collect(),
        );
        e.gauges(
            "tcplab_tcp_port_sockets",
            "TCP sockets by local port and state, for the ports broken down (listening ones by default); states with none are left out",
            None,
            self.ports
                .iter()
                .flat_map(|(port, counts)| {
                    counts.iter().filter(|(_, n)| *n > 0).map(move |(s, n)| {
                        (
                            labels([("port", &port.to_string()), ("state", s.kernel_name())]),
                            n as i64,
                        )
                    })
                })
                .collect(),
        );
        e.gauge(
            "tcplab_tcp_port_sockets_dropped_ports",
            "Ports left out of tcplab_tcp_port_sockets at this scrape by --max-ports",
            None,
            self.ports_dropped as i64,
        );
        let per_listener = |f: fn(&Listener) -> u64| -> Vec<(Labels, i64)> {
            self.listeners
                .iter()
                .map(|l| (labels([("listen", &l.local.to_string())]), f(l) as i64))
                .collect()
        };
        e.gauges(
            "tcplab_tcp_listen_queue",
            "Connections waiting in the accept queue of a listening address",
            None,
            per_listener(|l| l.queue),
        );
        e.gauges(
            "tcplab_tcp_listen_backlog",
            "The accept queue's limit of a listening address (listen backlog, capped by somaxconn)",
            None,
            per_listener(|l| l.backlog),
        );
        e.gauges(
            "tcplab_tcp_listen_sockets",
            "Listening sockets on the address (more than one with SO_REUSEPORT; queue and backlog are their sums)",
            None,
            per_listener(|l| l.sockets as u64),
        );
        if let Some(n) = self.listen_overflows {
            e.counter(
                "tcplab_tcp_listen_overflows",
                "Times a full accept queue refused a connection (TcpExt ListenOverflows: every listener of this network namespace)",
                None,
                n,
            );
        }
        if let Some(n) = self.listen_drops {
            e.counter(
                "tcplab_tcp_listen_drops",
                "SYNs dropped at a listener for any reason (TcpExt ListenDrops: every listener of this network namespace)",
                None,
                n,
            );
        }
        e.gauges(
            "tcplab_processes",
            "Processes by state (the letter of /proc/PID/stat, named)",
            None,
            self.processes
                .iter()
                .map(|(s, n)| (labels([("state", s)]), *n as i64))
                .collect(),
        );
        e.gauge(
            "tcplab_zombie_processes",
            "Processes that exited and were not reaped by their parent yet",
            None,
            self.zombies as i64,
        );
        let parent = |p: &ZombieParent| labels([("pid", &p.pid.to_string()), ("comm", &p.comm)]);
        e.gauges(
            "tcplab_zombie_parent_unreaped",
            "Unreaped zombie children of a parent (most first, capped by --max-parents)",
            None,
            self.zombie_parents
                .iter()
                .map(|p| (parent(p), p.unreaped as i64))
                .collect(),
        );
        e.gauges_f64(
            "tcplab_zombie_parent_oldest_zombie",
            "How long the parent's oldest zombie has waited, at least (since this exporter first saw it)",
            Some(Unit::Seconds),
            self.zombie_parents
                .iter()
                .filter_map(|p| Some((parent(p), p.oldest?.as_secs_f64())))
                .collect(),
        );
        e.gauge(
            "tcplab_zombie_parents_dropped",
            "Parents with zombies left out at this scrape by --max-parents",
            None,
            self.zombie_parents_dropped as i64,
        );
        let source = match &self.transitions {
            Transitions::Tracepoint { .. } => "tracepoint",
            Transitions::Unavailable => "none",
        };
        e.gauges(
            "tcplab_tcp_transitions_source",
            "Where TCP state transitions are counted from: tracepoint (root), or none (then tcplab_tcp_transitions_total is absent, not zero)",
            None,
            vec![(labels([("source", source)]), 1)],
        );
        if let Transitions::Tracepoint { counts, lost } = &self.transitions {
            e.counters(
                "tcplab_tcp_transitions",
                "TCP state transitions the kernel reported since the exporter started. Entering TIME_WAIT shows as FIN_WAIT2 or CLOSING to CLOSE: the kernel hands the connection to a timewait socket, which the tracepoint does not follow",
                None,
                counts
                    .iter()
                    .map(|((from, to), n)| {
                        (
                            labels([("from", from.kernel_name()), ("to", to.kernel_name())]),
                            *n,
                        )
                    })
                    .collect(),
            );
            e.counter(
                "tcplab_tcp_transitions_lost",
                "Transitions the kernel's trace buffer dropped before they were counted",
                None,
                *lost,
            );
        }
        e.gauge_f64(
            "tcplab_scrape_duration",
            "How long reading the kernel took for this scrape",
            Some(Unit::Seconds),
            self.duration.as_secs_f64(),
        );
        e
    }
}

fn state(s: TcpState) -> Labels {
    labels([("state", s.kernel_name())])
}

/// Every process state a label can take, so each appears (as 0) even when no process is in it.
pub fn process_states() -> BTreeMap<&'static str, usize> {
    [
        ProcState::Running,
        ProcState::Sleeping,
        ProcState::DiskSleep,
        ProcState::Zombie,
        ProcState::Stopped,
        ProcState::TracingStop,
        ProcState::Dead,
        ProcState::Idle,
        ProcState::Other('?'),
    ]
    .into_iter()
    .map(|s| (s.name(), 0))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::exposition::Format;

    fn fixed() -> Scrape {
        let mut sockets = StateCounts::default();
        let mut port_80 = StateCounts::default();
        for (state, n, on_80) in [
            (TcpState::Established, 40, 30),
            (TcpState::TimeWait, 50, 50),
            (TcpState::Listen, 3, 2),
            (TcpState::CloseWait, 1, 0),
        ] {
            for _ in 0..n {
                sockets.add(state);
            }
            for _ in 0..on_80 {
                port_80.add(state);
            }
        }
        let mut processes = process_states();
        processes.insert("sleeping", 120);
        processes.insert("running", 2);
        processes.insert("zombie", 3);
        Scrape {
            sockets,
            ports: vec![(80, port_80)],
            ports_dropped: 1,
            listeners: vec![
                Listener {
                    local: "0.0.0.0:80".parse().unwrap(),
                    sockets: 2,
                    queue: 7,
                    backlog: 1022,
                },
                Listener {
                    local: "[::1]:9814".parse().unwrap(),
                    sockets: 1,
                    queue: 0,
                    backlog: 1024,
                },
            ],
            listen_overflows: Some(12),
            listen_drops: Some(14),
            processes,
            zombies: 3,
            zombie_parents: vec![ZombieParent {
                pid: 4242,
                comm: "bad \"parent\"".into(),
                unreaped: 3,
                oldest: Some(Duration::from_millis(61_500)),
            }],
            zombie_parents_dropped: 0,
            transitions: Transitions::Tracepoint {
                counts: [
                    ((TcpState::Listen, TcpState::SynRecv), 100),
                    ((TcpState::SynRecv, TcpState::Established), 99),
                ]
                .into_iter()
                .collect(),
                lost: 0,
            },
            duration: Duration::from_micros(12_345),
        }
    }

    #[test]
    fn exposition_of_a_fixed_scrape() {
        let e = fixed().exposition();
        let v = env!("CARGO_PKG_VERSION");
        insta::assert_snapshot!(
            "inspector_prometheus",
            e.encode(Format::Prometheus).replace(v, "VERSION")
        );
        insta::assert_snapshot!(
            "inspector_openmetrics",
            e.encode(Format::OpenMetrics).replace(v, "VERSION")
        );
    }

    #[test]
    fn without_the_tracepoint_no_transition_is_reported_as_zero() {
        let scrape = Scrape {
            transitions: Transitions::Unavailable,
            ..fixed()
        };
        let text = scrape.exposition().encode(Format::Prometheus);
        assert!(text.contains("tcplab_tcp_transitions_source{source=\"none\"} 1\n"));
        assert!(
            !text.contains("# TYPE tcplab_tcp_transitions_total"),
            "{text}"
        );
        assert!(!text.contains("\ntcplab_tcp_transitions_total{"), "{text}");
        assert!(!text.contains("tcplab_tcp_transitions_lost"), "{text}");
    }
}
