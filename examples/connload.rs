//! Load for bench/trace.sh: short TCP connections on loopback at a steady rate. It listens on
//! `--port`, accepts, reads to EOF and closes; client threads connect from several loopback
//! source addresses (so ephemeral ports do not run out under TIME_WAIT) and close at once.
//! Each connection makes exactly 10 state transitions in the kernel (5 per end).
//!
//! `cargo run --release --example connload -- --port 8099 --rate 10000 --seconds 10`
//! prints `connections N failed M elapsed S` when done.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::socket::{bind, connect, socket, AddressFamily, SockFlag, SockType, SockaddrIn};

const CLIENT_THREADS: u32 = 4;
const SERVER_THREADS: u32 = 2;
/// A long accept queue: with a short one, a busy moment drops SYNs and the client waits a
/// whole second to retransmit, which is not the load we mean to make.
const BACKLOG: i32 = 4096;
const SOURCES: u32 = 16;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

fn main() {
    let port = arg("--port", 8099) as u16;
    let rate = arg("--rate", 10_000);
    let seconds = arg("--seconds", 10);
    let listener = Arc::new(listen(port));
    for _ in 0..SERVER_THREADS {
        let listener = listener.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                // The client closes right after connecting: this returns at its FIN.
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
            }
        });
    }
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let per_thread = rate as f64 / CLIENT_THREADS as f64;
    let total_per_thread = per_thread as u64 * seconds;
    let threads: Vec<_> = (0..CLIENT_THREADS)
        .map(|t| {
            let (done, failed) = (done.clone(), failed.clone());
            std::thread::spawn(move || {
                let server = SockaddrIn::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
                for i in 0..total_per_thread {
                    // Keep the schedule: connection i of this thread is due at i / rate.
                    let due = start + Duration::from_secs_f64(i as f64 / per_thread);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let src = (t + i as u32 * CLIENT_THREADS) % SOURCES + 2;
                    let ok = one_connection(Ipv4Addr::new(127, 0, 0, src as u8), &server);
                    let counter = if ok { &done } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    println!(
        "connections {} failed {} elapsed {:.2}",
        done.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64()
    );
}

fn listen(port: u16) -> TcpListener {
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("socket");
    nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::ReuseAddr, &true)
        .expect("SO_REUSEADDR");
    let addr = SockaddrIn::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
    bind(fd.as_raw_fd(), &addr).expect("bind the listener");
    nix::sys::socket::listen(
        &fd,
        nix::sys::socket::Backlog::new(BACKLOG).expect("backlog"),
    )
    .expect("listen");
    TcpListener::from(fd)
}

fn one_connection(src: Ipv4Addr, server: &SockaddrIn) -> bool {
    let Ok(fd) = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    ) else {
        return false;
    };
    let local = SockaddrIn::from(SocketAddrV4::new(src, 0));
    bind(fd.as_raw_fd(), &local).is_ok() && connect(fd.as_raw_fd(), server).is_ok()
}
