//! `tcplab serve` refuses what it must, with the right status and a closed connection, and
//! cuts clients that hold it up: limits, malformed framing, timeouts, connection caps.

use testkit::http;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::serve;
use http::{get, refused, Client};
use testkit::wait_for;

#[test]
fn oversized_heads_and_bodies_get_414_431_413() {
    let (_server, addr) = serve(&[]);
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    assert_eq!(refused(addr, long_target.as_bytes()).status, 414);

    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "b".repeat(17000)
    );
    assert_eq!(refused(addr, big_header.as_bytes()).status, 431);

    let mut many = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
    for i in 0..100 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(refused(addr, many.as_bytes()).status, 431);

    let too_long = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n";
    assert_eq!(refused(addr, too_long).status, 413);
}

#[test]
fn limits_follow_their_flags() {
    let (_server, addr) = serve(&["--max-body", "1KiB", "--max-headers", "3"]);
    // Exactly at the limit is fine.
    let mut c = Client::connect(addr);
    let mut req = b"PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n".to_vec();
    req.extend_from_slice(&[b'x'; 1024]);
    c.send(&req);
    assert_eq!(c.response().status, 405);
    assert_eq!(c.get("/").status, 200);
    // A chunked body passes the limit only once its chunks add up past it.
    let mut chunked = b"PUT / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        chunked.extend_from_slice(b"200\r\n");
        chunked.extend_from_slice(&[b'y'; 512]);
        chunked.extend_from_slice(b"\r\n");
    }
    assert_eq!(refused(addr, &chunked).status, 413);
    let four = b"GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_eq!(refused(addr, four).status, 431);
}

#[test]
fn malformed_requests_get_400_and_a_close() {
    let (_server, addr) = serve(&[]);
    let cases: [&[u8]; 10] = [
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3x\r\n\r\nabc",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n  b\r\n\r\n",
        b"GET / HTTP/1.1\nHost: t\n\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
    ];
    for case in cases {
        let r = refused(addr, case);
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(case));
    }
    // The server is none the worse for it.
    assert_eq!(get(addr, "/").status, 200);
}

#[test]
fn a_slowloris_is_cut_while_others_are_served() {
    let (_server, addr) = serve(&["--header-timeout", "2s"]);
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let started = Instant::now();
    let request = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut answer = Vec::new();
    let mut sent = 0;
    // One byte at a time, slower than the request can complete within the timeout; each
    // read timeout doubles as the pause between bytes.
    let cut = loop {
        assert!(started.elapsed() < Duration::from_secs(30), "never cut");
        if sent < request.len() && slow.write_all(&request[sent..sent + 1]).is_err() {
            break true;
        }
        sent += 1;
        let mut buf = [0u8; 512];
        match slow.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // Meanwhile a normal client is served at once.
                assert_eq!(get(addr, "/").status, 200);
            }
            Err(_) => break true,
        }
    };
    assert!(cut);
    assert!(sent < request.len(), "the whole request got through");
    assert!(started.elapsed() >= Duration::from_secs(2));
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408 "),
        "{answer}"
    );
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_timeout() {
    let (_server, addr) = serve(&["--keepalive-timeout", "1s"]);
    let mut c = Client::connect(addr);
    // Taken before the request: the server's idle clock starts after it, whatever the load.
    let asked = Instant::now();
    assert_eq!(c.get("/").status, 200);
    assert!(c.read_to_close().is_empty());
    let idle = asked.elapsed();
    assert!(idle >= Duration::from_secs(1), "{idle:?}");
}

#[test]
fn past_max_connections_it_waits_for_a_free_slot() {
    // The limit is per process: one worker.
    let (_server, addr) = serve(&["--max-connections", "2", "--workers", "1"]);
    let mut a = Client::connect(addr);
    let mut b = Client::connect(addr);
    assert_eq!(a.get("/").status, 200);
    assert_eq!(b.get("/").status, 200);
    // The kernel completes the handshake (backlog), but the server does not accept it yet.
    let mut third = Client::connect(addr);
    third.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    third
        .stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut probe = [0u8; 1];
    let early = third.stream.read(&mut probe);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "answered past the limit: {early:?}"
    );
    third
        .stream
        .set_read_timeout(Some(http::IO_TIMEOUT))
        .unwrap();
    drop(a);
    assert_eq!(third.response().status, 200);
    assert_eq!(b.get("/").status, 200);
}

#[test]
fn out_of_descriptors_it_backs_off_and_keeps_serving() {
    // A server allowed 16 descriptors: a handful go to stdio, epoll, the listener, signals.
    let child = std::process::Command::new("prlimit")
        .args(["--nofile=16:16", "--"])
        .arg(env!("CARGO_BIN_EXE_tcplab"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("prlimit (util-linux)");
    let mut server = testkit::Running {
        child,
        stderr: None,
    };
    let mut err = std::io::BufReader::new(server.child.stderr.take().unwrap());
    let addr = testkit::read_ready_line(&mut err);
    // Read the error log on the side, so that waiting for a line has a deadline.
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(err).map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut first = Client::connect(addr);
    assert_eq!(first.get("/").status, 200);
    // More clients than descriptors: the kernel queues them, the server cannot accept them all.
    let crowd: Vec<TcpStream> = (0..30).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let line = wait_for("the EMFILE log line", Duration::from_secs(20), || {
        lines.try_recv().ok().filter(|l| l.contains("accept:"))
    });
    assert!(line.contains("Too many open files"), "{line}");
    // Connections already open are still served.
    assert_eq!(first.get("/").status, 200);
    drop(crowd);
    drop(first);
    // Once descriptors free up, new clients are accepted again.
    let r = wait_for("a new client served", Duration::from_secs(30), || {
        let mut c = Client::connect(addr);
        c.stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        c.try_response_after(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    });
    assert_eq!(r.status, 200);
}

#[test]
fn a_client_that_never_reads_is_cut_however_much_it_sends() {
    let root = tempfile::tempdir().unwrap();
    let big = std::fs::File::create(root.path().join("big.bin")).unwrap();
    big.set_len(64 << 20).unwrap();
    let (_server, addr) = serve(&[
        "--root",
        root.path().to_str().unwrap(),
        "--header-timeout",
        "1s",
    ]);
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    // Ask for far more than the socket buffers hold, never read, and keep talking: each new
    // request is a sign of life, but not of progress.
    let cut = loop {
        if started.elapsed() > Duration::from_secs(30) {
            break false;
        }
        let sent = c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
        if sent.is_err() {
            break true;
        }
        // Pacing the client (not waiting for the server): a request every 100 ms.
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(cut, "still connected after 30 s of not reading");
    assert_eq!(get(addr, "/missing").status, 404);
}
