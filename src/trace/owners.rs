//! Who owns a socket, by its (local, remote) pair: the socket list gives the inode, the
//! processes' descriptors give the holders. Used for transitions the kernel made in softirq,
//! where the task on the trace line is just whoever was on the CPU. Looked up lazily, with
//! refreshes spaced out by their own cost so a busy machine does not drown in /proc reads.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::sampled::{ProcNetTcp, SocketTable};

/// Resolves the owner of a live socket; None when it is gone or not visible to us.
pub trait OwnerLookup {
    fn owner(&mut self, local: SocketAddr, remote: SocketAddr) -> Option<(i32, String)>;
}

/// The /proc implementation: /proc/net/tcp{,6} for the inode, /proc/*/fd for the holder (the
/// lowest pid holding it, which after fork is the parent).
pub struct ProcOwners {
    table: Box<dyn SocketTable + Send>,
    by_pair: HashMap<(SocketAddr, SocketAddr), u64>,
    by_inode: HashMap<u64, (i32, String)>,
    refreshed: Option<Instant>,
    gap: Duration,
}

impl Default for ProcOwners {
    fn default() -> Self {
        ProcOwners::new(Box::new(ProcNetTcp))
    }
}

/// Refreshes are at least this far apart, and at least ten times their own cost.
const MIN_GAP: Duration = Duration::from_millis(200);

impl ProcOwners {
    pub fn new(table: Box<dyn SocketTable + Send>) -> Self {
        ProcOwners {
            table,
            by_pair: HashMap::new(),
            by_inode: HashMap::new(),
            refreshed: None,
            gap: MIN_GAP,
        }
    }

    fn refresh(&mut self) {
        let started = Instant::now();
        self.by_pair.clear();
        self.by_inode.clear();
        if let Ok(rows) = self.table.tcp_sockets() {
            self.by_pair = rows
                .into_iter()
                .filter(|r| r.inode != 0)
                .map(|r| ((r.local, r.remote), r.inode))
                .collect();
        }
        if let Ok(procs) = procfs::process::all_processes() {
            // Processes vanish and deny access mid-scan: skip those.
            for p in procs.flatten() {
                let Ok(fds) = p.fd() else { continue };
                let mut comm: Option<String> = None;
                for fd in fds.flatten() {
                    if let procfs::process::FDTarget::Socket(inode) = fd.target {
                        if let std::collections::hash_map::Entry::Vacant(v) =
                            self.by_inode.entry(inode)
                        {
                            let comm = comm.get_or_insert_with(|| {
                                p.stat().map(|s| s.comm).unwrap_or_default()
                            });
                            v.insert((p.pid, comm.clone()));
                        }
                    }
                }
            }
        }
        self.refreshed = Some(Instant::now());
        self.gap = MIN_GAP.max(started.elapsed() * 10);
    }

    fn cached(&self, local: SocketAddr, remote: SocketAddr) -> Option<(i32, String)> {
        let inode = self.by_pair.get(&(local, remote))?;
        self.by_inode.get(inode).cloned()
    }
}

impl OwnerLookup for ProcOwners {
    fn owner(&mut self, local: SocketAddr, remote: SocketAddr) -> Option<(i32, String)> {
        if let Some(o) = self.cached(local, remote) {
            return Some(o);
        }
        if self.refreshed.is_none_or(|t| t.elapsed() >= self.gap) {
            self.refresh();
            return self.cached(local, remote);
        }
        None
    }
}
