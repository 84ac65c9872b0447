//! Each check against the real kernel: the lesson's action done by the test, the check passes;
//! the state absent (not yet made, or just short of it), the check does not.

use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use tcplab::demo::focus::{focus_of, Focus};
use tcplab::learn::check::{Check, Memory, Tracing, Verdict};
use tcplab::learn::lang::Lang;
use tcplab::learn::watch::Watcher;

use testkit::demo::{numbers_after, Demo};
use testkit::{serve, subreaper, Running};

const T: Duration = Duration::from_secs(15);

fn check(text: &str) -> Check {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Watches until the check passes; panics with the last verdict if it does not in time.
fn passes(w: &mut Watcher, text: &str, memory: &mut Memory) -> String {
    match w.until(&check(text), memory, T) {
        Verdict::Passed(t) => t,
        other => panic!("`{text}` did not pass: {other:?}"),
    }
}

/// The check on one fresh snapshot is not a pass.
fn waits(w: &mut Watcher, text: &str, memory: &mut Memory) -> String {
    let snap = w.snapshot().unwrap();
    match w.evaluate(&check(text), &snap, memory) {
        Verdict::Waiting(t) => t,
        other => panic!("`{text}` should be waiting: {other:?}"),
    }
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

fn watcher(port: u16) -> (Watcher, Memory) {
    (Watcher::new(port, Lang::En), Memory::new())
}

fn traced(port: u16) -> (Watcher, Memory) {
    let (mut w, m) = watcher(port);
    w.start_tracing().unwrap();
    assert!(w.wait_tracing(T), "the tracer did not start");
    (w, m)
}

fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// The port a network demo names on its first line.
fn demo_port(d: &mut Demo, head: &str) -> u16 {
    let line = d.line_with(head, T);
    numbers_after(&line, "port")[0] as u16
}

#[test]
fn handshake_and_teardown_from_the_kernel() {
    let (l, port) = listener();
    let (mut w, mut m) = traced(port);
    // As root the tracepoint; otherwise the check says it is sampling, never a plain tick.
    waits(&mut w, "handshake", &mut m);
    let (c, s) = pair(&l);
    let text = passes(&mut w, "handshake", &mut m);
    match &w.tracing {
        Tracing::Kernel => {
            assert!(text.contains("CLOSE→SYN_SENT→ESTABLISHED"), "{text}");
            assert!(text.contains("LISTEN→SYN_RECV→ESTABLISHED"), "{text}");
        }
        Tracing::Sampled { .. } => assert!(text.contains("sampled"), "{text}"),
        Tracing::None => unreachable!(),
    }
    // Open, nobody has closed: no teardown. Then the client closes first, the server after.
    w.forget_transitions();
    waits(&mut w, "teardown", &mut m);
    drop(c);
    let mut buf = [0u8; 1];
    assert_eq!((&s).read(&mut buf).unwrap(), 0);
    if let Tracing::Kernel = w.tracing {
        // The passive side has not closed yet: no LAST_ACK, no teardown.
        waits(&mut w, "teardown", &mut m);
    }
    drop(s);
    let text = passes(&mut w, "teardown", &mut m);
    assert!(text.contains("client"), "{text}");
}

#[test]
fn established_and_time_wait_on_the_side_that_closed_first() {
    let (l, port) = listener();
    let (mut w, mut m) = watcher(port);
    waits(&mut w, "established", &mut m);
    let (c, s) = pair(&l);
    let text = passes(&mut w, "established", &mut m);
    assert!(text.contains("both ends ESTABLISHED"), "{text}");
    // The server closes first: TIME_WAIT on the server's port, none on the client's side.
    s.shutdown(Shutdown::Both).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!((&c).read(&mut buf).unwrap(), 0);
    drop(c);
    let text = passes(&mut w, "time-wait closer=server", &mut m);
    assert!(text.contains(&format!(":{port}")), "{text}");
    waits(&mut w, "time-wait closer=client", &mut m);
    // A TIME_WAIT older than the step is not the step's doing: once its timer shows it began
    // well before, a step that begins now does not count it.
    testkit::wait_for("the TIME_WAIT to age", T, || {
        let snap = w.snapshot().unwrap();
        snap.sockets
            .iter()
            .any(|s| {
                s.local.port() == port
                    && s.state == tcplab::model::TcpState::TimeWait
                    && s.timer.expires_in < Duration::from_millis(57_500)
            })
            .then_some(())
    });
    w.forget_transitions();
    waits(&mut w, "time-wait closer=server", &mut m);
}

#[test]
fn close_wait_and_several_states() {
    let (l, port) = listener();
    let (mut w, mut m) = watcher(port);
    let (c, s) = pair(&l);
    waits(&mut w, "close-wait min=1", &mut m);
    // The client closes; the server never does: CLOSE_WAIT, FIN_WAIT2, LISTEN.
    c.shutdown(Shutdown::Both).unwrap();
    let text = passes(&mut w, "close-wait min=1", &mut m);
    assert!(text.contains("CLOSE_WAIT"), "{text}");
    let text = passes(&mut w, "states min=3", &mut m);
    assert!(
        text.contains("LISTEN 1") && text.contains("CLOSE_WAIT 1"),
        "{text}"
    );
    waits(&mut w, "states min=4", &mut m);
    drop((c, s));
}

#[test]
fn a_listener_of_a_model_and_its_accept_queue() {
    subreaper();
    // A port nobody listens on: no listener.
    let (l, port) = listener();
    drop(l);
    let (mut w, mut m) = watcher(port);
    let text = waits(&mut w, "listener", &mut m);
    assert!(text.contains("nothing listens"), "{text}");
    let (server, addr) = serve(&["--model", "iterative"]);
    let (mut w, mut m) = watcher(addr.port());
    let text = passes(&mut w, "listener model=iterative", &mut m);
    assert!(text.contains("model iterative"), "{text}");
    assert_eq!(m.get("server").map(|f| f.pid), Some(server.pid()));
    waits(&mut w, "listener model=prefork", &mut m);
    drop(server);

    // Nobody accepts: finished handshakes wait in the queue.
    let (l, port) = listener();
    let (mut w, mut m) = watcher(port);
    waits(&mut w, "queued min=1", &mut m);
    let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    passes(&mut w, "queued min=1", &mut m);
    waits(&mut w, "queued min=2", &mut m);
}

#[test]
fn one_listener_held_by_several_processes() {
    subreaper();
    let mut d = Demo::start(&["shared-accept", "--workers", "3", "--connections", "0"]);
    let port = demo_port(&mut d, "shared-accept demo: port");
    let (mut w, mut m) = watcher(port);
    let text = passes(&mut w, "shared-listener min=4", &mut m);
    assert!(text.contains("held by 4 processes"), "{text}");
    waits(&mut w, "shared-listener min=5", &mut m);
}

#[test]
fn many_connections_in_one_process() {
    subreaper();
    let (server, addr) = serve(&["--workers", "1"]);
    let (mut w, mut m) = watcher(addr.port());
    let mut held: Vec<TcpStream> = (0..10).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let text = passes(&mut w, "connections min=10", &mut m);
    assert!(text.contains("10 connections"), "{text}");
    waits(&mut w, "connections min=11", &mut m);
    held.clear();
    drop(server);
}

#[test]
fn a_descriptor_past_fd_setsize() {
    subreaper();
    let (l, port) = listener();
    let (mut w, mut m) = watcher(port);
    let _p = pair(&l);
    waits(&mut w, "fd-past-setsize", &mut m);
    drop(l);
    let mut d = Demo::start(&["select-limit"]);
    let port = demo_port(&mut d, "select-limit demo: port");
    let (mut w, mut m) = watcher(port);
    let text = passes(&mut w, "fd-past-setsize", &mut m);
    assert!(text.contains("fd 1024"), "{text}");
}

#[test]
fn fork_zombies_and_their_reaping() {
    subreaper();
    let _one = crate::one_demo_at_a_time();
    let (mut w, mut m) = watcher(1);
    waits(&mut w, "fork cmd=\"demo fork\"", &mut m);
    let mut f = Demo::start(&["fork"]);
    let line = f.line_with("fork demo: parent", T);
    let text = passes(&mut w, "fork cmd=\"demo fork\"", &mut m);
    let child = numbers_after(&line, "child")[0];
    assert_eq!(m.get("child").map(|f| f.pid), Some(child), "{text}");
    // A parent and child in the test's session and group are no daemon.
    let text = waits(&mut w, "daemon cmd=\"demo fork\"", &mut m);
    assert!(text.contains("no daemon"), "{text}");
    drop(f);

    waits(&mut w, "zombies min=1 cmd=\"demo zombie\"", &mut m);
    let mut z = Demo::start(&["zombie", "--count", "3"]);
    let line = z.line_with("zombie demo: parent", T);
    let parent = numbers_after(&line, "parent")[0];
    let text = passes(&mut w, "zombies min=3 cmd=\"demo zombie\"", &mut m);
    assert!(text.contains(&format!("parent {parent}")), "{text}");
    waits(&mut w, "zombies min=4 cmd=\"demo zombie\"", &mut m);
    // The parent is alive: not reaped. Killed: its zombies go to the demo, which reaps them.
    waits(&mut w, "reaped", &mut m);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(parent), Signal::SIGTERM).unwrap();
    let text = passes(&mut w, "reaped", &mut m);
    assert!(text.contains(&format!("parent {parent} is gone")), "{text}");
}

#[test]
fn a_daemon_and_a_server_that_is_not_one() {
    subreaper();
    let (server, addr) = serve(&["--workers", "1"]);
    let (mut w, mut m) = watcher(addr.port());
    passes(&mut w, "listener", &mut m);
    let text = waits(&mut w, "daemon", &mut m);
    assert!(text.contains("no daemon"), "{text}");
    drop(server);

    let mut d = Demo::start(&["daemon"]);
    let line = d.line_with(" running", T);
    let Some(Focus::Process(daemon)) = focus_of(&line) else {
        panic!("{line}")
    };
    let text = passes(&mut w, "daemon cmd=\"demo daemon\"", &mut m);
    assert!(
        text.contains(&format!("pid {daemon} is a daemon")),
        "{text}"
    );
}

#[test]
fn a_pipeline_is_a_process_group() {
    subreaper();
    let (mut w, mut m) = watcher(1);
    use std::os::unix::process::CommandExt;
    // `sleep` under a name of this test's own (the kernel's comm is the name it was run by), so
    // other processes on the machine cannot pass or fail the check.
    let dir = tempfile::tempdir().unwrap();
    let name = format!("nap{}", std::process::id() % 100_000);
    let sleep = std::path::Path::new("/bin/sleep");
    let sleep = if sleep.exists() {
        sleep.to_path_buf()
    } else {
        "/usr/bin/sleep".into()
    };
    std::os::unix::fs::symlink(&sleep, dir.path().join(&name)).unwrap();
    let nap = dir.path().join(&name);
    // A lone nap in a group of its own: one member.
    let alone = Command::new(&nap)
        .arg("60")
        .process_group(0)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let alone = Running {
        child: alone,
        stderr: None,
    };
    let check = format!("group comm={name} min=2");
    testkit::wait_for("the lone nap", T, || {
        let snap = w.snapshot().unwrap();
        snap.processes.iter().any(|p| p.comm == name).then_some(())
    });
    waits(&mut w, &check, &mut m);
    // sh, nap and cat in the group sh leads, as a shell runs `sleep 60 | cat`.
    let pipe = Command::new("sh")
        .args(["-c", &format!("{} 60 | cat", nap.display())])
        .process_group(0)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pipe = Running {
        child: pipe,
        stderr: None,
    };
    let text = passes(&mut w, &format!("group comm={name} min=3"), &mut m);
    assert!(
        text.contains(&format!("process group {}", pipe.pid())),
        "{text}"
    );
    drop((alone, pipe));
}

/// The same check inside a pid namespace, as in a container: there the kernel reports session
/// 0 for a session led from outside, and pid 2 is an ordinary process, not kthreadd. The test
/// binary runs the test above again as pid 1 of a new namespace (`unshare`, root); where this
/// machine refuses a new namespace, the test must already be running in one.
#[test]
fn a_pipeline_is_a_process_group_inside_a_pid_namespace() {
    if testkit::skip_without(testkit::Need::Root) {
        return;
    }
    let me = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(&me)
        .args([
            "--exact",
            "checks::a_pipeline_is_a_process_group",
            "--nocapture",
        ])
        .output()
        .expect("unshare (util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("unshare failed") {
        let me = std::process::id() as i32;
        let sid = testkit::server_procs::stat(me).map(|st| st.sid);
        assert_eq!(
            sid,
            Some(0),
            "no new pid namespace here ({stderr}), and this test does not run in one either"
        );
        return;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "in a pid namespace: {stdout}{stderr}"
    );
}

#[test]
fn signal_masks_caught_pending_blocked() {
    subreaper();
    let _one = crate::one_demo_at_a_time();
    let (mut w, mut m) = watcher(1);
    let mut d = Demo::start(&["signal"]);
    d.line_with("signal demo: pid", T);
    passes(
        &mut w,
        "signal mask=caught sig=USR1 cmd=\"demo signal\"",
        &mut m,
    );
    assert_eq!(m.get("pid").map(|f| f.pid), Some(d.pid()));
    waits(
        &mut w,
        "signal mask=pending sig=QUIT cmd=\"demo signal\"",
        &mut m,
    );
    d.running.signal(Signal::SIGQUIT);
    passes(
        &mut w,
        "signal mask=pending sig=QUIT cmd=\"demo signal\"",
        &mut m,
    );

    // The test's own listener: this process does not block SIGHUP.
    let (_l, port) = listener();
    let (mut w, mut m) = watcher(port);
    waits(&mut w, "signal mask=blocked sig=HUP", &mut m);
    // The server blocks it, to take it from its signal loop.
    let (server, addr) = serve(&["--workers", "1"]);
    let (mut w, mut m) = watcher(addr.port());
    passes(&mut w, "signal mask=blocked sig=HUP", &mut m);
    waits(&mut w, "signal mask=ignored sig=HUP", &mut m);
    drop(server);
}

#[test]
fn a_server_stopped() {
    subreaper();
    let (mut server, addr) = serve(&["--workers", "1"]);
    let (mut w, mut m) = watcher(addr.port());
    waits(&mut w, "stopped", &mut m);
    passes(&mut w, "listener", &mut m);
    waits(&mut w, "stopped", &mut m);
    server.signal(Signal::SIGTERM);
    server.wait_exit(T);
    let text = passes(&mut w, "stopped", &mut m);
    assert!(text.contains("has exited"), "{text}");
}

#[test]
fn the_io_uring_server_and_its_connections() {
    subreaper();
    let (server, addr) = serve(&["--model", "uring", "--workers", "1"]);
    let (mut w, mut m) = watcher(addr.port());
    let text = passes(&mut w, "listener model=uring", &mut m);
    assert!(text.contains("model uring"), "{text}");
    waits(&mut w, "listener model=reactor", &mut m);
    let mut held: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(addr).unwrap()).collect();
    passes(&mut w, "connections min=5", &mut m);
    held.clear();
    drop(server);
}

/// Whether `pid` has `sig` in its caught mask, read from /proc by the test itself.
fn catches(pid: i32, sig: Signal) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|m| m & (1 << (sig as i32 - 1)) != 0)
}

/// A check about a process counts only the learner's: a demo of the same name left running from
/// before the lesson began, or another user's started during it, ticks nothing; the learner's
/// own, started now, does.
#[test]
fn a_demo_from_before_the_lesson_or_another_users_does_not_tick_a_step() {
    subreaper();
    let _one = crate::one_demo_at_a_time();
    let caught = "signal mask=caught sig=USR1 cmd=\"demo signal\"";
    let zombies = "zombies min=3 cmd=\"demo zombie\"";
    let mut old = Demo::start(&["signal"]);
    old.line_with("signal demo: pid", T);
    let mut z = Demo::start(&["zombie", "--count", "3"]);
    let line = z.line_with("zombie demo: parent", T);
    let parent = numbers_after(&line, "parent")[0];
    testkit::wait_for("the old demo's handler and zombies", T, || {
        let zombies = testkit::children_of(parent)
            .into_iter()
            .filter(|&c| testkit::server_procs::stat(c).is_some_and(|st| st.state == 'Z'))
            .count();
        (catches(old.pid(), Signal::SIGUSR1) && zombies == 3).then_some(())
    });
    // The boot clock moves on past their start (it counts hundredths of a second): the lesson
    // begins after them.
    testkit::wait_for("a clock tick after the demos started", T, || {
        (tcplab::kernel::proc::age(parent)? >= Duration::from_millis(20)).then_some(())
    });
    let (mut w, mut m) = watcher(1);
    let text = waits(&mut w, caught, &mut m);
    assert!(text.contains("since the lesson began"), "{text}");
    waits(&mut w, zombies, &mut m);
    drop((old, z));
    if nix::unistd::geteuid().is_root() {
        // Another user's (nobody's) demo, started during the lesson.
        use std::os::unix::process::CommandExt;
        let mut cmd = testkit::tcplab();
        cmd.args(["demo", "signal"]).uid(65534).gid(65534);
        let mut theirs = Demo::spawn(cmd);
        theirs.line_with("signal demo: pid", T);
        testkit::wait_for("their demo's handler", T, || {
            catches(theirs.pid(), Signal::SIGUSR1).then_some(())
        });
        waits(&mut w, caught, &mut m);
    }
    let mut mine = Demo::start(&["signal"]);
    mine.line_with("signal demo: pid", T);
    passes(&mut w, caught, &mut m);
    assert_eq!(m.get("pid").map(|f| f.pid), Some(mine.pid()));
}
