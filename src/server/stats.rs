//! Counters a worker keeps about itself, readable by every process of the server: `/status`
//! renders every slot in use. A slot is `#[repr(C)]` and all atomics, so a master can place
//! one slot per worker in a MAP_SHARED anonymous mapping made before fork; each worker is the
//! only writer of its own slot, so updates are a plain load and store, not a locked add.
//!
//! `/metrics` wants counters of the whole server that survive workers: a worker's slot keeps its
//! counters after the worker exits, and before the master hands the slot to a new worker it
//! folds them into [`ServerTotals`] (under a sequence lock, so a reader never sees them twice
//! or not at all). The totals are the retired sum plus every slot.

use std::sync::atomic::{fence, AtomicU64, Ordering, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

/// One worker's counters. All zero means "slot not in use".
#[repr(C)]
#[derive(Debug, Default)]
pub struct Stats {
    /// The worker's pid; 0 while the slot is free.
    pub pid: AtomicU64,
    /// When the worker started, in milliseconds since the Unix epoch.
    pub started_unix_ms: AtomicU64,
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub requests: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Responses by status class: 1xx at index 0 to 5xx at index 4.
    pub responses: [AtomicU64; 5],
}

/// A copy of one slot, read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsView {
    pub pid: u64,
    pub started_unix_ms: u64,
    pub connections_open: u64,
    pub connections_total: u64,
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Responses by status class (1xx..5xx); not part of `/status`.
    #[serde(skip)]
    pub responses: [u64; 5],
}

/// Single-writer add: only the owning worker writes its slot.
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

impl Stats {
    pub const fn new() -> Stats {
        Stats {
            pid: AtomicU64::new(0),
            started_unix_ms: AtomicU64::new(0),
            connections_open: AtomicU64::new(0),
            connections_total: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            responses: [const { AtomicU64::new(0) }; 5],
        }
    }

    /// Takes the slot for the calling process: zeroes the counters, stamps pid and start time.
    pub fn claim(&self) {
        self.connections_open.store(0, Relaxed);
        self.zero_counters();
        self.started_unix_ms.store(unix_ms(), Relaxed);
        self.pid.store(u64::from(std::process::id()), Relaxed);
    }

    /// Zeroes what only grows (the counters, not the gauges or the slot's identity).
    fn zero_counters(&self) {
        for c in [
            &self.connections_total,
            &self.requests,
            &self.bytes_in,
            &self.bytes_out,
        ]
        .into_iter()
        .chain(&self.responses)
        {
            c.store(0, Relaxed);
        }
    }

    /// Frees the slot (a worker exiting, or a master clearing a dead worker's slot).
    pub fn release(&self) {
        self.pid.store(0, Relaxed);
        self.connections_open.store(0, Relaxed);
    }

    pub fn in_use(&self) -> bool {
        self.pid.load(Relaxed) != 0
    }

    pub fn opened(&self) {
        bump(&self.connections_open, 1);
        bump(&self.connections_total, 1);
    }

    pub fn closed(&self) {
        let c = &self.connections_open;
        c.store(c.load(Relaxed).saturating_sub(1), Relaxed);
    }

    pub fn add_requests(&self, n: u64) {
        bump(&self.requests, n);
    }

    pub fn add_bytes_in(&self, n: u64) {
        bump(&self.bytes_in, n);
    }

    pub fn add_bytes_out(&self, n: u64) {
        bump(&self.bytes_out, n);
    }

    /// One response sent with status `code` (counted by class; nonsense codes as 5xx).
    pub fn answered(&self, code: u16) {
        let class = usize::from(code / 100).clamp(1, 5) - 1;
        bump(&self.responses[class], 1);
    }

    pub fn view(&self) -> StatsView {
        StatsView {
            pid: self.pid.load(Relaxed),
            started_unix_ms: self.started_unix_ms.load(Relaxed),
            connections_open: self.connections_open.load(Relaxed),
            connections_total: self.connections_total.load(Relaxed),
            requests: self.requests.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            responses: std::array::from_fn(|i| self.responses[i].load(Relaxed)),
        }
    }
}

impl StatsView {
    /// Adds the counters (not the gauges, pid or start time) of `other`.
    fn add_counters(&mut self, other: &StatsView) {
        self.connections_total += other.connections_total;
        self.requests += other.requests;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        for (a, b) in self.responses.iter_mut().zip(other.responses) {
            *a += b;
        }
    }
}

/// Counters of the whole server that outlive its workers; written by the master only (or by a
/// one-process server, its own master).
#[repr(C)]
#[derive(Debug, Default)]
pub struct ServerTotals {
    /// Odd while the master folds a slot into `retired`: readers retry.
    seq: AtomicU64,
    /// The counters of every worker whose slot was handed to another worker since start.
    retired: Stats,
    /// HUPs carried out: a new generation of workers, or a one-process server's reload in
    /// place (its logs reopened).
    pub reloads: AtomicU64,
    /// Workers that died unexpectedly and were replaced.
    pub respawns: AtomicU64,
}

impl ServerTotals {
    pub const fn new() -> ServerTotals {
        ServerTotals {
            seq: AtomicU64::new(0),
            retired: Stats::new(),
            reloads: AtomicU64::new(0),
            respawns: AtomicU64::new(0),
        }
    }

    /// Moves a dead worker's counters from its slot into the retired sum, before the slot is
    /// reused. The caller must be the only writer (the master, after reaping the slot's worker).
    pub fn fold(&self, slot: &Stats) {
        self.seq.fetch_add(1, Relaxed);
        fence(Ordering::Release);
        let v = slot.view();
        let r = &self.retired;
        bump(&r.connections_total, v.connections_total);
        bump(&r.requests, v.requests);
        bump(&r.bytes_in, v.bytes_in);
        bump(&r.bytes_out, v.bytes_out);
        for (a, b) in r.responses.iter().zip(v.responses) {
            bump(a, b);
        }
        slot.zero_counters();
        self.seq.fetch_add(1, Ordering::Release);
    }

    pub fn bump_reloads(&self) {
        bump(&self.reloads, 1);
    }

    pub fn bump_respawns(&self) {
        bump(&self.respawns, 1);
    }
}

/// Every worker's slot, and which one is this process's own.
#[derive(Debug, Clone, Copy)]
pub struct Scoreboard {
    slots: &'static [Stats],
    totals: &'static ServerTotals,
    own: usize,
}

impl Scoreboard {
    /// A scoreboard over `slots` and `totals` (e.g. a shared mapping made before fork),
    /// writing to `own`.
    pub fn new(slots: &'static [Stats], totals: &'static ServerTotals, own: usize) -> Scoreboard {
        assert!(own < slots.len(), "slot {own} of {}", slots.len());
        Scoreboard { slots, totals, own }
    }

    /// One slot of process-private memory: a single-process server.
    pub fn single() -> Scoreboard {
        Scoreboard::new(
            Box::leak(Box::new([Stats::new()])),
            Box::leak(Box::new(ServerTotals::new())),
            0,
        )
    }

    pub fn own(&self) -> &'static Stats {
        &self.slots[self.own]
    }

    /// Slots whose worker is alive.
    pub fn in_use(&self) -> impl Iterator<Item = StatsView> + '_ {
        self.slots.iter().filter(|s| s.in_use()).map(Stats::view)
    }

    /// Slots whose worker is alive, with their index (the `worker` label of `/metrics`).
    pub fn in_use_indexed(&self) -> impl Iterator<Item = (usize, StatsView)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.in_use())
            .map(|(i, s)| (i, s.view()))
    }

    /// Counters of the whole server since it started, whichever workers counted them; the
    /// gauge `connections_open` is the live workers' sum.
    pub fn totals(&self) -> StatsView {
        loop {
            let before = self.totals.seq.load(Ordering::Acquire);
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let mut sum = self.totals.retired.view();
            sum.connections_open = 0;
            for slot in self.slots {
                let v = slot.view();
                sum.add_counters(&v);
                if v.pid != 0 {
                    sum.connections_open += v.connections_open;
                }
            }
            fence(Ordering::Acquire);
            if self.totals.seq.load(Relaxed) == before {
                return sum;
            }
        }
    }

    pub fn server_totals(&self) -> &'static ServerTotals {
        self.totals
    }
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The `/status` document: totals over every worker in use, then each worker.
#[derive(Debug, serde::Serialize)]
pub struct StatusDoc {
    pub pid: u32,
    pub model: &'static str,
    pub uptime_ms: u64,
    /// `--shutdown-timeout`: how long a graceful stop or a reload lets connections drain. The
    /// control commands read it here to know how long to wait.
    pub shutdown_timeout_ms: u64,
    /// `--model uring` only: `multishot` or `single-shot` receives (see Config).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uring_receives: Option<&'static str>,
    pub connections_open: u64,
    pub connections_total: u64,
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Reloads (HUP) since start; `tcplab reload` watches it on a one-process server.
    pub reloads: u64,
    pub workers: Vec<WorkerDoc>,
}

#[derive(Debug, serde::Serialize)]
pub struct WorkerDoc {
    pub uptime_ms: u64,
    #[serde(flatten)]
    pub stats: StatsView,
}

impl StatusDoc {
    pub fn collect(board: &Scoreboard, config: &super::config::Config) -> StatusDoc {
        let now = unix_ms();
        let workers: Vec<WorkerDoc> = board
            .in_use()
            .map(|stats| WorkerDoc {
                uptime_ms: now.saturating_sub(stats.started_unix_ms),
                stats,
            })
            .collect();
        let total = |f: fn(&StatsView) -> u64| workers.iter().map(|w| f(&w.stats)).sum();
        StatusDoc {
            pid: config.server_pid,
            model: config.model.name(),
            uptime_ms: now.saturating_sub(config.server_started_unix_ms),
            shutdown_timeout_ms: config.shutdown_timeout.as_millis() as u64,
            uring_receives: config.uring_receives,
            connections_open: total(|s| s.connections_open),
            connections_total: total(|s| s.connections_total),
            requests: total(|s| s.requests),
            bytes_in: total(|s| s.bytes_in),
            bytes_out: total(|s| s.bytes_out),
            reloads: board.server_totals().reloads.load(Relaxed),
            workers,
        }
    }
}
