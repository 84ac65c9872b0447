//! The transitions the dashboard has seen, and where they come from: the kernel's tracepoint
//! (fed by the runtime, through the same session as `tcplab trace`) or the differences between
//! two refreshes, made transitions by the same function as `trace`'s sampled fallback.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use super::state::{MachineFilter, SeenTransition};
use crate::model::{Snapshot, TcpState, Transition, TransitionSource};
use crate::trace::conns::{Portless, Tracker};
use crate::trace::sampled::{self, Sampler};

/// How many transitions the log keeps.
pub const TRANSITION_LOG: usize = 200;
/// How long a transition keeps its edge lit, counted in refreshes.
pub const LIT_REFRESHES: u64 = 3;

#[derive(Debug)]
pub struct TransitionLog {
    pub source: TransitionSource,
    pub seen: VecDeque<SeenTransition>,
    /// The State machine pane's restriction, and the last transitions that match it: on a busy
    /// machine the log's last `TRANSITION_LOG` are all someone else's within a second.
    scope: Option<MachineFilter>,
    scoped: VecDeque<SeenTransition>,
    sampler: Sampler,
    tracker: Tracker,
    /// Connect lines (local port 0) not yet joined to the socket they became, by `seq`.
    portless: Portless<u64>,
    next_seq: u64,
}

impl TransitionLog {
    pub fn new(source: TransitionSource) -> TransitionLog {
        TransitionLog {
            source,
            seen: VecDeque::new(),
            scope: None,
            scoped: VecDeque::new(),
            sampler: Sampler::default(),
            tracker: Tracker::new(),
            portless: Portless::default(),
            next_seq: 0,
        }
    }

    /// With `Tracepoint` the tracer feeds [`push`](Self::push) and sampling stops; back to
    /// `Sampled` it starts again.
    pub fn set_source(&mut self, source: TransitionSource) {
        // Either way the sampler starts afresh: back to sampling, a diff against an old
        // snapshot would invent transitions; on to the tracepoint, its map of every socket
        // (megabytes at tens of thousands) is not needed any more.
        self.sampler = Sampler::default();
        self.tracker = Tracker::new();
        self.portless.clear();
        self.source = source;
    }

    /// Keeps the last transitions that match `scope` apart, starting with those in the log.
    pub fn set_scope(&mut self, scope: Option<MachineFilter>) {
        if scope == self.scope {
            return;
        }
        self.scope = scope;
        self.scoped = match scope {
            Some(f) => self
                .seen
                .iter()
                .filter(|t| f.matches_transition(&t.transition))
                .cloned()
                .collect(),
            None => VecDeque::new(),
        };
    }

    pub fn is_sampled(&self) -> bool {
        matches!(self.source, TransitionSource::Sampled { .. })
    }

    /// The transitions between the last snapshot and `s`, each with its owner (from the
    /// snapshot's sockets) and the time it spent in the old state.
    pub fn sample(&mut self, s: &Snapshot) -> Vec<Transition> {
        let ts = s.taken_at.unwrap_or(std::time::UNIX_EPOCH);
        let clock = ts
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        // Owners by connection, built on the first transition that needs one.
        let mut owners: Option<HashMap<(SocketAddr, SocketAddr), (i32, String)>> = None;
        let owner_of = |o: &crate::trace::conns::Observed, _: &Tracker| {
            let map = owners.get_or_insert_with(|| {
                s.sockets
                    .iter()
                    .filter_map(|k| {
                        let first = k.owners.as_deref()?.first()?;
                        Some(((k.local, k.remote), (first.pid, first.comm.clone())))
                    })
                    .collect()
            });
            map.get(&(o.local, o.remote)).cloned()
        };
        sampled::transitions(
            &mut self.sampler,
            &mut self.tracker,
            &s.sockets,
            clock,
            ts,
            owner_of,
        )
        .into_iter()
        .map(|(t, _)| t)
        .collect()
    }

    pub fn push(&mut self, list: Vec<Transition>, refresh: u64) {
        for t in list {
            let seq = self.next_seq;
            self.next_seq += 1;
            let conn = (t.local, t.remote);
            if Portless::<u64>::is_connect(t.local, t.old, t.new) {
                self.portless.park(t.local, t.remote, seq);
            } else if t.local.port() != 0 {
                if let Some(at) = self.portless.join(t.local, t.remote, t.old) {
                    self.join(at, conn);
                }
            }
            let seen = SeenTransition {
                transition: t,
                refresh,
                conn,
                seq,
            };
            if self
                .scope
                .is_some_and(|f| f.matches_transition(&seen.transition))
            {
                self.scoped.push_back(seen.clone());
            }
            self.seen.push_back(seen);
        }
        for list in [&mut self.seen, &mut self.scoped] {
            while list.len() > TRANSITION_LOG {
                list.pop_front();
            }
        }
        let first = [&self.seen, &self.scoped]
            .iter()
            .filter_map(|l| l.front().map(|t| t.seq))
            .min();
        if let Some(first) = first {
            self.portless.retain(|&seq| seq >= first);
        }
    }

    /// Gives the connect line `seq` the ends of the socket it became.
    fn join(&mut self, seq: u64, conn: (SocketAddr, SocketAddr)) {
        for list in [&mut self.seen, &mut self.scoped] {
            if let Ok(i) = list.binary_search_by_key(&seq, |t| t.seq) {
                list[i].conn = conn;
            }
        }
    }

    /// Transitions the filter lets through, newest last.
    pub fn filtered<'a>(
        &'a self,
        filter: Option<MachineFilter>,
    ) -> impl DoubleEndedIterator<Item = &'a SeenTransition> + 'a {
        // The scope's own list when it is the one asked for (it reaches further back).
        let (list, check) = match filter {
            Some(f) if self.scope == Some(f) => (&self.scoped, None),
            other => (&self.seen, other),
        };
        list.iter()
            .filter(move |t| check.is_none_or(|f| f.matches_transition(&t.transition)))
    }

    /// The connections the filter lets through, newest first, each once.
    pub fn connections(&self, filter: Option<MachineFilter>) -> Vec<(SocketAddr, SocketAddr)> {
        let mut seen = Vec::new();
        for t in self.filtered(filter).rev() {
            let pair = t.conn;
            if !seen.contains(&pair) {
                seen.push(pair);
            }
        }
        seen
    }

    /// One connection's life as far as the log shows it. For ends with local port 0 (connects
    /// the log cannot tie to a socket yet) there is no life to show: empty.
    pub fn timeline(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Vec<crate::trace::conns::Step> {
        if local.port() == 0 {
            return Vec::new();
        }
        // From both lists: the scope's reaches further back, the log holds the lines the
        // scope leaves out (a connect's portless first line, an owner not known).
        let mut mine: Vec<&SeenTransition> = self
            .seen
            .iter()
            .chain(&self.scoped)
            .filter(|t| t.conn == (local, remote))
            .collect();
        mine.sort_by_key(|t| t.seq);
        mine.dedup_by_key(|t| t.seq);
        crate::trace::conns::timeline_of(mine.into_iter().map(|t| &t.transition))
    }

    /// Edges taken in the last `LIT_REFRESHES` refreshes, each with its age in refreshes (0:
    /// this one), so drawing can fade it; the newest age wins when an edge was taken again.
    pub fn lit_edges(
        &self,
        filter: Option<MachineFilter>,
        refreshes: u64,
    ) -> Vec<(TcpState, TcpState, u64)> {
        let since = refreshes.saturating_sub(LIT_REFRESHES);
        let mut edges: Vec<_> = self
            .filtered(filter)
            .filter(|t| t.refresh > since)
            .map(|t| {
                let age = refreshes.saturating_sub(t.refresh);
                (t.transition.old, t.transition.new, age)
            })
            .collect();
        edges.sort();
        edges.dedup_by_key(|(from, to, _)| (*from, *to));
        edges
    }
}
