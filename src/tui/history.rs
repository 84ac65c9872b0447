//! What the dashboard remembers over the last minutes for its graphs: sockets per state and
//! transitions per second at every refresh, and the server's requests per second and open
//! connections at every `/status` answer. Fixed-size rings, fed by `App::update`'s events;
//! time comes from the snapshots' and the server's own clocks, never from reading one here.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use crate::model::counts::StateCounts;

/// Samples kept per series: ten minutes at the default interval of one second.
pub const SAMPLES: usize = 600;

/// The newest `cap` values pushed, oldest first.
#[derive(Debug, Clone)]
pub struct Ring<T> {
    items: VecDeque<T>,
    cap: usize,
}

impl<T> Ring<T> {
    pub fn new(cap: usize) -> Ring<T> {
        Ring {
            items: VecDeque::with_capacity(cap.min(64)),
            cap: cap.max(1),
        }
    }

    /// Adds `v`, dropping the oldest value when full.
    pub fn push(&mut self, v: T) {
        if self.items.len() == self.cap {
            self.items.pop_front();
        }
        self.items.push_back(v);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn last(&self) -> Option<&T> {
        self.items.back()
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// The newest `n` values (fewer when fewer were pushed), oldest first.
    pub fn newest(&self, n: usize) -> impl Iterator<Item = &T> {
        self.items.iter().skip(self.items.len().saturating_sub(n))
    }
}

/// The socket table at one refresh.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SocketSample {
    pub at: SystemTime,
    pub counts: StateCounts,
    /// Transitions seen since the refresh before, per second; None for the first refresh.
    pub per_sec: Option<f64>,
}

/// The server's counters at one `/status` answer, without the dashboard's own polling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerSample {
    /// The server's uptime when it answered.
    pub uptime: Duration,
    /// Requests per second since the answer before; None for the first answer.
    pub per_sec: Option<f64>,
    pub open: u64,
}

#[derive(Debug, Clone)]
pub struct History {
    pub sockets: Ring<SocketSample>,
    pub server: Ring<ServerSample>,
    /// Transitions seen since the last refresh.
    pending: usize,
    /// The server's `(uptime_ms, requests)` at its last answer.
    last_status: Option<(u64, u64)>,
}

impl Default for History {
    fn default() -> History {
        History {
            sockets: Ring::new(SAMPLES),
            server: Ring::new(SAMPLES),
            pending: 0,
            last_status: None,
        }
    }
}

impl History {
    /// `n` transitions reached the log (the tracer's, or those sampled from a snapshot).
    pub fn transitions(&mut self, n: usize) {
        self.pending += n;
    }

    /// A refresh taken at `at` (the snapshot's clock) with these counts; the transitions seen
    /// since the last one become a rate over the time between the two.
    pub fn refreshed(&mut self, at: Option<SystemTime>, counts: StateCounts) {
        let Some(at) = at else { return };
        let dt = self
            .sockets
            .last()
            .and_then(|prev| at.duration_since(prev.at).ok())
            .filter(|d| !d.is_zero());
        let per_sec = dt.map(|d| self.pending as f64 / d.as_secs_f64());
        self.pending = 0;
        self.sockets.push(SocketSample {
            at,
            counts,
            per_sec,
        });
    }

    /// The server answered `/status` with `doc` over the dashboard's own kept-alive
    /// connection: that connection and the poll itself are taken out of what is recorded.
    pub fn server_status(&mut self, doc: &serde_json::Value) {
        let field = |k: &str| doc.get(k).and_then(|v| v.as_u64());
        let (Some(uptime_ms), Some(requests)) = (field("uptime_ms"), field("requests")) else {
            return;
        };
        let open = field("connections_open").unwrap_or(0).saturating_sub(1);
        let per_sec = match self.last_status {
            Some((t0, r0)) if uptime_ms > t0 && requests >= r0 => {
                // One of the requests in between is this poll.
                let others = (requests - r0).saturating_sub(1);
                Some(others as f64 * 1000.0 / (uptime_ms - t0) as f64)
            }
            // A restarted server: its counters began again.
            _ => None,
        };
        self.last_status = Some((uptime_ms, requests));
        self.server.push(ServerSample {
            uptime: Duration::from_millis(uptime_ms),
            per_sec,
            open,
        });
    }

    /// A new server: its history starts empty.
    pub fn server_started(&mut self) {
        self.server.clear();
        self.last_status = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_keeps_the_newest_values_in_order() {
        let mut r = Ring::new(3);
        for i in 0..5 {
            r.push(i);
        }
        assert_eq!(r.len(), 3);
        assert_eq!(r.newest(10).copied().collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!(r.newest(2).copied().collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(r.last(), Some(&4));
    }

    #[test]
    fn server_rates_leave_out_the_dashboards_own_poll() {
        let mut h = History::default();
        let doc = |up: u64, req: u64, open: u64| serde_json::json!({"uptime_ms": up, "requests": req, "connections_open": open});
        h.server_status(&doc(1000, 1, 1));
        h.server_status(&doc(3000, 42, 6));
        h.server_status(&doc(4000, 43, 1));
        let got: Vec<(Option<f64>, u64)> =
            h.server.newest(3).map(|s| (s.per_sec, s.open)).collect();
        assert_eq!(got, vec![(None, 0), (Some(20.0), 5), (Some(0.0), 0)]);
        // A restarted server starts a new count rather than a negative rate.
        h.server_status(&doc(500, 1, 1));
        assert_eq!(h.server.last().unwrap().per_sec, None);
    }
}
