//! `tcplab serve --daemon` and the pid file, read through /proc: the daemon's ids, the launch
//! that reports readiness or the bind error, a second instance refused, stale pid files, and
//! the control commands. Every test runs under this process as child subreaper and reaps the
//! daemon it orphaned, by pid; they run one at a time (a lock) because a daemon that fails to
//! start can only be found as an unknown zombie child.

use testkit::server_procs as procs;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Mutex;

use testkit::{subreaper, tcplab};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    subreaper();
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn run(args: &[&str]) -> Output {
    tcplab().args(args).output().expect("run tcplab")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `tcplab serve --daemon --listen LISTEN --pid-file F EXTRA` to the launcher's exit.
fn launch(listen: &str, pid_file: &Path, extra: &[&str]) -> Output {
    tcplab()
        .args(["serve", "--daemon", "--listen", listen, "--pid-file"])
        .arg(pid_file)
        .args(extra)
        .output()
        .unwrap()
}

/// Starts a daemon; returns (master pid, address) from the launcher's report.
fn start_daemon(pid_file: &Path, extra: &[&str]) -> (i32, std::net::SocketAddr) {
    let out = launch("127.0.0.1:0", pid_file, extra);
    let err = text(&out.stderr);
    assert!(out.status.success(), "launch failed: {err}");
    let pid: i32 = std::fs::read_to_string(pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The ready line counts the workers in words: `1 worker`, `2 workers`.
    let workers = extra.iter().position(|a| *a == "--workers").map(|at| {
        let n = extra[at + 1];
        format!(
            ", {n} {}, pid {pid})",
            if n == "1" { "worker" } else { "workers" }
        )
    });
    let reported = err.contains(&format!("pid file {}", pid_file.display()))
        && err.contains(&format!("pid {pid}"))
        && workers.is_none_or(|w| err.contains(&w));
    if !reported {
        // Not left running by a failed check.
        stop(pid_file, pid);
        panic!("the launch reported {err:?}");
    }
    let addr = testkit::read_ready_line(&mut err.as_bytes());
    (pid, addr)
}

fn stop(pid_file: &Path, pid: i32) {
    let out = run(&["stop", "--pid-file", pid_file.to_str().unwrap()]);
    assert!(out.status.success(), "stop: {}", text(&out.stderr));
    procs::reap(pid);
    assert!(!pid_file.exists(), "pid file left behind");
}

fn pid_file_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("tcplab.pid")
}

#[test]
fn daemon_detaches_like_the_tutorial_and_stops_on_command() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let pf = pid_file_in(&dir);
    let (pid, addr) = start_daemon(&pf, &["--model", "prefork", "--workers", "2"]);
    let me = std::process::id() as i32;
    let st = procs::stat(pid).expect("daemon alive");
    // Orphaned on purpose: adopted by us, the subreaper (PID 1 without one).
    assert_eq!(st.ppid, me, "{st:?}");
    let my = procs::stat(me).unwrap();
    assert_ne!(st.sid, my.sid, "still in the test's session");
    assert_eq!(st.pgid, st.sid, "not in its own session's group");
    // Forked again after setsid: not the session leader, so it can never get a terminal.
    assert_ne!(st.sid, pid);
    assert_eq!(st.tty_nr, 0, "has a controlling tty");
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        Path::new("/")
    );
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap(),
        Path::new("/dev/null")
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.contains("Umask:\t0000"), "{status}");
    // fork is only sound in a single-threaded process: the master must stay one.
    assert!(status.contains("Threads:\t1\n"), "{status}");
    assert_eq!(std::fs::read_to_string(&pf).unwrap(), format!("{pid}\n"));
    let workers = procs::wait_workers(pid, 2);
    assert_eq!(procs::get(addr, "/").unwrap(), (200, "hello!world".into()));

    let out = run(&["status", "--pid-file", pf.to_str().unwrap()]);
    let table = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        table.contains(&format!("listening on http://{addr}")),
        "{table}"
    );
    for w in &workers {
        assert!(
            table.contains(&format!(" {w} ")),
            "worker {w} missing:\n{table}"
        );
    }

    stop(&pf, pid);
    for w in workers {
        procs::assert_gone(w);
    }
    let out = run(&["status", "--pid-file", pf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("no tcplab server is running"));
}

#[test]
fn a_second_instance_is_refused_with_a_clear_message() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let pf = pid_file_in(&dir);
    let (pid, addr) = start_daemon(&pf, &["--model", "poll"]);
    let out = launch("127.0.0.1:0", &pf, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("already running") && err.contains(&pid.to_string()),
        "{err}"
    );
    // The refused daemon exited; reap it (it is our orphan) before anything else.
    testkit::reap_orphaned_daemons();
    // In the foreground too.
    let out = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--pid-file",
        pf.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("already running"));
    // The first one never noticed.
    assert_eq!(std::fs::read_to_string(&pf).unwrap(), format!("{pid}\n"));
    assert_eq!(procs::get(addr, "/").unwrap().0, 200);
    stop(&pf, pid);
}

#[test]
fn a_bind_error_reaches_the_terminal_of_the_launch() {
    let _g = serial();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let pf = pid_file_in(&dir);
    let out = launch(&addr, &pf, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on {addr}")) && err.contains("in use"),
        "{err}"
    );
    assert!(!pf.exists(), "pid file of a server that never listened");
    testkit::reap_orphaned_daemons();
}

#[test]
fn a_stale_pid_file_is_reported_and_never_signalled() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let pf = pid_file_in(&dir);
    let pfs = pf.to_str().unwrap();

    // Nothing at all.
    let out = run(&["stop", "--pid-file", pfs]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no pid file"),
        "{}",
        text(&out.stderr)
    );

    // A process that is gone.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    std::fs::write(&pf, format!("{dead}\n")).unwrap();
    for cmd in ["stop", "reload", "reopen"] {
        let out = run(&[cmd, "--pid-file", pfs]);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let err = text(&out.stderr);
        assert!(
            err.contains("stale pid file") && err.contains("not running"),
            "{err}"
        );
    }
    let out = run(&["status", "--pid-file", pfs]);
    assert_eq!(out.status.code(), Some(3));

    // A live process that is not a tcplab server. It must not get a signal.
    let sleeper = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let mut sleeper = testkit::Running {
        child: sleeper,
        stderr: None,
    };
    std::fs::write(&pf, format!("{}\n", sleeper.pid())).unwrap();
    let out = run(&["stop", "--pid-file", pfs]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("`sleep`, not a tcplab server"), "{err}");
    assert!(
        sleeper.child.try_wait().unwrap().is_none(),
        "sleep was signalled"
    );

    // A server started over the stale file replaces it and says so.
    std::fs::write(&pf, format!("{dead}\n")).unwrap();
    let out = launch("127.0.0.1:0", &pf, &["--model", "iterative"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("stale pid file") && err.contains("replacing it"),
        "{err}"
    );
    let pid: i32 = std::fs::read_to_string(&pf)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(pid, dead as i32);
    stop(&pf, pid);
    sleeper.signal(nix::sys::signal::Signal::SIGKILL);
    sleeper.wait_exit(std::time::Duration::from_secs(5));
}

#[test]
fn reopen_moves_the_access_log_to_a_fresh_file_and_eperm_is_one_clear_line() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let pf = pid_file_in(&dir);
    let pfs = pf.to_str().unwrap();
    let log = dir.path().join("access.log");
    let (pid, addr) = start_daemon(
        &pf,
        &["--workers", "1", "--access-log", log.to_str().unwrap()],
    );
    assert_eq!(procs::get(addr, "/before").unwrap().0, 404);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o644,
        "the daemon's umask 0 leaked into the log's mode"
    );
    // logrotate's way: rename, then ask the server to reopen by path.
    let rotated = dir.path().join("access.log.1");
    testkit::wait_for("the first line", std::time::Duration::from_secs(5), || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|t| t.contains("/before"))
    });
    std::fs::rename(&log, &rotated).unwrap();
    let out = run(&["reopen", "--pid-file", pfs]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    testkit::wait_for(
        "a fresh log file",
        std::time::Duration::from_secs(5),
        || {
            procs::get(addr, "/after").ok()?;
            std::fs::read_to_string(&log)
                .ok()
                .filter(|t| t.contains("/after"))
        },
    );
    // Lines of requests made before the worker reopened went to the old file; from now on
    // nothing does.
    assert_eq!(procs::get(addr, "/later").unwrap().0, 404);
    testkit::wait_for("the next line", std::time::Duration::from_secs(5), || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|t| t.contains("/later"))
    });
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(old.contains("/before") && !old.contains("/later"), "{old}");

    // Another user may read the pid file but not signal root's server.
    if !testkit::skip_without(testkit::Need::Root) {
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_tcplab"))
            .args(["stop", "--pid-file", pfs])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("permission denied") && err.contains(&pid.to_string()),
            "{err}"
        );
        assert!(
            procs::stat(pid).is_some(),
            "stopped by an unprivileged user"
        );
    }
    stop(&pf, pid);
}

#[test]
fn the_systemd_unit_runs_a_valid_foreground_command() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/tcplab.service"
    ))
    .unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let argv: Vec<&str> = exec.split_whitespace().collect();
    assert!(argv[0].ends_with("/tcplab"));
    // The same parser as the binary: every flag of the unit exists and has a valid value.
    use clap::Parser;
    let cli = tcplab::cli::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{e}"));
    match cli.command {
        Some(tcplab::cli::Command::Serve(args)) => {
            assert!(!args.daemon, "systemd wants the foreground (daemon(7))");
        }
        other => panic!("not serve: {other:?}"),
    }
    assert!(unit.contains("Type=simple") && unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
}

#[test]
fn stop_graceful_waits_for_the_request_in_flight() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let pf = pid_file_in(&dir);
    let log = dir.path().join("access.log");
    let (pid, addr) = start_daemon(
        &pf,
        &[
            "--workers",
            "2",
            "--shutdown-timeout",
            "7s",
            "--access-log",
            log.to_str().unwrap(),
        ],
    );
    let workers = procs::wait_workers(pid, 2);
    // The drain `stop --graceful` waits for is the one the server publishes.
    let (_, body) = procs::get(addr, "/status").unwrap();
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["shutdown_timeout_ms"], 7000, "{doc}");
    let slow = std::thread::spawn(move || procs::get(addr, "/sleep?ms=4000"));
    procs::wait_request_logged(&log, "/sleep?ms=4000");
    let out = run(&["stop", "--graceful", "--pid-file", pf.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("SIGQUIT"),
        "{}",
        text(&out.stdout)
    );
    // By the time stop returns, the answer was sent in full.
    let answer = slow.join().unwrap().expect("the request in flight was cut");
    assert_eq!(answer, (200, "slept 4000 ms\n".to_string()));
    procs::reap(pid);
    for w in workers {
        procs::assert_gone(w);
    }
    assert!(!pf.exists());
}
