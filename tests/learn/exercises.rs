//! `tcplab learn check EXERCISE --port P` on programs written for these tests.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use testkit::{reap_pid, subreaper, tcplab, Running};

const EXERCISES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/learn");

/// Starts `python3 tests/learn/NAME` and returns it with the numbers of its first line
/// (`port P` or `port P pid D`).
fn start(name: &str) -> (Running, Vec<i32>) {
    subreaper();
    let mut child = Command::new("python3")
        .arg(format!("{EXERCISES}/{name}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("first line");
    let numbers = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (
        Running {
            child,
            stderr: None,
        },
        numbers,
    )
}

fn grade(exercise: &str, port: i32) -> (i32, String) {
    let out = tcplab()
        .args(["learn", "check", exercise, "--port", &port.to_string()])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// Ends a leaky server and reaps the zombies it leaves to this subreaper.
fn end_and_reap(mut server: Running) {
    let kids = testkit::children_of(server.pid());
    drop(server.child.kill());
    let _ = server.child.wait();
    for k in kids {
        reap_pid(k, Duration::from_secs(5));
    }
}

#[test]
fn a_forking_server_that_reaps_passes() {
    let (server, n) = start("forking_server.py");
    let (code, text) = grade("forking-server-reaps", n[0]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("no zombie left"), "{text}");
    assert!(text.contains("forked child"), "{text}");
    drop(server);
}

#[test]
fn a_forking_server_that_leaks_zombies_fails() {
    let (server, n) = start("leaky_server.py");
    let (code, text) = grade("forking-server-reaps", n[0]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("20 zombies"), "{text}");
    assert!(text.contains("never called wait()"), "{text}");
    end_and_reap(server);
}

#[test]
fn a_server_that_never_closes_fails_closes_first() {
    let (server, n) = start("never_closes.py");
    let (code, text) = grade("server-closes-first", n[0]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("did not close"), "{text}");
    drop(server);
}

#[test]
fn a_server_that_closes_first_passes() {
    let (server, n) = start("forking_server.py");
    let (code, text) = grade("server-closes-first", n[0]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("TIME_WAIT on its side"), "{text}");
    drop(server);
}

#[test]
fn a_daemon_passes_and_a_foreground_server_does_not() {
    let (first, n) = start("daemon.py");
    let (port, daemon) = (n[0], n[1]);
    let (code, text) = grade("daemon", port);
    // The daemon is this test's (adopted) child: end and reap it whatever the outcome.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGKILL,
    );
    reap_pid(daemon, Duration::from_secs(5));
    drop(first);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("pid {daemon} is a daemon")),
        "{text}"
    );

    let (server, n) = start("forking_server.py");
    let (code, text) = grade("daemon", n[0]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("no daemon"), "{text}");
    drop(server);
}

#[test]
fn usage_errors_exit_2_and_an_empty_port_1() {
    for args in [
        &["learn", "check", "nope", "--port", "1"][..],
        &["learn", "check", "daemon"],
        &["learn", "check", "daemon", "--port", "http"],
        &["learn", "no-such-lesson"],
        &["learn", "--lang", "fr", "list"],
        &["learn", "check", "daemon", "--port", "0"],
        &["learn", "check", "daemon", "--port", "65536"],
        &["learn", "zombies", "--port", "0"],
    ] {
        let out = tcplab().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // A progress file that is not one: a line that says so and how to start over, exit 1.
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(state.path().join("tcplab")).unwrap();
    std::fs::write(state.path().join("tcplab/learn.json"), b"{\"lessons\": 7").unwrap();
    for args in [&["learn", "list"][..], &["learn", "zombies"]] {
        let out = tcplab()
            .args(args)
            .env("XDG_STATE_HOME", state.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("--reset starts over"), "{stderr}");
    }
    // Nothing listens on a port that was just free.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, text) = grade("server-closes-first", port as i32);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("nothing listens"), "{text}");
}
