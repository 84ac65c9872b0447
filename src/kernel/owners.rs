//! Who holds each socket: every (pid, fd) whose descriptor is `socket:[INODE]`. After fork a
//! listening socket has many holders, and every one is listed.
//!
//! Walking /proc/*/fd is the expensive part of a refresh (one readlink per descriptor), so the
//! index keeps each process's socket descriptors between refreshes and re-reads a process only
//! when it is new, its start time changed (pid reused), or its descriptor count changed (cheap:
//! the size of /proc/PID/fd on Linux 6.2+), or one of its TCP sockets is gone from the
//! kernel's list (closed one, opened another: the same count). A socket inode that no cached
//! process holds for two refreshes in a row triggers one re-read of every process not read
//! this round (a socket can be taken without changing the count); inodes still unheld after
//! that are remembered so they do not trigger it again.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io;
use std::time::Duration;

use super::fd_walk::socket_fds;
use super::parse::stat::parse_stat;
use super::processes::{fd_size_is_count, list_pids};
use super::{clock_ticks, read_into, ticks_to_duration};
use crate::model::socket::InodeHash;
use crate::model::{Owner, Process, Socket};

/// What the index needs to know about a live process.
#[derive(Debug, Clone, Copy)]
pub struct PidInfo<'a> {
    pub pid: i32,
    /// Start time since boot: with the pid, the process's identity (pids are reused).
    pub start_time: Duration,
    pub comm: &'a str,
    /// The size of /proc/PID/fd when the kernel reports the count; None otherwise.
    pub fd_count: Option<usize>,
}

#[derive(Debug)]
struct PidFds {
    start_time: Duration,
    fd_count: Option<usize>,
    comm: String,
    /// (fd, inode) of every socket descriptor.
    sockets: Vec<(i32, u64)>,
    /// False when /proc/PID/fd could not be read (another user's process, we are not root).
    readable: bool,
    read_gen: u64,
    seen_gen: u64,
}

/// inode -> every (pid, fd) holding it, kept up to date cheaply between refreshes.
#[derive(Debug)]
pub struct OwnerIndex {
    pids: HashMap<i32, PidFds>,
    /// (inode, pid, fd), sorted: one allocation for the whole machine.
    holders: Vec<(u64, i32, i32)>,
    /// Inodes no readable process held after a full re-read; they do not trigger another.
    unheld: HashSet<u64, InodeHash>,
    /// inode -> (start, len) in `holders`: one hash lookup per socket instead of a search.
    by_inode: HashMap<u64, (u32, u32), InodeHash>,
    /// Inodes of the last refresh's TCP sockets: one that is gone sends its holders to be
    /// re-read.
    tcp_inodes: HashSet<u64, InodeHash>,
    /// The previous `tcp_inodes`, kept for its allocation.
    current: HashSet<u64, InodeHash>,
    /// Inodes first seen unheld in the last refresh: owners unknown until the next one.
    waiting: HashSet<u64, InodeHash>,
    unreadable: usize,
    generation: u64,
    /// Processes whose descriptors were read in the last refresh (for measuring the cache).
    last_reads: usize,
    fd_size_is_count: bool,
    clk_tck: u64,
    buf: Vec<u8>,
    path: String,
}

impl Default for OwnerIndex {
    fn default() -> Self {
        OwnerIndex::new()
    }
}

impl OwnerIndex {
    pub fn new() -> OwnerIndex {
        OwnerIndex {
            pids: HashMap::new(),
            holders: Vec::new(),
            unheld: HashSet::default(),
            by_inode: HashMap::default(),
            tcp_inodes: HashSet::default(),
            current: HashSet::default(),
            waiting: HashSet::default(),
            unreadable: 0,
            generation: 0,
            last_reads: 0,
            fd_size_is_count: fd_size_is_count(),
            clk_tck: clock_ticks(),
            buf: Vec::with_capacity(1024),
            path: String::with_capacity(64),
        }
    }

    /// Brings the index up to date for these processes so that every inode in `sockets` can be
    /// answered.
    pub fn refresh_with(&mut self, processes: &[Process], sockets: &[Socket]) {
        let infos = processes.iter().map(|p| PidInfo {
            pid: p.pid,
            start_time: p.start_time,
            comm: &p.comm,
            fd_count: p.fd_count,
        });
        self.refresh_pids(infos, sockets);
    }

    /// The same, listing and reading /proc itself: for callers that have no process scan
    /// (`tcplab net`, the tracer).
    pub fn refresh(&mut self, sockets: &[Socket]) -> std::io::Result<()> {
        let pids = list_pids()?;
        let mut infos: Vec<(i32, Duration, String, Option<usize>)> = Vec::with_capacity(pids.len());
        for pid in pids {
            self.set_path(pid, "stat");
            if read_into(&self.path, &mut self.buf).is_err() {
                continue;
            }
            let Ok(st) = parse_stat(&self.buf) else {
                continue;
            };
            let fd_count = if self.fd_size_is_count {
                self.set_path(pid, "fd");
                std::fs::metadata(&self.path).ok().map(|m| m.len() as usize)
            } else {
                None
            };
            let start = ticks_to_duration(st.start_ticks, self.clk_tck);
            infos.push((pid, start, st.comm, fd_count));
        }
        let iter = infos.iter().map(|(pid, start, comm, fd_count)| PidInfo {
            pid: *pid,
            start_time: *start,
            comm,
            fd_count: *fd_count,
        });
        self.refresh_pids(iter, sockets);
        Ok(())
    }

    pub fn refresh_pids<'a>(
        &mut self,
        infos: impl Iterator<Item = PidInfo<'a>>,
        sockets: &[Socket],
    ) {
        self.generation += 1;
        let gen = self.generation;
        self.last_reads = 0;
        let mut changed = false;
        // A TCP socket the kernel listed last time and no longer does was closed (or passed
        // on) by its holders: re-read them even when their count is unchanged, the common way
        // a busy server swaps one connection for another between two refreshes.
        let mut current = std::mem::take(&mut self.current);
        current.clear();
        current.extend(sockets.iter().map(|s| s.inode).filter(|&inode| inode != 0));
        let suspects: HashSet<i32> = self
            .tcp_inodes
            .iter()
            .filter(|inode| !current.contains(*inode))
            .flat_map(|&inode| self.holders_of(inode).iter().map(|&(_, pid, _)| pid))
            .collect();
        for info in infos {
            let fresh = !suspects.contains(&info.pid)
                && self.pids.get(&info.pid).is_some_and(|e| {
                    e.start_time == info.start_time
                        && e.readable
                        && info.fd_count.is_some()
                        && e.fd_count == info.fd_count
                });
            if !fresh {
                self.read_pid(info.pid, info.start_time, info.fd_count);
                changed = true;
            }
            if let Some(e) = self.pids.get_mut(&info.pid) {
                e.seen_gen = gen;
                if e.comm != info.comm {
                    info.comm.clone_into(&mut e.comm);
                }
            }
        }
        let before = self.pids.len();
        self.pids.retain(|_, e| e.seen_gen == gen);
        changed |= self.pids.len() != before;
        if changed || self.holders.is_empty() {
            self.rebuild();
        }

        // An inode nobody cached holds: some process took a socket without changing its count
        // and without closing one (it closed a file instead, or received one). Re-read the
        // processes not read this round, those with the fewest descriptors first, until every
        // such inode is found: a busy small server is found at once, and a process holding
        // thousands of unchanged sockets is read again only if it must be. An inode first seen
        // unheld waits one refresh before that hunt (its owners are unknown meanwhile): on a
        // busy machine most are connections closed before their holder's descriptors were
        // read, and hunting for those re-read every process each refresh.
        let mut unknown: HashSet<u64, InodeHash> = HashSet::default();
        let mut waiting: HashSet<u64, InodeHash> = HashSet::default();
        // Nothing to hunt in when every process was read this round (a first refresh).
        let all_read = self.pids.values().all(|e| e.read_gen == gen);
        for inode in sockets.iter().map(|s| s.inode) {
            if all_read
                || inode == 0
                || self.unheld.contains(&inode)
                || !self.holders_of(inode).is_empty()
            {
                continue;
            }
            if self.waiting.contains(&inode) {
                unknown.insert(inode);
            } else {
                waiting.insert(inode);
            }
        }
        self.waiting = waiting;
        if !unknown.is_empty() {
            let mut stale: Vec<(usize, i32, Duration, Option<usize>)> = self
                .pids
                .iter()
                .filter(|(_, e)| e.read_gen != gen)
                .map(|(&pid, e)| {
                    (
                        e.fd_count.unwrap_or(usize::MAX),
                        pid,
                        e.start_time,
                        e.fd_count,
                    )
                })
                .collect();
            stale.sort_unstable();
            for (_, pid, start, count) in stale {
                self.read_pid(pid, start, count);
                if let Some(e) = self.pids.get_mut(&pid) {
                    e.seen_gen = gen;
                    for (_, inode) in &e.sockets {
                        unknown.remove(inode);
                    }
                }
                if unknown.is_empty() {
                    break;
                }
            }
            self.rebuild();
        }
        self.unheld = sockets
            .iter()
            .filter(|s| {
                s.inode != 0
                    && !self.waiting.contains(&s.inode)
                    && self.holders_of(s.inode).is_empty()
            })
            .map(|s| s.inode)
            .collect();
        self.current = std::mem::replace(&mut self.tcp_inodes, current);
        self.unreadable = self.pids.values().filter(|e| !e.readable).count();
    }

    /// Every holder of `inode`; None when nobody readable holds it but some process's
    /// descriptors could not be read (it may be one of them), or when it is new since the last
    /// refresh and no holder was found yet (the next refresh looks for it). Inode 0 (TIME_WAIT, orphaned,
    /// not yet accepted) is held by nobody.
    pub fn owners(&self, inode: u64) -> Option<Vec<Owner>> {
        let owners = self.each_owner(inode)?.map(|(pid, fd, comm)| Owner {
            pid,
            fd,
            comm: comm.to_string(),
        });
        Some(owners.collect())
    }

    /// [`OwnerIndex::owners`] without building anything: (pid, fd, comm) of every holder, for
    /// printing tens of thousands of sockets.
    pub fn each_owner(&self, inode: u64) -> Option<impl Iterator<Item = (i32, i32, &str)> + '_> {
        // Inode 0 (TIME_WAIT, orphaned, not yet accepted) is held by nobody.
        let found = if inode == 0 {
            &[][..]
        } else {
            self.holders_of(inode)
        };
        if inode != 0 && found.is_empty() && (self.unreadable > 0 || self.waiting.contains(&inode))
        {
            return None;
        }
        Some(found.iter().map(|&(_, pid, fd)| {
            let comm = self.pids.get(&pid).map_or("", |e| e.comm.as_str());
            (pid, fd, comm)
        }))
    }

    /// Fills `owners` of every socket.
    pub fn fill(&self, sockets: &mut [Socket]) {
        for s in sockets {
            s.owners = self.owners(s.inode);
        }
    }

    /// True when some process's descriptors could not be read: owners may be incomplete.
    pub fn is_partial(&self) -> bool {
        self.unreadable > 0
    }

    /// How many processes had their descriptors read in the last refresh.
    pub fn last_reads(&self) -> usize {
        self.last_reads
    }

    fn holders_of(&self, inode: u64) -> &[(u64, i32, i32)] {
        match self.by_inode.get(&inode) {
            Some(&(start, len)) => &self.holders[start as usize..(start + len) as usize],
            None => &[],
        }
    }

    fn rebuild(&mut self) {
        self.holders.clear();
        for (&pid, e) in &self.pids {
            self.holders
                .extend(e.sockets.iter().map(|&(fd, inode)| (inode, pid, fd)));
        }
        self.holders.sort_unstable();
        self.by_inode.clear();
        // One table of the right size instead of a rehash each time it doubles.
        self.by_inode.reserve(self.holders.len());
        let mut start = 0;
        while start < self.holders.len() {
            let inode = self.holders[start].0;
            let len = self.holders[start..].partition_point(|h| h.0 == inode);
            self.by_inode.insert(inode, (start as u32, len as u32));
            start += len;
        }
    }

    fn read_pid(&mut self, pid: i32, start_time: Duration, fd_count: Option<usize>) {
        self.last_reads += 1;
        let gen = self.generation;
        let entry = self.pids.entry(pid).or_insert_with(|| PidFds {
            start_time,
            fd_count,
            comm: String::new(),
            sockets: Vec::new(),
            readable: true,
            read_gen: gen,
            seen_gen: gen,
        });
        entry.start_time = start_time;
        entry.fd_count = fd_count;
        entry.read_gen = gen;
        entry.sockets.clear();
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/fd");
        entry.readable = match socket_fds(&self.path, fd_count, &mut entry.sockets) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => false,
            // Gone: it has no descriptors now, and the next refresh forgets it.
            Err(_) => true,
        };
    }

    fn set_path(&mut self, pid: i32, file: &str) {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/{file}");
    }
}

/// The inode of a `socket:[12345]` link target.
pub fn socket_inode(target: &[u8]) -> Option<u64> {
    let digits = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    super::parse::dec_u64(digits)
}
