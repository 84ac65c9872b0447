//! Every behaviour test of the reactor, again against `--model uring`: the same HTTP, limits,
//! timeouts, signals, drain, static files and hostile input (fuzzing, smuggling, traversal) over io_uring's completions.

pub const MODEL: &str = "uring";

pub fn serve(extra: &[&str]) -> (testkit::Running, std::net::SocketAddr) {
    super::serve_model(MODEL, extra)
}

/// `--model uring` using only what Linux 5.19's io_uring has (TCPLAB_URING_LINUX=5.19): a ring
/// without the 6.0/6.1 setup flags, single-shot receives, an asynchronous cancel at exit.
pub fn serve_as_linux_5_19(extra: &[&str]) -> (testkit::Running, std::net::SocketAddr) {
    let mut cmd = testkit::tcplab();
    cmd.env("TCPLAB_URING_LINUX", "5.19")
        .args(["serve", "--listen", "127.0.0.1:0", "--model", MODEL])
        .args(extra);
    testkit::start_listening_command(cmd)
}

#[path = "fuzz.rs"]
mod fuzz;
#[path = "hostile.rs"]
mod hostile;
#[path = "http.rs"]
mod http;
#[path = "limits.rs"]
mod limits;
#[path = "ops.rs"]
mod ops;
#[path = "smuggling.rs"]
mod smuggling;
#[path = "static_files.rs"]
mod static_files;
#[path = "traversal.rs"]
mod traversal;

mod receives {
    //! How the uring model receives: multishot receives where the kernel has them (Linux
    //! 6.0), single-shot ones on Linux 5.19 (provided buffer rings, but no multishot receive).

    use std::io::Write;
    use std::net::SocketAddr;

    use testkit::http::Client;

    fn receives_of(addr: SocketAddr) -> String {
        let status = testkit::http::get(addr, "/status");
        let doc: serde_json::Value = serde_json::from_slice(&status.body).unwrap();
        doc["uring_receives"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The kernel this runs on, as (major, minor).
    fn kernel() -> (u32, u32) {
        let uts = nix::sys::utsname::uname().unwrap();
        let release = uts.release().to_string_lossy().into_owned();
        let mut parts = release.split(|c: char| !c.is_ascii_digit());
        let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        (major, minor)
    }

    #[test]
    fn the_kernel_is_asked_whether_receives_can_be_multishot() {
        let (_server, addr) = super::serve(&["--workers", "1"]);
        let want = if kernel() >= (6, 0) {
            "multishot"
        } else {
            "single-shot"
        };
        assert_eq!(receives_of(addr), want, "Linux {:?}", kernel());
    }

    #[test]
    fn single_shot_receives_serve_keep_alive_pipelined_large_and_trickled_requests() {
        let (_server, addr) = super::serve_as_linux_5_19(&["--workers", "1"]);
        assert_eq!(receives_of(addr), "single-shot");

        // Keep-alive: each request needs the receive submitted again after the last one.
        let mut c = Client::connect(addr);
        for i in 0..50 {
            let r = c.get("/");
            assert_eq!(
                (r.status, r.body.as_slice()),
                (200, &b"hello!world"[..]),
                "{i}"
            );
        }

        // Pipelined: 32 requests in one write, answered in order.
        let mut batch = Vec::new();
        for i in 0..32 {
            let path = if i % 2 == 0 { "/" } else { "/missing" };
            batch.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        }
        c.send(&batch);
        for i in 0..32 {
            let want = if i % 2 == 0 { 200 } else { 404 };
            assert_eq!(c.response().status, want, "pipelined {i}");
        }

        // A head of 12 KiB: three receive buffers (4 KiB each), one receive at a time.
        let filler = "x".repeat(12 << 10);
        c.send(format!("GET / HTTP/1.1\r\nHost: t\r\nX-Filler: {filler}\r\n\r\n").as_bytes());
        assert_eq!(c.response().status, 200);

        // Trickled a byte a segment: receives bring a byte or a few.
        let mut t = Client::connect(addr);
        t.stream.set_nodelay(true).unwrap();
        for b in b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" {
            t.stream.write_all(&[*b]).unwrap();
        }
        let answer = t.read_to_close();
        assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"), "{answer:?}");
        assert!(answer.ends_with(b"hello!world"), "{answer:?}");

        // The end of a client's input (half-close) is a receive's 0: answered, then closed.
        let mut h = Client::connect(addr);
        h.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        h.stream.shutdown(std::net::Shutdown::Write).unwrap();
        let answer = h.read_to_close();
        assert!(answer.ends_with(b"hello!world"), "{answer:?}");
    }
}

mod exit {
    //! A worker's ring may hold the listener in operations the kernel has not finished (its
    //! multishot accept above all): the worker cancels them and waits until the kernel has let
    //! go, or the port would go on accepting connections nobody serves after the server exits.

    use std::net::SocketAddr;
    use std::time::Duration;

    use nix::sys::signal::Signal;

    #[test]
    fn once_a_server_stopped_at_once_has_exited_its_port_refuses_connections() {
        // TERM: the worker returns from its loop with the multishot accept armed. Without the
        // synchronous cancel at exit, and with DEFER_TASKRUN without the wait that lets the
        // cancelled requests complete, the port accepted connections after the exit in a few
        // of these rounds (as early as the first).
        stop_at_once_and_connect(super::serve);
    }

    #[test]
    fn on_linux_5_19_too_the_port_refuses_connections_once_the_server_has_exited() {
        // 5.19 has no synchronous cancel: the cancel goes through the ring, and the worker
        // waits for the accept's last completion.
        stop_at_once_and_connect(super::serve_as_linux_5_19);
    }

    fn stop_at_once_and_connect(serve: fn(&[&str]) -> (testkit::Running, SocketAddr)) {
        for round in 0..100 {
            let (mut server, addr) = serve(&["--workers", "1"]);
            for _ in 0..20 {
                assert_eq!(testkit::http::get(addr, "/").status, 200);
            }
            server.signal(Signal::SIGTERM);
            assert!(server.wait_exit(Duration::from_secs(10)).success());
            match std::net::TcpStream::connect(addr) {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                other => panic!("round {round}: after exit, a connect to {addr}: {other:?}"),
            }
        }
    }
}
