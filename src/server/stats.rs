//! Counters a worker keeps about itself, readable by every process of the server: `/status`
//! renders every slot in use. A slot is `#[repr(C)]` and all atomics, so a master can place
//! one slot per worker in a MAP_SHARED anonymous mapping made before fork; each worker is the
//! only writer of its own slot, so updates are a plain load and store, not a locked add.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
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
}

/// A copy of one slot, read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StatsView {
    pub pid: u64,
    pub started_unix_ms: u64,
    pub connections_open: u64,
    pub connections_total: u64,
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
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
        }
    }

    /// Takes the slot for the calling process: zeroes the counters, stamps pid and start time.
    pub fn claim(&self) {
        self.connections_open.store(0, Relaxed);
        self.connections_total.store(0, Relaxed);
        self.requests.store(0, Relaxed);
        self.bytes_in.store(0, Relaxed);
        self.bytes_out.store(0, Relaxed);
        self.started_unix_ms.store(unix_ms(), Relaxed);
        self.pid.store(u64::from(std::process::id()), Relaxed);
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

    pub fn view(&self) -> StatsView {
        StatsView {
            pid: self.pid.load(Relaxed),
            started_unix_ms: self.started_unix_ms.load(Relaxed),
            connections_open: self.connections_open.load(Relaxed),
            connections_total: self.connections_total.load(Relaxed),
            requests: self.requests.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
        }
    }
}

/// Every worker's slot, and which one is this process's own.
#[derive(Debug, Clone, Copy)]
pub struct Scoreboard {
    slots: &'static [Stats],
    own: usize,
}

impl Scoreboard {
    /// A scoreboard over `slots` (e.g. a shared mapping made before fork), writing to `own`.
    pub fn new(slots: &'static [Stats], own: usize) -> Scoreboard {
        assert!(own < slots.len(), "slot {own} of {}", slots.len());
        Scoreboard { slots, own }
    }

    /// One slot of process-private memory: a single-process server.
    pub fn single() -> Scoreboard {
        Scoreboard::new(Box::leak(Box::new([Stats::new()])), 0)
    }

    pub fn own(&self) -> &'static Stats {
        &self.slots[self.own]
    }

    /// Slots whose worker is alive.
    pub fn in_use(&self) -> impl Iterator<Item = StatsView> + '_ {
        self.slots.iter().filter(|s| s.in_use()).map(Stats::view)
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
    pub connections_open: u64,
    pub connections_total: u64,
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub workers: Vec<WorkerDoc>,
}

#[derive(Debug, serde::Serialize)]
pub struct WorkerDoc {
    pub uptime_ms: u64,
    #[serde(flatten)]
    pub stats: StatsView,
}

impl StatusDoc {
    /// `server_pid`, `server_started_ms`: the master's (or the only process's).
    pub fn collect(
        board: &Scoreboard,
        model: &'static str,
        server_pid: u32,
        server_started_ms: u64,
    ) -> StatusDoc {
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
            pid: server_pid,
            model,
            uptime_ms: now.saturating_sub(server_started_ms),
            connections_open: total(|s| s.connections_open),
            connections_total: total(|s| s.connections_total),
            requests: total(|s| s.requests),
            bytes_in: total(|s| s.bytes_in),
            bytes_out: total(|s| s.bytes_out),
            workers,
        }
    }
}
