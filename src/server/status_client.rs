//! The one client of a tcplab server's `/status`, shared by the control commands (`status`,
//! `reload`) and the dashboard's poller: one request on a connection the caller opened, and the
//! answer read within a deadline and a size bound, whatever the other end sends or how slowly
//! (the address comes from a pid file or a port anyone may be listening on).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The largest `/status` body read.
pub const MAX_BODY: usize = 1 << 20;
/// The largest head (status line and header fields) read.
const MAX_HEAD: usize = 16 * 1024;

/// Sends `GET /status` on `reader`'s stream and reads the answer's JSON body, all within
/// `within`; with `close`, the request asks the server to close the connection after answering.
pub fn ask(
    reader: &mut BufReader<TcpStream>,
    close: bool,
    within: Duration,
) -> anyhow::Result<serde_json::Value> {
    let deadline = Instant::now() + within;
    let request: &[u8] = match close {
        true => b"GET /status HTTP/1.1\r\nHost: tcplab\r\nConnection: close\r\n\r\n",
        false => b"GET /status HTTP/1.1\r\nHost: tcplab\r\n\r\n",
    };
    reader.get_ref().set_write_timeout(Some(within))?;
    reader
        .get_mut()
        .write_all(request)
        .context("send /status")?;
    let mut head_left = MAX_HEAD;
    let status_line = read_line(reader, deadline, &mut head_left).with_context(|| {
        format!(
            "no answer to /status within {}ms (every worker busy?)",
            within.as_millis()
        )
    })?;
    if status_line.is_empty() {
        bail!("the server closed the /status connection");
    }
    let mut length = None;
    loop {
        let line = read_line(reader, deadline, &mut head_left)?;
        if line.is_empty() {
            bail!("an incomplete HTTP answer to /status");
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let length = length.context("/status answered without a Content-Length")?;
    if length > MAX_BODY {
        bail!("/status answered {length} bytes, more than {MAX_BODY}");
    }
    let status_line = status_line.trim_end();
    if status_line.split_whitespace().nth(1) != Some("200") {
        bail!("/status answered {}", crate::text::printable(status_line));
    }
    let mut body = vec![0; length];
    let mut got = 0;
    while got < length {
        set_timeout(reader, deadline).context("/status body too slow")?;
        match reader.read(&mut body[got..]).context("read /status body")? {
            0 => bail!("/status body cut short"),
            n => got += n,
        }
    }
    serde_json::from_slice(&body).context("/status is not JSON")
}

/// One line (with its end) of at most `left` bytes of head, or "" at the end of the stream.
/// Each read waits only for what is left of the deadline, so a trickle cannot stretch it.
fn read_line(
    reader: &mut BufReader<TcpStream>,
    deadline: Instant,
    left: &mut usize,
) -> anyhow::Result<String> {
    let mut line = Vec::new();
    loop {
        set_timeout(reader, deadline)?;
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if take > *left {
            bail!("/status answered a head of more than {MAX_HEAD} bytes");
        }
        line.extend_from_slice(&buf[..take]);
        reader.consume(take);
        *left -= take;
        if done {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn set_timeout(reader: &BufReader<TcpStream>, deadline: Instant) -> std::io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(std::io::ErrorKind::TimedOut.into());
    }
    reader.get_ref().set_read_timeout(Some(left))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A peer that reads the request and then writes `answer` a piece at a time, `gap` apart.
    fn peer(answer: Vec<u8>, piece: usize, gap: Duration) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = [0u8; 1024];
            let _ = s.read(&mut req);
            for chunk in answer.chunks(piece) {
                if s.write_all(chunk).is_err() {
                    return;
                }
                std::thread::sleep(gap);
            }
        });
        addr
    }

    fn ask_peer(addr: std::net::SocketAddr, within: Duration) -> anyhow::Result<serde_json::Value> {
        let mut r = BufReader::new(TcpStream::connect(addr).unwrap());
        ask(&mut r, true, within)
    }

    fn answer(status: &str, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn an_answer_is_read_by_its_length() {
        let addr = peer(answer("200 OK", r#"{"pid":42}"#), 1 << 20, Duration::ZERO);
        let v = ask_peer(addr, Duration::from_secs(5)).unwrap();
        assert_eq!(v["pid"], 42);
    }

    #[test]
    fn a_trickle_cannot_stretch_the_deadline() {
        // 1 byte every 20 ms: each read succeeds, but the whole answer would take ~2 s.
        let addr = peer(
            answer("200 OK", &format!("{{\"x\":\"{}\"}}", "y".repeat(60))),
            1,
            Duration::from_millis(20),
        );
        let started = Instant::now();
        let err = ask_peer(addr, Duration::from_millis(300)).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_millis(1000),
            "{:?}: {err:#}",
            started.elapsed()
        );
    }

    #[test]
    fn an_endless_head_or_a_huge_body_is_refused() {
        let endless = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; 40_000]].concat();
        let err = ask_peer(peer(endless, 4096, Duration::ZERO), Duration::from_secs(5));
        assert!(format!("{:#}", err.unwrap_err()).contains("head of more than"));
        let huge = b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n".to_vec();
        let err = ask_peer(peer(huge, 4096, Duration::ZERO), Duration::from_secs(5));
        assert!(format!("{:#}", err.unwrap_err()).contains("more than"));
    }

    #[test]
    fn only_a_200_is_an_answer() {
        let addr = peer(answer("404 Not Found", "{}"), 1 << 20, Duration::ZERO);
        let err = ask_peer(addr, Duration::from_secs(5)).unwrap_err();
        assert!(format!("{err:#}").contains("404"), "{err:#}");
    }
}
