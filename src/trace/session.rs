//! One tracing session, whoever consumes it (the `trace` command, the dashboard): start the
//! kernel tracepoint or, when that is not possible, the sampler; turn what they see into
//! transitions with time-in-state and owners; hand each to a [`Sink`]; stop when the stop fd
//! becomes readable, the deadline passes or the sink says so. The tracefs instance is removed
//! before this returns, whichever way it ends.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant, SystemTime};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::time::{clock_gettime, ClockId};

use super::conns::{Observed, Timeline, Tracker};
use super::owners::{OwnerLookup, ProcOwners};
use super::sampled::{self, Sampler};
use super::time_wait::{Found, TimeWaitThread};
use crate::kernel::parse::trace_line::{self, Context, StateChange, TraceLine};
use crate::kernel::sockets::SocketScanner;
use crate::kernel::tracefs::{self, Instance};
use crate::model::{TcpState, Transition, TransitionSource};

/// How often the fallback samples: short enough to catch a handshake on a slow network, long
/// enough to cost little.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(20);

/// How long a wait lasts at most, so lost-event counts are checked now and then.
const TICK: Duration = Duration::from_millis(250);

/// Binary pages read per CPU per batch at most, so the others are not starved and a burst is
/// put in order in small pieces (records are ~120 bytes here, ~50 to a page).
const RAW_PAGES: usize = 32;
/// How long a record may take between getting its time and becoming readable.
const SKEW: f64 = 0.002;
/// How soon records held back for ordering are let out.
const HOLD: Duration = Duration::from_millis(10);

/// At the end (Ctrl+C, --duration), how long to keep reading what the kernel already has.
const DRAIN: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub port: Option<u16>,
    pub deadline: Option<Instant>,
    /// Never try the tracepoint (for tests of the fallback, and users who ask).
    pub sampled_only: bool,
    /// With the tracepoint, also follow active closers into TIME_WAIT by sampling.
    pub follow_time_wait: bool,
    /// Which tracefs pipes to read (the text one only for tests and comparisons).
    pub pipes: tracefs::Pipes,
    /// Never sample: without the tracepoint, `run` fails with the reason (the exporter says
    /// "no source" rather than report sampled counts as the kernel's).
    pub tracepoint_only: bool,
    /// Hand on each change as the kernel reported it and keep nothing per socket: no owner
    /// (never a read of /proc), no time in state, no timeline. The exporter only counts, and
    /// remembering every open connection (up to the tracker's 200,000) cost it ~640 bytes each.
    pub count_only: bool,
}

impl Options {
    /// What `tcplab trace` and the dashboard both follow, so they give one account of a
    /// socket's life: the kernel's transitions on `port` (all when None) and, since the
    /// tracepoint cannot show it, TIME_WAIT found by sampling.
    pub fn following(port: Option<u16>) -> Options {
        Options {
            port,
            follow_time_wait: true,
            ..Options::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

pub trait Sink {
    /// Tracing is live; `detail` names the instance, or why the tracepoint could not be used.
    fn ready(&mut self, source: TransitionSource, detail: &str) -> anyhow::Result<Flow>;
    /// One transition; `timeline` is the socket's whole life when it just reached CLOSE.
    fn transition(&mut self, t: &Transition, timeline: Option<&Timeline>) -> anyhow::Result<Flow>;
    /// The kernel dropped events; `total` since the start. Called whenever it grows.
    fn lost(&mut self, total: u64);
    /// Something the user should know that is not a transition.
    fn notice(&mut self, text: &str);
    /// A transition found by sampling while the tracepoint is the source (TIME_WAIT, which
    /// the tracepoint cannot show); `interval` is how far apart the samples were.
    fn sampled_transition(&mut self, t: &Transition, interval: Duration) -> anyhow::Result<Flow> {
        let _ = (t, interval);
        Ok(Flow::Continue)
    }
    /// The end of a batch of transitions (one read of the pipe, one sample): a sink that
    /// buffers writes them out now.
    fn flush(&mut self) -> anyhow::Result<Flow> {
        Ok(Flow::Continue)
    }
}

/// Runs until stopped. Errors only for what makes tracing impossible.
pub fn run(opts: &Options, stop: BorrowedFd, sink: &mut dyn Sink) -> anyhow::Result<()> {
    let why_not = if opts.sampled_only {
        "sampling was asked for".to_string()
    } else {
        match start_kernel(opts.port, opts.pipes, sink) {
            Ok(instance) => return run_kernel(instance, opts, stop, sink),
            Err(e) if opts.tracepoint_only => anyhow::bail!("no kernel tracepoint: {e}"),
            Err(e) => e.to_string(),
        }
    };
    run_sampled(opts, &why_not, stop, sink, &mut SocketScanner::new())
}

fn start_kernel(
    port: Option<u16>,
    pipes: tracefs::Pipes,
    sink: &mut dyn Sink,
) -> Result<Instance, tracefs::TracefsError> {
    let root = tracefs::tracefs_root()?;
    for name in tracefs::remove_stale(&root) {
        sink.notice(&format!(
            "removed stale tracefs instance {name} (its process is gone)"
        ));
    }
    Instance::create(&root, port, pipes)
}

/// Seconds on CLOCK_MONOTONIC, the clock the instance's trace uses too.
pub fn mono_now() -> f64 {
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9)
        .unwrap_or(0.0)
}

/// Waits until `fd` (if any) is readable, `stop` is readable or `wait` passes. Returns true
/// when `stop` fired.
fn wait(data: &[BorrowedFd], stop: BorrowedFd, wait: Duration) -> anyhow::Result<bool> {
    let mut fds = vec![PollFd::new(stop, PollFlags::POLLIN)];
    fds.extend(data.iter().map(|fd| PollFd::new(*fd, PollFlags::POLLIN)));
    let ms = PollTimeout::try_from(wait.as_millis().min(i32::MAX as u128) as i32)
        .unwrap_or(PollTimeout::ZERO);
    match poll(&mut fds, ms) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
        Err(e) => anyhow::bail!("poll failed: {e}"),
    }
    Ok(fds[0]
        .revents()
        .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP)))
}

fn until(deadline: Option<Instant>, cap: Duration) -> Option<Duration> {
    match deadline {
        None => Some(cap),
        Some(d) => d
            .checked_duration_since(Instant::now())
            .map(|left| left.min(cap)),
    }
}

fn run_kernel(
    mut instance: Instance,
    opts: &Options,
    stop: BorrowedFd,
    sink: &mut dyn Sink,
) -> anyhow::Result<()> {
    let pipes = match instance.is_raw() {
        true => "binary per-CPU pipes",
        false => "text pipe",
    };
    let detail = format!("instance {}, {pipes}", instance.name());
    if sink.ready(TransitionSource::Tracepoint, &detail)? == Flow::Stop {
        return Ok(instance.remove()?);
    }
    let mut reader = KernelReader {
        time_wait: (opts.follow_time_wait && instance.on_mono_clock())
            .then(|| TimeWaitThread::spawn(opts.port).ok())
            .flatten(),
        count_only: opts.count_only,
        ..KernelReader::default()
    };
    let result = reader.pump(&mut instance, opts, stop, sink);
    let flushed = sink.flush();
    reader.report_lost(&instance, sink);
    let removed = instance.remove();
    result?;
    flushed?;
    Ok(removed?)
}

/// What the kernel loop keeps between reads of the pipe.
#[derive(Default)]
struct KernelReader {
    tracker: Tracker,
    owners: ProcOwners,
    tasks: Tasks,
    time_wait: Option<TimeWaitThread>,
    /// Bytes read but not yet ending in a newline.
    buf: Vec<u8>,
    /// Binary records read but not yet in time order with the other CPUs'.
    held: Vec<StateChange>,
    /// From the pipe's own `[LOST n EVENTS]` lines; the per-CPU stats count the same loss.
    lost_inline: u64,
    lost_reported: u64,
    bad_lines: u64,
    count_only: bool,
}

impl KernelReader {
    fn pump(
        &mut self,
        instance: &mut Instance,
        opts: &Options,
        stop: BorrowedFd,
        sink: &mut dyn Sink,
    ) -> anyhow::Result<()> {
        let mut last_stats = Instant::now();
        loop {
            // Records held back for ordering are let out soon, not at the next tick.
            let tick = match self.held.is_empty() {
                true => TICK,
                false => HOLD,
            };
            let ending = match until(opts.deadline, tick) {
                None => true,
                Some(left) => wait(&instance.pipe_fds(), stop, left)?,
            };
            if ending {
                // What the kernel recorded before the end still counts: read it, briefly.
                let give_up = Instant::now() + DRAIN;
                while Instant::now() < give_up {
                    let (read, flow) = self.batch(instance, sink)?;
                    if flow == Flow::Stop {
                        return Ok(());
                    }
                    if read == 0 {
                        break;
                    }
                }
                self.release(f64::INFINITY, instance, sink)?;
                return Ok(());
            }
            if self.batch(instance, sink)?.1 == Flow::Stop || self.time_waits(sink)? == Flow::Stop {
                return Ok(());
            }
            if last_stats.elapsed() >= Duration::from_secs(1) {
                last_stats = Instant::now();
                self.report_lost(instance, sink);
            }
        }
    }

    /// Hands on what the TIME_WAIT watch found since the last call.
    fn time_waits(&mut self, sink: &mut dyn Sink) -> anyhow::Result<Flow> {
        let Some(tw) = self.time_wait.as_ref() else {
            return Ok(Flow::Continue);
        };
        for found in tw.found() {
            match found {
                Found::Overflowed => {
                    sink.notice("too many TIME_WAIT sockets to follow; newer ones are not reported")
                }
                Found::Transition(t, interval) => {
                    if sink.sampled_transition(&t, interval)? == Flow::Stop {
                        return Ok(Flow::Stop);
                    }
                }
            }
        }
        sink.flush()
    }

    /// Reads what the pipes hold and hands each record on; returns the bytes read.
    fn batch(
        &mut self,
        instance: &mut Instance,
        sink: &mut dyn Sink,
    ) -> anyhow::Result<(usize, Flow)> {
        if instance.is_raw() {
            return self.raw_batch(instance, sink);
        }
        self.text_batch(instance, sink)
    }

    /// The binary pipes are one per CPU, and one socket's records may be on several: they
    /// are put in time order here. A record not read yet is never older than the moment its
    /// CPU's pipe was found empty (less a little for records being written then), so those
    /// older than that go out now and the rest wait for the next read.
    fn raw_batch(
        &mut self,
        instance: &mut Instance,
        sink: &mut dyn Sink,
    ) -> anyhow::Result<(usize, Flow)> {
        let started = mono_now();
        let read = instance
            .read_raw(RAW_PAGES, &mut self.held)
            .map_err(|e| anyhow::anyhow!("cannot read {} per-CPU pipes: {e}", instance.name()))?;
        self.lost_inline += read.missed;
        let mut cut = match instance.on_mono_clock() {
            true => started - SKEW,
            false => f64::INFINITY,
        };
        if let Some(from) = read.undrained_from {
            cut = cut.min(from);
        }
        let flow = self.release(cut, instance, sink)?;
        Ok((read.bytes, flow))
    }

    /// Hands on, in time order, the held records older than `cut`.
    fn release(
        &mut self,
        cut: f64,
        instance: &Instance,
        sink: &mut dyn Sink,
    ) -> anyhow::Result<Flow> {
        self.held.sort_by(|a, b| a.clock.total_cmp(&b.clock));
        let ready = self.held.partition_point(|c| c.clock < cut);
        let later = self.held.split_off(ready);
        for c in std::mem::replace(&mut self.held, later) {
            if self.change(c, instance, sink)? == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        sink.flush()
    }

    fn text_batch(
        &mut self,
        instance: &mut Instance,
        sink: &mut dyn Sink,
    ) -> anyhow::Result<(usize, Flow)> {
        let read = instance
            .read_available(&mut self.buf)
            .map_err(|e| anyhow::anyhow!("cannot read {}/trace_pipe: {e}", instance.name()))?;
        let complete = self
            .buf
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let lines = std::mem::take(&mut self.buf);
        let mut flow = Flow::Continue;
        for line in lines[..complete].split(|&b| b == b'\n') {
            if !line.is_empty() && flow == Flow::Continue {
                flow = self.line(line, instance, sink)?;
            }
        }
        self.buf.extend_from_slice(&lines[complete..]);
        if flow == Flow::Continue {
            flow = sink.flush()?;
        }
        Ok((read, flow))
    }

    fn line(
        &mut self,
        line: &[u8],
        instance: &Instance,
        sink: &mut dyn Sink,
    ) -> anyhow::Result<Flow> {
        match trace_line::parse(line) {
            Ok(TraceLine::Change(c)) => self.change(c, instance, sink),
            Ok(TraceLine::Lost { events, .. }) => {
                self.lost_inline += events;
                Ok(Flow::Continue)
            }
            Err(e) => {
                self.bad_lines += 1;
                if self.bad_lines == 1 {
                    sink.notice(&format!("skipping {e}"));
                }
                Ok(Flow::Continue)
            }
        }
    }

    /// One state change, from either pipe: owner, time in state, then the sink.
    fn change(
        &mut self,
        c: StateChange,
        instance: &Instance,
        sink: &mut dyn Sink,
    ) -> anyhow::Result<Flow> {
        if self.count_only {
            let t = Transition {
                ts: instance.wall_time(c.clock),
                local: c.local,
                remote: c.remote,
                old: c.old,
                new: c.new,
                in_old: None,
                pid: None,
                comm: None,
                tid: None,
            };
            return sink.transition(&t, None);
        }
        // In process context the running task is the one calling connect/close/listen: the
        // owner, while /proc still shows the thread. Once it is gone, what tracing recorded of
        // it is only a guess. In softirq the task is whoever was on the CPU.
        let owner = match c.context {
            Context::Process => self.tasks.live(c.tid),
            Context::Interrupt => None,
        };
        let gone = c.context == Context::Process && owner.is_none();
        let mut o = Observed {
            clock: c.clock,
            ts: instance.wall_time(c.clock),
            local: c.local,
            remote: c.remote,
            old: c.old,
            new: c.new,
            owner,
            recorded: None,
            tid: matches!(c.context, Context::Process).then_some(c.tid),
        };
        // A socket going to CLOSE is gone from every list: no lookup.
        if o.owner.is_none()
            && o.new != TcpState::Close
            && !self.tracker.knows_owner(o.local, o.remote)
        {
            o.owner = find_owner(&mut self.owners, &self.tracker, &o);
        }
        if gone && o.owner.is_none() && !self.tracker.knows_owner(o.local, o.remote) {
            o.recorded = self.tasks.recorded(c.tid, c.tgid, &c.comm);
        }
        let clock = o.clock;
        let (t, tl) = self.tracker.observe(o);
        if let Some(tw) = self.time_wait.as_ref() {
            tw.observe(&t, clock);
        }
        sink.transition(&t, tl.as_ref())
    }

    fn report_lost(&mut self, instance: &Instance, sink: &mut dyn Sink) {
        let lost = instance.lost_events().max(self.lost_inline);
        if lost > self.lost_reported {
            self.lost_reported = lost;
            sink.lost(lost);
        }
    }
}

fn run_sampled(
    opts: &Options,
    why_not: &str,
    stop: BorrowedFd,
    sink: &mut dyn Sink,
    scanner: &mut SocketScanner,
) -> anyhow::Result<()> {
    let source = TransitionSource::Sampled {
        interval: SAMPLE_INTERVAL,
    };
    let mut sampler = Sampler::new(opts.port);
    let mut tracker = Tracker::new();
    let mut owners = ProcOwners::default();
    let first = scanner.scan()?;
    sampler.diff(&first.sockets, mono_now(), SystemTime::now());
    let list = match first.from_procfs {
        true => "/proc/net/tcp",
        false => "netlink sock_diag",
    };
    let detail = format!("{list}; no kernel tracepoint: {why_not}");
    if sink.ready(source, &detail)? == Flow::Stop {
        return Ok(());
    }
    let mut next = Instant::now() + SAMPLE_INTERVAL;
    loop {
        let Some(left) = until(
            opts.deadline,
            next.saturating_duration_since(Instant::now()),
        ) else {
            return Ok(());
        };
        if wait(&[], stop, left)? {
            return Ok(());
        }
        if Instant::now() < next {
            continue;
        }
        next += SAMPLE_INTERVAL;
        if next < Instant::now() {
            // We fell behind (a slow list); do not try to catch up with a burst.
            next = Instant::now() + SAMPLE_INTERVAL;
        }
        let scan = scanner.scan()?;
        let found = sampled::transitions(
            &mut sampler,
            &mut tracker,
            &scan.sockets,
            mono_now(),
            SystemTime::now(),
            |o, tracker| find_owner(&mut owners, tracker, o),
        );
        for (t, tl) in found {
            if sink.transition(&t, tl.as_ref())? == Flow::Stop {
                sink.flush()?;
                return Ok(());
            }
        }
        if sink.flush()? == Flow::Stop {
            return Ok(());
        }
    }
}

/// The socket's holder; for a connection not accepted yet (no descriptor holds it), the
/// holder of the listener that will accept it.
fn find_owner(
    owners: &mut dyn OwnerLookup,
    tracker: &Tracker,
    o: &Observed,
) -> Option<(i32, String)> {
    let pre_accept = matches!(o.old, TcpState::Listen | TcpState::SynRecv)
        || (o.old == TcpState::Close && o.new == TcpState::SynRecv);
    let any: IpAddr = match o.local {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let nowhere = SocketAddr::new(any, 0);
    let listeners = [
        (o.local, nowhere),
        (SocketAddr::new(any, o.local.port()), nowhere),
    ];
    let look = |owners: &dyn OwnerLookup| {
        if pre_accept {
            // Nobody holds the new socket yet; its listener is usually known already (traced
            // at listen(2), or read before), which spares a refresh per connection.
            let listener = listeners
                .iter()
                .find_map(|&(l, r)| tracker.owner_of(l, r).or_else(|| owners.cached(l, r)));
            if listener.is_some() {
                return listener;
            }
        }
        owners.cached(o.local, o.remote)
    };
    look(owners).or_else(|| owners.refresh_if_due().then(|| look(owners)).flatten())
}

/// Thread id to (process id, process name), from /proc, remembered briefly; and, for threads
/// that are gone, what tracing recorded of them (two files of up to pid_max lines to read).
#[derive(Default)]
struct Tasks {
    known: HashMap<i32, (i32, String, Instant)>,
    recorded: HashMap<i32, (i32, String, Instant)>,
}

/// How long a thread's process is trusted before /proc is asked again (ids are reused).
const TASK_TTL: Duration = Duration::from_secs(2);

impl Tasks {
    /// The process of a thread that is still running, None once it is gone.
    fn live(&mut self, tid: i32) -> Option<(i32, String)> {
        remembered(&mut self.known, tid, || {
            let pid = crate::kernel::proc::tgid(tid)?;
            Some((pid, crate::kernel::proc::comm(pid)?))
        })
    }

    /// What tracing recorded of a thread that has exited: the process id the trace line gave
    /// or `saved_tgids` holds, and the name `saved_cmdlines` holds. The kernel writes these
    /// lazily and never clears them, so after ids wrap they may be an earlier task's.
    fn recorded(&mut self, tid: i32, tgid: Option<i32>, comm: &str) -> Option<(i32, String)> {
        remembered(&mut self.recorded, tid, || {
            Some(Self::read_recorded(tid, tgid, comm))
        })
    }

    fn read_recorded(tid: i32, tgid: Option<i32>, comm: &str) -> (i32, String) {
        let pid = tgid.or_else(|| tracefs::saved_tgid(tid)).unwrap_or(tid);
        let name = crate::kernel::proc::comm(pid)
            .or_else(|| tracefs::saved_comm(tid))
            .unwrap_or_else(|| match comm {
                "" => "?".to_string(),
                c => c.to_string(),
            });
        (pid, name)
    }
}

/// `find(tid)`, remembered for TASK_TTL (a cache of at most a few thousand threads).
fn remembered(
    cache: &mut HashMap<i32, (i32, String, Instant)>,
    tid: i32,
    find: impl FnOnce() -> Option<(i32, String)>,
) -> Option<(i32, String)> {
    if let Some((pid, name, at)) = cache.get(&tid) {
        if at.elapsed() < TASK_TTL {
            return Some((*pid, name.clone()));
        }
    }
    if cache.len() > 4096 {
        cache.retain(|_, (_, _, at)| at.elapsed() < TASK_TTL);
    }
    let (pid, name) = find()?;
    cache.insert(tid, (pid, name.clone(), Instant::now()));
    Some((pid, name))
}
