//! `tcplab serve` speaks HTTP/1.1: the real binary on a free port, raw sockets and curl.

use testkit::http;

use std::process::Command;
use std::time::{Duration, Instant};

use super::serve;
use http::{get, Client};
use nix::sys::signal::Signal;
use testkit::tcplab;

#[test]
fn root_says_hello_with_server_and_date() {
    let (_server, addr) = serve(&[]);
    let r = get(addr, "/");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello!world");
    assert_eq!(r.header("server"), Some("tcplab"));
    assert_eq!(r.header("content-length"), Some("11"));
    let date = r.header("date").expect("Date header");
    // IMF-fixdate: `Fri, 27 Nov 2026 10:15:13 GMT`
    assert_eq!(date.len(), 29, "{date}");
    assert!(
        date.ends_with(" GMT") && date.as_bytes()[3] == b',',
        "{date}"
    );
    assert_eq!(get(addr, "/nowhere").status, 404);
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let (_server, addr) = serve(&[]);
    let mut c = Client::connect(addr);
    for _ in 0..5 {
        let r = c.get("/");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("connection"), None);
    }
    // The server's own count agrees: six requests, one connection.
    let status: serde_json::Value = serde_json::from_slice(&c.get("/status").body).unwrap();
    assert_eq!(status["requests"], 6, "{status}");
    assert_eq!(status["connections_total"], 1, "{status}");
    assert_eq!(status["connections_open"], 1, "{status}");
}

#[test]
fn sixteen_pipelined_requests_are_answered_in_order() {
    let (_server, addr) = serve(&[]);
    let mut c = Client::connect(addr);
    let mut batch = Vec::new();
    for i in 0..16 {
        let path = if i % 3 == 0 { "/missing" } else { "/" };
        batch.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    c.send(&batch);
    for i in 0..16 {
        let r = c.response();
        let want = if i % 3 == 0 { 404 } else { 200 };
        assert_eq!(r.status, want, "response {i}");
    }
    assert_eq!(c.get("/").status, 200);
}

#[test]
fn head_sends_the_headers_of_get_and_no_body() {
    let (_server, addr) = serve(&[]);
    let mut c = Client::connect(addr);
    c.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response_to(true);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("11"));
    // Had a body followed, it would be read here as the next response's status line.
    let r = c.get("/");
    assert_eq!(r.body, b"hello!world");
}

#[test]
fn other_methods_get_405_and_their_bodies_are_read() {
    let (_server, addr) = serve(&[]);
    let mut c = Client::connect(addr);
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nGET / HTTP");
    let r = c.response();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    c.send(
        b"DELETE /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          4\r\nGET \r\n6\r\n/ HTTP\r\n0\r\n\r\n",
    );
    assert_eq!(c.response().status, 405);
    // Still in step: the bodies above looked like requests and were not taken for them.
    assert_eq!(c.get("/").body, b"hello!world");
    let status: serde_json::Value = serde_json::from_slice(&c.get("/status").body).unwrap();
    assert_eq!(status["requests"], 4, "{status}");
}

#[test]
fn connection_close_and_http_1_0_rules() {
    let (_server, addr) = serve(&[]);
    let mut c = Client::connect(addr);
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let r = c.response();
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.read_to_close().is_empty());

    // HTTP/1.0 closes unless keep-alive is asked for.
    let mut c = Client::connect(addr);
    c.send(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(c.response().body, b"hello!world");
    assert!(c.read_to_close().is_empty());

    let mut c = Client::connect(addr);
    for _ in 0..2 {
        c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let r = c.response();
        assert_eq!(r.header("connection"), Some("keep-alive"));
    }
}

#[test]
fn curl_reuses_the_connection() {
    let (_server, addr) = serve(&[]);
    let url = format!("http://{addr}/");
    let out = Command::new("curl")
        .args(["-sS", "-v", &url, &url])
        .output()
        .expect("run curl");
    assert!(out.status.success());
    assert_eq!(out.stdout, b"hello!worldhello!world");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("Re-using existing connection") || log.contains("Reusing existing"),
        "{log}"
    );
}

#[test]
fn status_reports_this_process() {
    // One worker: the counters of "/" are written before "/status" is read (across two
    // workers that is a race between processes).
    let (server, addr) = serve(&["--workers", "1"]);
    get(addr, "/");
    let r = get(addr, "/status");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let s: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(s["pid"], server.pid());
    assert_eq!(s["model"], super::MODEL);
    assert!(s["requests"].as_u64().unwrap() >= 2, "{s}");
    assert!(s["bytes_in"].as_u64().unwrap() > 0, "{s}");
    assert!(s["bytes_out"].as_u64().unwrap() > 0, "{s}");
    assert!(s["uptime_ms"].is_u64(), "{s}");
    let workers = s["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 1);
    // The worker is the master's child (`tcplab serve` is the master).
    let worker = workers[0]["pid"].as_i64().unwrap();
    let stat = testkit::server_procs::stat(worker as i32).expect("the worker is in /proc");
    assert_eq!(stat.ppid, server.pid(), "{stat:?}");
}

#[test]
fn sleep_holds_one_client_and_not_the_others() {
    let (_server, addr) = serve(&[]);
    let started = Instant::now();
    let mut sleeper = Client::connect(addr);
    sleeper.send(b"GET /sleep?ms=5000 HTTP/1.1\r\nHost: t\r\n\r\n");
    // Pipelined behind the sleep: must wait for it, and then be answered in order.
    sleeper.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    for _ in 0..3 {
        assert_eq!(get(addr, "/").status, 200);
    }
    // The others were answered while the sleeper still waits: nothing has arrived for it.
    sleeper.stream.set_nonblocking(true).unwrap();
    let mut probe = [0u8; 1];
    let early = std::io::Read::read(&mut sleeper.stream, &mut probe);
    assert!(
        matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the sleeper was answered early: {early:?}"
    );
    sleeper.stream.set_nonblocking(false).unwrap();
    let r = sleeper.response();
    assert_eq!(r.text(), "slept 5000 ms\n");
    assert!(started.elapsed() >= Duration::from_millis(5000));
    assert_eq!(sleeper.response().body, b"hello!world");
}

#[test]
fn five_hundred_concurrent_clients_are_all_answered() {
    let (_server, addr) = serve(&[]);
    // 10 threads x 50 connections, all open at the same time before any request is sent.
    let threads: Vec<_> = (0..10)
        .map(|_| {
            std::thread::spawn(move || {
                let mut clients: Vec<Client> = (0..50).map(|_| Client::connect(addr)).collect();
                for c in &mut clients {
                    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
                }
                clients
                    .iter_mut()
                    .map(|c| c.response().body)
                    .filter(|b| b == b"hello!world")
                    .count()
            })
        })
        .collect();
    let answered: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(answered, 500);
}

#[test]
fn sigint_and_sigterm_stop_it_cleanly() {
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        let (mut server, addr) = serve(&[]);
        let mut idle = Client::connect(addr);
        assert_eq!(idle.get("/").status, 200);
        server.signal(sig);
        let status = server.wait_exit(Duration::from_secs(20));
        assert!(status.success(), "{sig}: {status:?}");
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "{sig}: still listening"
        );
    }
}

#[test]
fn a_busy_port_is_one_clear_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let out = tcplab()
        .args(["serve", "--listen", &addr.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!("tcplab serve: cannot listen on {addr}: address already in use\n")
    );
}

#[test]
fn a_half_closed_client_is_answered_and_closed_at_once() {
    // The keep-alive timeout is far beyond the read timeout: only the FIN can end this.
    let (_server, addr) = serve(&["--keepalive-timeout", "5m"]);
    let mut c = Client::connect(addr);
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(c.response().body, b"hello!world");
    assert!(c.read_to_close().is_empty());
}

#[test]
fn absolute_form_targets_are_served() {
    let (_server, addr) = serve(&[]);
    let mut c = Client::connect(addr);
    c.send(b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(c.response().body, b"hello!world");
    c.send(b"GET HTTP://example.com:80/status?x HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(
        c.response().header("content-type"),
        Some("application/json")
    );
}

#[test]
fn clients_that_close_right_after_their_answer_never_cost_the_next_one_its_answer() {
    // As wrk with `Connection: close`: read the answer, close at once, connect again. The
    // server's close of the old connection races the next accept, which may reuse its
    // descriptor number; nothing meant for the old one may reach the new one.
    let (_server, addr) = serve(&["--workers", "1"]);
    let clients: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                for _ in 0..300 {
                    let mut c = Client::connect(addr);
                    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
                    match c.try_response(false) {
                        Some(r) if r.body == b"hello!world" => {}
                        other => failures.push(format!("{other:?}")),
                    }
                }
                failures
            })
        })
        .collect();
    let failures: Vec<String> = clients
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of 2400 failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
}
