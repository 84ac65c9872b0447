//! The fallback when the tracepoint cannot be used (not root, no tracefs): list the TCP
//! sockets every few milliseconds and turn the differences between two lists into
//! transitions. Whatever lasts less than one interval is missed, and every output says so.
//! A socket that appears is reported as coming from CLOSE, one that disappears as going to
//! CLOSE; TIME_WAIT, which the tracepoint never shows, appears here like any other state.
//! The lists come from the inspector's `kernel::sockets::SocketScanner` (netlink sock_diag,
//! which any user may dump, or /proc/net/tcp).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::SystemTime;

use super::conns::{Observed, Timeline, Tracker};
use crate::model::{Socket, TcpState, Transition};

/// Socket-list differences made transitions: the sampler's diff, each completed by the tracker
/// (time in the old state, owner, the whole life at CLOSE) exactly as the kernel's events are.
/// The one account of a socket's life that `tcplab trace` gives when sampling and the
/// dashboard gives between refreshes. `owner` names the holder of a socket the tracker knows
/// none for yet.
pub fn transitions(
    sampler: &mut Sampler,
    tracker: &mut Tracker,
    rows: &[Socket],
    clock: f64,
    ts: SystemTime,
    mut owner: impl FnMut(&Observed, &Tracker) -> Option<(i32, String)>,
) -> Vec<(Transition, Option<Timeline>)> {
    sampler
        .diff(rows, clock, ts)
        .into_iter()
        .map(|mut o| {
            if o.new != TcpState::Close && !tracker.knows_owner(o.local, o.remote) {
                o.owner = owner(&o, tracker);
            }
            tracker.observe(o)
        })
        .collect()
}

/// Remembers the last list and reports what changed since.
#[derive(Debug, Default)]
pub struct Sampler {
    port: Option<u16>,
    last: Option<HashMap<(SocketAddr, SocketAddr), TcpState>>,
}

impl Sampler {
    pub fn new(port: Option<u16>) -> Self {
        Sampler { port, last: None }
    }

    /// The transitions between the previous list and `rows`. The first call only sets the
    /// baseline: what exists already did not just happen.
    pub fn diff(&mut self, rows: &[Socket], clock: f64, ts: SystemTime) -> Vec<Observed> {
        let now: HashMap<_, _> = rows
            .iter()
            .filter(|r| {
                self.port
                    .is_none_or(|p| r.local.port() == p || r.remote.port() == p)
            })
            .map(|r| ((r.local, r.remote), r.state))
            .collect();
        let Some(last) = self.last.replace(now) else {
            return Vec::new();
        };
        let now = self.last.as_ref().expect("just set");
        let observed = |(local, remote): (SocketAddr, SocketAddr), old, new| Observed {
            clock,
            ts,
            local,
            remote,
            old,
            new,
            owner: None,
            recorded: None,
            tid: None,
        };
        let mut out = Vec::new();
        for (key, &old) in &last {
            match now.get(key) {
                None => out.push(observed(*key, old, TcpState::Close)),
                Some(&new) if new != old => out.push(observed(*key, old, new)),
                Some(_) => {}
            }
        }
        for (key, &new) in now {
            if !last.contains_key(key) {
                out.push(observed(*key, TcpState::Close, new));
            }
        }
        // Stable order for readers: by socket, then closes after opens.
        out.sort_by_key(|o| (o.local, o.remote, o.new == TcpState::Close));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TcpState::*;

    fn row(local: &str, remote: &str, state: TcpState) -> Socket {
        Socket {
            state,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            recv_q: 0,
            send_q: 0,
            inode: 1,
            uid: 0,
            timer: Default::default(),
            owners: None,
            info: None,
            brief: None,
        }
    }

    fn pairs(v: &[Observed]) -> Vec<(u16, TcpState, TcpState)> {
        v.iter().map(|o| (o.local.port(), o.old, o.new)).collect()
    }

    #[test]
    fn baseline_then_appear_change_vanish() {
        let mut s = Sampler::new(Some(80));
        let t = SystemTime::UNIX_EPOCH;
        let listener = row("0.0.0.0:80", "0.0.0.0:0", Listen);
        assert!(s.diff(std::slice::from_ref(&listener), 0.0, t).is_empty());
        let rows = [
            listener.clone(),
            row("127.0.0.1:80", "127.0.0.1:5000", Established),
            row("127.0.0.1:5000", "127.0.0.1:80", Established),
            row("127.0.0.1:7", "127.0.0.1:9", Established), // another port: ignored
        ];
        assert_eq!(
            pairs(&s.diff(&rows, 0.02, t)),
            [(80, Close, Established), (5000, Close, Established)]
        );
        let rows = [
            listener.clone(),
            row("127.0.0.1:5000", "127.0.0.1:80", TimeWait),
        ];
        assert_eq!(
            pairs(&s.diff(&rows, 0.04, t)),
            [(80, Established, Close), (5000, Established, TimeWait)]
        );
        assert_eq!(
            pairs(&s.diff(&[], 0.06, t)),
            [(80, Listen, Close), (5000, TimeWait, Close)]
        );
    }
}
