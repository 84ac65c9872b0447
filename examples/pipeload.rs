//! Load for bench/serve.sh's pipelined run, with the latency wrk cannot report: wrk records no
//! latency for pipelined requests (wg/wrk#236), so its percentiles read 0 there. This client
//! does what `wrk -t1 -cC -s bench/pipeline.lua` does — C keep-alive connections, each writing
//! DEPTH `GET /` requests at once and waiting for all DEPTH answers before the next batch — on
//! one thread (one epoll loop, like wrk -t1), and times each batch from its write to its last
//! answer.
//!
//! Usage: pipeload ADDR:PORT CONNECTIONS DEPTH SECONDS
//! Prints: `requests N seconds S req_per_s R batch_p50_ms A batch_p99_ms B errors E`

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

struct Conn {
    stream: TcpStream,
    /// Bytes of the current batch still to write.
    unsent: usize,
    /// Answers of the current batch still to read.
    awaited: usize,
    /// Received bytes not yet parsed into whole answers.
    inbox: Vec<u8>,
    sent_at: Instant,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() == 4,
        "usage: pipeload ADDR:PORT CONNECTIONS DEPTH SECONDS"
    );
    let addr: SocketAddr = args[0].parse()?;
    let count: usize = args[1].parse()?;
    let depth: usize = args[2].parse()?;
    let seconds: f64 = args[3].parse()?;
    let batch = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").repeat(depth);

    let mut poll = Poll::new()?;
    let mut conns = Vec::with_capacity(count);
    for i in 0..count {
        let std_stream = std::net::TcpStream::connect(addr)?;
        std_stream.set_nodelay(true)?;
        std_stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std_stream);
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        conns.push(Conn {
            stream,
            unsent: batch.len(),
            awaited: depth,
            inbox: Vec::with_capacity(4096),
            sent_at: Instant::now(),
        });
    }

    let started = Instant::now();
    let end = started + Duration::from_secs_f64(seconds);
    let mut latencies_us: Vec<u32> = Vec::with_capacity(1 << 20);
    let (mut requests, mut errors) = (0u64, 0u64);
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    for (i, c) in conns.iter_mut().enumerate() {
        c.sent_at = Instant::now();
        if write_some(c, batch.as_bytes()).is_err() {
            anyhow::bail!("connection {i}: write failed");
        }
    }
    while Instant::now() < end {
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for event in events.iter() {
            let c = &mut conns[event.token().0];
            if c.unsent > 0 && write_some(c, batch.as_bytes()).is_err() {
                anyhow::bail!("write failed");
            }
            loop {
                match c.stream.read(&mut buf) {
                    Ok(0) => anyhow::bail!("the server closed a connection"),
                    Ok(n) => c.inbox.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let (answers, bad) = take_answers(&mut c.inbox)?;
            errors += bad;
            c.awaited = c.awaited.saturating_sub(answers);
            requests += answers as u64;
            if c.awaited == 0 && c.unsent == 0 {
                let now = Instant::now();
                latencies_us.push(
                    now.duration_since(c.sent_at)
                        .as_micros()
                        .min(u32::MAX as u128) as u32,
                );
                c.sent_at = now;
                c.unsent = batch.len();
                c.awaited = depth;
                if write_some(c, batch.as_bytes()).is_err() {
                    anyhow::bail!("write failed");
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((latencies_us.len() as f64 * p).ceil() as usize).clamp(1, latencies_us.len()) - 1;
        latencies_us[i] as f64 / 1000.0
    };
    println!(
        "requests {requests} seconds {elapsed:.2} req_per_s {:.0} batch_p50_ms {:.3} batch_p99_ms {:.3} errors {errors}",
        requests as f64 / elapsed,
        pct(0.50),
        pct(0.99)
    );
    Ok(())
}

/// Writes what is left of the current batch; stops at WouldBlock (the next writable event
/// continues).
fn write_some(c: &mut Conn, batch: &[u8]) -> io::Result<()> {
    while c.unsent > 0 {
        match c.stream.write(&batch[batch.len() - c.unsent..]) {
            Ok(n) => c.unsent -= n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Removes every whole answer from the front of `inbox`: (answers, of which not 200).
fn take_answers(inbox: &mut Vec<u8>) -> anyhow::Result<(usize, u64)> {
    let (mut at, mut answers, mut bad) = (0, 0, 0);
    loop {
        let rest = &inbox[at..];
        let Some(head_len) = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4)
        else {
            break;
        };
        let head = std::str::from_utf8(&rest[..head_len])?;
        let body_len: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .ok_or_else(|| anyhow::anyhow!("an answer without Content-Length"))?;
        if rest.len() < head_len + body_len {
            break;
        }
        if !head.starts_with("HTTP/1.1 200 ") {
            bad += 1;
        }
        at += head_len + body_len;
        answers += 1;
    }
    inbox.drain(..at);
    Ok((answers, bad))
}
