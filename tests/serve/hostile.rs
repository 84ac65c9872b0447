//! `tcplab serve` against requests written to hurt: redirects that would send a client to
//! another host, heads that must not grow a body, paths that name a file as a directory.

use testkit::http;

use std::net::SocketAddr;

use super::serve;
use http::{exchange, get, Client};

/// A root with `evil.com/`, `docs/`, `a dir/` and `file.txt`, and the server on it.
fn served() -> (tempfile::TempDir, testkit::Running, SocketAddr) {
    let top = tempfile::tempdir().unwrap();
    let root = top.path().join("www");
    for dir in ["evil.com", "docs", "a dir"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(root.join("file.txt"), "a file\n").unwrap();
    std::fs::write(root.join("docs/index.html"), "docs\n").unwrap();
    let (server, addr) = serve(&["--root", root.to_str().unwrap()]);
    (top, server, addr)
}

#[test]
fn a_redirect_never_names_another_host() {
    let (_top, _server, addr) = served();
    for (path, location) in [
        ("//evil.com", "/evil.com/"),
        ("///evil.com", "/evil.com/"),
        ("/%2Fevil.com", "/evil.com/"),
        ("/./evil.com", "/evil.com/"),
        ("/docs", "/docs/"),
        ("/docs?x=1", "/docs/"),
        ("/a%20dir", "/a%20dir/"),
    ] {
        let r = get(addr, path);
        assert_eq!(r.status, 301, "{path}");
        assert_eq!(r.header("location"), Some(location), "{path}");
    }
}

#[test]
fn a_path_ending_in_a_slash_names_a_directory() {
    let (_top, _server, addr) = served();
    assert_eq!(get(addr, "/file.txt").status, 200);
    for path in ["/file.txt/", "/file.txt/.", "/file.txt//", "/file.txt/%2e"] {
        assert_eq!(get(addr, path).status, 404, "{path}");
    }
    assert_eq!(get(addr, "/docs/.").text(), "docs\n");
}

#[test]
fn head_gets_no_body_whatever_the_status() {
    let (_top, _server, addr) = served();
    let long_line = format!("HEAD /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    let big_header = format!(
        "HEAD / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "b".repeat(17000)
    );
    let cases: [(&[u8], &str); 7] = [
        (b"HEAD / HTTP/1.1\r\n\r\n", "400"),
        (b"\r\nHEAD / HTTP/1.1\r\n\r\n", "400"),
        (
            b"HEAD / HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n",
            "413",
        ),
        (
            b"HEAD / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "400",
        ),
        (long_line.as_bytes(), "414"),
        (big_header.as_bytes(), "431"),
        (
            b"HEAD /nowhere HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            "404",
        ),
    ];
    for (request, status) in cases {
        let answer = exchange(addr, request);
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text}");
        assert!(text.contains("Content-Length: "), "{text}");
        assert!(
            text.ends_with("\r\n\r\n"),
            "a body after the head: {text:?}"
        );
    }
    // A HEAD whose head never ends hears 408, without a body either.
    let (_slow, slow_addr) = serve(&["--header-timeout", "300ms"]);
    let answer = exchange_open(slow_addr, b"HEAD / HTTP/1.1\r\nHost: t\r\n");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(
        text.ends_with("\r\n\r\n"),
        "a body after the head: {text:?}"
    );
    // A GET refused the same way still gets its page.
    let answer = exchange(addr, b"GET / HTTP/1.1\r\n\r\n");
    assert!(String::from_utf8_lossy(&answer).ends_with("\r\n\r\n400 bad request\n"));
}

/// Sends `bytes` without closing our side and reads until the server closes.
fn exchange_open(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut c = Client::connect(addr);
    c.send(bytes);
    c.read_to_close()
}

/// Runs `tcplab ARGS` to its exit, killing it (and failing) if it takes more than 10 s.
fn tcplab_within(args: &[&str]) -> (Option<i32>, String) {
    let mut child = testkit::tcplab()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (status, err) = testkit::exit_and_stderr(
        &mut child,
        &format!("tcplab {args:?}"),
        std::time::Duration::from_secs(10),
    );
    (status.code(), err)
}

/// A pid file that is a directory, a FIFO, a socket, a device, a symlink loop, binary, empty
/// or pid 0 is an unusable pid file, said once in one line: `status` exits 3 (nothing running), the other commands 1, and none hangs.
#[test]
fn garbage_pid_files_are_unusable_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let as_dir = dir.path().join("dir.pid");
    std::fs::create_dir(&as_dir).unwrap();
    let fifo = dir.path().join("fifo.pid");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let binary = dir.path().join("binary.pid");
    std::fs::write(&binary, b"\xff\xfe12\n").unwrap();
    let empty = dir.path().join("empty.pid");
    std::fs::write(&empty, b"").unwrap();
    let socket = dir.path().join("socket.pid");
    let _listening = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let looped = dir.path().join("loop.pid");
    std::os::unix::fs::symlink("loop.pid", &looped).unwrap();
    let device = dir.path().join("device.pid");
    std::os::unix::fs::symlink("/dev/zero", &device).unwrap();
    let zero = dir.path().join("zero.pid");
    std::fs::write(&zero, b"0\n").unwrap();
    for path in [
        &as_dir, &fifo, &binary, &empty, &socket, &looped, &device, &zero,
    ] {
        let p = path.to_str().unwrap();
        for (cmd, code) in [("status", 3), ("stop", 1), ("reload", 1)] {
            let (got, err) = tcplab_within(&[cmd, "--pid-file", p]);
            assert_eq!(got, Some(code), "{cmd} {p}: {err}");
            assert_eq!(err.lines().count(), 1, "{cmd} {p}: {err}");
            assert!(err.contains(&format!("unusable pid file {p}: ")), "{err}");
            // No part of the message twice (as "Is a directory: Is a directory").
            let parts: Vec<&str> = err.trim().split(": ").collect();
            let mut unique = parts.clone();
            unique.dedup();
            assert_eq!(parts, unique, "{cmd} {p}: {err}");
        }
    }
}

/// A pid file that names a worker (tampered with, or edited by hand) is refused by every
/// control command in one sentence: signalling the worker would only make the master fork
/// another, and `stop` would say "stopped" of a server still serving.
#[test]
fn a_pid_file_naming_a_worker_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pf = dir.path().join("t.pid");
    let pfs = pf.to_str().unwrap();
    let (server, addr) = serve(&["--workers", "2", "--pid-file", pfs]);
    let master = server.pid();
    let workers = testkit::server_procs::wait_workers(master, 2);
    // Rewritten in place, so the master's lock on the file stays held.
    std::fs::write(&pf, format!("{}\n", workers[0])).unwrap();
    for cmd in ["stop", "reload", "reopen", "status"] {
        let (code, err) = tcplab_within(&[cmd, "--pid-file", pfs]);
        assert_eq!(code, Some(1), "{cmd}: {err}");
        assert_eq!(err.lines().count(), 1, "{cmd}: {err}");
        assert!(
            err.contains(&format!("a worker of the tcplab server {master}")),
            "{cmd}: {err}"
        );
    }
    assert_eq!(
        testkit::server_procs::workers(master),
        workers,
        "a worker was signalled"
    );
    assert_eq!(get(addr, "/").status, 200);
    // The master itself is still what the commands accept.
    std::fs::write(&pf, format!("{master}\n")).unwrap();
    let (code, err) = tcplab_within(&["status", "--pid-file", pfs]);
    assert_eq!(code, Some(0), "{err}");
}

/// A pid file edited to name the master of another server is refused by every control
/// command: that server is a tcplab master, but not the one holding the file's lock, and
/// `stop` would have stopped it.
#[test]
fn a_pid_file_naming_another_servers_master_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mine, other) = (dir.path().join("mine.pid"), dir.path().join("other.pid"));
    let mine_s = mine.to_str().unwrap();
    let (server, addr) = serve(&["--workers", "1", "--pid-file", mine_s]);
    let (other_server, other_addr) =
        serve(&["--workers", "1", "--pid-file", other.to_str().unwrap()]);
    let other_workers = testkit::server_procs::wait_workers(other_server.pid(), 1);
    // Rewritten in place, so this server's lock on the file stays held.
    std::fs::write(&mine, format!("{}\n", other_server.pid())).unwrap();
    for cmd in ["stop", "reload", "reopen", "status"] {
        let (code, err) = tcplab_within(&[cmd, "--pid-file", mine_s]);
        assert_eq!(code, Some(1), "{cmd}: {err}");
        assert_eq!(err.lines().count(), 1, "{cmd}: {err}");
        let why = format!(
            "does not hold the file's lock (process {} does)",
            server.pid()
        );
        assert!(err.contains(&why), "{cmd}: {err}");
    }
    assert_eq!(
        testkit::server_procs::workers(other_server.pid()),
        other_workers,
        "the other server was signalled"
    );
    assert_eq!(get(other_addr, "/").status, 200);
    assert_eq!(get(addr, "/").status, 200);
    // Each server's own pid file still works.
    std::fs::write(&mine, format!("{}\n", server.pid())).unwrap();
    for pid_file in [&mine, &other] {
        let (code, err) = tcplab_within(&["status", "--pid-file", pid_file.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{err}");
    }
}
