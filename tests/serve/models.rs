//! The tutorial's models side by side: each answers 200 concurrent clients with the same HTTP,
//! stops cleanly, and `select` refuses descriptors at or past FD_SETSIZE with a log line
//! instead of passing them to select(2).

use testkit::server_procs as procs;

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use nix::sys::signal::Signal;
use testkit::{serve, subreaper};

const MODELS: [&str; 6] = ["iterative", "prefork", "select", "poll", "reactor", "uring"];

#[test]
fn every_model_answers_two_hundred_concurrent_clients() {
    subreaper();
    for model in MODELS {
        let (mut server, addr) = serve(&["--model", model, "--workers", "2"]);
        let expected = if matches!(model, "prefork" | "reactor" | "uring") {
            2
        } else {
            0
        };
        let workers = procs::wait_workers(server.pid(), expected);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(200));
        let clients: Vec<_> = (0..200)
            .map(|i| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    // Half keep the connection for a second request, half close after one.
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
                    let mut answers = 0;
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let mut read_one = |buf: &mut Vec<u8>, s: &mut TcpStream| loop {
                        if let Some(at) = find(buf, b"hello!world") {
                            buf.drain(..at + 11);
                            return true;
                        }
                        match s.read(&mut chunk) {
                            Ok(0) | Err(_) => return false,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    answers += read_one(&mut buf, &mut s) as usize;
                    if i % 2 == 0 {
                        s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                            .unwrap();
                        answers += read_one(&mut buf, &mut s) as usize;
                    }
                    answers
                })
            })
            .collect();
        let answered: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(answered, 300, "{model}");
        let doc: serde_json::Value =
            serde_json::from_str(&procs::get(addr, "/status").unwrap().1).unwrap();
        assert_eq!(doc["model"], model);
        server.signal(Signal::SIGTERM);
        assert!(
            server.wait_exit(Duration::from_secs(15)).success(),
            "{model}"
        );
        for w in workers {
            procs::assert_gone(w);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn one_process_models_stop_gracefully_with_a_request_in_flight() {
    subreaper();
    for model in ["iterative", "select", "poll"] {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("access.log");
        let (mut server, addr) = serve(&["--model", model, "--access-log", log.to_str().unwrap()]);
        let slow = std::thread::spawn(move || procs::get(addr, "/sleep?ms=5000"));
        procs::wait_request_logged(&log, "/sleep?ms=5000");
        server.signal(Signal::SIGQUIT);
        let answer = slow.join().unwrap().expect("cut mid-request");
        assert_eq!(answer.0, 200, "{model}");
        assert!(
            server.wait_exit(Duration::from_secs(10)).success(),
            "{model}"
        );
    }
}

/// HUP to a one-process model is a reload in place, as for an nginx master: nothing to fork,
/// the logs reopened (a logrotate that renamed them is followed), the server alive and serving.
/// It used to take HUP's default action and die, on `tcplab reload` or a closed terminal.
#[test]
fn one_process_models_reload_in_place_on_hup_and_on_tcplab_reload() {
    subreaper();
    for model in ["iterative", "select", "poll"] {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
        let (pf, error_log, access_log) = (path("s.pid"), path("error.log"), path("access.log"));
        let (mut server, addr) = serve(&[
            "--model",
            model,
            "--pid-file",
            &pf,
            "--error-log",
            &error_log,
            "--access-log",
            &access_log,
        ]);
        let reloaded = format!(
            "HUP: reloaded in place: the {model} model is one process, with no workers to \
             replace; log files reopened"
        );
        let reloads = || -> u64 {
            let doc: serde_json::Value =
                serde_json::from_str(&procs::get(addr, "/status").unwrap().1).unwrap();
            doc["reloads"].as_u64().unwrap()
        };
        assert_eq!(procs::get(addr, "/before").unwrap().0, 404, "{model}");
        assert_eq!(reloads(), 0, "{model}");
        let rotated = path("access.log.1");
        std::fs::rename(&access_log, &rotated).unwrap();

        server.signal(Signal::SIGHUP);
        wait_for_lines(&mut server, &error_log, &reloaded, 1);
        assert_eq!(reloads(), 1, "{model}");
        assert_eq!(procs::get(addr, "/after").unwrap().0, 404, "{model}");
        testkit::wait_for("the fresh access log", Duration::from_secs(5), || {
            std::fs::read_to_string(&access_log)
                .ok()
                .filter(|t| t.contains("/after"))
        });
        let old = std::fs::read_to_string(&rotated).unwrap();
        assert!(old.contains("/before") && !old.contains("/after"), "{old}");

        let out = testkit::tcplab()
            .args(["reload", "--pid-file", &pf])
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{model}: {stdout}{stderr}");
        assert_eq!(
            stdout,
            format!(
                "tcplab reload: server {} (model {model}) reloaded in place: one process, no \
                 workers to replace; its log files were reopened\n",
                server.pid()
            )
        );
        wait_for_lines(&mut server, &error_log, &reloaded, 2);
        assert_eq!(reloads(), 2, "{model}");
        assert_eq!(procs::get(addr, "/").unwrap().0, 200, "{model}");
        server.signal(Signal::SIGTERM);
        assert!(
            server.wait_exit(Duration::from_secs(10)).success(),
            "{model}"
        );
    }
}

/// `iterative` answers one client at a time: `tcplab reload` during a slow request gets no
/// /status before it sends HUP, and still sees the reload done once the server is free.
#[test]
fn reload_of_a_busy_iterative_server_waits_for_its_answer() {
    subreaper();
    let dir = tempfile::tempdir().unwrap();
    let pf = dir.path().join("s.pid");
    let log = dir.path().join("access.log");
    let (mut server, addr) = serve(&[
        "--model",
        "iterative",
        "--pid-file",
        pf.to_str().unwrap(),
        "--access-log",
        log.to_str().unwrap(),
    ]);
    let slow = std::thread::spawn(move || procs::get(addr, "/sleep?ms=2500"));
    procs::wait_request_logged(&log, "/sleep?ms=2500");
    let out = testkit::tcplab()
        .args(["reload", "--pid-file", pf.to_str().unwrap()])
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "server {} (model iterative) reloaded in place",
            server.pid()
        )),
        "{said}"
    );
    assert_eq!(slow.join().unwrap().unwrap().0, 200);
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit(Duration::from_secs(10)).success());
}

/// A foreground server whose terminal hung up gets HUP with a stderr that fails (EIO; here a
/// pipe nobody reads, EPIPE): every model reloads and keeps serving. A master used to panic
/// writing its "HUP: starting" line and take its workers with it.
#[test]
fn hup_with_stderr_gone_leaves_every_model_serving() {
    subreaper();
    for model in MODELS {
        let (mut server, addr) = serve(&["--model", model, "--workers", "1"]);
        let old = procs::wait_workers(server.pid(), usize::from(model_has_workers(model)));
        drop(server.stderr.take()); // the reading end: writes to stderr now fail
        server.signal(Signal::SIGHUP);
        testkit::wait_for("the reload", Duration::from_secs(10), || {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("{model}: the server exited on HUP: {status:?}");
            }
            let doc: serde_json::Value =
                serde_json::from_str(&procs::get(addr, "/status").ok()?.1).ok()?;
            let now = procs::workers(server.pid());
            (doc["reloads"].as_u64()? == 1 && !now.iter().any(|w| old.contains(w))).then_some(())
        });
        assert_eq!(procs::get(addr, "/").unwrap().0, 200, "{model}");
        server.signal(Signal::SIGTERM);
        let status = server.wait_exit(Duration::from_secs(10));
        assert!(status.success(), "{model}: {status:?}");
        for w in old {
            procs::assert_gone(w);
        }
    }
}

fn model_has_workers(model: &str) -> bool {
    matches!(model, "prefork" | "reactor" | "uring")
}

/// Waits until `log` holds `n` lines with `line`; fails at once if the server has exited.
fn wait_for_lines(server: &mut testkit::Running, log: &str, line: &str, n: usize) {
    testkit::wait_for(line, Duration::from_secs(10), || {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("the server exited: {status:?}");
        }
        let text = std::fs::read_to_string(log).unwrap_or_default();
        (text.matches(line).count() >= n).then_some(())
    })
}

#[test]
fn select_refuses_descriptors_past_fd_setsize_and_keeps_serving() {
    subreaper();
    // This test holds ~1,100 sockets; lift our own soft limit (the server lifts its own).
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    assert!(hard >= 2400, "needs a hard fd limit of 2400, have {hard}");
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    let (mut server, addr) = serve(&["--model", "select"]);
    let mut log = server.stderr.take().unwrap();
    let first = TcpStream::connect(addr).unwrap();
    // Fill the server's descriptors up to and past FD_SETSIZE (1024).
    let mut held = Vec::new();
    for _ in 0..1100 {
        held.push(TcpStream::connect(addr).unwrap());
    }
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            log.read_line(&mut line).unwrap() > 0,
            "server exited:\n{seen}"
        );
        seen.push_str(&line);
        if line.contains("FD_SETSIZE") {
            assert!(line.contains("select(2) cannot watch it"), "{line}");
            break;
        }
    }
    // The refused ones were closed by the server; the first is still served.
    for s in &held {
        s.set_nonblocking(true).unwrap();
    }
    testkit::wait_for(
        "a refused connection to be closed",
        Duration::from_secs(10),
        || {
            held.iter_mut()
                .any(|s| match s.read(&mut [0u8; 1]) {
                    Ok(0) => true,
                    Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                    Ok(_) => false,
                })
                .then_some(())
        },
    );
    let mut first = first;
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    first
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    first.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("hello!world"),
        "{answer}"
    );
    // Once the crowd leaves, new clients are served again.
    drop(held);
    testkit::wait_for("select to serve again", Duration::from_secs(10), || {
        procs::get(addr, "/").ok().filter(|r| r.0 == 200)
    });
    server.signal(Signal::SIGTERM);
    assert!(server.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn every_model_speaks_the_same_http() {
    subreaper();
    for model in MODELS {
        let (mut server, addr) = serve(&["--model", model, "--workers", "1"]);
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // Pipelined in one write: a GET, a HEAD, a POST with a body (405, body read past),
        // then a request that closes.
        s.write_all(
            b"GET / HTTP/1.1\r\nHost: t\r\n\r\n\
              HEAD / HTTP/1.1\r\nHost: t\r\n\r\n\
              POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello\
              GET /sleep?ms=50 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut all = String::new();
        s.read_to_string(&mut all).unwrap();
        let statuses: Vec<&str> = all
            .match_indices("HTTP/1.1 ")
            .map(|(i, _)| &all[i + 9..i + 12])
            .collect();
        assert_eq!(statuses, ["200", "200", "405", "200"], "{model}:\n{all}");
        assert_eq!(
            all.matches("hello!world").count(),
            1,
            "{model}: HEAD sent a body"
        );
        assert!(all.contains("Allow: GET, HEAD"), "{model}");
        assert!(all.ends_with("slept 50 ms\n"), "{model}:\n{all}");
        // A malformed request: 400 and a closed connection.
        let mut bad = TcpStream::connect(addr).unwrap();
        bad.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        bad.write_all(
            b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        )
        .unwrap();
        let mut answer = String::new();
        let _ = bad.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 400"), "{model}: {answer}");
        server.signal(Signal::SIGTERM);
        assert!(
            server.wait_exit(Duration::from_secs(10)).success(),
            "{model}"
        );
    }
}

#[test]
fn uring_where_io_uring_is_refused_exits_2_with_one_sentence() {
    // A seccomp filter refusing io_uring_setup, as container runtimes' default profiles do.
    for (errno, why) in [
        (libc::ENOSYS, "this kernel has no io_uring"),
        (libc::EPERM, "a seccomp filter or a security module"),
    ] {
        let mut cmd = testkit::tcplab();
        cmd.args(["serve", "--model", "uring", "--listen", "127.0.0.1:0"]);
        crate::seccomp::deny(&mut cmd, libc::SYS_io_uring_setup, errno);
        let out = cmd.output().unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("tcplab serve: --model uring: io_uring is unavailable: "),
            "{err}"
        );
        assert!(err.contains(why), "{err}");
        assert!(!err.contains("listening"), "{err}");
    }
}
