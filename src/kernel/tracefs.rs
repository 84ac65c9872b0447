//! A private tracefs instance that records only `sock:inet_sock_set_state` for TCP (and one
//! port, when asked), and its pipes: the binary per-CPU `trace_pipe_raw` when the kernel's
//! layouts are the known ones, the text `trace_pipe` otherwise. Owns the instance's whole life: stale instances of
//! dead tcplab runs are removed before a new one is made, and the instance is removed again
//! when the [`Instance`] is dropped, on every exit path that unwinds. Never touches the global
//! buffer or other tools' instances.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::time::{clock_gettime, ClockId};

use super::parse::trace_line::StateChange;
use super::parse::trace_raw::{self, EventLayout};
use nix::unistd::Pid;

/// Where tracefs lives on current kernels; the debugfs path is the old one.
const MOUNT_POINTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
const EVENT: &str = "events/sock/inet_sock_set_state";
/// Instances are named `tcplab-<pid>[-<n>]` so a later run can tell whether their owner lives.
const PREFIX: &str = "tcplab-";
/// Per-CPU ring buffer size: about 200,000 transitions, seconds of slack at 100,000 a second
/// when the tracer is starved of CPU on a busy machine. Freed with the instance.
const BUFFER_KB: u32 = 16384;

#[derive(Debug, thiserror::Error)]
pub enum TracefsError {
    #[error("tracefs is not mounted (tried {})", MOUNT_POINTS.join(", "))]
    NotMounted,
    #[error("no permission to use tracefs at {0} (run as root)")]
    PermissionDenied(PathBuf),
    #[error("the kernel has no sock:inet_sock_set_state tracepoint ({0} is missing)")]
    NoEvent(PathBuf),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> TracefsError + 'a {
    move |source| {
        if source.kind() == io::ErrorKind::PermissionDenied {
            TracefsError::PermissionDenied(path.to_path_buf())
        } else {
            TracefsError::Io {
                what,
                path: path.to_path_buf(),
                source,
            }
        }
    }
}

/// Finds tracefs, mounting it at /sys/kernel/tracing when it is missing and we may.
pub fn tracefs_root() -> Result<PathBuf, TracefsError> {
    // Told apart: not there at all, or there but closed to this user (tracefs is 0700).
    let found = || -> Result<Option<PathBuf>, TracefsError> {
        let mut denied = None;
        for p in MOUNT_POINTS.iter().map(PathBuf::from) {
            match fs::metadata(p.join("instances")) {
                Ok(m) if m.is_dir() => return Ok(Some(p)),
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    denied.get_or_insert(p);
                }
                _ => {}
            }
        }
        match denied {
            Some(p) => Err(TracefsError::PermissionDenied(p)),
            None => Ok(None),
        }
    };
    if let Some(p) = found()? {
        return Ok(p);
    }
    if nix::unistd::geteuid().is_root() && Path::new(MOUNT_POINTS[0]).is_dir() {
        // nix is built without its mount feature; the mount(8) command does the same job.
        let _ = std::process::Command::new("mount")
            .args(["-t", "tracefs", "nodev", MOUNT_POINTS[0]])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
    found()?.ok_or(TracefsError::NotMounted)
}

/// Removes `tcplab-<pid>` instances whose pid is no longer alive; returns their names. The
/// pid may only look dead (a tcplab in another pid namespace, sharing this tracefs): the kernel
/// refuses to remove an instance while a file of it is open, which a live tracer's pipes are,
/// so nothing of it is touched before the removal succeeds.
pub fn remove_stale(root: &Path) -> Vec<String> {
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(root.join("instances")) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<i32>().ok());
        let Some(pid) = pid else {
            continue;
        };
        if kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH)
            && fs::remove_dir(entry.path()).is_ok()
        {
            removed.push(name);
        }
    }
    removed
}

/// The kernel-side filter: TCP only (the tracepoint also fires for SCTP and MPTCP), and the
/// port on either end when one is asked for.
/// The name tracing recorded for a task (`saved_cmdlines`: `PID COMM` lines, recent tasks),
/// from wherever tracefs is mounted.
pub fn saved_comm(tid: i32) -> Option<String> {
    let root = tracefs_root().ok()?;
    let text = std::fs::read_to_string(root.join("saved_cmdlines")).ok()?;
    text.lines().find_map(|l| {
        let (pid, comm) = l.split_once(' ')?;
        (pid.parse() == Ok(tid)).then(|| comm.to_string())
    })
}

/// The process a thread belonged to, as tracing recorded it when the thread made an event
/// (`record-tgid` fills `saved_tgids`, `TID TGID` lines): still known after the thread exited,
/// when /proc can no longer say.
pub fn saved_tgid(tid: i32) -> Option<i32> {
    let root = tracefs_root().ok()?;
    let text = std::fs::read_to_string(root.join("saved_tgids")).ok()?;
    parse_saved_tgid(&text, tid)
}

fn parse_saved_tgid(text: &str, tid: i32) -> Option<i32> {
    text.lines().find_map(|l| {
        let (t, g) = l.split_once(' ')?;
        (t.parse() == Ok(tid)).then(|| g.trim().parse().ok())?
    })
}

pub fn filter(port: Option<u16>) -> String {
    match port {
        None => "protocol == 6".to_string(),
        Some(p) => format!("protocol == 6 && (sport == {p} || dport == {p})"),
    }
}

/// A live instance; dropping it removes it.
pub struct Instance {
    dir: PathBuf,
    name: String,
    /// The text pipe, when the binary per-CPU pipes cannot be used.
    pipe: Option<File>,
    raw: Option<RawPipes>,
    /// Wall-clock time minus the monotonic clock, to turn the trace clock (`mono`) into wall
    /// time. None when the instance would not take the mono clock.
    wall_minus_mono: Option<f64>,
}

/// Which of an instance's pipes to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pipes {
    /// The binary per-CPU pipes where the kernel has them, else the text pipe.
    #[default]
    Binary,
    /// The text pipe even where the binary ones would do (to test and compare the two).
    Text,
}

impl Instance {
    /// Creates `instances/tcplab-<our pid>` under `root`, enables the event with `filter(port)`
    /// and opens its pipes without blocking.
    pub fn create(root: &Path, port: Option<u16>, pipes: Pipes) -> Result<Instance, TracefsError> {
        let event_dir = root.join(EVENT);
        if !event_dir.is_dir() {
            return Err(TracefsError::NoEvent(event_dir));
        }
        // A second tracer in the same process (tests) gets `tcplab-<pid>-<n>`.
        static CREATED: AtomicU32 = AtomicU32::new(0);
        let name = match CREATED.fetch_add(1, Ordering::Relaxed) {
            0 => format!("{PREFIX}{}", std::process::id()),
            n => format!("{PREFIX}{}-{n}", std::process::id()),
        };
        let dir = root.join("instances").join(&name);
        fs::create_dir(&dir).map_err(io_err("cannot create tracefs instance", &dir))?;
        // From here on, Drop removes the directory whatever fails next.
        let mut inst = Instance {
            dir,
            name,
            pipe: None,
            raw: None,
            wall_minus_mono: None,
        };
        inst.configure(port, pipes)?;
        Ok(inst)
    }

    fn configure(&mut self, port: Option<u16>, pipes: Pipes) -> Result<(), TracefsError> {
        // Best effort: older kernels lack some of these, and the trace still works without.
        // record-tgid gives the process id next to the thread id.
        let _ = self.write("options/record-tgid", "1");
        // Wake a poll(2) as soon as one event is there, not when the buffer is half full.
        let _ = self.write("buffer_percent", "0");
        let _ = self.write("buffer_size_kb", &BUFFER_KB.to_string());
        if self.write("trace_clock", "mono").is_ok() {
            self.wall_minus_mono = wall_minus_mono();
        }
        let ev = format!("{EVENT}/filter");
        self.write(&ev, &filter(port))?;
        self.write(&format!("{EVENT}/enable"), "1")?;
        if let Some(raw) = RawPipes::open(&self.dir).filter(|_| pipes == Pipes::Binary) {
            self.raw = Some(raw);
            return Ok(());
        }
        let path = self.dir.join("trace_pipe");
        let pipe = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .map_err(io_err("cannot open", &path))?;
        self.pipe = Some(pipe);
        Ok(())
    }

    fn write(&self, rel: &str, value: &str) -> Result<(), TracefsError> {
        let path = self.dir.join(rel);
        fs::write(&path, value).map_err(io_err("cannot write", &path))
    }

    /// `tcplab-<pid>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pipes to wait on with poll(2).
    pub fn pipe_fds(&self) -> Vec<BorrowedFd<'_>> {
        match &self.raw {
            Some(raw) => raw.cpus.iter().map(|(_, f)| f.as_fd()).collect(),
            None => self.pipe.iter().map(|p| p.as_fd()).collect(),
        }
    }

    /// True when records come binary from the per-CPU pipes ([`Instance::read_raw`]), false
    /// when as text from `trace_pipe` ([`Instance::read_available`]).
    pub fn is_raw(&self) -> bool {
        self.raw.is_some()
    }

    /// Decodes what the per-CPU pipes hold now (about `max_pages` pages a CPU at most) into
    /// `out`, in each CPU's order; never blocks. The next page is always taken from the CPU
    /// whose records read so far end earliest, so when one CPU has a long backlog the others
    /// are not read far ahead of it: what has to wait to be put in time order stays about a
    /// page a CPU, not a whole burst.
    pub fn read_raw(
        &mut self,
        max_pages: usize,
        out: &mut Vec<StateChange>,
    ) -> io::Result<RawRead> {
        let mut read = RawRead::default();
        let Some(raw) = self.raw.as_mut() else {
            return Ok(read);
        };
        let cpus = raw.cpus.len();
        // Per CPU: the trace clock (ns) of the last record read, and whether its pipe is empty.
        let mut last: Vec<Option<u64>> = vec![None; cpus];
        let mut empty = vec![false; cpus];
        let mut budget = max_pages * cpus;
        // None (nothing read yet) sorts first.
        while let Some(i) = (0..cpus).filter(|&i| !empty[i]).min_by_key(|&i| last[i]) {
            if budget == 0 {
                // Not drained: what is still there is no older than where each stopped.
                let at = last[i].unwrap_or(0) as f64 * 1e-9;
                read.undrained_from = Some(at);
                break;
            }
            let (cpu, pipe) = &mut raw.cpus[i];
            match pipe.read(&mut raw.page) {
                Ok(0) => empty[i] = true,
                Ok(n) => {
                    budget -= 1;
                    read.bytes += n;
                    let layout = &raw.layout;
                    let cpu = *cpu;
                    let info = trace_raw::for_each_record(&raw.page[..n], |ns, rec| {
                        last[i] = Some(ns);
                        if let Some(c) = layout.decode(rec, ns, cpu) {
                            out.push(c);
                        }
                    });
                    read.missed += info.missed;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => empty[i] = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(read)
    }

    /// Appends what the pipe holds now to `buf`; 0 when it is empty (never blocks).
    pub fn read_available(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let Some(pipe) = self.pipe.as_mut() else {
            return Ok(0);
        };
        let mut chunk = [0u8; 64 * 1024];
        let mut total = 0;
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    total += n;
                    if buf.len() > 1 << 20 {
                        return Ok(total);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(total),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Events the kernel could not keep: the per-CPU `overrun` (overwritten before we read
    /// them) plus `dropped events`.
    pub fn lost_events(&self) -> u64 {
        let Ok(cpus) = fs::read_dir(self.dir.join("per_cpu")) else {
            return 0;
        };
        cpus.flatten()
            .filter_map(|cpu| fs::read_to_string(cpu.path().join("stats")).ok())
            .map(|stats| parse_lost_stats(&stats))
            .sum()
    }

    /// True when the trace clock is CLOCK_MONOTONIC (comparable with clock_gettime).
    pub fn on_mono_clock(&self) -> bool {
        self.wall_minus_mono.is_some()
    }

    /// Turns a trace-clock reading into wall-clock time (now, when the clock is unknown).
    pub fn wall_time(&self, clock: f64) -> SystemTime {
        match self.wall_minus_mono {
            Some(off) => SystemTime::UNIX_EPOCH + Duration::from_secs_f64((clock + off).max(0.0)),
            None => SystemTime::now(),
        }
    }

    /// Stops the event and removes the instance, saying what failed.
    pub fn remove(mut self) -> Result<(), TracefsError> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<(), TracefsError> {
        if !self.dir.exists() {
            return Ok(());
        }
        let _ = self.write(&format!("{EVENT}/enable"), "0");
        // The kernel refuses to remove an instance while one of its files is open.
        self.pipe = None;
        self.raw = None;
        fs::remove_dir(&self.dir).map_err(io_err("cannot remove tracefs instance", &self.dir))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("tcplab trace: {e}");
        }
    }
}

/// What one [`Instance::read_raw`] got.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RawRead {
    pub bytes: usize,
    /// Events the kernel said it overwrote before the pages read.
    pub missed: u64,
    /// When a CPU's pipe was left with pages unread: the trace clock (seconds) of the last
    /// record read from it; later reads may bring records from there on.
    pub undrained_from: Option<f64>,
}

/// The binary per-CPU pipes, with the layouts the kernel described.
struct RawPipes {
    cpus: Vec<(u32, File)>,
    layout: EventLayout,
    page: Vec<u8>,
}

/// One ring-buffer page, as `events/header_page` describes it (16 header bytes + 4080).
const PAGE: usize = 4096;

impl RawPipes {
    /// None when the layouts are not the ones the decoder knows, or a pipe will not open:
    /// the text pipe is used then.
    fn open(dir: &Path) -> Option<RawPipes> {
        let header = read_generated(&dir.join("events/header_page"))?;
        if !trace_raw::page_header_is_known(&header) {
            return None;
        }
        let format = read_generated(&dir.join(EVENT).join("format"))?;
        let layout = EventLayout::from_format(&format)?;
        let mut cpus = Vec::new();
        for entry in fs::read_dir(dir.join("per_cpu")).ok()?.flatten() {
            let name = entry.file_name();
            let Some(n) = name.to_str().and_then(|n| n.strip_prefix("cpu")) else {
                continue;
            };
            let cpu: u32 = n.parse().ok()?;
            let pipe = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(entry.path().join("trace_pipe_raw"))
                .ok()?;
            cpus.push((cpu, pipe));
        }
        cpus.sort_by_key(|(cpu, _)| *cpu);
        (!cpus.is_empty()).then(|| RawPipes {
            cpus,
            layout,
            page: vec![0; PAGE],
        })
    }
}

/// Reads a file tracefs generates on each read. With small reads (std's first read of a
/// file is a 32-byte probe) `events/header_page` ends early, so read it in large reads.
fn read_generated(path: &Path) -> Option<String> {
    let mut file = File::open(path).ok()?;
    let mut text = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return String::from_utf8(text).ok(),
            Ok(n) => text.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
}

fn wall_minus_mono() -> Option<f64> {
    let mono = clock_gettime(ClockId::CLOCK_MONOTONIC).ok()?;
    let wall = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?;
    let mono = mono.tv_sec() as f64 + mono.tv_nsec() as f64 * 1e-9;
    Some(wall.as_secs_f64() - mono)
}

/// Sums `overrun:` and `dropped events:` of one per_cpu/cpuN/stats file.
pub fn parse_lost_stats(stats: &str) -> u64 {
    stats
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            matches!(k.trim(), "overrun" | "dropped events")
                .then(|| v.trim().parse::<u64>().ok())
                .flatten()
        })
        .sum()
}

#[cfg(test)]
mod tests {

    #[test]
    fn saved_tgids_name_the_process_of_a_thread() {
        let text = "12 12\n4242 4200\n4200 4200\n";
        assert_eq!(parse_saved_tgid(text, 4242), Some(4200));
        assert_eq!(parse_saved_tgid(text, 12), Some(12));
        assert_eq!(parse_saved_tgid(text, 99), None);
    }

    use super::*;

    #[test]
    fn filters() {
        assert_eq!(filter(None), "protocol == 6");
        assert_eq!(
            filter(Some(8080)),
            "protocol == 6 && (sport == 8080 || dport == 8080)"
        );
    }

    #[test]
    fn lost_from_stats() {
        let stats = "entries: 0\noverrun: 7\ncommit overrun: 3\nbytes: 0\noldest event ts:   511.707253\nnow ts:   513.728250\ndropped events: 2\nread events: 14\n";
        assert_eq!(parse_lost_stats(stats), 9);
    }
}
