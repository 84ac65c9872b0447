//! Benchmark helper (bench/tui.sh): holds N established loopback connections (2N sockets)
//! until stdin closes, so a measurement sees a machine with many TCP sockets.
//! Usage: `hold_sockets PAIRS`; prints `ready N sockets on PORT` once all are connected.

use std::io::Read;
use std::net::{TcpListener, TcpStream};

fn main() {
    let pairs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(9000);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let mut held = Vec::with_capacity(pairs * 2);
    // Connect and accept in lock step so the backlog never overflows.
    for _ in 0..pairs {
        let client = TcpStream::connect(addr).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        held.push(client);
        held.push(server);
    }
    println!("ready {} sockets on {}", held.len(), addr.port());
    // Hold them until whoever started us closes our stdin (or kills us).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(held);
}
