//! The worker table: one slot per worker in a `MAP_SHARED` anonymous mapping made by the master
//! before it forks. Each worker writes its own counters (a [`Stats`], the reactor's type) and any
//! worker can read all of them to answer `/status` for the whole server; the master uses the
//! control half (the generation) and the counters' start time (readiness) to run reloads.
//!
//! Everything in it is a plain atomic: all-zero bytes are a valid, empty table, and no pointer is
//! ever stored (it would mean nothing in another process). A slot is free while its `pid` is 0;
//! the master stamps the pid right after fork and clears it after reaping the worker.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

use nix::sys::mman::{mmap_anonymous, MapFlags, ProtFlags};
use nix::unistd::Pid;

use super::stats::{unix_ms, Scoreboard, ServerTotals, Stats};

/// More workers than anyone runs on one machine; TTIN stops growing past it.
pub const MAX_WORKERS: usize = 256;

/// What only the master and the worker itself use.
#[repr(C)]
pub struct Control {
    /// Reload generation the worker was forked for (HUP starts a new one).
    pub generation: AtomicU32,
}

#[repr(C)]
struct Table {
    master_pid: AtomicI32,
    master_started_ms: AtomicU64,
    stats: [Stats; MAX_WORKERS],
    control: [Control; MAX_WORKERS],
    totals: ServerTotals,
}

/// A shared table that lives as long as the process (and its forked children).
#[derive(Clone, Copy)]
pub struct WorkerTable {
    table: &'static Table,
}

impl WorkerTable {
    /// Maps the table; call before the first fork so every worker shares the same pages.
    pub fn new() -> std::io::Result<WorkerTable> {
        let len = NonZeroUsize::new(std::mem::size_of::<Table>()).expect("table is not empty");
        // SAFETY: a fresh anonymous mapping at an address the kernel picks aliases no Rust
        // object. It is zero-filled, and an all-zero `Table` is valid (only atomic integers).
        // Page alignment exceeds the table's alignment. It is never unmapped, so handing out
        // `&'static` is sound; MAP_SHARED makes forked children see the same physical pages.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }
        .map_err(std::io::Error::from)?;
        // SAFETY: as above: valid, zeroed, aligned, and alive for the rest of the process.
        let table: &'static Table = unsafe { &*(ptr.as_ptr() as *const Table) };
        table
            .master_pid
            .store(nix::unistd::getpid().as_raw(), Ordering::Relaxed);
        table.master_started_ms.store(unix_ms(), Ordering::Relaxed);
        Ok(WorkerTable { table })
    }

    pub fn master_pid(&self) -> u32 {
        self.table.master_pid.load(Ordering::Relaxed) as u32
    }

    pub fn master_started_ms(&self) -> u64 {
        self.table.master_started_ms.load(Ordering::Relaxed)
    }

    /// Prepares a slot that `taken` does not name for a worker about to be forked; None when
    /// all are taken.
    pub fn claim(&self, generation: u32, taken: &dyn Fn(usize) -> bool) -> Option<usize> {
        let index = (0..MAX_WORKERS).find(|&i| !taken(i))?;
        // The slot's last worker is reaped: its counters move to the server's totals, so
        // `/metrics` keeps counting them after its slot starts over.
        self.table.totals.fold(&self.table.stats[index]);
        self.table.control[index]
            .generation
            .store(generation, Ordering::Relaxed);
        // Not ready until the worker claims its counters (`Stats::claim`), which every model
        // does once its loop is set up: logs open, signals handled, listener registered.
        self.table.stats[index]
            .started_unix_ms
            .store(0, Ordering::Relaxed);
        Some(index)
    }

    /// Marks the slot as the worker `pid`'s (the master right after fork; the worker's own
    /// `Stats::claim` stamps the same pid and zeroes the counters).
    pub fn assign(&self, index: usize, pid: Pid) {
        self.table.stats[index]
            .pid
            .store(pid.as_raw() as u64, Ordering::Relaxed);
    }

    /// Clears the slot of the reaped worker `pid` (it may have cleared it itself on exit).
    pub fn release(&self, index: usize, pid: Pid) {
        let stats = &self.table.stats[index];
        if stats.pid.load(Ordering::Relaxed) == pid.as_raw() as u64 {
            stats.release();
        }
    }

    pub fn control(&self, index: usize) -> &'static Control {
        &self.table.control[index]
    }

    /// The worker in this slot has set itself up and is about to serve: a reload retires the
    /// old workers only once fresh ones are.
    pub fn ready(&self, index: usize) -> bool {
        self.table.stats[index]
            .started_unix_ms
            .load(Ordering::Relaxed)
            != 0
    }

    /// The reactor's view of the table, writing to slot `own`.
    pub fn scoreboard(&self, own: usize) -> Scoreboard {
        Scoreboard::new(&self.table.stats, &self.table.totals, own)
    }

    /// The counters of the whole server (reloads, respawns, retired workers' counts).
    pub fn totals(&self) -> &'static ServerTotals {
        &self.table.totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_claimed_assigned_and_released() {
        let table = WorkerTable::new().unwrap();
        assert_eq!(table.master_pid(), std::process::id());
        let none = |_: usize| false;
        let a = table.claim(1, &none).unwrap();
        table.assign(a, Pid::from_raw(4242));
        let b = table.claim(1, &|i| i == a).unwrap();
        assert_ne!(a, b);
        table.assign(b, Pid::from_raw(4343));
        let pids: Vec<u64> = table.scoreboard(a).in_use().map(|s| s.pid).collect();
        assert_eq!(pids, vec![4242, 4343]);
        assert!(
            !table.ready(b),
            "ready before the worker claimed its counters"
        );
        table.scoreboard(b).own().claim();
        assert!(table.ready(b));
        // Releasing for another pid (the slot was reused) leaves it alone.
        table.release(a, Pid::from_raw(1));
        assert_eq!(table.scoreboard(b).in_use().count(), 2);
        table.release(a, Pid::from_raw(4242));
        assert_eq!(table.scoreboard(b).in_use().count(), 1);
        assert_eq!(table.claim(2, &|i| i == b), Some(a));
        assert_eq!(table.control(a).generation.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_reused_slot_keeps_its_old_counts_in_the_totals() {
        let table = WorkerTable::new().unwrap();
        let none = |_: usize| false;
        let a = table.claim(1, &none).unwrap();
        let board = table.scoreboard(a);
        board.own().claim();
        board.own().opened();
        board.own().add_requests(3);
        board.own().answered(200);
        board.own().answered(404);
        board.own().add_bytes_out(10);
        let before = board.totals();
        assert_eq!((before.requests, before.connections_open), (3, 1));
        assert_eq!(before.responses, [0, 1, 0, 1, 0]);
        // The worker exits and is reaped; its counts stay until the slot is reused...
        board.own().release();
        table.release(a, Pid::from_raw(std::process::id() as i32));
        let after_exit = board.totals();
        assert_eq!(after_exit.connections_open, 0);
        assert_eq!(after_exit.requests, 3);
        // ... and after: the slot starts over, the server's totals do not.
        assert_eq!(table.claim(2, &none), Some(a));
        board.own().claim();
        board.own().add_requests(1);
        let reused = board.totals();
        assert_eq!(reused.requests, 4);
        assert_eq!(reused.bytes_out, 10);
        assert_eq!(reused.responses, [0, 1, 0, 1, 0]);
        assert_eq!(board.own().view().requests, 1);
    }
}
