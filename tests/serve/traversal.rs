//! The traversal list a hostile client tries against `--root`, kept as a regression suite:
//! encodings of `..`, separators in disguise, symlinks out, NUL, special files inside the
//! root, a file truncated while it is sent, a Range at the end of a sparse 2 GiB file, and a
//! directory swapped with a symlink out while it is asked for (with `openat2`, and with the
//! walk used where the kernel lacks it). Every answer is a clean status with nothing from
//! outside the root, and the worker that answered is still the one serving afterwards.

use testkit::http;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::serve;
use http::{get, Client};
use testkit::{server_procs as procs, Running};

const SECRET: &str = "OUTSIDE-THE-ROOT";

/// `top/www` is the root; `top/secret` and `top/etc/passwd` lie outside it.
fn tree() -> (tempfile::TempDir, PathBuf) {
    let top = tempfile::tempdir().unwrap();
    let root = top.path().join("www");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir_all(top.path().join("etc")).unwrap();
    std::fs::write(top.path().join("secret"), SECRET).unwrap();
    std::fs::write(top.path().join("etc/passwd"), SECRET).unwrap();
    std::fs::write(root.join("sub/inside.txt"), "inside\n").unwrap();
    std::os::unix::fs::symlink(top.path().join("secret"), root.join("abs-out")).unwrap();
    std::os::unix::fs::symlink("../secret", root.join("rel-out")).unwrap();
    std::os::unix::fs::symlink("../etc", root.join("dir-out")).unwrap();
    std::os::unix::fs::symlink("/proc/self/root/etc/passwd", root.join("proc-out")).unwrap();
    std::os::unix::fs::symlink("sub/inside.txt", root.join("rel-in")).unwrap();
    nix::unistd::mkfifo(
        &root.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    // For the swap race: a directory with a decoy, and a symlink to `etc` outside.
    std::fs::create_dir_all(root.join("race")).unwrap();
    std::fs::write(root.join("race/passwd"), INSIDE).unwrap();
    std::os::unix::fs::symlink(top.path().join("etc"), root.join("swap")).unwrap();
    (top, root)
}

/// What `race/passwd` holds inside the root.
const INSIDE: &str = "inside\n";

/// A server on `root` with one worker, and that worker's pid.
fn one_worker(root: &Path) -> (Running, SocketAddr, i32) {
    let (server, addr) = serve(&["--root", root.to_str().unwrap(), "--workers", "1"]);
    let worker = procs::wait_workers(server.pid(), 1)[0];
    (server, addr, worker)
}

/// As [`one_worker`], with `openat2` failing with `errno` in the server and its workers.
fn one_worker_where_openat2_fails(root: &Path, errno: i32) -> (Running, SocketAddr, i32) {
    let mut cmd = testkit::tcplab();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--model", super::MODEL])
        .args(["--root", root.to_str().unwrap(), "--workers", "1"]);
    crate::seccomp::deny(&mut cmd, libc::SYS_openat2, errno);
    let (server, addr) = testkit::start_listening_command(cmd);
    let worker = procs::wait_workers(server.pid(), 1)[0];
    (server, addr, worker)
}

/// Sends a raw request line for `target` and returns status and body.
fn ask(addr: SocketAddr, target: &str) -> (u16, String) {
    let mut c = Client::connect(addr);
    c.send(format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
    let r = c.response();
    (r.status, r.text())
}

#[test]
fn the_traversal_list_finds_nothing_outside() {
    let (_top, root) = tree();
    let (server, addr, worker) = one_worker(&root);
    assert_the_traversal_list(addr);
    assert_eq!(procs::workers(server.pid()), [worker], "the worker changed");
}

/// Each way out answers 400 or 404 without a byte from outside; inside stays reachable,
/// through a relative symlink too.
fn assert_the_traversal_list(addr: SocketAddr) {
    let cases = [
        "/../secret",
        "/../../../../../../etc/passwd",
        "/sub/../../secret",
        "/%2e%2e/secret",
        "/%2E%2e/%2e%2E/etc/passwd",
        "/%252e%252e/secret",
        "/%252e%252e%252fsecret",
        "/..%2fsecret",
        "/sub%2f..%2f..%2fsecret",
        "//etc/passwd",
        "///..//..//secret",
        "/%2fetc%2fpasswd",
        "/..\\secret",
        "/sub\\..\\..\\secret",
        "/%5c..%5c..%5csecret",
        "/%c0%ae%c0%ae/secret",
        "/%c0%ae%c0%ae%c0%afsecret",
        "/%e0%80%ae%e0%80%ae/secret",
        "/abs-out",
        "/rel-out",
        "/dir-out/passwd",
        "/swap/passwd",
        "/proc-out",
        "/sub/../dir-out/passwd",
        "/secret%00.txt",
        "/%00/../secret",
        "/sub/inside.txt%00",
        "/fifo",
        "/fifo/",
        "/rel-in/",
    ];
    for target in cases {
        let (status, body) = ask(addr, target);
        assert!(matches!(status, 400 | 404), "{target}: {status} {body:?}");
        assert!(!body.contains(SECRET), "{target}: {body}");
    }
    assert_eq!(ask(addr, "/rel-in"), (200, "inside\n".into()));
    assert_eq!(ask(addr, "/sub/./inside.txt"), (200, "inside\n".into()));
}

/// The attack the old check-then-open lost to: `race/` (a directory under the root) swapped
/// again and again (renameat2 RENAME_EXCHANGE) with `swap` (a symlink to `etc` outside), while
/// two clients ask for `/race/passwd` on kept-alive connections for `run`. Not one byte from
/// outside may be served.
fn assert_the_swap_race_finds_nothing_outside(addr: SocketAddr, root: &Path, run: Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, root) = (stop.clone(), root.to_path_buf());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                rustix::fs::renameat_with(
                    rustix::fs::CWD,
                    root.join("race"),
                    rustix::fs::CWD,
                    root.join("swap"),
                    rustix::fs::RenameFlags::EXCHANGE,
                )
                .expect("renameat2 RENAME_EXCHANGE");
                swaps += 1;
            }
            swaps
        })
    };
    let deadline = Instant::now() + run;
    let clients: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let (mut asked, mut inside, mut outside_bytes) = (0u64, 0u64, 0u64);
                let mut c = Client::connect(addr);
                while Instant::now() < deadline {
                    let r = c.get("/race/passwd");
                    asked += 1;
                    match (r.status, r.body.as_slice()) {
                        (200, body) if body == INSIDE.as_bytes() => inside += 1,
                        (404, _) => {}
                        (status, body) => {
                            eprintln!("{status}: {:?}", String::from_utf8_lossy(body));
                            outside_bytes += body.len() as u64;
                        }
                    }
                }
                (asked, inside, outside_bytes)
            })
        })
        .collect();
    let (mut asked, mut inside, mut outside_bytes) = (0, 0, 0);
    for c in clients {
        let (a, i, o) = c.join().unwrap();
        (asked, inside, outside_bytes) = (asked + a, inside + i, outside_bytes + o);
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    eprintln!("{asked} requests, {inside} served from inside, {swaps} swaps, {outside_bytes} bytes from outside");
    assert!(
        swaps > 1000 && inside > 0,
        "the race did not run: {swaps} swaps, {inside} inside"
    );
    assert_eq!(
        outside_bytes, 0,
        "{outside_bytes} bytes from outside in {asked} answers"
    );
}

#[test]
fn a_symlink_swap_race_never_serves_from_outside_the_root() {
    let (_top, root) = tree();
    let (server, addr, worker) = one_worker(&root);
    assert_the_swap_race_finds_nothing_outside(addr, &root, Duration::from_secs(4));
    assert_eq!(procs::workers(server.pid()), [worker], "the worker changed");
}

/// On a kernel without `openat2` (before 5.6: here a seccomp filter makes it fail with
/// ENOSYS in the server and its workers), the component walk keeps the same promise: the
/// traversal list and the swap race find nothing outside, and inside is still served.
#[test]
fn without_openat2_the_walk_keeps_the_root() {
    let (_top, root) = tree();
    let (server, addr, worker) = one_worker_where_openat2_fails(&root, libc::ENOSYS);
    let status = std::fs::read_to_string(format!("/proc/{worker}/status")).unwrap();
    assert!(status.contains("Seccomp:\t2"), "{status}");
    assert_the_traversal_list(addr);
    assert_the_swap_race_finds_nothing_outside(addr, &root, Duration::from_secs(2));
    assert_eq!(procs::workers(server.pid()), [worker], "the worker changed");
}

/// Where a sandbox forbids `openat2` (a seccomp profile older than the call answers EPERM, as
/// older container runtimes' did), the server notices at start and walks: files are served,
/// not refused with 403, and nothing outside is reachable.
#[test]
fn where_openat2_is_forbidden_the_walk_serves() {
    let (_top, root) = tree();
    let (server, addr, worker) = one_worker_where_openat2_fails(&root, libc::EPERM);
    assert_the_traversal_list(addr);
    assert_eq!(procs::workers(server.pid()), [worker], "the worker changed");
}

/// A device node inside the root is not a file to serve (and opening it must not block).
#[test]
fn a_device_inside_the_root_is_404() {
    if testkit::skip_without(testkit::Need::Root) {
        return;
    }
    let (_top, root) = tree();
    let dev = root.join("null");
    nix::sys::stat::mknod(
        &dev,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    let (server, addr, worker) = one_worker(&root);
    assert_eq!(get(addr, "/null").status, 404);
    assert_eq!(procs::workers(server.pid()), [worker]);
}

/// A file cut short while it is sent: the connection is closed (its Content-Length can no
/// longer be honoured), nothing hangs, and the worker goes on serving.
#[test]
fn a_file_truncated_while_sent_closes_the_connection() {
    let (_top, root) = tree();
    const SIZE: usize = 32 << 20;
    let path = root.join("big.bin");
    std::fs::write(&path, vec![b'x'; SIZE]).unwrap();
    let (server, addr, worker) = one_worker(&root);
    let mut c = Client::connect(addr);
    c.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    // Read the head and a first piece, then cut the file.
    let mut first = vec![0u8; 64 << 10];
    let n = c.stream.read(&mut first).unwrap();
    assert!(n > 0 && first.starts_with(b"HTTP/1.1 200 "));
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let rest = c.read_to_close();
    assert!(
        n + rest.len() < SIZE,
        "{} bytes for a file cut to nothing",
        n + rest.len()
    );
    assert_eq!(get(addr, "/sub/inside.txt").status, 200);
    assert_eq!(procs::workers(server.pid()), [worker]);
}

/// A Range at the very end of a sparse 2 GiB file: offsets past 2^31 are sent right.
#[test]
fn a_range_at_the_end_of_a_sparse_2gib_file() {
    let (_top, root) = tree();
    const SIZE: u64 = 2 << 30;
    let f = std::fs::File::create(root.join("sparse.bin")).unwrap();
    f.set_len(SIZE).unwrap();
    let mut tail = std::fs::File::options()
        .write(true)
        .open(root.join("sparse.bin"))
        .unwrap();
    use std::io::Seek;
    tail.seek(std::io::SeekFrom::Start(SIZE - 4)).unwrap();
    tail.write_all(b"end!").unwrap();
    let (server, addr, worker) = one_worker(&root);
    let mut c = Client::connect(addr);
    for (range, first, body) in [
        ("bytes=-4", SIZE - 4, &b"end!"[..]),
        ("bytes=2147483646-", SIZE - 2, b"d!"),
        ("bytes=2147483640-2147483645", SIZE - 8, b"\0\0\0\0en"),
    ] {
        c.send(format!("GET /sparse.bin HTTP/1.1\r\nHost: t\r\nRange: {range}\r\n\r\n").as_bytes());
        let r = c.response();
        assert_eq!(r.status, 206, "{range}");
        let last = first + body.len() as u64 - 1;
        let want = format!("bytes {first}-{last}/{SIZE}");
        assert_eq!(r.header("content-range"), Some(want.as_str()), "{range}");
        assert_eq!(r.body, body, "{range}");
    }
    c.send(b"HEAD /sparse.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let size = SIZE.to_string();
    assert_eq!(
        c.response_to(true).header("content-length"),
        Some(size.as_str())
    );
    assert_eq!(procs::workers(server.pid()), [worker]);
}
