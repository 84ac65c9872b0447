//! Talking to the server the dashboard started: its `/status` JSON, and the load key's burst
//! of connections that are held a moment and then closed (by us first, so our side passes
//! through FIN_WAIT and TIME_WAIT and the states visibly move).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_millis(300);
/// How long a load connection stays open before we close it.
const HOLD: Duration = Duration::from_millis(1500);

/// GET /status and parse the body as JSON.
pub fn status(addr: SocketAddr) -> Result<serde_json::Value, String> {
    let mut s =
        TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(TIMEOUT)).ok();
    s.set_write_timeout(Some(TIMEOUT)).ok();
    s.write_all(b"GET /status HTTP/1.1\r\nHost: tcplab\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("send /status: {e}"))?;
    let mut buf = Vec::new();
    let _ = s.take(1 << 20).read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    if text.is_empty() {
        return Err(format!(
            "no answer to /status within {}ms (every worker busy?)",
            TIMEOUT.as_millis()
        ));
    }
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "an incomplete HTTP answer to /status".to_string())?;
    let status_line = head.lines().next().unwrap_or_default();
    if !status_line.contains(" 200") {
        return Err(format!("/status answered {status_line}"));
    }
    serde_json::from_str(body.trim()).map_err(|e| format!("/status is not JSON: {e}"))
}

/// Connections opened by the load key, closed once their time is up.
#[derive(Default)]
pub struct Load {
    open: Vec<(TcpStream, Instant)>,
}

impl Load {
    /// Opens `n` connections and sends a request on each; returns how many opened, and the
    /// first error if some did not.
    pub fn burst(&mut self, addr: SocketAddr, n: usize) -> (usize, Option<String>) {
        let mut opened = 0;
        for _ in 0..n {
            match TcpStream::connect_timeout(&addr, TIMEOUT) {
                Ok(mut s) => {
                    let _ = s.set_nonblocking(true);
                    let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: tcplab\r\n\r\n");
                    self.open.push((s, Instant::now() + HOLD));
                    opened += 1;
                }
                Err(e) => return (opened, Some(format!("connect {addr}: {e}"))),
            }
        }
        (opened, None)
    }

    /// Closes connections whose time is up (drains what the server sent, so the close is a
    /// FIN, not a RST).
    pub fn close_due(&mut self, now: Instant) {
        self.open.retain_mut(|(s, due)| {
            if *due > now {
                return true;
            }
            let mut sink = [0u8; 4096];
            while let Ok(n) = s.read(&mut sink) {
                if n == 0 {
                    break;
                }
            }
            false
        });
    }
}
