//! `tcplab stop | reload | reopen | status`: find the server through its pid file, make sure the
//! pid really is a live tcplab server (never signal a stale pid blindly), signal it, and report
//! what the kernel shows afterwards.
//!
//! The workers are found as the master's children in /proc; their counters, and how long the
//! server lets connections drain (its `--shutdown-timeout`), come from the server's own
//! `/status`, fetched from the address the master listens on (found through the socket inodes
//! the master holds).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::pidfile::{self, Liveness, ProcessKind};
use crate::cli::{ControlArgs, StopArgs};
use crate::kernel::proc;
use crate::kernel::sockets::listening_addr_of;
use crate::server::models::Model;
use crate::units::{format_duration, format_size, noun};

/// `status` exits with this when no server runs (LSB's "program is not running").
const NOT_RUNNING: u8 = 3;
/// How long `stop` (TERM) waits: the master KILLs workers after 5 s.
const STOP_DEADLINE: Duration = Duration::from_secs(10);
/// How long `reload` waits for the old workers to be retired (on top of their drain time).
const RELOAD_DEADLINE: Duration = Duration::from_secs(8);
/// How long `reload` waits for a one-process server to count its reload: the signal is acted
/// on within a tenth of a second, but `iterative` answers `/status` only between clients.
const IN_PLACE_DEADLINE: Duration = Duration::from_secs(10);
/// `--shutdown-timeout`'s default: the drain assumed of a server that does not say its own.
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

fn pid_file_path(args: &ControlArgs) -> PathBuf {
    args.pid_file.clone().unwrap_or_else(pidfile::default_path)
}

/// Why the pid file does not lead to a running server, as one sentence.
enum NotRunning {
    Missing(PathBuf),
    /// Left over (it names a pid that is no server) or unusable (no pid in it at all).
    Stale {
        path: PathBuf,
        why: String,
        has_pid: bool,
    },
}

impl std::fmt::Display for NotRunning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotRunning::Missing(path) => write!(
                f,
                "no tcplab server is running: there is no pid file {}",
                path.display()
            ),
            NotRunning::Stale { path, why, has_pid } => write!(
                f,
                "{} pid file {}: {why}; nothing was signalled (remove the file if you are sure)",
                if *has_pid { "stale" } else { "unusable" },
                path.display()
            ),
        }
    }
}

fn find_server(path: &Path) -> anyhow::Result<Result<Pid, NotRunning>> {
    match pidfile::inspect(path) {
        Ok(Liveness::Running(pid)) => Ok(Ok(pid)),
        Ok(Liveness::Missing) => Ok(Err(NotRunning::Missing(path.to_path_buf()))),
        Ok(Liveness::Stale { why, pid }) => Ok(Err(NotRunning::Stale {
            path: path.to_path_buf(),
            why,
            has_pid: pid.is_some(),
        })),
        Ok(Liveness::Worker { pid, master }) => bail!(
            "pid file {} names {pid}, a worker of the tcplab server {master}, not the server \
             itself; nothing was signalled (write {master} into the file if that server is \
             the one meant)",
            path.display()
        ),
        Ok(Liveness::NotHolder { pid, holder }) => bail!(
            "pid file {} names {pid}, a tcplab server that does not hold the file's lock \
             (process {holder} does); nothing was signalled",
            path.display()
        ),
        Err(pidfile::PidFileError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            bail!(
                "cannot read pid file {}: permission denied (run as the server's user or root)",
                path.display()
            )
        }
        Err(e) => Err(e.into()),
    }
}

fn running_server(path: &Path) -> anyhow::Result<Pid> {
    find_server(path)?.map_err(|why| anyhow!("{why}"))
}

fn send(pid: Pid, sig: Signal) -> anyhow::Result<()> {
    match kill(pid, sig) {
        Ok(()) => Ok(()),
        Err(Errno::EPERM) => bail!(
            "permission denied sending {} to the server (pid {pid}): it belongs to another user; \
             run as that user or root",
            sig.as_str()
        ),
        Err(Errno::ESRCH) => bail!("the server (pid {pid}) exited before {}", sig.as_str()),
        Err(e) => bail!("cannot send {} to pid {pid}: {e}", sig.as_str()),
    }
}

pub fn stop(args: StopArgs) -> anyhow::Result<ExitCode> {
    let path = pid_file_path(&args.control);
    let pid = running_server(&path)?;
    let (sig, deadline) = if args.graceful {
        (Signal::SIGQUIT, drain_of(pid) + Duration::from_secs(5))
    } else {
        (Signal::SIGTERM, STOP_DEADLINE)
    };
    let started = Instant::now();
    send(pid, sig)?;
    // Like Workerman: poll kill(pid, 0) until the process is gone. A zombie counts as gone
    // (it has exited; its parent has not reaped it yet).
    while started.elapsed() < deadline {
        if pidfile::process_kind(pid) == ProcessKind::Gone || kill(pid, None) == Err(Errno::ESRCH) {
            return crate::output::print(&format!(
                "tcplab stop: server {pid} stopped ({} after {})\n",
                sig.as_str(),
                format_duration(started.elapsed())
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!(
        "the server (pid {pid}) did not stop within {} of {}",
        format_duration(deadline),
        sig.as_str()
    )
}

/// How long the server lets connections drain on QUIT or HUP: the `--shutdown-timeout` its
/// `/status` publishes; the flag's default when it does not answer (or, started by an older
/// tcplab, does not say).
fn drain_of(pid: Pid) -> Duration {
    server_status(pid)
        .1
        .as_ref()
        .and_then(shutdown_timeout)
        .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT)
}

fn shutdown_timeout(doc: &serde_json::Value) -> Option<Duration> {
    doc["shutdown_timeout_ms"]
        .as_u64()
        .map(Duration::from_millis)
}

/// Where the server listens and what its `/status` says (None for what could not be found).
/// With --reuseport only the workers hold listening sockets.
fn server_status(pid: Pid) -> (Option<SocketAddr>, Option<serde_json::Value>) {
    let listen = listening_addr_of(pid.as_raw()).or_else(|| {
        workers_of(pid)
            .into_iter()
            .find_map(|w| listening_addr_of(w.as_raw()))
    });
    let doc = listen.and_then(|addr| fetch_status(addr).ok());
    (listen, doc)
}

/// Live (non-zombie) children of `pid`: a master's workers.
pub fn workers_of(pid: Pid) -> Vec<Pid> {
    proc::live_children(pid.as_raw())
        .into_iter()
        .map(Pid::from_raw)
        .collect()
}

pub fn reload(args: ControlArgs) -> anyhow::Result<ExitCode> {
    let path = pid_file_path(&args);
    let pid = running_server(&path)?;
    let old = workers_of(pid);
    // Asked before the HUP: the workers answering it are about to be retired.
    let (listen, doc) = server_status(pid);
    let model = doc
        .as_ref()
        .and_then(|d| d["model"].as_str())
        .and_then(|m| <Model as clap::ValueEnum>::from_str(m, false).ok());
    // The model says; a server whose /status does not answer is judged by its children.
    if !model.map_or(!old.is_empty(), Model::has_workers) {
        return reload_in_place(pid, model, listen, doc.as_ref());
    }
    let drain = doc
        .as_ref()
        .and_then(shutdown_timeout)
        .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);
    send(pid, Signal::SIGHUP)?;
    // The master retires the old workers once fresh ones are ready (within 5 s), then they
    // drain for at most the server's --shutdown-timeout.
    let deadline = RELOAD_DEADLINE + drain;
    let started = Instant::now();
    loop {
        let now = workers_of(pid);
        let fresh: Vec<Pid> = now.iter().copied().filter(|p| !old.contains(p)).collect();
        let draining: Vec<Pid> = old.iter().copied().filter(|p| now.contains(p)).collect();
        // Done when a whole generation serves: as many fresh workers as there were old ones
        // (or, at the deadline, whatever fresh ones there are once the old are gone).
        let complete = fresh.len() >= old.len() || started.elapsed() > deadline;
        if draining.is_empty() && !fresh.is_empty() && complete {
            return crate::output::print(&format!(
                "tcplab reload: server {pid} reloaded; {}; {} {} exited\n",
                workers("new", &fresh),
                workers("old", &old),
                noun(old.len(), "has", "have")
            ));
        }
        if started.elapsed() > deadline {
            if fresh.is_empty() || draining.len() == old.len() {
                bail!(
                    "server {pid} kept its {}: fresh ones did not start (see its error log)",
                    workers("old", &old)
                );
            }
            return crate::output::print(&format!(
                "tcplab reload: server {pid} reloaded; {}; {} still draining\n",
                workers("new", &fresh),
                workers("old", &draining)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A one-process server (`iterative`, `select`, `poll`) reloads in place on HUP: no workers to
/// replace, its logs reopened. Its `/status` counts the reload; waiting for that count is how
/// we know it was done, and not just that a signal was sent.
fn reload_in_place(
    pid: Pid,
    model: Option<Model>,
    listen: Option<SocketAddr>,
    doc: Option<&serde_json::Value>,
) -> anyhow::Result<ExitCode> {
    let what = match model {
        Some(m) => format!("server {pid} (model {})", m.name()),
        None => format!("server {pid}"),
    };
    // A server without a HUP handler would die of it (or ignore it): never send it one.
    let masks = crate::kernel::signals::masks(pid.as_raw())
        .with_context(|| format!("cannot read the signal masks of {what}"))?;
    if let Some(why) = hup_refused(&masks) {
        bail!("{what} {why}; nothing was signalled (`tcplab reopen` reopens its logs)");
    }
    let Some(listen) = listen else {
        bail!("{what} listens nowhere that /proc shows: a reload could not be confirmed; nothing was signalled");
    };
    // Unknown when /status did not answer (`iterative` busy with a slow client). The loop acts
    // on a signal before it answers its next request, so a count in any answer given after
    // the HUP includes it.
    let before = doc.and_then(|d| d["reloads"].as_u64()).unwrap_or(0);
    send(pid, Signal::SIGHUP)?;
    let started = Instant::now();
    while started.elapsed() < IN_PLACE_DEADLINE {
        if pidfile::process_kind(pid) == ProcessKind::Gone || kill(pid, None) == Err(Errno::ESRCH) {
            bail!("{what} exited after HUP");
        }
        let answer = fetch_status(listen).ok();
        if let Some(doc) = answer.filter(|d| d["reloads"].as_u64().is_some_and(|n| n > before)) {
            // The model from this answer when the first /status did not come.
            let what = match doc["model"].as_str().filter(|_| model.is_none()) {
                Some(m) => format!("server {pid} (model {})", crate::text::printable(m)),
                None => what,
            };
            return crate::output::print(&format!(
                "tcplab reload: {what} reloaded in place: one process, no workers to replace; \
                 its log files were reopened\n"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!(
        "sent HUP to {what}, which did not confirm the reload within {} (is it busy with a \
         slow client? see its error log)",
        format_duration(IN_PLACE_DEADLINE)
    )
}

/// Why HUP must not be sent to a process, judged from its masks; None when it catches HUP.
fn hup_refused(masks: &crate::model::SignalMasks) -> Option<&'static str> {
    const HUP: u32 = Signal::SIGHUP as u32;
    if masks.caught.contains(HUP) {
        None
    } else if masks.ignored.contains(HUP) {
        Some("ignores HUP, so a reload would do nothing")
    } else if masks.blocked.contains(HUP) {
        Some("blocks HUP without handling it, so a reload would do nothing")
    } else {
        Some("does not catch HUP, so HUP would kill it (a server of an older tcplab)")
    }
}

/// `new worker 42`, `old workers 40 41`.
fn workers(which: &str, pids: &[Pid]) -> String {
    format!(
        "{which} {} {}",
        noun(pids.len(), "worker", "workers"),
        list(pids)
    )
}

fn list(pids: &[Pid]) -> String {
    pids.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn reopen(args: ControlArgs) -> anyhow::Result<ExitCode> {
    let path = pid_file_path(&args);
    let pid = running_server(&path)?;
    send(pid, Signal::SIGUSR1)?;
    crate::output::print(&format!(
        "tcplab reopen: sent USR1 to server {pid}; its log files are reopened\n"
    ))
}

pub fn status(args: ControlArgs) -> anyhow::Result<ExitCode> {
    let path = pid_file_path(&args);
    let pid = match find_server(&path)? {
        Ok(pid) => pid,
        Err(why) => {
            eprintln!("tcplab status: {why}");
            return Ok(ExitCode::from(NOT_RUNNING));
        }
    };
    let (listen, doc) = server_status(pid);
    let mut out = String::new();
    let model = doc
        .as_ref()
        .and_then(|d| d["model"].as_str())
        .unwrap_or("?");
    out.push_str(&format!(
        "tcplab server {pid}: {}, model {model}, pid file {}\n",
        match listen {
            Some(addr) => format!("listening on http://{addr}"),
            None => "listening address unknown".to_string(),
        },
        path.display()
    ));
    out.push_str(&format!(
        "{:>8}  {:>8}  {:>10}  {:>10}  {:>9}  {}\n",
        "PID", "UPTIME", "CONNS", "REQUESTS", "RSS", "ROLE"
    ));
    let counters = |p: Pid| -> (String, String) {
        let Some(doc) = &doc else {
            return ("?".into(), "?".into());
        };
        let w = doc["workers"].as_array().and_then(|ws| {
            ws.iter()
                .find(|w| w["pid"].as_i64() == Some(p.as_raw() as i64))
        });
        match w {
            Some(w) => (w["connections_open"].to_string(), w["requests"].to_string()),
            None => ("-".into(), "-".into()),
        }
    };
    let mut workers = workers_of(pid);
    let one_process = workers.is_empty();
    if one_process {
        // One-process models serve in the master itself.
        workers.push(pid);
    } else {
        out.push_str(&row(pid, ("-".into(), "-".into()), "master"));
    }
    for w in workers {
        let role = if one_process {
            "master+worker"
        } else {
            "worker"
        };
        out.push_str(&row(w, counters(w), role));
    }
    if doc.is_none() {
        out.push_str("(counters unavailable: the server's /status did not answer)\n");
    }
    crate::output::print(&out)
}

fn row(pid: Pid, (conns, requests): (String, String), role: &str) -> String {
    let (uptime, rss) = (proc::age(pid.as_raw()), proc::rss_bytes(pid.as_raw()));
    format!(
        "{:>8}  {:>8}  {:>10}  {:>10}  {:>9}  {role}\n",
        pid.to_string(),
        uptime.map_or("?".into(), format_duration),
        conns,
        requests,
        rss.map_or("?".into(), format_size),
    )
}

/// GET /status from the server itself.
fn fetch_status(addr: SocketAddr) -> anyhow::Result<serde_json::Value> {
    let addr = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        ip if ip.is_unspecified() => {
            SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    };
    let timeout = Duration::from_secs(2);
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    super::status_client::ask(&mut std::io::BufReader::new(stream), true, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drain_is_read_from_status_and_defaults_as_the_flag_does() {
        let doc = serde_json::json!({"pid": 1, "shutdown_timeout_ms": 2500});
        assert_eq!(shutdown_timeout(&doc), Some(Duration::from_millis(2500)));
        // A server of an older tcplab does not say.
        assert_eq!(shutdown_timeout(&serde_json::json!({"pid": 1})), None);
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(["tcplab", "serve"]).unwrap();
        let Some(crate::cli::Command::Serve(serve)) = cli.command else {
            panic!("not serve");
        };
        assert_eq!(serve.shutdown_timeout, DEFAULT_SHUTDOWN_TIMEOUT);
    }

    #[test]
    fn hup_goes_only_to_a_process_that_catches_it() {
        use crate::model::{SignalMasks, SignalSet};
        let hup = SignalSet(1 << (Signal::SIGHUP as u32 - 1));
        let masks = |caught, ignored, blocked| SignalMasks {
            caught: if caught { hup } else { SignalSet(0) },
            ignored: if ignored { hup } else { SignalSet(0) },
            blocked: if blocked { hup } else { SignalSet(0) },
            ..Default::default()
        };
        assert_eq!(hup_refused(&masks(true, false, false)), None);
        // Caught but blocked for a moment: delivered once let in.
        assert_eq!(hup_refused(&masks(true, false, true)), None);
        let refused = |m| hup_refused(&m).unwrap_or_default();
        assert!(refused(masks(false, false, false)).contains("would kill it"));
        assert!(refused(masks(false, true, false)).contains("ignores HUP"));
        assert!(refused(masks(false, false, true)).contains("blocks HUP"));
    }
}
