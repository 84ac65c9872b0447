//! `tcplab serve --root DIR`: files under DIR with their types, index.html, 404s, and no way
//! out of DIR; large files streamed, never read whole.

mod common;
#[path = "common/http.rs"]
mod http;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::serve;
use http::{get, Client};

/// `top/www` is the root; `top/secret.txt` lies outside it.
fn site() -> (tempfile::TempDir, PathBuf) {
    let top = tempfile::tempdir().unwrap();
    let root = top.path().join("www");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::write(root.join("index.html"), "<h1>home</h1>\n").unwrap();
    std::fs::write(root.join("docs/index.html"), "<h1>docs</h1>\n").unwrap();
    std::fs::write(root.join("style.css"), "h1 { color: red }\n").unwrap();
    std::fs::write(root.join("data.json"), "{}\n").unwrap();
    std::fs::write(root.join("with space.txt"), "spaced\n").unwrap();
    std::fs::write(top.path().join("secret.txt"), "TOP SECRET\n").unwrap();
    std::os::unix::fs::symlink(top.path().join("secret.txt"), root.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(top.path(), root.join("up")).unwrap();
    (top, root)
}

fn root_flag(root: &Path) -> [&str; 2] {
    ["--root", root.to_str().unwrap()]
}

#[test]
fn files_with_their_types_and_index_html() {
    let (_top, root) = site();
    let (_server, addr) = serve(&root_flag(&root));
    let r = get(addr, "/");
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>home</h1>\n"));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let r = get(addr, "/style.css");
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(r.text(), "h1 { color: red }\n");
    assert_eq!(
        get(addr, "/data.json").header("content-type"),
        Some("application/json")
    );
    assert_eq!(get(addr, "/with%20space.txt").text(), "spaced\n");
    assert_eq!(get(addr, "/docs/").text(), "<h1>docs</h1>\n");
    let r = get(addr, "/docs");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/docs/"));
    assert_eq!(get(addr, "/empty/").status, 403);
    assert_eq!(get(addr, "/missing.html").status, 404);
    // HEAD: the length of the file, no body (the next answer parses cleanly).
    let mut c = Client::connect(addr);
    c.send(b"HEAD /style.css HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response_to(true).header("content-length"), Some("18"));
    assert_eq!(c.get("/data.json").text(), "{}\n");
}

#[test]
fn nothing_outside_the_root_is_reachable() {
    let (_top, root) = site();
    let (_server, addr) = serve(&root_flag(&root));
    for path in [
        "/../secret.txt",
        "/docs/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/docs/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/leak.txt",
        "/up/secret.txt",
        "/secret.txt%00.html",
        "/%00",
        "/bad%zzescape",
    ] {
        let mut c = Client::connect(addr);
        c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
        let r = c.response();
        assert!(
            r.status == 404 || r.status == 400,
            "{path}: {} {}",
            r.status,
            r.text()
        );
        assert!(!r.text().contains("SECRET"), "{path}");
    }
    // curl, told not to tidy the path itself.
    let url = format!("http://{addr}/docs/../../secret.txt");
    let out = Command::new("curl")
        .args(["-s", "--path-as-is", "-w", "%{http_code}", &url])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.ends_with("404") && !out.contains("SECRET"), "{out}");
}

#[test]
fn a_large_file_is_streamed_not_read_whole() {
    let (_top, root) = site();
    let size: u64 = 48 << 20;
    let big = std::fs::File::create(root.join("big.bin")).unwrap();
    big.set_len(size).unwrap();
    let [flag, dir] = root_flag(&root);
    let (server, addr) = serve(&[flag, dir, "--workers", "1"]);
    let r = get(addr, "/big.bin");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.body.len() as u64, size);
    assert!(r.body.iter().all(|&b| b == 0));
    // The kernel's high-water mark of the worker's resident memory stays far below the file.
    let worker = tcplab::server::control::workers_of(nix::unistd::Pid::from_raw(server.pid()))[0];
    let status = std::fs::read_to_string(format!("/proc/{worker}/status")).unwrap();
    let hwm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(hwm_kib < 24 << 10, "VmHWM {hwm_kib} KiB for a 48 MiB file");
}
