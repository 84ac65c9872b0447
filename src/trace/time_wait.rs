//! TIME_WAIT, which the tracepoint cannot show: when the active closer's full socket goes
//! FIN_WAIT2 (or CLOSING) → CLOSE, the kernel hands the connection to a small timewait socket
//! that no tracepoint follows. This watch looks for that socket in the socket list and reports,
//! marked as sampled, the edge into TIME_WAIT and, when the socket disappears, the edge out of
//! it with the time it lasted (about 60s on Linux).
//!
//! The list is read only while there is something to look for, and never more often than ten
//! times its own cost, so a flood of connections cannot make the tracer spend its time here. A
//! few sockets are asked for one by one, by their ends; many, with one dump of the TIME_WAIT
//! sockets.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime};

use super::session::mono_now;
use crate::kernel::sockets::{
    tcp_socket_count, ScanDetail, ScanOptions, SocketScanner, SplitPolicy,
};
use crate::model::{TcpState, Transition};

/// Sockets followed at most; past that, new ones are not (and the user is told once).
const MAX_WATCHED: usize = 100_000;
const MIN_GAP: Duration = Duration::from_millis(200);

type Pair = (SocketAddr, SocketAddr);

/// A full socket that just closed from FIN_WAIT2/CLOSING and may have left a TIME_WAIT socket.
#[derive(Debug, Clone)]
struct Candidate {
    closed: Transition,
    clock: f64,
}

#[derive(Debug, Clone)]
struct Watched {
    entered_clock: f64,
    pid: Option<i32>,
    comm: Option<String>,
}

#[derive(Debug, Default)]
pub struct TimeWaits {
    candidates: Vec<Candidate>,
    watched: HashMap<Pair, Watched>,
    /// True once MAX_WATCHED was hit (said once).
    pub overflowed: bool,
}

impl TimeWaits {
    /// Takes note of a transition; only X → CLOSE from FIN_WAIT2 or CLOSING matters.
    pub fn observe(&mut self, t: &Transition, clock: f64) {
        if t.new == TcpState::Close && matches!(t.old, TcpState::FinWait2 | TcpState::Closing) {
            self.candidates.push(Candidate {
                closed: t.clone(),
                clock,
            });
        }
    }

    /// Every pair a look would be for: candidates and watched sockets.
    fn pairs(&self) -> impl Iterator<Item = Pair> + '_ {
        let candidates = self
            .candidates
            .iter()
            .map(|c| (c.closed.local, c.closed.remote));
        candidates.chain(self.watched.keys().copied())
    }

    /// Whether a look at the socket list would tell anything.
    pub fn wants_scan(&self) -> bool {
        !self.candidates.is_empty() || !self.watched.is_empty()
    }

    /// Given the TIME_WAIT sockets now: the edges into TIME_WAIT of candidates found there,
    /// and the edges out of it of watched sockets that are gone. Candidates not found are
    /// dropped (no timewait socket: the kernel's table was full, or it did not apply).
    pub fn apply(
        &mut self,
        time_wait: &HashSet<Pair>,
        clock: f64,
        ts: SystemTime,
    ) -> Vec<Transition> {
        let mut out = Vec::new();
        for c in self.candidates.drain(..) {
            let key = (c.closed.local, c.closed.remote);
            if !time_wait.contains(&key) {
                continue;
            }
            if self.watched.len() >= MAX_WATCHED {
                self.overflowed = true;
                continue;
            }
            self.watched.insert(
                key,
                Watched {
                    entered_clock: c.clock,
                    pid: c.closed.pid,
                    comm: c.closed.comm.clone(),
                },
            );
            out.push(Transition {
                new: TcpState::TimeWait,
                ..c.closed
            });
        }
        let gone: Vec<Pair> = self
            .watched
            .keys()
            .filter(|k| !time_wait.contains(k))
            .copied()
            .collect();
        for key in gone {
            let w = self.watched.remove(&key).expect("listed");
            out.push(Transition {
                ts,
                local: key.0,
                remote: key.1,
                old: TcpState::TimeWait,
                new: TcpState::Close,
                in_old: Some(Duration::from_secs_f64((clock - w.entered_clock).max(0.0))),
                pid: w.pid,
                comm: w.comm,
                tid: None,
            });
        }
        out
    }
}

/// The I/O half: reads the socket list when it is due and worth it.
pub struct TimeWaitWatch {
    pub state: TimeWaits,
    scanner: SocketScanner,
    port: Option<u16>,
    next: Instant,
    gap: Duration,
}

impl TimeWaitWatch {
    pub fn new(port: Option<u16>) -> Self {
        TimeWaitWatch {
            state: TimeWaits::default(),
            // TIME_WAIT sockets only, in one dump: the kernel skips the others without filling
            // them, where a full dump of tens of thousands of sockets five times a second was
            // most of the dashboard's CPU while any connection of the machine sat in TIME_WAIT.
            scanner: SocketScanner::with(ScanOptions {
                only: Some(TcpState::TimeWait),
                split: SplitPolicy::Never,
                ..ScanOptions::default()
            }),
            port,
            next: Instant::now(),
            gap: MIN_GAP,
        }
    }

    /// How far apart the reads are now: what "sampled" means for these lines.
    pub fn interval(&self) -> Duration {
        self.gap
    }

    /// Reads the list if due; `clock` is now on the trace clock.
    pub fn poll(&mut self, clock: f64) -> Vec<Transition> {
        if !self.state.wants_scan() || Instant::now() < self.next {
            return Vec::new();
        }
        let started = Instant::now();
        let port = self.port;
        let wanted =
            |(local, remote): &Pair| port.is_none_or(|p| local.port() == p || remote.port() == p);
        let looked_up = self.look_up();
        let time_wait: HashSet<Pair> = match looked_up {
            Some(found) => found.into_iter().filter(wanted).collect(),
            None => {
                let Ok(scan) = self.scanner.scan() else {
                    return Vec::new();
                };
                scan.sockets
                    .iter()
                    .filter(|s| s.state == TcpState::TimeWait)
                    .map(|s| (s.local, s.remote))
                    .filter(wanted)
                    .collect()
            }
        };
        self.gap = MIN_GAP.max(started.elapsed() * 10);
        self.next = Instant::now() + self.gap;
        self.state.apply(&time_wait, clock, SystemTime::now())
    }
}

impl TimeWaitWatch {
    /// Which of the pairs looked for are in TIME_WAIT now, each asked of the kernel by its
    /// ends (a hash lookup each): a dump of TIME_WAIT sockets still walks every socket of the
    /// machine, ~2 ms at 18,000 five times a second, while a few connections are watched.
    /// None when a dump costs less than asking for each, or netlink cannot be used: scan.
    fn look_up(&mut self) -> Option<HashSet<Pair>> {
        let pairs: Vec<Pair> = self.state.pairs().collect();
        if pairs.len() * SOCKETS_PER_LOOKUP > tcp_socket_count() {
            return None;
        }
        let mut found = HashSet::with_capacity(pairs.len());
        for (local, remote) in pairs {
            let socket = self.scanner.lookup(local, remote, ScanDetail::Basic).ok()?;
            if socket.is_some_and(|s| s.state == TcpState::TimeWait) {
                found.insert((local, remote));
            }
        }
        Some(found)
    }
}

/// One lookup (a system call and its reply, ~4 us) costs about what a dump spends walking past
/// this many sockets (0.1-0.2 us each, examples/dump_cost.rs): past one lookup per that many
/// sockets in the table, one dump costs less.
const SOCKETS_PER_LOOKUP: usize = 32;

/// What the watch thread reports.
#[derive(Debug, Clone)]
pub enum Found {
    /// A transition into or out of TIME_WAIT, and how far apart the samples were.
    Transition(Transition, Duration),
    /// MAX_WATCHED was reached: newer TIME_WAIT sockets are not followed.
    Overflowed,
}

/// The watch on its own thread, so that reading a long socket list (a flood leaves many
/// thousands of TIME_WAIT sockets) never delays reading the kernel's pipes. It ends when this
/// is dropped.
pub struct TimeWaitThread {
    to: Sender<(Transition, f64)>,
    from: Receiver<Found>,
}

impl TimeWaitThread {
    pub fn spawn(port: Option<u16>) -> std::io::Result<TimeWaitThread> {
        let (to, candidates) = mpsc::channel::<(Transition, f64)>();
        let (found, from) = mpsc::channel();
        std::thread::Builder::new()
            .name("tcplab-timewait".into())
            .spawn(move || {
                let mut watch = TimeWaitWatch::new(port);
                loop {
                    match candidates.recv_timeout(MIN_GAP) {
                        Ok((t, clock)) => watch.state.observe(&t, clock),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                    for (t, clock) in candidates.try_iter() {
                        watch.state.observe(&t, clock);
                    }
                    let seen = watch.poll(mono_now());
                    if std::mem::take(&mut watch.state.overflowed)
                        && found.send(Found::Overflowed).is_err()
                    {
                        return;
                    }
                    for t in seen {
                        if found.send(Found::Transition(t, watch.interval())).is_err() {
                            return;
                        }
                    }
                }
            })?;
        Ok(TimeWaitThread { to, from })
    }

    /// Passes on the transitions that may leave a TIME_WAIT socket behind.
    pub fn observe(&self, t: &Transition, clock: f64) {
        if t.new == TcpState::Close && matches!(t.old, TcpState::FinWait2 | TcpState::Closing) {
            let _ = self.to.send((t.clone(), clock));
        }
    }

    /// What the thread found since the last call; never blocks.
    pub fn found(&self) -> Vec<Found> {
        self.from.try_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(local: &str, old: TcpState) -> Transition {
        Transition {
            ts: SystemTime::UNIX_EPOCH,
            local: local.parse().unwrap(),
            remote: "127.0.0.1:80".parse().unwrap(),
            old,
            new: TcpState::Close,
            in_old: Some(Duration::from_millis(1)),
            pid: Some(7),
            comm: Some("curl".into()),
            tid: None,
        }
    }

    #[test]
    fn into_time_wait_then_out_with_its_length() {
        let mut tw = TimeWaits::default();
        tw.observe(&closed("127.0.0.1:5000", TcpState::FinWait2), 10.0);
        tw.observe(&closed("127.0.0.1:5001", TcpState::Closing), 10.0);
        tw.observe(&closed("127.0.0.1:5002", TcpState::LastAck), 10.0);
        tw.observe(&closed("127.0.0.1:5003", TcpState::FinWait2), 10.0);
        let key = |l: &str| (l.parse().unwrap(), "127.0.0.1:80".parse().unwrap());
        // 5003 left no timewait socket.
        let now: HashSet<Pair> = [key("127.0.0.1:5000"), key("127.0.0.1:5001")].into();
        let into = tw.apply(&now, 10.2, SystemTime::UNIX_EPOCH);
        let edges: Vec<_> = into
            .iter()
            .map(|t| (t.local.port(), t.old, t.new))
            .collect();
        assert_eq!(
            edges,
            [
                (5000, TcpState::FinWait2, TcpState::TimeWait),
                (5001, TcpState::Closing, TcpState::TimeWait)
            ]
        );
        assert_eq!(into[0].in_old, Some(Duration::from_millis(1)));
        assert!(tw.apply(&now, 30.0, SystemTime::UNIX_EPOCH).is_empty());
        let out = tw.apply(
            &[key("127.0.0.1:5001")].into(),
            70.0,
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].old, out[0].new),
            (TcpState::TimeWait, TcpState::Close)
        );
        assert_eq!(out[0].in_old, Some(Duration::from_secs(60)));
        assert_eq!(out[0].pid, Some(7));
        assert!(tw.wants_scan());
        tw.apply(&HashSet::new(), 71.0, SystemTime::UNIX_EPOCH);
        assert!(!tw.wants_scan());
    }
}
