//! Transitions inferred by comparing two snapshots, for when the kernel tracepoint is not
//! available: a socket whose state changed between refreshes, or that vanished (it reached
//! CLOSE). States shorter than the interval are missed, and the screen says "sampled".

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use crate::model::{Socket, TcpState, Transition};

/// What the previous refresh saw of one connection: its state and first owner's pid (the
/// caller names it: no string per socket per refresh).
type Seen = (TcpState, Option<i32>);

/// The states seen at the previous refresh, by (local, remote).
#[derive(Debug, Default)]
pub struct Sampler {
    prev: HashMap<(SocketAddr, SocketAddr), Seen>,
    seen_first: bool,
}

impl Sampler {
    /// Compares `sockets` with the previous call's and returns what changed, stamped `ts`.
    pub fn diff(&mut self, sockets: &[Socket], ts: SystemTime) -> Vec<Transition> {
        let mut next = HashMap::with_capacity(sockets.len());
        let mut out = Vec::new();
        for s in sockets {
            let pid = s.owners.as_deref().and_then(|o| o.first()).map(|o| o.pid);
            let key = (s.local, s.remote);
            if let Some((old, _)) = self.prev.get(&key) {
                if *old != s.state {
                    out.push(transition(s.local, s.remote, *old, s.state, ts, pid));
                }
            }
            next.insert(key, (s.state, pid));
        }
        if self.seen_first {
            for ((local, remote), (old, pid)) in &self.prev {
                if !next.contains_key(&(*local, *remote)) && *old != TcpState::Close {
                    out.push(transition(*local, *remote, *old, TcpState::Close, ts, *pid));
                }
            }
        }
        self.prev = next;
        self.seen_first = true;
        out.sort_by_key(|t| (t.local, t.remote));
        out
    }
}

fn transition(
    local: SocketAddr,
    remote: SocketAddr,
    old: TcpState,
    new: TcpState,
    ts: SystemTime,
    pid: Option<i32>,
) -> Transition {
    Transition {
        ts,
        local,
        remote,
        old,
        new,
        in_old: None::<Duration>,
        pid,
        comm: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fake;

    #[test]
    fn reports_changes_and_vanished_sockets() {
        let t0 = SystemTime::UNIX_EPOCH;
        let mut s = Sampler::default();
        let mut socks = fake::sample().sockets;
        assert!(s.diff(&socks, t0).is_empty());
        socks[2].state = TcpState::FinWait1; // ESTABLISHED -> FIN_WAIT1
        let tw = socks.remove(8); // TIME_WAIT expired
        let got = s.diff(&socks, t0);
        let pairs: Vec<_> = got.iter().map(|t| (t.local, t.old, t.new)).collect();
        assert!(pairs.contains(&(socks[2].local, TcpState::Established, TcpState::FinWait1)));
        assert!(pairs.contains(&(tw.local, TcpState::TimeWait, TcpState::Close)));
        assert_eq!(got.len(), 2);
    }
}
