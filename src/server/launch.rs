//! `tcplab serve` from flags to a serving process tree: check the flags, detach (`--daemon`),
//! claim the pid file, bind, then either run a master with forked workers (`reactor`,
//! `prefork`) or serve in this one process (`iterative`, `select`, `poll`).
//!
//! Order matters and is the point of this file: everything that can fail because of the user
//! (a bad flag, a busy port, a second instance) fails before the ready line, and in daemon mode
//! it reaches the terminal through the readiness pipe.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::config::Config;
use super::connections::{EventLoop, LoopStart};
use super::daemon::{self, ReadyReport};
use super::intents::{Intents, Role};
use super::master::{self, MasterConfig, WorkerEnv};
use super::models::{self, Table};
use super::pidfile::{self, PidFile};
use super::ready::ReadyLine;
use super::stats::Scoreboard;
use super::worker_table::WorkerTable;
use crate::cli::{ServeArgs, UsageError};
use crate::server::models::Model;

/// Every failure is one line, `tcplab serve: why` (printed by `lib::run`), and exit status 1.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.model == Model::Uring {
        // Never a silent fallback to another model: say why, exit as for a usage error.
        super::uring::check()
            .map_err(|why| UsageError(format!("--model uring: io_uring is unavailable: {why}")))?;
    }
    let mut config = Config::from_args(&args)?;
    // The daemon changes directory to /: make every path the user gave absolute first.
    config.access_log = config.access_log.map(|p| absolute(&p));
    config.error_log = config.error_log.map(|p| absolute(&p));
    // A log that cannot be opened is a start-up error on the terminal, not a worker crash loop.
    config.check_logs()?;
    let pid_path = match (&args.pid_file, args.daemon) {
        (Some(p), _) => Some(absolute(p)),
        (None, true) => Some(pidfile::default_path()),
        // A foreground server writes a pid file only when asked: tests and people run many.
        (None, false) => None,
    };
    let workers = match args.model.has_workers() {
        // clap keeps --workers within 1..=MAX_WORKERS.
        true => match args.workers {
            Some(n) => n,
            None => std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(super::worker_table::MAX_WORKERS),
        },
        // One-process models: the flag does not apply.
        false => 1,
    };
    raise_fd_limit();
    let plan = Plan {
        listen: args.listen,
        model: args.model,
        workers,
        pid_path,
        shutdown_timeout: args.shutdown_timeout,
        reuseport: args.reuseport
            && matches!(args.model, Model::Reactor | Model::Prefork | Model::Uring),
    };
    if args.daemon {
        let readiness = daemon::detach()?;
        let started = match start(&plan, &mut config) {
            Ok(s) => s,
            Err(e) => {
                readiness.failed(&format!("{e:#}"));
                return Ok(ExitCode::FAILURE);
            }
        };
        readiness.ready(&ReadyReport {
            ready: ReadyLine {
                addr: started.addr,
                model: plan.model,
                workers: plan.workers,
                pid: std::process::id() as i32,
            },
            pid_file: started
                .pidfile
                .as_ref()
                .map_or(Path::new("-"), |p| p.path()),
        });
        daemon::redirect_stderr(config.error_log.as_deref())?;
        Ok(exit(serve(started, &plan, config)))
    } else {
        let started = start(&plan, &mut config)?;
        let ready = ReadyLine {
            addr: started.addr,
            model: plan.model,
            workers: plan.workers,
            pid: std::process::id() as i32,
        };
        eprintln!("{ready}");
        if let Some(pf) = &started.pidfile {
            eprintln!("tcplab serve: pid file {}", pf.path().display());
        }
        Ok(exit(serve(started, &plan, config)))
    }
}

fn exit(code: anyhow::Result<i32>) -> ExitCode {
    match code {
        Ok(0) => ExitCode::SUCCESS,
        Ok(n) => ExitCode::from(n.clamp(1, 255) as u8),
        Err(e) => {
            eprintln!("tcplab serve: {e:#}");
            ExitCode::FAILURE
        }
    }
}

struct Plan {
    listen: SocketAddr,
    model: Model,
    workers: usize,
    pid_path: Option<PathBuf>,
    shutdown_timeout: std::time::Duration,
    /// Workers bind sockets of their own (SO_REUSEPORT) instead of sharing the master's.
    reuseport: bool,
}

/// A bound server about to serve: what must exist before the ready line.
struct Started {
    addr: SocketAddr,
    listener: TcpListener,
    pidfile: Option<PidFile>,
    how: How,
}

enum How {
    /// A master: its signals are blocked and read through this signalfd.
    Master(nix::sys::signalfd::SignalFd),
    /// One process: the signal flags are installed.
    Single(Intents),
}

fn start(plan: &Plan, config: &mut Config) -> anyhow::Result<Started> {
    let mut pidfile = plan.pid_path.as_deref().map(PidFile::claim).transpose()?;
    if let Some(note) = pidfile.as_ref().and_then(|p| p.replaced.as_deref()) {
        eprintln!("tcplab serve: {note}");
    }
    let listener = if plan.reuseport {
        super::bind_reuseport(plan.listen)
    } else {
        super::bind(plan.listen)
    }
    .map_err(|e| anyhow::anyhow!(e))?;
    let addr = listener.local_addr()?;
    let me = nix::unistd::getpid();
    config.server_pid = me.as_raw() as u32;
    config.server_started_unix_ms = super::stats::unix_ms();
    if let Some(pf) = pidfile.as_mut() {
        pf.commit(me)?;
    }
    // `kill -SEGV` must kill the master or a worker (forked ones inherit this) at once, not
    // be swallowed by the runtime's stack-overflow handler.
    crate::kernel::faults::die_of_sent_faults().context("SIGSEGV and SIGBUS")?;
    let how = match plan.model.has_workers() {
        true => How::Master(master::prepare()?),
        false => How::Single(Intents::install(Role::Alone)?),
    };
    Ok(Started {
        addr,
        listener,
        pidfile,
        how,
    })
}

fn serve(started: Started, plan: &Plan, config: Config) -> anyhow::Result<i32> {
    let Started {
        listener,
        pidfile,
        how,
        ..
    } = started;
    let code = match how {
        How::Single(intents) => {
            let mut conns = Table::open(config, Scoreboard::single())?;
            conns.board().own().claim();
            match plan.model {
                Model::Select => models::multiplex::run(
                    &listener,
                    &mut conns,
                    &intents,
                    &mut models::select::Select,
                ),
                Model::Poll => {
                    models::multiplex::run(&listener, &mut conns, &intents, &mut models::poll::Poll)
                }
                _ => models::blocking::run(&listener, &mut conns, &intents),
            }
        }
        How::Master(signals) => {
            let table = WorkerTable::new().context("cannot map the worker table")?;
            let (model, reuseport) = (plan.model, plan.reuseport);
            master::run(
                &listener,
                table,
                MasterConfig {
                    workers: plan.workers,
                    shutdown_timeout: plan.shutdown_timeout,
                    error_log: config.error_log.clone(),
                },
                signals,
                |env| worker_main(model, reuseport, &config, env),
            )?
        }
    };
    drop(pidfile);
    Ok(code)
}

/// A forked worker's whole life. Signals are still blocked (inherited from the master): the
/// handlers are registered first, then the signals let in, so none is lost or takes its
/// default action in between.
fn worker_main(model: Model, reuseport: bool, config: &Config, env: WorkerEnv) -> i32 {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        // Ignored if it fails, as the master's log lines are (its stderr may have hung up).
        let _ = writeln!(
            std::io::stderr(),
            "tcplab worker[{}]: {what}: {e}",
            std::process::id()
        );
        1
    };
    let own;
    let listener = if reuseport {
        match own_listener(env.listener) {
            Ok(l) => {
                own = l;
                &own
            }
            Err(e) => return fail("cannot listen", &e),
        }
    } else {
        env.listener
    };
    let intents = match Intents::install(Role::Worker) {
        Ok(i) => i,
        Err(e) => return fail("cannot install signal handlers", &e),
    };
    if let Err(e) = master::unblock_worker_signals() {
        return fail("cannot unblock signals", &e);
    }
    let event_loop: Option<(&str, EventLoop)> = match model {
        // Each claims its slot (= ready) once its loop is set up.
        Model::Reactor => Some(("reactor", super::reactor::run)),
        Model::Uring => Some(("uring", super::uring::run)),
        _ => None,
    };
    if let Some((name, event_loop)) = event_loop {
        let listener = match listener.try_clone() {
            Ok(l) => l,
            Err(e) => return fail("cannot use the listener", &e),
        };
        let start = LoopStart {
            listener,
            config,
            board: env.scoreboard,
            intents,
        };
        return match event_loop(start) {
            Ok(_) => 0,
            Err(e) => fail(name, &format!("{e:#}")),
        };
    }
    let mut conns = match Table::open(config.clone(), env.scoreboard) {
        Ok(c) => c,
        Err(e) => return fail("cannot open the logs", &format!("{e:#}")),
    };
    conns.board().own().claim(); // ready
    models::blocking::run(listener, &mut conns, &intents)
}

/// `--reuseport`: this worker's own socket on the master's address. The master's socket then
/// stops listening (shutdown(SHUT_RD) on a listening socket closes it for every process that
/// holds it, without closing anyone's descriptor), so only the workers' sockets get
/// connections. What is queued on a worker's socket when that worker exits is reset: the reason
/// the shared listener is the default.
fn own_listener(shared: &TcpListener) -> anyhow::Result<TcpListener> {
    let addr = shared.local_addr()?;
    let own = super::bind_reuseport(addr)?;
    let _ = nix::sys::socket::shutdown(shared.as_raw_fd(), nix::sys::socket::Shutdown::Read);
    Ok(own)
}

/// A server wants descriptors: lift the soft limit to the hard one (as nginx's
/// worker_rlimit_nofile does), so 1,000 clients do not hit EMFILE at 1,024.
fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    if path == Path::new("-") || path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}
