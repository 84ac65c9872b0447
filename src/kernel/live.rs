//! The live `SnapshotSource`: processes, TCP sockets and their owners, read from the kernel
//! with everything that can be kept between refreshes kept (netlink socket, buffers, user
//! names, each process's socket descriptors).

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use super::owners::OwnerIndex;
use super::processes::ProcessScanner;
use super::sockets::{ScanDetail, SocketScanner, TcpScan};
use crate::model::{Snapshot, SnapshotSource};

pub struct LiveSource {
    processes: ProcessScanner,
    sockets: SocketScanner,
    /// None when owners are not wanted (`tcplab net --no-owners`).
    owners: Option<OwnerIndex>,
    /// The index, caches and all, while owner lookups are switched off (`set_owner_lookup`).
    parked: Option<OwnerIndex>,
    /// The connection (local, remote) whose whole `tcp_info` each refresh asks for.
    followed: Option<(SocketAddr, SocketAddr)>,
}

impl Default for LiveSource {
    fn default() -> Self {
        LiveSource::new()
    }
}

impl LiveSource {
    /// Processes, sockets and owners.
    pub fn new() -> LiveSource {
        LiveSource {
            processes: ProcessScanner::new(),
            sockets: SocketScanner::new(),
            owners: Some(OwnerIndex::new()),
            parked: None,
            followed: None,
        }
    }

    /// Switches owner lookups off or back on between refreshes, keeping the index's caches:
    /// the dashboard looks owners up only while a view shows them (reading every process's
    /// descriptors is most of a refresh's cost on a busy machine).
    pub fn set_owner_lookup(&mut self, on: bool) {
        if on && self.owners.is_none() {
            self.owners = Some(self.parked.take().unwrap_or_default());
        } else if !on && self.owners.is_some() {
            self.parked = self.owners.take();
        }
    }

    /// Asks the kernel for each socket's `tcp_info` from the next refresh on, or stops: the
    /// dashboard wants it only while a view shows it.
    pub fn set_socket_detail(&mut self, detail: ScanDetail) {
        self.sockets.set_detail(detail);
    }

    /// From the next refresh on, the connection with these ends carries its whole `tcp_info`
    /// (and congestion control's name), asked for by its ends after the dump, whatever the
    /// dump asked for the others (a connection's detail view); None: no such lookup.
    pub fn set_followed(&mut self, followed: Option<(SocketAddr, SocketAddr)>) {
        self.followed = followed;
    }

    /// Whether the socket dump may be split in two (see `sockets::SplitPolicy`); from the next
    /// refresh on, with a fresh socket scanner (examples/dump_cost.rs compares the two).
    pub fn set_split(&mut self, split: super::sockets::SplitPolicy) {
        let options = super::sockets::ScanOptions {
            split,
            ..self.sockets.options()
        };
        self.sockets = SocketScanner::with(options);
    }

    /// Sockets only (no processes, no owners): the cheap scan for sampling.
    pub fn sockets_only(&mut self) -> anyhow::Result<TcpScan> {
        self.sockets.scan()
    }

    /// Processes whose descriptors were read in the last refresh (the rest came from cache).
    pub fn owner_reads(&self) -> Option<usize> {
        self.owners.as_ref().map(|o| o.last_reads())
    }
}

impl SnapshotSource for LiveSource {
    fn snapshot(&mut self) -> anyhow::Result<Snapshot> {
        let started = Instant::now();
        let taken_at = SystemTime::now();
        // The process scan and the kernel's socket dump are independent: run them at once.
        let (process_scanner, socket_scanner) = (&mut self.processes, &mut self.sockets);
        // The dump stays on this thread: its vectors (megabytes at tens of thousands of
        // sockets) then come from this thread's malloc arena every time, not from whichever
        // arena a fresh helper thread is given, which kept RSS higher.
        let (processes, scan) = std::thread::scope(|scope| {
            let listing = scope.spawn(|| process_scanner.scan());
            let scan = socket_scanner.scan();
            let processes = listing
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the process scan panicked")));
            (processes, scan)
        });
        let processes = processes.map_err(|e| anyhow::anyhow!("cannot list /proc: {e}"))?;
        let TcpScan {
            mut sockets,
            from_procfs,
        } = scan?;
        if let (Some((local, remote)), false) = (self.followed, from_procfs) {
            let listed = sockets
                .iter_mut()
                .find(|s| s.local == local && s.remote == remote);
            // Gone since the dump, or the lookup failed: the view keeps what the dump gave.
            if let (Some(listed), Ok(Some(whole))) = (
                listed,
                self.sockets.lookup(local, remote, ScanDetail::TcpInfo),
            ) {
                listed.info = whole.info;
                listed.brief = whole.brief;
            }
        }
        let owners_partial = match &mut self.owners {
            Some(index) => {
                index.refresh_with(&processes, &sockets);
                index.fill(&mut sockets);
                index.is_partial()
            }
            None => true,
        };
        let subreapers = known_subreapers(&processes);
        Ok(Snapshot {
            taken_at: Some(taken_at),
            cost: started.elapsed(),
            processes,
            sockets,
            sockets_from_procfs: from_procfs,
            owners_partial,
            subreapers,
        })
    }
}

/// The subreapers this program can know of. The kernel does not publish the flag in /proc, so:
/// PID 1, this process if it is one (the dashboard makes itself one), and systemd user
/// managers (`systemd --user` always sets it).
pub fn known_subreapers(processes: &[crate::model::Process]) -> Vec<i32> {
    let mut out = vec![1];
    if nix::sys::prctl::get_child_subreaper().unwrap_or(false) {
        out.push(std::process::id() as i32);
    }
    out.extend(
        processes
            .iter()
            .filter(|p| p.pid != 1 && p.comm == "systemd")
            .map(|p| p.pid),
    );
    out
}
