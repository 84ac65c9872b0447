//! Per-socket memory of what the tracer has seen: the state each socket is in and since when
//! (so every transition carries the time spent in the old state), the owner learned from a
//! transition made in process context, and each socket's whole life for `--timeline`.
//!
//! Sockets are keyed by their (local, remote) pair: the tracepoint does not print the socket's
//! address. One wrinkle: at CLOSE→SYN_SENT the kernel has not picked the local port yet, so
//! that first step is parked by (local address, remote) and joined to the socket when its next
//! transition shows the port.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use crate::model::{TcpState, Transition};

/// Sockets remembered at most; past this the oldest are forgotten (a lost CLOSE would
/// otherwise keep its socket forever).
const MAX_SOCKETS: usize = 200_000;

/// One transition as a source saw it, before the tracker adds time-in-state and owner.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// Seconds on a monotonic clock (the trace clock, or the sampler's).
    pub clock: f64,
    pub ts: SystemTime,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub old: TcpState,
    pub new: TcpState,
    /// The process that made the change, when it surely owns the socket (process context).
    pub owner: Option<(i32, String)>,
    /// What tracing recorded of a thread that is gone: used only when nothing surer is known of
    /// the socket. (Thread ids wrap at pid_max, 32,768 by default, and the kernel records a
    /// task's id lazily: what it holds under an id may be another task's from before.)
    pub recorded: Option<(i32, String)>,
    /// The thread that made the change (process context).
    pub tid: Option<i32>,
}

/// One state of a finished connection's life and how long it lasted (None: not seen whole).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub state: TcpState,
    pub lasted: Option<Duration>,
}

/// A socket's whole life, from the first state seen to CLOSE.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub started: SystemTime,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub pid: Option<i32>,
    pub comm: Option<String>,
    pub steps: Vec<Step>,
}

/// The life of one socket from its transitions (oldest first, all of that one socket): the
/// state before the first of them, then each state it entered, with how long each lasted; the
/// last is the state it is in (or ended in). For the dashboard, which keeps a log of recent
/// transitions rather than a tracker, and tells which connection each belongs to.
pub fn timeline_of<'a>(transitions: impl IntoIterator<Item = &'a Transition>) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut entered: Option<SystemTime> = None;
    for t in transitions {
        // FIN_WAIT2 (or CLOSING) → CLOSE, then the same → TIME_WAIT: the full socket closed as
        // the kernel handed the connection to its timewait socket. The connection went on.
        let handed_over = t.new == TcpState::TimeWait
            && steps.len() >= 2
            && steps[steps.len() - 1].state == TcpState::Close
            && steps[steps.len() - 2].state == t.old;
        if handed_over {
            steps.pop();
        }
        match steps.last_mut() {
            None => steps.push(Step {
                state: t.old,
                lasted: t.in_old,
            }),
            Some(last) if last.state == t.old => {
                last.lasted = t
                    .in_old
                    .or_else(|| entered.and_then(|at| t.ts.duration_since(at).ok()));
            }
            // A gap: something between was not seen.
            Some(_) => steps.push(Step {
                state: t.old,
                lasted: t.in_old,
            }),
        }
        steps.push(Step {
            state: t.new,
            lasted: None,
        });
        entered = Some(t.ts);
    }
    steps
}

/// Connects whose local port is not known yet. At CLOSE→SYN_SENT the kernel has not picked
/// the port, so the tracepoint shows port 0; the socket's next transition (out of SYN_SENT,
/// with its port) joins the oldest such connect from the same address to the same remote.
/// The tracker parks the socket's memory here; the dashboard's log, the line's position.
#[derive(Debug)]
pub struct Portless<T> {
    by_ends: HashMap<(IpAddr, SocketAddr), VecDeque<T>>,
}

impl<T> Default for Portless<T> {
    fn default() -> Self {
        Portless {
            by_ends: HashMap::new(),
        }
    }
}

impl<T> Portless<T> {
    /// Whether this is a connect's first transition, made before its port was picked.
    pub fn is_connect(local: SocketAddr, old: TcpState, new: TcpState) -> bool {
        local.port() == 0 && old == TcpState::Close && new == TcpState::SynSent
    }

    pub fn park(&mut self, local: SocketAddr, remote: SocketAddr, value: T) {
        self.by_ends
            .entry((local.ip(), remote))
            .or_default()
            .push_back(value);
    }

    /// The parked connect a transition out of SYN_SENT belongs to, if any.
    pub fn join(&mut self, local: SocketAddr, remote: SocketAddr, old: TcpState) -> Option<T> {
        if old != TcpState::SynSent || self.by_ends.is_empty() {
            return None;
        }
        let key = (local.ip(), remote);
        let queue = self.by_ends.get_mut(&key)?;
        let value = queue.pop_front();
        if queue.is_empty() {
            self.by_ends.remove(&key);
        }
        value
    }

    /// Drops parked connects `keep` says no to.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.by_ends.retain(|_, q| {
            q.retain(&mut keep);
            !q.is_empty()
        });
    }

    pub fn len(&self) -> usize {
        self.by_ends.values().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_ends.is_empty()
    }

    pub fn clear(&mut self) {
        self.by_ends.clear();
    }
}

#[derive(Debug, Clone)]
struct Sock {
    state: TcpState,
    since: f64,
    started: SystemTime,
    owner: Option<(i32, String)>,
    /// Finished steps, oldest first; the current state is `state`.
    past: Vec<Step>,
}

#[derive(Debug, Default)]
pub struct Tracker {
    socks: HashMap<(SocketAddr, SocketAddr), Sock>,
    /// Connects whose local port is not known yet.
    connecting: Portless<Sock>,
}

impl Tracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one transition; returns it completed and, when the socket reached CLOSE, its
    /// timeline.
    pub fn observe(&mut self, o: Observed) -> (Transition, Option<Timeline>) {
        let key = (o.local, o.remote);
        let mut sock = self
            .socks
            .remove(&key)
            .or_else(|| self.connecting.join(o.local, o.remote, o.old));
        let in_old = sock.as_ref().and_then(|s| {
            (s.state == o.old).then(|| Duration::from_secs_f64((o.clock - s.since).max(0.0)))
        });
        let owner = o
            .owner
            .clone()
            .or_else(|| sock.as_ref().and_then(|s| s.owner.clone()));
        // A guess is shown, not kept: a surer owner found later replaces it.
        let shown = owner.clone().or_else(|| o.recorded.clone());
        let transition = Transition {
            ts: o.ts,
            local: o.local,
            remote: o.remote,
            old: o.old,
            new: o.new,
            in_old,
            pid: shown.as_ref().map(|(p, _)| *p),
            comm: shown.as_ref().map(|(_, c)| c.clone()),
            tid: o.tid,
        };
        let mut s = sock.take().unwrap_or_else(|| Sock {
            state: o.old,
            since: o.clock,
            started: o.ts,
            owner: None,
            past: Vec::new(),
        });
        if s.state != o.old {
            // We missed something (lost events): say what we know, not more.
            s.past.push(Step {
                state: s.state,
                lasted: None,
            });
            s.state = o.old;
        }
        s.past.push(Step {
            state: o.old,
            lasted: in_old,
        });
        s.state = o.new;
        s.since = o.clock;
        s.owner = owner;
        if o.new == TcpState::Close {
            s.past.push(Step {
                state: TcpState::Close,
                lasted: None,
            });
            let timeline = Timeline {
                started: s.started,
                local: o.local,
                remote: o.remote,
                pid: shown.as_ref().map(|(p, _)| *p),
                comm: shown.map(|(_, c)| c),
                steps: s.past,
            };
            return (transition, Some(timeline));
        }
        if Portless::<Sock>::is_connect(o.local, o.old, o.new) {
            self.connecting.park(o.local, o.remote, s);
        } else {
            self.socks.insert(key, s);
        }
        self.bound();
        (transition, None)
    }

    /// The owner this tracker learned for a socket it follows.
    pub fn owner_of(&self, local: SocketAddr, remote: SocketAddr) -> Option<(i32, String)> {
        self.socks.get(&(local, remote))?.owner.clone()
    }

    /// Whether an owner is already known for this socket (no need to look it up).
    pub fn knows_owner(&self, local: SocketAddr, remote: SocketAddr) -> bool {
        self.socks
            .get(&(local, remote))
            .is_some_and(|s| s.owner.is_some())
    }

    /// How many sockets are remembered (open, or connecting).
    pub fn len(&self) -> usize {
        self.socks.len() + self.connecting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn bound(&mut self) {
        if self.socks.len() <= MAX_SOCKETS {
            return;
        }
        let mut since: Vec<f64> = self.socks.values().map(|s| s.since).collect();
        let cut = since.len() / 10;
        since.select_nth_unstable_by(cut, f64::total_cmp);
        let limit = since[cut];
        self.socks.retain(|_, s| s.since > limit);
        self.connecting.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(clock: f64, local: &str, remote: &str, old: TcpState, new: TcpState) -> Observed {
        Observed {
            clock,
            ts: SystemTime::UNIX_EPOCH + Duration::from_secs_f64(clock),
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            old,
            new,
            owner: None,
            recorded: None,
            tid: None,
        }
    }

    use TcpState::*;

    #[test]
    fn client_life_joins_the_portless_connect_and_times_each_state() {
        let mut t = Tracker::new();
        let mut o = obs(1.0, "127.0.0.1:0", "127.0.0.1:80", Close, SynSent);
        o.owner = Some((42, "curl".into()));
        let (tr, tl) = t.observe(o);
        assert_eq!((tr.in_old, tr.pid, tl), (None, Some(42), None));
        let c = "127.0.0.1:5555";
        let (tr, _) = t.observe(obs(1.5, c, "127.0.0.1:80", SynSent, Established));
        assert_eq!(tr.in_old, Some(Duration::from_millis(500)));
        assert_eq!(tr.pid, Some(42), "owner carried from the connect");
        t.observe(obs(3.5, c, "127.0.0.1:80", Established, FinWait1));
        t.observe(obs(3.75, c, "127.0.0.1:80", FinWait1, FinWait2));
        let (tr, tl) = t.observe(obs(4.0, c, "127.0.0.1:80", FinWait2, Close));
        assert_eq!(tr.in_old, Some(Duration::from_millis(250)));
        let tl = tl.expect("timeline at CLOSE");
        let states: Vec<_> = tl.steps.iter().map(|s| s.state).collect();
        assert_eq!(
            states,
            [Close, SynSent, Established, FinWait1, FinWait2, Close]
        );
        assert_eq!(tl.steps[2].lasted, Some(Duration::from_secs(2)));
        assert_eq!(tl.steps[0].lasted, None);
        assert_eq!(tl.comm.as_deref(), Some("curl"));
        assert!(t.is_empty());
    }

    /// A thread that closed its socket and exited before the tracer read the event: what
    /// tracing recorded under its id (here a tmux that had the id before the ids wrapped) must
    /// not replace the owner known from the connect; for a socket known of nobody it is shown,
    /// but not kept once a surer owner is found.
    #[test]
    fn what_tracing_recorded_of_a_gone_thread_is_a_guess() {
        let mut t = Tracker::new();
        let c = "127.0.0.1:5555";
        let mut o = obs(1.0, c, "127.0.0.1:80", SynSent, Established);
        o.owner = Some((42, "curl".into()));
        t.observe(o);
        let mut o = obs(2.0, c, "127.0.0.1:80", Established, FinWait1);
        o.recorded = Some((30615, "tmux".into()));
        let (tr, _) = t.observe(o);
        assert_eq!((tr.pid, tr.comm.as_deref()), (Some(42), Some("curl")));

        let d = "127.0.0.1:6666";
        let mut o = obs(1.0, d, "127.0.0.1:80", SynSent, Established);
        o.recorded = Some((30615, "tmux".into()));
        let (tr, _) = t.observe(o);
        assert_eq!(tr.pid, Some(30615), "nothing surer: the guess is shown");
        assert!(!t.knows_owner(d.parse().unwrap(), "127.0.0.1:80".parse().unwrap()));
        let mut o = obs(2.0, d, "127.0.0.1:80", Established, FinWait1);
        o.owner = Some((7, "wget".into()));
        t.observe(o);
        let (tr, tl) = t.observe(obs(3.0, d, "127.0.0.1:80", FinWait1, Close));
        assert_eq!(tr.pid, Some(7));
        assert_eq!(tl.unwrap().pid, Some(7));
    }

    #[test]
    fn timeline_of_one_connection_times_each_state() {
        let mut t = Tracker::new();
        let c = "127.0.0.1:5555";
        let log: Vec<Transition> = [
            obs(1.0, "127.0.0.1:0", "127.0.0.1:80", Close, SynSent),
            obs(1.5, c, "127.0.0.1:80", SynSent, Established),
            obs(3.5, c, "127.0.0.1:80", Established, FinWait1),
        ]
        .into_iter()
        .map(|o| t.observe(o).0)
        .collect();
        let steps = timeline_of(&log);
        let got: Vec<_> = steps.iter().map(|s| (s.state, s.lasted)).collect();
        assert_eq!(
            got,
            [
                (Close, None),
                (SynSent, Some(Duration::from_millis(500))),
                (Established, Some(Duration::from_secs(2))),
                (FinWait1, None),
            ]
        );
        assert!(timeline_of(&[]).is_empty());
    }

    #[test]
    fn the_handover_to_the_timewait_socket_is_not_an_end() {
        let mut t = Tracker::new();
        let (c, s) = ("127.0.0.1:5555", "127.0.0.1:80");
        let mut log: Vec<Transition> = [
            obs(1.0, c, s, Established, FinWait1),
            obs(1.5, c, s, FinWait1, FinWait2),
            obs(2.0, c, s, FinWait2, Close),
        ]
        .into_iter()
        .map(|o| t.observe(o).0)
        .collect();
        // What the TIME_WAIT watch reports once it finds the timewait socket.
        let mut tw = log[2].clone();
        tw.new = TimeWait;
        tw.in_old = Some(Duration::from_millis(500));
        log.push(tw);
        let states: Vec<_> = timeline_of(&log).iter().map(|s| s.state).collect();
        assert_eq!(states, [Established, FinWait1, FinWait2, TimeWait]);
    }

    #[test]
    fn portless_connects_are_joined_oldest_first() {
        let mut p = Portless::default();
        let server: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        assert!(Portless::<u8>::is_connect(any, Close, SynSent));
        assert!(!Portless::<u8>::is_connect(server, Close, SynSent));
        p.park(any, server, 1);
        p.park(any, server, 2);
        let c: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        assert_eq!(p.join(c, server, Established), None, "only out of SYN_SENT");
        assert_eq!(p.join(c, c, SynSent), None, "another remote");
        assert_eq!(p.join(c, server, SynSent), Some(1));
        assert_eq!(p.len(), 1);
        p.retain(|&v| v != 2);
        assert!(p.is_empty());
    }

    #[test]
    fn first_sight_mid_life_has_no_time_in_old() {
        let mut t = Tracker::new();
        let (tr, _) = t.observe(obs(1.0, "10.0.0.1:80", "10.0.0.2:999", Listen, SynRecv));
        assert_eq!(tr.in_old, None);
        let (tr, _) = t.observe(obs(
            1.25,
            "10.0.0.1:80",
            "10.0.0.2:999",
            SynRecv,
            Established,
        ));
        assert_eq!(tr.in_old, Some(Duration::from_millis(250)));
    }

    #[test]
    fn a_gap_from_lost_events_is_shown_not_guessed() {
        let mut t = Tracker::new();
        t.observe(obs(1.0, "10.0.0.1:80", "10.0.0.2:9", Listen, SynRecv));
        // SYN_RECV→ESTABLISHED was lost.
        let (tr, _) = t.observe(obs(
            2.0,
            "10.0.0.1:80",
            "10.0.0.2:9",
            Established,
            CloseWait,
        ));
        assert_eq!(tr.in_old, None);
        let (_, tl) = t.observe(obs(3.0, "10.0.0.1:80", "10.0.0.2:9", CloseWait, Close));
        let tl = tl.unwrap();
        let states: Vec<_> = tl.steps.iter().map(|s| s.state).collect();
        assert_eq!(states, [Listen, SynRecv, Established, CloseWait, Close]);
        assert_eq!(tl.steps[1].lasted, None);
    }
}
