//! Holds N established loopback TCP connection pairs (2N sockets) for bench/scan.sh: prints
//! `ready PORT` on stdout once all are connected, then waits until stdin closes.
//!
//! Usage: hold_pairs N

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("usage: hold_pairs N");
            std::process::exit(2)
        });
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::with_capacity(2 * n);
    for i in 0..n {
        let c = match TcpStream::connect(addr) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("hold_pairs: connect #{i} failed: {e} (fd limit? ulimit -n)");
                std::process::exit(1)
            }
        };
        let (s, _) = listener.accept().expect("accept");
        held.push(c);
        held.push(s);
    }
    println!("ready {}", addr.port());
    std::io::stdout().flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(held);
}
