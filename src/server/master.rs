//! The master process: it holds the bound listener, forks the workers, and does no request work
//! itself. It reaps every dead child with waitpid on SIGCHLD, respawns workers that died
//! unexpectedly (with backoff when they die in a loop), and turns the nginx signals into
//! actions: TERM/INT stop now, QUIT drain and stop, HUP fresh workers then drain the old ones,
//! USR1 reopen logs (forwarded), TTIN/TTOU one worker more/fewer.
//!
//! Signals arrive through a signalfd read by the master's own poll loop: they stay blocked, so
//! no handler ever runs, and the loop sees them as ordinary readable data. The master stays
//! single-threaded so that fork is sound (`kernel::fork` checks it before every fork).
//!
//! Owns processes only. What a worker does is the caller's closure (a model's loop).

use std::collections::HashMap;
use std::net::TcpListener;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

use super::stats::Scoreboard;
use super::worker_table::{WorkerTable, MAX_WORKERS};
use crate::units::{count, noun};

/// What a forked worker gets: the shared listener and the whole table with its own slot
/// marked. It says it is ready by claiming its slot (`scoreboard.own().claim()`) once its loop
/// is set up; a reload waits for that before it retires the old workers.
pub struct WorkerEnv<'a> {
    pub listener: &'a TcpListener,
    pub scoreboard: Scoreboard,
}

/// The signals the master reads from its signalfd.
fn master_signals() -> SigSet {
    let mut set = SigSet::empty();
    for sig in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
    ] {
        set.add(sig);
    }
    set
}

/// The signals a worker acts on. A forked worker inherits the master's mask with all of
/// `master_signals` blocked; it registers its handlers for these, then calls this to let them
/// in. HUP, TTIN, TTOU and CHLD stay blocked in workers: they mean nothing there (and TTIN's
/// default action would stop the process).
pub fn unblock_worker_signals() -> nix::Result<()> {
    let mut set = SigSet::empty();
    for sig in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
    ] {
        set.add(sig);
    }
    set.thread_unblock()
}

pub struct MasterConfig {
    pub workers: usize,
    pub shutdown_timeout: Duration,
    /// Reopened on USR1 and put back on stderr (the master logs to stderr).
    pub error_log: Option<std::path::PathBuf>,
}

/// Blocks the master's signals and opens the signalfd. Call before the first fork and before
/// the ready line, so no signal is lost between "listening" and the loop.
pub fn prepare() -> anyhow::Result<SignalFd> {
    let set = master_signals();
    set.thread_block()?;
    Ok(SignalFd::with_flags(
        &set,
        SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC,
    )?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WorkerState {
    Serving,
    /// Told to drain (QUIT); killed at this instant if still alive.
    Retiring {
        kill_at: Instant,
    },
}

struct Worker {
    slot: usize,
    generation: u32,
    started: Instant,
    state: WorkerState,
}

enum Phase {
    Running,
    /// Stopping: every worker was signalled; exit once all are reaped, KILL them at `kill_at`.
    Stopping {
        kill_at: Instant,
    },
}

struct Master<'a, F: Fn(WorkerEnv) -> i32> {
    listener: &'a TcpListener,
    table: WorkerTable,
    config: MasterConfig,
    worker_main: F,
    signals: SignalFd,
    pid: Pid,
    workers: HashMap<Pid, Worker>,
    target: usize,
    generation: u32,
    phase: Phase,
    /// A reload waits for its fresh workers to be ready before retiring the old generation.
    reload_deadline: Option<Instant>,
    /// Respawn backoff: workers that die within a second of starting double the delay.
    backoff: Duration,
    spawn_not_before: Instant,
}

/// Quick deaths in a row that double the delay, up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// A worker that lived this long died "normally": no backoff for it.
const HEALTHY_LIFETIME: Duration = Duration::from_secs(1);
/// How long stop-now (TERM) waits before KILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long a reload waits for fresh workers before retiring the old ones anyway.
const RELOAD_READY_TIMEOUT: Duration = Duration::from_secs(5);

/// `1 worker`, `2 workers`.
fn workers(n: usize) -> String {
    count(n, "worker", "workers")
}

/// A line on the master's stderr. Its failure is ignored: stderr may be the terminal of a
/// foreground server that hung up (EIO, the HUP that came with it is a reload) or a closed
/// pipe, and `eprintln!` would panic there and take the master and its workers down.
fn log(message: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "tcplab master[{}]: {message}",
        nix::unistd::getpid()
    );
}

/// Runs the master until every worker has exited after TERM/INT/QUIT. `signals` comes from
/// [`prepare`]. Returns the process's exit code.
pub fn run<F: Fn(WorkerEnv) -> i32>(
    listener: &TcpListener,
    table: WorkerTable,
    config: MasterConfig,
    signals: SignalFd,
    worker_main: F,
) -> anyhow::Result<i32> {
    let target = config.workers.clamp(1, MAX_WORKERS);
    let mut master = Master {
        listener,
        table,
        config,
        worker_main,
        signals,
        pid: nix::unistd::getpid(),
        workers: HashMap::new(),
        target,
        generation: 1,
        phase: Phase::Running,
        reload_deadline: None,
        backoff: Duration::ZERO,
        spawn_not_before: Instant::now(),
    };
    master.reconcile();
    master.run_loop()
}

impl<F: Fn(WorkerEnv) -> i32> Master<'_, F> {
    fn run_loop(&mut self) -> anyhow::Result<i32> {
        loop {
            if matches!(self.phase, Phase::Stopping { .. }) && self.workers.is_empty() {
                log(format_args!("all workers exited; bye"));
                return Ok(0);
            }
            let timeout = self.next_timeout();
            let mut fds = [PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            while let Some(info) = self.signals.read_signal()? {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(sig) => self.on_signal(sig),
                    Err(_) => continue,
                }
            }
            self.on_timers();
        }
    }

    fn next_timeout(&self) -> PollTimeout {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if let Phase::Stopping { kill_at } = self.phase {
            consider(kill_at);
        }
        for w in self.workers.values() {
            if let WorkerState::Retiring { kill_at } = w.state {
                consider(kill_at);
            }
        }
        if matches!(self.phase, Phase::Running) && self.serving_current() < self.target {
            consider(self.spawn_not_before);
        }
        if self.reload_deadline.is_some() {
            // Poll the fresh workers' ready flags often; a reload is short.
            consider(now + Duration::from_millis(20));
        }
        match next {
            None => PollTimeout::NONE,
            Some(t) => {
                let ms = t.saturating_duration_since(now).as_millis().min(60_000) as u32;
                PollTimeout::try_from(ms.max(1)).unwrap_or(PollTimeout::MAX)
            }
        }
    }

    fn on_signal(&mut self, sig: Signal) {
        match sig {
            Signal::SIGCHLD => self.reap(),
            Signal::SIGTERM | Signal::SIGINT => self.stop(false),
            Signal::SIGQUIT => self.stop(true),
            Signal::SIGHUP => self.reload(),
            Signal::SIGUSR1 => self.reopen_logs(),
            Signal::SIGTTIN => {
                if self.target < MAX_WORKERS {
                    self.target += 1;
                }
                log(format_args!("TTIN: now {}", workers(self.target)));
                self.reconcile();
            }
            Signal::SIGTTOU => {
                self.target = self.target.saturating_sub(1).max(1);
                log(format_args!("TTOU: now {}", workers(self.target)));
                self.reconcile();
            }
            _ => {}
        }
    }

    /// Reaps every dead child; a worker that was not told to go is replaced.
    fn reap(&mut self) {
        let mut reaped = Vec::new();
        if let Err(e) = crate::kernel::subreaper::reap_exited_into(&mut reaped) {
            log(format_args!("waitpid: {e}"));
        }
        for (pid, status) in reaped {
            let Some(worker) = self.workers.remove(&pid) else {
                continue;
            };
            self.table.release(worker.slot, pid);
            let how = crate::kernel::exit::describe(&status);
            let expected = matches!(worker.state, WorkerState::Retiring { .. })
                || matches!(self.phase, Phase::Stopping { .. });
            if expected {
                log(format_args!("worker {pid} {how}"));
                continue;
            }
            self.table.totals().bump_respawns();
            let lived = worker.started.elapsed();
            if lived < HEALTHY_LIFETIME {
                self.backoff = (self.backoff * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF);
            } else {
                self.backoff = Duration::ZERO;
            }
            self.spawn_not_before = Instant::now() + self.backoff;
            log(format_args!(
                "worker {pid} {how} unexpectedly after {lived:.1?}; respawning{}",
                if self.backoff.is_zero() {
                    String::new()
                } else {
                    format!(" in {:?}", self.backoff)
                }
            ));
        }
        self.reconcile();
    }

    fn stop(&mut self, graceful: bool) {
        let (sig, grace) = if graceful {
            (
                Signal::SIGQUIT,
                self.config.shutdown_timeout + Duration::from_secs(1),
            )
        } else {
            (Signal::SIGTERM, STOP_GRACE)
        };
        log(format_args!(
            "{}: stopping {}",
            if graceful {
                "QUIT (graceful)"
            } else {
                "stop now"
            },
            workers(self.workers.len())
        ));
        let kill_at = Instant::now() + grace;
        // A TERM during a graceful stop escalates; a QUIT during a TERM stop changes nothing.
        self.phase = match self.phase {
            Phase::Stopping { kill_at: earlier } => Phase::Stopping {
                kill_at: earlier.min(kill_at),
            },
            Phase::Running => Phase::Stopping { kill_at },
        };
        self.reload_deadline = None;
        for pid in self.workers.keys() {
            let _ = kill(*pid, sig);
        }
    }

    /// HUP: a new generation of workers; the old one drains once the new is ready.
    fn reload(&mut self) {
        if !matches!(self.phase, Phase::Running) {
            return;
        }
        self.generation += 1;
        self.table.totals().bump_reloads();
        self.reload_deadline = Some(Instant::now() + RELOAD_READY_TIMEOUT);
        log(format_args!(
            "HUP: starting {} (generation {})",
            count(self.target, "fresh worker", "fresh workers"),
            self.generation
        ));
        // Fresh workers are not a respawn: no backoff delay.
        self.spawn_not_before = Instant::now();
        self.reconcile();
    }

    fn reopen_logs(&mut self) {
        if let Some(path) = &self.config.error_log {
            match super::daemon::open_log(path) {
                Ok(file) => {
                    let _ = nix::unistd::dup2_stderr(&file);
                }
                Err(e) => log(format_args!("USR1: cannot reopen {}: {e}", path.display())),
            }
        }
        log(format_args!("USR1: reopening logs in every worker"));
        for pid in self.workers.keys() {
            let _ = kill(*pid, Signal::SIGUSR1);
        }
    }

    fn on_timers(&mut self) {
        let now = Instant::now();
        if let Phase::Stopping { kill_at } = self.phase {
            if now >= kill_at {
                for pid in self.workers.keys() {
                    log(format_args!("worker {pid} did not stop in time; KILL"));
                    let _ = kill(*pid, Signal::SIGKILL);
                }
                // Reaped on the SIGCHLD that follows; do not KILL again every loop.
                self.phase = Phase::Stopping {
                    kill_at: now + Duration::from_secs(3600),
                };
            }
        }
        for (pid, w) in self.workers.iter_mut() {
            if let WorkerState::Retiring { kill_at } = w.state {
                if now >= kill_at {
                    log(format_args!("worker {pid} did not drain in time; KILL"));
                    let _ = kill(*pid, Signal::SIGKILL);
                    w.state = WorkerState::Retiring {
                        kill_at: now + Duration::from_secs(3600),
                    };
                }
            }
        }
        if let Some(deadline) = self.reload_deadline {
            let fresh_ready = self
                .workers
                .values()
                .filter(|w| w.generation == self.generation)
                .filter(|w| self.table.ready(w.slot))
                .count();
            if fresh_ready >= self.target || now >= deadline {
                self.reload_deadline = None;
                if fresh_ready == 0 {
                    self.abandon_reload();
                } else {
                    self.retire_old_generations();
                }
            }
        }
        self.reconcile();
    }

    /// Not one fresh worker became ready: keep serving with the old generation rather than
    /// retire it for nothing, and send the fresh ones away.
    fn abandon_reload(&mut self) {
        let fresh: Vec<Pid> = self
            .workers
            .iter()
            .filter(|(_, w)| w.generation == self.generation)
            .map(|(pid, _)| *pid)
            .collect();
        log(format_args!(
            "reload: no fresh worker became ready in {RELOAD_READY_TIMEOUT:?}; keeping the old ones"
        ));
        self.generation -= 1;
        for pid in fresh {
            self.retire(pid);
        }
    }

    fn retire_old_generations(&mut self) {
        let old: Vec<Pid> = self
            .workers
            .iter()
            .filter(|(_, w)| w.generation != self.generation && w.state == WorkerState::Serving)
            .map(|(pid, _)| *pid)
            .collect();
        if !old.is_empty() {
            log(format_args!(
                "reload: draining old {} {}",
                noun(old.len(), "worker", "workers"),
                pids(&old)
            ));
        }
        for pid in old {
            self.retire(pid);
        }
    }

    fn retire(&mut self, pid: Pid) {
        let kill_at = Instant::now() + self.config.shutdown_timeout + Duration::from_secs(1);
        if let Some(w) = self.workers.get_mut(&pid) {
            w.state = WorkerState::Retiring { kill_at };
            let _ = kill(pid, Signal::SIGQUIT);
        }
    }

    /// Workers of the current generation that are not draining.
    fn serving_current(&self) -> usize {
        self.workers
            .values()
            .filter(|w| w.generation == self.generation && w.state == WorkerState::Serving)
            .count()
    }

    /// Brings the current generation to `target` workers: forks what is missing (unless a
    /// backoff delay is running), retires the newest extras (TTOU).
    fn reconcile(&mut self) {
        if !matches!(self.phase, Phase::Running) {
            return;
        }
        let serving = self.serving_current();
        if serving > self.target {
            let mut current: Vec<(Instant, Pid)> = self
                .workers
                .iter()
                .filter(|(_, w)| w.generation == self.generation && w.state == WorkerState::Serving)
                .map(|(pid, w)| (w.started, *pid))
                .collect();
            current.sort();
            for (_, pid) in current.into_iter().rev().take(serving - self.target) {
                log(format_args!("retiring worker {pid}"));
                self.retire(pid);
            }
            return;
        }
        if Instant::now() < self.spawn_not_before {
            return;
        }
        for _ in serving..self.target {
            if let Err(e) = self.spawn() {
                log(format_args!("cannot start a worker: {e}; retrying"));
                self.backoff = (self.backoff * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF);
                self.spawn_not_before = Instant::now() + self.backoff;
                return;
            }
        }
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        // The master's own map, not the slot's pid, says which slots are taken: a worker clears
        // its pid as it exits, before the master has reaped it.
        let workers = &self.workers;
        let taken = |slot: usize| workers.values().any(|w| w.slot == slot);
        let Some(index) = self.table.claim(self.generation, &taken) else {
            anyhow::bail!("all {} scoreboard slots are taken", MAX_WORKERS);
        };
        // The one checked fork of the crate: it refuses if the master ever had a second thread
        // (a lock held by it would stay held in the child), and the child never returns here.
        // The slot stays free on failure: no worker in the map names it.
        let child = crate::kernel::fork::fork_child(|| self.worker_child(index))?;
        self.table.assign(index, child);
        self.workers.insert(
            child,
            Worker {
                slot: index,
                generation: self.generation,
                started: Instant::now(),
                state: WorkerState::Serving,
            },
        );
        log(format_args!("worker {child} started"));
        Ok(())
    }

    /// In the forked child: never returns into the master's loop.
    fn worker_child(&self, index: usize) -> i32 {
        // Die with the master: a SIGKILLed master must not leave workers serving on their own.
        if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err() {
            return 1;
        }
        // The master may have died between fork and prctl; then nobody would signal us.
        if nix::unistd::getppid() != self.pid {
            return 1;
        }
        (self.worker_main)(WorkerEnv {
            listener: self.listener,
            scoreboard: self.table.scoreboard(index),
        })
    }
}

fn pids(list: &[Pid]) -> String {
    list.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}
