//! Benchmark helper for `bench/serve.sh`: opens N keep-alive connections to a server, sends
//! one `GET /` on each and reads its answer, then holds them all idle until stdin closes, so
//! the server's memory per idle connection can be read from /proc.
//!
//! Usage: hold_idle ADDR:PORT N

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: hold_idle ADDR:PORT N";
    let addr: SocketAddr = args.next().ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let count: usize = args.next().ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    // Every connection is a descriptor here too.
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;

    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut conns = Vec::with_capacity(count);
    // In waves, so the server's accept queue never overflows.
    for wave in (0..count).collect::<Vec<_>>().chunks(500) {
        let mut batch: Vec<TcpStream> = Vec::with_capacity(wave.len());
        for _ in wave {
            let s = TcpStream::connect(addr)?;
            s.set_read_timeout(Some(Duration::from_secs(30)))?;
            batch.push(s);
        }
        for s in &mut batch {
            s.write_all(request.as_bytes())?;
        }
        for s in &mut batch {
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            while !got.ends_with(b"hello!world") {
                let n = s.read(&mut buf)?;
                anyhow::ensure!(n > 0, "server closed a connection");
                got.extend_from_slice(&buf[..n]);
            }
        }
        conns.extend(batch);
    }
    println!("holding {}", conns.len());
    std::io::stdout().flush()?;
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    Ok(())
}
