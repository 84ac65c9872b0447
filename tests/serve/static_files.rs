//! `tcplab serve --root DIR`: files under DIR with their types, index.html, 404s, and no way
//! out of DIR; large files streamed, never read whole.

use testkit::http;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::serve;
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

/// The size of `big.bin`.
const BIG: u64 = 48 << 20;

/// [`site`] with `big.bin`, [`BIG`] bytes of zeros (sparse, so quick to make), served by one
/// worker; the file is returned open for writing.
fn big_file_site() -> (
    tempfile::TempDir,
    std::fs::File,
    testkit::Running,
    SocketAddr,
) {
    let (top, root) = site();
    let big = std::fs::File::create(root.join("big.bin")).unwrap();
    big.set_len(BIG).unwrap();
    let [flag, dir] = root_flag(&root);
    let (server, addr) = serve(&[flag, dir, "--workers", "1"]);
    (top, big, server, addr)
}

/// The one worker of `server` (it may be a moment behind the ready line).
fn worker_of(server: &testkit::Running) -> i32 {
    let master = nix::unistd::Pid::from_raw(server.pid());
    let worker = testkit::wait_for("the worker", std::time::Duration::from_secs(10), || {
        tcplab::server::control::workers_of(master).first().copied()
    });
    worker.as_raw()
}

#[test]
fn a_large_file_is_streamed_not_read_whole() {
    let (_top, _big, server, addr) = big_file_site();
    let r = get(addr, "/big.bin");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.body.len() as u64, BIG);
    assert!(r.body.iter().all(|&b| b == 0));
    // The kernel's high-water mark of the worker's resident memory stays far below the file.
    let worker = worker_of(&server);
    let status = std::fs::read_to_string(format!("/proc/{worker}/status")).unwrap();
    let hwm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(hwm_kib < 24 << 10, "VmHWM {hwm_kib} KiB for a 48 MiB file");
}

/// Sets the soft descriptor limit of `pid` (util-linux prlimit).
fn set_nofile(pid: i32, soft: u64) {
    let st = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={soft}:")])
        .status()
        .unwrap();
    assert!(st.success(), "prlimit --nofile={soft}");
}

/// A worker out of descriptors cannot open a file that exists: that is 503 with Retry-After
/// (never 404, which a cache would keep), and one line in the error log per episode.
#[test]
fn out_of_descriptors_is_503_logged_once_per_episode() {
    let (top, root) = site();
    let log = top.path().join("error.log");
    let [flag, dir] = root_flag(&root);
    let log_arg = log.to_str().unwrap();
    let (server, addr) = serve(&[flag, dir, "--workers", "1", "--error-log", log_arg]);
    let worker = worker_of(&server);
    let mut c = Client::connect(addr);
    assert_eq!(c.get("/style.css").status, 200);
    // The lowest free descriptor number: a limit there leaves the worker none to open.
    let fds: Vec<u64> = std::fs::read_dir(format!("/proc/{worker}/fd"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let lowest_free = (0..).find(|n| !fds.contains(n)).unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{worker}/limits")).unwrap();
    let soft: u64 = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    let logged = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines()
            .filter(|l| l.contains("Too many open files"))
            .count()
    };
    for episode in 1..=2 {
        set_nofile(worker, lowest_free);
        for _ in 0..3 {
            let r = c.get("/style.css");
            assert_eq!(r.status, 503, "episode {episode}: {}", r.text());
            assert_eq!(r.header("retry-after"), Some("1"));
        }
        set_nofile(worker, soft);
        assert_eq!(c.get("/style.css").status, 200);
        testkit::wait_for("the log line", std::time::Duration::from_secs(10), || {
            (logged() >= episode).then_some(())
        });
        assert_eq!(
            logged(),
            episode,
            "{}",
            std::fs::read_to_string(&log).unwrap()
        );
    }
}

/// A disk that fails (here `openat2` answers EIO, through a seccomp filter) is the server's
/// trouble, not a missing file: 500, never 404, logged once however many requests hit it.
/// Paths that lead nowhere are found so without opening anything and stay 404.
#[test]
fn an_io_error_is_500_logged_once() {
    let (top, root) = site();
    let log = top.path().join("error.log");
    let mut cmd = testkit::tcplab();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--model", super::MODEL])
        .args(["--workers", "1", "--root", root.to_str().unwrap()])
        .args(["--error-log", log.to_str().unwrap()]);
    crate::seccomp::deny(&mut cmd, libc::SYS_openat2, libc::EIO);
    let (_server, addr) = testkit::start_listening_command(cmd);
    let mut c = Client::connect(addr);
    for _ in 0..3 {
        let r = c.get("/style.css");
        assert_eq!(r.status, 500, "{}", r.text());
        assert_eq!(r.header("retry-after"), None);
    }
    assert_eq!(c.get("/../secret.txt").status, 404);
    let logged = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines()
            .filter(|l| l.contains("Input/output error"))
            .count()
    };
    testkit::wait_for("the log line", std::time::Duration::from_secs(10), || {
        (logged() >= 1).then_some(())
    });
    assert_eq!(logged(), 1, "{}", std::fs::read_to_string(&log).unwrap());
}

/// 2026-01-01 00:00:00 UTC, a Thursday: the mtime of the files below, safely in the past.
const MTIME: u64 = 1_767_225_600;
const LAST_MODIFIED: &str = "Thu, 01 Jan 2026 00:00:00 GMT";

/// A file of `size` bytes that differ from their neighbours (a wrong offset shows), with
/// mtime [`MTIME`]; returns its bytes.
fn patterned(path: &Path, size: usize) -> Vec<u8> {
    let bytes: Vec<u8> = (0..size).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(path, &bytes).unwrap();
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(MTIME);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
    bytes
}

/// nginx's ETag for a file with mtime [`MTIME`] and `size` bytes.
fn etag(size: usize) -> String {
    format!("\"{MTIME:x}-{size:x}\"")
}

/// Sends one GET or HEAD for `path` with `headers` (each `Name: value`) on `c`.
fn ask(c: &mut Client, method: &str, path: &str, headers: &[&str]) -> http::Response {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: t\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    c.send(req.as_bytes());
    c.response_to(method == "HEAD")
}

/// The connection is still in step: another request on it is answered in full.
fn still_alive(c: &mut Client, whole: &[u8]) {
    let r = c.get("/p.bin");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, whole, "the next answer on the connection");
}

#[test]
fn validators_and_conditional_get() {
    let (_top, root) = site();
    let whole = patterned(&root.join("p.bin"), 1000);
    let (_server, addr) = serve(&root_flag(&root));
    let tag = etag(1000);
    let mut c = Client::connect(addr);
    for method in ["GET", "HEAD"] {
        let r = ask(&mut c, method, "/p.bin", &[]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("etag"), Some(tag.as_str()));
        assert_eq!(r.header("last-modified"), Some(LAST_MODIFIED));
        assert_eq!(r.header("accept-ranges"), Some("bytes"));
        assert_eq!(r.header("content-length"), Some("1000"));
        assert!(r.header("content-range").is_none());
    }
    let weak = format!("W/{tag}");
    let listed = format!("\"nope\", ,{weak} , \"other\"");
    let not_modified: [&[String]; 8] = [
        &[format!("If-None-Match: {tag}")],
        &[format!("If-None-Match: {weak}")],
        &[format!("If-None-Match: {listed}")],
        &["If-None-Match: *".into()],
        &[format!("If-Modified-Since: {LAST_MODIFIED}")],
        &["If-Modified-Since: Thu, 01 Jan 2026 00:00:01 GMT".into()],
        &["If-Modified-Since: Thursday, 01-Jan-26 00:00:00 GMT".into()],
        // If-None-Match wins over an If-Modified-Since that alone would say "modified".
        &[
            format!("If-None-Match: {tag}"),
            "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT".into(),
        ],
    ];
    for headers in not_modified {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        for method in ["GET", "HEAD"] {
            let r = ask(&mut c, method, "/p.bin", &headers);
            assert_eq!(r.status, 304, "{method} {headers:?}");
            assert_eq!(r.header("etag"), Some(tag.as_str()));
            assert_eq!(r.header("last-modified"), Some(LAST_MODIFIED));
            assert!(r.header("date").is_some());
            assert!(r.header("content-length").is_none() && r.body.is_empty());
            assert!(r.header("connection").is_none(), "304 keeps the connection");
            still_alive(&mut c, &whole);
        }
    }
    let modified: [&[&str]; 6] = [
        &["If-None-Match: \"6b094a21-3e8\""],
        &["If-None-Match: W/\"x\", \"y\""],
        &["If-Modified-Since: Wed, 31 Dec 2025 23:59:59 GMT"],
        &["If-Modified-Since: yesterday"],
        &["If-Modified-Since: Thu, 01 Jan 2026 00:00:00 UTC"],
        // A tag that does not match: the date is not looked at.
        &[
            "If-None-Match: \"nope\"",
            "If-Modified-Since: Thu, 01 Jan 2026 00:00:00 GMT",
        ],
    ];
    for headers in modified {
        let r = ask(&mut c, "GET", "/p.bin", headers);
        assert_eq!((r.status, &r.body), (200, &whole), "{headers:?}");
    }

    // curl: -z sends If-Modified-Since; two URLs on one command share the connection, so the
    // second answer arriving proves the 304 left it usable.
    let url = format!("http://{addr}/p.bin");
    let codes = curl_codes(&["-z", LAST_MODIFIED, &url, "-o", "/dev/null", &url]);
    assert_eq!(codes, "304 1\n304 0\n");
    let inm = format!("If-None-Match: {tag}");
    assert_eq!(curl_codes(&["-H", &inm, &url]), "304 1\n");
}

#[test]
fn if_match_and_if_unmodified_since_refuse_with_412() {
    let (_top, root) = site();
    let whole = patterned(&root.join("p.bin"), 1000);
    let (_server, addr) = serve(&root_flag(&root));
    let tag = etag(1000);
    let mut c = Client::connect(addr);
    let older = "If-Unmodified-Since: Wed, 31 Dec 2025 23:59:59 GMT";
    let page = "412 precondition failed\n";
    let failed: [&[String]; 8] = [
        &["If-Match: \"nope\"".into()],
        // Compared strongly: the file's own tag marked weak does not match.
        &[format!("If-Match: W/{tag}")],
        &[format!("If-Match: \"nope\", W/{tag}")],
        &[older.into()],
        // If-Match alone decides: a date that holds does not rescue a wrong tag.
        &[
            "If-Match: \"nope\"".into(),
            format!("If-Unmodified-Since: {LAST_MODIFIED}"),
        ],
        // 412 comes before 304 and 206.
        &["If-Match: \"nope\"".into(), format!("If-None-Match: {tag}")],
        &[older.into(), "Range: bytes=1-2".into()],
        // On two lines the list matches nothing, even though each line would.
        &[format!("If-Match: {tag}"), format!("If-Match: {tag}")],
    ];
    for headers in failed {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        for method in ["GET", "HEAD"] {
            let r = ask(&mut c, method, "/p.bin", &headers);
            assert_eq!(r.status, 412, "{method} {headers:?}");
            assert_eq!(r.header("content-type"), Some("text/plain"));
            let len = page.len().to_string();
            assert_eq!(r.header("content-length"), Some(len.as_str()));
            let body = if method == "HEAD" { "" } else { page };
            assert_eq!(r.text(), body);
            for h in ["etag", "last-modified", "accept-ranges", "content-range"] {
                assert!(r.header(h).is_none(), "{method} {headers:?}: {h}");
            }
            assert!(r.header("connection").is_none(), "412 keeps the connection");
            still_alive(&mut c, &whole);
        }
    }

    let held: [&[String]; 10] = [
        &[format!("If-Match: {tag}")],
        &["If-Match: *".into()],
        &[format!("If-Match: \"nope\" ,  W/\"x\",{tag} ")],
        &[format!("If-Unmodified-Since: {LAST_MODIFIED}")],
        &["If-Unmodified-Since: Thu, 01 Jan 2026 00:00:01 GMT".into()],
        &["If-Unmodified-Since: Thursday, 01-Jan-26 00:00:00 GMT".into()],
        &["If-Unmodified-Since: Thu Jan  1 00:00:00 2026".into()],
        // Unparsable, or on two lines: ignored.
        &["If-Unmodified-Since: yesterday".into()],
        &[older.into(), older.into()],
        // A matching If-Match makes If-Unmodified-Since irrelevant.
        &[format!("If-Match: {tag}"), older.into()],
    ];
    for headers in held {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let r = ask(&mut c, "GET", "/p.bin", &headers);
        assert_eq!((r.status, &r.body), (200, &whole), "{headers:?}");
        assert_eq!(r.header("etag"), Some(tag.as_str()));
        let h = ask(&mut c, "HEAD", "/p.bin", &headers);
        assert_eq!(h.status, 200, "HEAD {headers:?}");
        assert_eq!(h.header("content-length"), Some("1000"));
    }
    // Preconditions that hold leave 304 and 206 to the headers after them.
    let inm = format!("If-None-Match: {tag}");
    let r = ask(&mut c, "GET", "/p.bin", &["If-Match: *", &inm]);
    assert_eq!(r.status, 304);
    let im = format!("If-Match: {tag}");
    let r = ask(&mut c, "GET", "/p.bin", &[&im, "Range: bytes=1-2"]);
    assert_eq!((r.status, r.body.as_slice()), (206, &whole[1..=2]));

    // What is not a file answers as before: a 404 is not a 412, a redirect stays one.
    let r = ask(&mut c, "GET", "/missing.bin", &["If-Match: *"]);
    assert_eq!(r.status, 404);
    let r = ask(&mut c, "GET", "/docs", &["If-Match: \"nope\"", older]);
    assert_eq!(r.status, 301);

    // A GET with a body keeps its preconditions while the body arrives.
    c.send(b"GET /p.bin HTTP/1.1\r\nHost: t\r\nIf-Match: \"nope\"\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(c.response().status, 412);
    still_alive(&mut c, &whole);

    // curl: two URLs on one command share the connection, so the second answer proves the
    // 412 left it usable.
    let url = format!("http://{addr}/p.bin");
    let wrong = "If-Match: \"nope\"";
    let codes = curl_codes(&["-H", wrong, &url, "-o", "/dev/null", &url]);
    assert_eq!(codes, "412 1\n412 0\n");
    let codes = curl_codes(&["-H", &im, "-I", &url]);
    assert_eq!(codes, "200 1\n");
    let ius = format!("If-Unmodified-Since: {LAST_MODIFIED}");
    assert_eq!(curl_codes(&["-H", &ius, &url]), "200 1\n");
    assert_eq!(curl_codes(&["-H", older, "-I", &url]), "412 1\n");
}

/// Runs curl quietly with `args`, bodies discarded; returns a line per transfer: the status
/// and how many connections it opened (0: it reused the previous one).
fn curl_codes(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{num_connects}\n",
        ])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn one_byte_range_is_sent_from_where_it_starts() {
    let (_top, root) = site();
    // Larger than the server's 64 KiB streaming chunk, so ranges start and end mid-chunk.
    let size = 200_000;
    let whole = patterned(&root.join("p.bin"), size);
    let (_server, addr) = serve(&root_flag(&root));
    let mut c = Client::connect(addr);
    for (range, first, last) in [
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        ("bytes=70000-140000", 70_000, 140_000),
        ("bytes=65535-65536", 65_535, 65_536),
        ("bytes=150000-", 150_000, size - 1),
        ("bytes=-10", size - 10, size - 1),
        ("bytes=-999999", 0, size - 1),
        ("bytes=199990-999999999999999999999999", 199_990, size - 1),
        ("BYTES = 5-6", 5, 6),
        ("bytes=,,7-8,,", 7, 8),
    ] {
        let header = format!("Range: {range}");
        let r = ask(&mut c, "GET", "/p.bin", &[&header]);
        assert_eq!(r.status, 206, "{range}");
        let want = format!("bytes {first}-{last}/{size}");
        assert_eq!(r.header("content-range"), Some(want.as_str()));
        let len = (last - first + 1).to_string();
        assert_eq!(r.header("content-length"), Some(len.as_str()));
        assert_eq!(r.header("etag"), Some(etag(size).as_str()));
        assert!(r.body == whole[first..=last], "{range}: wrong bytes");
        // HEAD: the same head, no body; the next answer parses cleanly after it.
        let h = ask(&mut c, "HEAD", "/p.bin", &[&header]);
        assert_eq!(h.status, 206);
        assert_eq!(h.header("content-range"), Some(want.as_str()));
        assert_eq!(h.header("content-length"), Some(len.as_str()));
    }
    still_alive(&mut c, &whole);

    // If-Range: a matching tag or date lets the range through; anything else gets it all.
    let tag = etag(size);
    let weak = format!("W/{tag}");
    let if_ranges: [(&str, bool); 6] = [
        (&tag, true),
        (LAST_MODIFIED, true),
        (&weak, false),
        ("\"old\"", false),
        ("Wed, 31 Dec 2025 23:59:59 GMT", false),
        ("junk", false),
    ];
    for (v, fresh) in if_ranges {
        let if_range = format!("If-Range: {v}");
        let r = ask(&mut c, "GET", "/p.bin", &["Range: bytes=1-2", &if_range]);
        let want: (u16, &[u8]) = if fresh {
            (206, &whole[1..=2])
        } else {
            (200, &whole)
        };
        assert_eq!((r.status, r.body.as_slice()), want, "{v}");
    }

    // curl -r, into a file, compared with the file on disk.
    let out = _top.path().join("curl.out");
    let status = Command::new("curl")
        .args(["-s", "-r", "70000-140000", "-o"])
        .arg(&out)
        .arg(format!("http://{addr}/p.bin"))
        .status()
        .unwrap();
    assert!(status.success());
    assert!(std::fs::read(&out).unwrap() == whole[70_000..=140_000]);
}

#[test]
fn unsatisfiable_and_ignored_ranges() {
    let (_top, root) = site();
    let whole = patterned(&root.join("p.bin"), 1000);
    std::fs::write(root.join("empty.txt"), "").unwrap();
    let (_server, addr) = serve(&root_flag(&root));
    let mut c = Client::connect(addr);
    for range in [
        "bytes=1000-",
        "bytes=1000-2000",
        "bytes=-0",
        "bytes=18446744073709551615-",
        "bytes=18446744073709551616-",
        "bytes=99999999999999999999999999999999-",
    ] {
        for method in ["GET", "HEAD"] {
            let r = ask(&mut c, method, "/p.bin", &[&format!("Range: {range}")]);
            assert_eq!(r.status, 416, "{method} {range}");
            assert_eq!(r.header("content-range"), Some("bytes */1000"));
            let len: usize = r.header("content-length").unwrap().parse().unwrap();
            assert_eq!(r.body.len(), if method == "HEAD" { 0 } else { len });
            assert!(r.header("connection").is_none(), "416 keeps the connection");
        }
        still_alive(&mut c, &whole);
    }
    let commas = format!("bytes=0-1{}", ",".repeat(5000));
    let many = format!("bytes={}", "0-1,".repeat(2000));
    let ignored: [&str; 14] = [
        "bytes=5-2",
        "bytes0-5",
        "bytes",
        "bytes=",
        "bytes=-",
        "bytes=0 -5",
        "bytes=+1-5",
        "bytes=0x10-20",
        "items=0-5",
        "bytes=0-1,3-4",
        "bytes=20000000000000000000-10000000000000000000",
        &many,
        "bytes=,,,,",
        "bytes=1-2-3",
    ];
    for range in ignored {
        let r = ask(&mut c, "GET", "/p.bin", &[&format!("Range: {range}")]);
        assert_eq!(r.status, 200, "{range:.40}");
        assert_eq!(r.header("content-length"), Some("1000"));
        assert_eq!(r.body, whole);
    }
    // Thousands of empty list elements around one range: still that one range.
    let r = ask(&mut c, "GET", "/p.bin", &[&format!("Range: {commas}")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &whole[0..=1]));
    // Two Range lines: ignored.
    let r = ask(
        &mut c,
        "GET",
        "/p.bin",
        &["Range: bytes=0-1", "Range: bytes=2-3"],
    );
    assert_eq!((r.status, r.body.len()), (200, 1000));
    // An empty file has no byte to send: a suffix gets the (empty) file, `0-` a 416.
    let r = ask(&mut c, "GET", "/empty.txt", &["Range: bytes=-5"]);
    assert_eq!((r.status, r.header("content-length")), (200, Some("0")));
    let r = ask(&mut c, "GET", "/empty.txt", &["Range: bytes=0-"]);
    assert_eq!(
        (r.status, r.header("content-range")),
        (416, Some("bytes */0"))
    );
    // Hostile preconditions are never a 304 and never break the connection.
    let inm_commas = format!("If-None-Match: {}", ", ".repeat(5000));
    let hostile: [&str; 5] = [
        &inm_commas,
        "If-None-Match: \"unterminated",
        "If-None-Match: W/",
        "If-Modified-Since: Thu, 99 Jan 2026 00:00:00 GMT",
        "If-Modified-Since: Thu, 01 Jan 2026 00:00:00 GMT, Thu, 01 Jan 2026 00:00:00 GMT",
    ];
    for h in hostile {
        let r = ask(&mut c, "GET", "/p.bin", &[h]);
        assert!(r.status == 200 && r.body == whole, "{h:.40}: {}", r.status);
    }
    still_alive(&mut c, &whole);
}

#[test]
fn a_range_near_the_end_of_a_large_file_is_reached_by_seeking() {
    use std::os::unix::fs::FileExt;
    let (_top, big, server, addr) = big_file_site();
    let size = BIG;
    big.write_at(b"the end is near", size - 100).unwrap();
    let worker = worker_of(&server);
    // Bytes the worker has read through read(2) and friends, files and sockets alike.
    let rchar = || -> u64 {
        let io = std::fs::read_to_string(format!("/proc/{worker}/io")).unwrap();
        io.lines()
            .find_map(|l| l.strip_prefix("rchar: "))
            .unwrap()
            .parse()
            .unwrap()
    };
    let mut c = Client::connect(addr);
    let before = rchar();
    let r = ask(
        &mut c,
        "GET",
        "/big.bin",
        &[&format!("Range: bytes={}-", size - 100)],
    );
    assert_eq!(r.status, 206);
    let want = format!("bytes {}-{}/{size}", size - 100, size - 1);
    assert_eq!(r.header("content-range"), Some(want.as_str()));
    assert_eq!(&r.body[..15], b"the end is near");
    assert_eq!(r.body.len(), 100);
    let read = rchar() - before;
    assert!(
        read < 1 << 20,
        "the worker read {read} bytes for a 100-byte range"
    );
}

#[test]
fn other_routes_have_no_validators_or_ranges() {
    let (_server, addr) = serve(&[]);
    let mut c = Client::connect(addr);
    for path in ["/", "/status", "/sleep?ms=0"] {
        let r = ask(
            &mut c,
            "GET",
            path,
            &[
                "Range: bytes=0-1",
                "If-None-Match: *",
                "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT",
                "If-Match: \"nope\"",
                "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT",
            ],
        );
        assert_eq!(r.status, 200, "{path}");
        for h in ["etag", "last-modified", "accept-ranges", "content-range"] {
            assert!(r.header(h).is_none(), "{path}: {h}");
        }
        if path == "/" {
            assert_eq!(r.text(), "hello!world");
        }
    }
}
