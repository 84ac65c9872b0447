//! Throughput in the dashboard: per socket and per process from two refreshes' byte counters
//! (`model::rates`, the same arithmetic as `tcplab net --rate`), and the recent history of the
//! connection whose detail view is open (its graphs). The connections on screen in the Sockets
//! pane keep a short history of their own (`RECENT` samples each, `WATCHED` connections at
//! most), so a detail view opens with the last minutes already drawn.
//!
//! Everything here is empty while no snapshot carries `tcp_info`: the runtime asks the kernel
//! for it only while a view shows rates (`App::needs_info`).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::SystemTime;

use crate::model::rates::{by_process, Counters, Throughput};
use crate::model::tcp_info::us_as_ms;
use crate::model::{Snapshot, Socket, TcpBrief};

/// Samples kept for the detail view's graphs: ten minutes at the default 1 s refresh.
pub const HISTORY: usize = 600;
/// Samples kept for each connection on screen before its detail view opens: three minutes at
/// the default refresh.
pub const RECENT: usize = 180;
/// Connections with a recent history at most (a tall terminal shows about a hundred rows);
/// with `RECENT` samples of 48 bytes each, under a megabyte in all.
pub const WATCHED: usize = 200;

/// A connection by its two ends (inodes are reused; the pair names the connection).
pub type ConnKey = (SocketAddr, SocketAddr);

#[derive(Debug, Default)]
pub struct Traffic {
    /// The previous refresh's counters and when it was taken.
    prev: Option<(Counters, SystemTime)>,
    /// Index-aligned with the snapshot's sockets; empty while no rates are known.
    pub sockets: Vec<Option<Throughput>>,
    /// pid -> the sum over the sockets it holds (a shared socket counts for each holder).
    pub processes: HashMap<i32, Throughput>,
    /// The connection whose detail view is open, and what it did since.
    pub history: Option<ConnHistory>,
    /// The recent samples of connections on screen, oldest first, with when each was taken.
    recent: HashMap<ConnKey, VecDeque<(SystemTime, ConnSample)>>,
}

/// One connection's samples, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnHistory {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub samples: VecDeque<ConnSample>,
    /// When the first sample was taken: the graphs' zero.
    since: Option<SystemTime>,
    /// The connection as last seen (None once it is gone).
    pub last: Option<Socket>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnSample {
    /// Seconds since the first sample (taken while the connection was on screen, or when its
    /// view opened).
    pub secs: f64,
    /// Bytes per second; None for the first sample.
    pub rate: Option<Throughput>,
    pub cwnd: u32,
    pub rtt_ms: Option<f64>,
    pub total_retrans: u32,
}

impl Traffic {
    /// Rates from this snapshot against the previous one; the open connection's next sample,
    /// and the next sample of each connection in `in_view` (those the Sockets pane shows).
    pub fn update(&mut self, snap: &Snapshot, in_view: &[ConnKey]) {
        if !snap.sockets.iter().any(|s| s.brief.is_some()) {
            self.prev = None;
            self.sockets.clear();
            self.processes.clear();
            self.update_followed(snap);
            return;
        }
        let elapsed = match (&self.prev, snap.taken_at) {
            (Some((_, before)), Some(now)) => now.duration_since(*before).ok(),
            _ => None,
        };
        self.sockets = match (&self.prev, elapsed) {
            (Some((counters, _)), Some(dt)) => counters.rates(&snap.sockets, dt),
            _ => vec![None; snap.sockets.len()],
        };
        self.processes = if snap.owners_partial && snap.sockets.iter().all(|s| s.owners.is_none()) {
            HashMap::new()
        } else {
            by_process(&snap.sockets, &self.sockets)
                .0
                .into_iter()
                .map(|p| (p.pid, p.rate))
                .collect()
        };
        self.prev = snap.taken_at.map(|at| (Counters::of(&snap.sockets), at));
        if let Some(at) = snap.taken_at {
            self.record_recent(snap, at, in_view);
        }
        self.update_followed(snap);
    }

    /// The followed connection as this snapshot has it, and its next sample when the kernel
    /// gave `tcp_info` for it. It is found by its two ends, with or without `tcp_info`: a
    /// socket in TIME_WAIT has none (and inode 0) yet is still in the kernel's table; only
    /// its absence from the snapshot means it is gone.
    fn update_followed(&mut self, snap: &Snapshot) {
        let Some(h) = &mut self.history else {
            return;
        };
        let found = snap
            .sockets
            .iter()
            .position(|s| s.local == h.local && s.remote == h.remote);
        h.last = found.map(|i| snap.sockets[i].clone());
        let (Some(i), Some(at)) = (found, snap.taken_at) else {
            return;
        };
        let Some(info) = &snap.sockets[i].brief else {
            return;
        };
        let since = *h.since.get_or_insert(at);
        h.samples.push_back(sample(
            at.duration_since(since).unwrap_or_default().as_secs_f64(),
            self.sockets.get(i).copied().flatten(),
            info,
        ));
        while h.samples.len() > HISTORY {
            h.samples.pop_front();
        }
    }

    /// The next sample of every connection in view that the snapshot carries `tcp_info` for;
    /// connections neither in view nor followed are forgotten.
    fn record_recent(&mut self, snap: &Snapshot, at: SystemTime, in_view: &[ConnKey]) {
        let followed = self.history.as_ref().map(|h| (h.local, h.remote));
        self.recent
            .retain(|key, _| in_view.contains(key) || followed == Some(*key));
        if in_view.is_empty() {
            return;
        }
        let wanted: HashMap<ConnKey, ()> = in_view.iter().take(WATCHED).map(|k| (*k, ())).collect();
        // Both ports of every connection in view, as bitmaps: nearly every socket is passed
        // over on two bit tests instead of hashing both its addresses (~2 ms an update at
        // 18,000 sockets).
        let mut ports = [[0u64; 1024]; 2];
        for (local, remote) in wanted.keys() {
            for (map, port) in ports.iter_mut().zip([local.port(), remote.port()]) {
                map[usize::from(port >> 6)] |= 1 << (port & 63);
            }
        }
        let in_map =
            |map: &[u64; 1024], port: u16| map[usize::from(port >> 6)] & 1 << (port & 63) != 0;
        for (i, s) in snap.sockets.iter().enumerate() {
            if !in_map(&ports[0], s.local.port()) || !in_map(&ports[1], s.remote.port()) {
                continue;
            }
            let key = (s.local, s.remote);
            let Some(info) = &s.brief else {
                continue;
            };
            if !wanted.contains_key(&key) {
                continue;
            }
            let samples = self.recent.entry(key).or_default();
            samples.push_back((
                at,
                sample(0.0, self.sockets.get(i).copied().flatten(), info),
            ));
            while samples.len() > RECENT {
                samples.pop_front();
            }
        }
    }

    /// Starts recording one connection (its detail view opened), from the samples it has
    /// gathered while on screen.
    pub fn follow(&mut self, socket: &Socket) {
        let key = (socket.local, socket.remote);
        let recent = self.recent.get(&key);
        let since = recent.and_then(|r| r.front()).map(|(at, _)| *at);
        let samples = recent
            .into_iter()
            .flatten()
            .map(|(at, sample)| ConnSample {
                secs: since
                    .and_then(|since| at.duration_since(since).ok())
                    .unwrap_or_default()
                    .as_secs_f64(),
                ..*sample
            })
            .collect();
        self.history = Some(ConnHistory {
            local: socket.local,
            remote: socket.remote,
            samples,
            since,
            last: Some(socket.clone()),
        });
    }

    /// How many samples the connection has gathered while on screen (for tests and the
    /// detail view's caption).
    pub fn recent_len(&self, key: &ConnKey) -> usize {
        self.recent.get(key).map_or(0, VecDeque::len)
    }

    pub fn unfollow(&mut self) {
        self.history = None;
    }

    /// The rate of the `i`-th socket of the snapshot, when known.
    pub fn socket(&self, i: usize) -> Option<Throughput> {
        self.sockets.get(i).copied().flatten()
    }
}

fn sample(secs: f64, rate: Option<Throughput>, info: &TcpBrief) -> ConnSample {
    ConnSample {
        secs,
        rate,
        cwnd: info.snd_cwnd,
        rtt_ms: info.rtt_us().map(us_as_ms),
        total_retrans: info.total_retrans,
    }
}

/// A rate in a table cell: `1.2MiB`, `512B`, `-` when unknown.
pub fn rate_text(bytes_per_s: Option<f64>) -> String {
    match bytes_per_s {
        Some(r) => crate::units::format_size(r.round() as u64),
        None => "-".into(),
    }
}

/// An rtt in a table cell: `0.03`, `8.2`, `215` (ms); `-` before the first sample.
pub fn rtt_text(info: Option<&TcpBrief>) -> String {
    match info.and_then(|i| i.rtt_us()) {
        Some(us) if us < 10_000 => format!("{:.2}", us_as_ms(us)),
        Some(us) if us < 100_000 => format!("{:.1}", us_as_ms(us)),
        Some(us) => format!("{:.0}", us_as_ms(us)),
        None => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TcpState, Timer};
    use std::time::Duration;

    fn socket(inode: u64, local: &str, remote: &str) -> Socket {
        Socket {
            state: TcpState::Established,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            recv_q: 0,
            send_q: 0,
            inode,
            uid: 0,
            timer: Timer::default(),
            owners: None,
            info: None,
            brief: Some(TcpBrief::default()),
        }
    }

    /// Only the connections in view gather samples, also beside sockets that share one or
    /// both of their ports.
    #[test]
    fn connections_in_view_and_no_other_gather_samples() {
        let sockets = vec![
            socket(1, "127.0.0.1:1000", "127.0.0.1:2000"),
            // Both ports of the one in view, other addresses.
            socket(2, "127.0.0.2:1000", "127.0.0.1:2000"),
            socket(3, "127.0.0.1:1000", "127.0.0.3:2000"),
            // One port of it.
            socket(4, "127.0.0.1:1000", "127.0.0.1:2001"),
            socket(5, "127.0.0.1:2000", "127.0.0.1:1000"),
            socket(6, "[::1]:1000", "[::1]:2000"),
        ];
        let in_view = [
            (sockets[0].local, sockets[0].remote),
            (sockets[5].local, sockets[5].remote),
        ];
        let mut traffic = Traffic::default();
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for step in 0..3 {
            let snap = Snapshot {
                taken_at: Some(start + Duration::from_secs(step)),
                sockets: sockets.clone(),
                ..Snapshot::default()
            };
            traffic.update(&snap, &in_view);
        }
        let gathered: Vec<usize> = sockets
            .iter()
            .map(|s| traffic.recent_len(&(s.local, s.remote)))
            .collect();
        assert_eq!(gathered, [3, 0, 0, 0, 0, 3]);
        // Out of view: forgotten.
        traffic.update(
            &Snapshot {
                taken_at: Some(start + Duration::from_secs(3)),
                sockets,
                ..Snapshot::default()
            },
            &in_view[1..],
        );
        assert_eq!(traffic.recent_len(&in_view[0]), 0);
        assert_eq!(traffic.recent_len(&in_view[1]), 4);
    }
}
