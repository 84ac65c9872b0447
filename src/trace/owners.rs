//! Who owns a socket, by its (local, remote) pair: the socket list gives the inode, the
//! processes' descriptors give the holders (both from the inspector's `kernel` code). Used for transitions the kernel made in softirq,
//! where the task on the trace line is just whoever was on the CPU. Looked up lazily, with
//! refreshes spaced out by their own cost so a busy machine does not drown in /proc reads.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::kernel::owners::OwnerIndex;
use crate::kernel::sockets::SocketScanner;

/// Resolves the owner of a live socket from what was last read; None when it is gone, not
/// visible to us, or not read yet.
pub trait OwnerLookup {
    fn cached(&self, local: SocketAddr, remote: SocketAddr) -> Option<(i32, String)>;
    /// Reads the machine again unless that was done too recently; true when it did.
    fn refresh_if_due(&mut self) -> bool;
}

/// The inspector's socket list for the inode and its owner index (/proc/*/fd, cached per
/// process) for the holders; the lowest pid holding it (after fork, the parent).
pub struct ProcOwners {
    scanner: SocketScanner,
    index: OwnerIndex,
    by_pair: HashMap<(SocketAddr, SocketAddr), u64>,
    refreshed: Option<Instant>,
    gap: Duration,
}

impl Default for ProcOwners {
    fn default() -> Self {
        ProcOwners {
            scanner: SocketScanner::new(),
            index: OwnerIndex::new(),
            by_pair: HashMap::new(),
            refreshed: None,
            gap: MIN_GAP,
        }
    }
}

/// Refreshes are at least this far apart, and at least ten times their own cost.
const MIN_GAP: Duration = Duration::from_millis(200);

impl ProcOwners {
    fn refresh(&mut self) {
        let started = Instant::now();
        self.by_pair.clear();
        if let Ok(scan) = self.scanner.scan() {
            // Unreadable processes (not root) only make owners unknown.
            let _ = self.index.refresh(&scan.sockets);
            self.by_pair = scan
                .sockets
                .into_iter()
                .filter(|s| s.inode != 0)
                .map(|s| ((s.local, s.remote), s.inode))
                .collect();
        }
        self.refreshed = Some(Instant::now());
        self.gap = MIN_GAP.max(started.elapsed() * 10);
    }
}

impl OwnerLookup for ProcOwners {
    fn cached(&self, local: SocketAddr, remote: SocketAddr) -> Option<(i32, String)> {
        let inode = self.by_pair.get(&(local, remote))?;
        let first = self.index.owners(*inode)?.into_iter().next()?;
        Some((first.pid, first.comm))
    }

    fn refresh_if_due(&mut self) -> bool {
        let due = self.refreshed.is_none_or(|t| t.elapsed() >= self.gap);
        if due {
            self.refresh();
        }
        due
    }
}
