//! `tcplab serve` against requests written to hurt: redirects that would send a client to
//! another host, heads that must not grow a body, paths that name a file as a directory.

use testkit::http;

use std::io::Write;
use std::net::SocketAddr;

use http::{get, Client};
use testkit::serve;

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

/// Sends `request` raw on a fresh connection and reads until the server closes.
fn raw(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut c = Client::connect(addr);
    // A server that refuses early may close before the whole request is written.
    let _ = c.stream.write_all(request);
    c.read_to_close()
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
        let answer = raw(addr, request);
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text}");
        assert!(text.contains("Content-Length: "), "{text}");
        assert!(
            text.ends_with("\r\n\r\n"),
            "a body after the head: {text:?}"
        );
    }
    // A GET refused the same way still gets its page.
    let answer = raw(addr, b"GET / HTTP/1.1\r\n\r\n");
    assert!(String::from_utf8_lossy(&answer).ends_with("\r\n\r\n400 bad request\n"));
}
