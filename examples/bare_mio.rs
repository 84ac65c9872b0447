//! Benchmark floor for `bench/cpu.sh`: the least an epoll server can do per keep-alive request.
//! One thread, one mio loop, edge-triggered like the reactor; every read is taken for one
//! request and answered with the same fixed 200 (no parsing, no routing, no date, no log), so
//! what it costs per request is the kernel's work plus the loop's bare minimum.
//!
//! Usage: bare_mio ADDR:PORT (prints `listening on ADDR` once bound; port 0 picks one)

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(usize::MAX);
const ANSWER: &[u8] =
    b"HTTP/1.1 200 OK\r\nServer: bare\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello!world";

fn main() -> anyhow::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: bare_mio ADDR:PORT"))?
        .parse()?;
    let mut listener = TcpListener::bind(addr)?;
    println!("listening on {}", listener.local_addr()?);
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: Vec<Option<TcpStream>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        poll.poll(&mut events, None)?;
        for event in events.iter() {
            if event.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            stream.set_nodelay(true)?;
                            let slot = free.pop().unwrap_or_else(|| {
                                conns.push(None);
                                conns.len() - 1
                            });
                            poll.registry().register(
                                &mut stream,
                                Token(slot),
                                Interest::READABLE,
                            )?;
                            conns[slot] = Some(stream);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e.into()),
                    }
                }
                continue;
            }
            let slot = event.token().0;
            let Some(stream) = conns[slot].as_mut() else {
                continue;
            };
            let done = loop {
                match stream.read(&mut buf) {
                    Ok(0) => break true,
                    // One read, one request: answered whole (a small write never blocks here).
                    // A short read drained the socket: the next bytes bring a new edge (the
                    // reactor saves the same read that would only say WouldBlock).
                    Ok(n) => {
                        if stream.write_all(ANSWER).is_err() {
                            break true;
                        }
                        if n < buf.len() {
                            break false;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break true,
                }
            };
            if done {
                conns[slot] = None; // dropping closes the descriptor and leaves epoll
                free.push(slot);
            }
        }
    }
}
