//! Running `tcplab serve` as an operator does: a graceful stop (QUIT), logs in files, USR1
//! to reopen them after a rotation.

use testkit::http;

use std::path::Path;
use std::time::{Duration, Instant};

use super::serve;
use http::Client;
use nix::sys::signal::Signal;
use testkit::wait_for;

const DEADLINE: Duration = Duration::from_secs(20);

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn quit_finishes_what_is_in_flight_and_answers_idle_clients_once_more() {
    // The one-process loops drain through the same table: check them beside the reactor.
    let models: &[&str] = match super::MODEL {
        "reactor" => &["reactor", "select", "poll"],
        model => &[model],
    };
    for &model in models {
        let dir = tempfile::tempdir().unwrap();
        let errors = dir.path().join("error.log");
        let (mut server, addr) = serve(&[
            "--error-log",
            errors.to_str().unwrap(),
            "--model",
            model,
            "--workers",
            "1",
            "--shutdown-timeout",
            "30s",
            "--keepalive-timeout",
            "2s",
        ]);
        let mut idle = Client::connect(addr);
        assert_eq!(idle.get("/").status, 200);
        let mut returning = Client::connect(addr);
        assert_eq!(returning.get("/").status, 200);
        let mut busy = Client::connect(addr);
        busy.send(b"GET /sleep?ms=3000 HTTP/1.1\r\nHost: t\r\n\r\n");
        // The sleep has been taken in (the server counts it) before QUIT is sent.
        wait_for("the sleep request counted", DEADLINE, || {
            let s: serde_json::Value =
                serde_json::from_slice(&http::get(addr, "/status").body).ok()?;
            (s["requests"].as_u64()? >= 3).then_some(())
        });
        let quit_at = Instant::now();
        server.signal(Signal::SIGQUIT);
        wait_for("the drain to begin", DEADLINE, || {
            read(&errors).contains("graceful stop").then_some(())
        });
        // An idle keep-alive client that sends again is answered, told the connection ends,
        // and the connection ends: its request did not race a close.
        let r = returning.get("/");
        assert_eq!(
            (r.status, r.header("connection")),
            (200, Some("close")),
            "{model}"
        );
        assert!(returning.read_to_close().is_empty(), "{model}");
        // The request in flight is answered, and told the connection ends.
        let r = busy.response();
        assert_eq!(r.text(), "slept 3000 ms\n");
        assert_eq!(r.header("connection"), Some("close"));
        assert!(busy.read_to_close().is_empty());
        // One that stays idle is closed at its keep-alive timeout, not at the shutdown timeout.
        assert!(idle.read_to_close().is_empty(), "{model}");
        assert!(server.wait_exit(DEADLINE).success(), "{model}");
        assert!(quit_at.elapsed() < Duration::from_secs(20), "{model}");
    }
}

#[test]
fn quit_gives_up_after_the_shutdown_timeout() {
    let (mut server, addr) = serve(&["--shutdown-timeout", "1s"]);
    let mut busy = Client::connect(addr);
    busy.send(b"GET /sleep?ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_for("the sleep request counted", DEADLINE, || {
        let s: serde_json::Value = serde_json::from_slice(&http::get(addr, "/status").body).ok()?;
        (s["requests"].as_u64()? >= 1).then_some(())
    });
    let quit_at = Instant::now();
    server.signal(Signal::SIGQUIT);
    assert!(server.wait_exit(DEADLINE).success());
    let took = quit_at.elapsed();
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(busy.read_to_close().is_empty());
}

#[test]
fn access_log_is_combined_format_and_usr1_reopens_it() {
    let dir = tempfile::tempdir().unwrap();
    let access = dir.path().join("access.log");
    let errors = dir.path().join("error.log");
    let (mut server, addr) = serve(&[
        "--access-log",
        access.to_str().unwrap(),
        "--error-log",
        errors.to_str().unwrap(),
    ]);
    let mut c = Client::connect(addr);
    c.send(b"GET /missing?q=1 HTTP/1.1\r\nHost: t\r\nUser-Agent: test \"agent\"\r\nReferer: http://r/\r\n\r\n");
    assert_eq!(c.response().status, 404);
    let line = wait_for("the access log line", DEADLINE, || {
        let text = read(&access);
        text.ends_with('\n').then_some(text)
    });
    let (prefix, rest) = line.split_once(" [").unwrap();
    assert_eq!(prefix, "127.0.0.1 - -");
    let (_date, rest) = rest.split_once("] ").unwrap();
    assert_eq!(
        rest,
        "\"GET /missing?q=1 HTTP/1.1\" 404 14 \"http://r/\" \"test \\x22agent\\x22\"\n"
    );

    // logrotate moves the file away, then sends USR1: new lines go to a new file.
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&access, &rotated).unwrap();
    server.signal(Signal::SIGUSR1);
    wait_for("a fresh access log", DEADLINE, || {
        // Requests made before the reopen still go to the rotated file; keep asking.
        c.get("/");
        read(&access)
            .contains("\"GET / HTTP/1.1\" 200 11")
            .then_some(())
    });
    assert_eq!(read(&rotated).lines().next(), line.lines().next());

    server.signal(Signal::SIGQUIT);
    assert!(server.wait_exit(DEADLINE).success());
    assert!(read(&errors).contains("graceful stop"), "{}", read(&errors));
}

#[test]
fn a_log_that_cannot_be_opened_is_one_clear_line() {
    let out = testkit::tcplab()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--access-log",
            "/nonexistent/dir/access.log",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--access-log /nonexistent/dir/access.log"),
        "{err}"
    );
}
