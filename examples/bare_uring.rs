//! Benchmark floor for `bench/cpu.sh`: the least an io_uring server can do per keep-alive
//! request, on the ring `--model uring` uses ([`tcplab::kernel::uring::Ring`]: the same setup
//! flags, multishot accept, multishot receive into provided buffers, sends). Every receive is
//! taken for one request and answered with the same fixed 200 (no parsing, no routing, no date,
//! no log, no timers), one `io_uring_enter` per turn; so what it costs per request is the
//! kernel's work plus the ring's bare minimum, as `examples/bare_mio.rs` is for epoll.
//!
//! Usage: bare_uring ADDR:PORT (prints `listening on ADDR` once bound; port 0 picks one)

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsFd, OwnedFd};

use tcplab::kernel::uring::{Completion, Ring};

const ANSWER: &[u8] =
    b"HTTP/1.1 200 OK\r\nServer: bare\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello!world";
const ACCEPT: u64 = u64::MAX;
const CLOSE: u64 = u64::MAX - 1;
/// A send's user data: this bit and a sequence number (a connection's receives: its slot).
const SEND: u64 = 1 << 63;

fn main() -> anyhow::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: bare_uring ADDR:PORT"))?
        .parse()?;
    let listener = TcpListener::bind(addr)?;
    println!("listening on {}", listener.local_addr()?);
    let mut ring = Ring::new(1024)?;
    ring.accept_multi(listener.as_fd(), ACCEPT)?;
    let mut conns: Vec<Option<OwnedFd>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut completions: Vec<Completion> = Vec::with_capacity(1024);
    let mut sends: u64 = 0;
    loop {
        ring.submit_and_wait(None)?;
        ring.completions(&mut completions);
        for c in completions.drain(..) {
            if c.user_data == ACCEPT {
                if !c.more {
                    ring.accept_multi(listener.as_fd(), ACCEPT)?;
                }
                let Some(fd) = c.accepted else { continue };
                nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::TcpNoDelay, &true)?;
                let slot = free.pop().unwrap_or_else(|| {
                    conns.push(None);
                    conns.len() - 1
                });
                ring.recv(fd.as_fd(), slot as u64)?;
                conns[slot] = Some(fd);
                continue;
            }
            if c.user_data == CLOSE {
                continue;
            }
            if c.user_data & SEND != 0 {
                if let Some(mut buf) = ring.take_send(c.user_data) {
                    buf.clear();
                    spare.push(buf);
                }
                continue;
            }
            let slot = c.user_data as usize;
            if let Some(id) = c.buffer {
                ring.recycle(id);
            }
            let Some(fd) = conns[slot].as_ref() else {
                continue;
            };
            if c.result > 0 || c.result == -libc::ENOBUFS {
                if c.result > 0 {
                    // One receive, one request: answered whole.
                    let mut buf = spare.pop().unwrap_or_default();
                    buf.extend_from_slice(ANSWER);
                    sends = sends.wrapping_add(1) & !SEND;
                    ring.send(fd.as_fd(), buf, 0, SEND | sends)?;
                }
                if !c.more {
                    ring.recv(fd.as_fd(), slot as u64)?;
                }
            } else if let Some(fd) = conns[slot].take() {
                // The peer closed or failed: close behind what is queued on it.
                ring.close(fd, CLOSE)?;
                free.push(slot);
            }
        }
    }
}
