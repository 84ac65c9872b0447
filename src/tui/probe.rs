//! Talking to the server the dashboard started: its `/status` JSON, read over one kept-alive
//! connection on its own thread (so the dashboard's polling adds no connection, no TIME_WAIT
//! and no log line per refresh, and a busy server never stalls the screen), and the load key's
//! burst of connections that are held a moment and then closed (by us first, so our side
//! passes through FIN_WAIT and TIME_WAIT and the states visibly move).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

const TIMEOUT: Duration = Duration::from_millis(300);
/// How long a load connection stays open before we close it.
const HOLD: Duration = Duration::from_millis(1500);
/// A request at least this often keeps the connection alive: the server closes idle ones
/// after 5 s by default, and a close by the server would leave a TIME_WAIT on its port.
const KEEP_ALIVE: Duration = Duration::from_secs(3);
/// The largest `/status` body read.
const MAX_BODY: usize = 1 << 20;

/// What the poller reports.
#[derive(Debug)]
pub enum News {
    /// A new connection to the server, from this local address (the dashboard hides it).
    Connected(SocketAddr),
    /// The answer to a request, or why there is none.
    Answer(anyhow::Result<serde_json::Value>),
}

/// `/status` over one kept-alive connection, on a thread. Dropping it closes the connection.
pub struct StatusPoller {
    requests: Option<Sender<SocketAddr>>,
    news: Receiver<News>,
    in_flight: bool,
    thread: Option<JoinHandle<()>>,
}

impl StatusPoller {
    pub fn start() -> std::io::Result<StatusPoller> {
        let (req_tx, req_rx) = mpsc::channel::<SocketAddr>();
        let (news_tx, news_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tcplab-status".into())
            .spawn(move || poll_loop(req_rx, news_tx))?;
        Ok(StatusPoller {
            requests: Some(req_tx),
            news: news_rx,
            in_flight: false,
            thread: Some(thread),
        })
    }

    /// Asks for `/status` unless a request is already in flight.
    pub fn request(&mut self, addr: SocketAddr) {
        if !self.in_flight {
            if let Some(tx) = &self.requests {
                self.in_flight = tx.send(addr).is_ok();
            }
        }
    }

    /// What arrived since the last call; never blocks.
    pub fn news(&mut self) -> Vec<News> {
        let news: Vec<News> = self.news.try_iter().collect();
        if news.iter().any(|n| matches!(n, News::Answer(_))) {
            self.in_flight = false;
        }
        news
    }
}

impl Drop for StatusPoller {
    fn drop(&mut self) {
        self.requests = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn poll_loop(requests: Receiver<SocketAddr>, news: Sender<News>) {
    let mut conn: Option<Conn> = None;
    let mut last: Option<SocketAddr> = None;
    loop {
        let (addr, asked) = match requests.recv_timeout(KEEP_ALIVE) {
            Ok(addr) => (addr, true),
            Err(RecvTimeoutError::Disconnected) => return,
            // Idle: one request keeps the connection from being closed by the server.
            Err(RecvTimeoutError::Timeout) => match (last, &conn) {
                (Some(addr), Some(_)) => (addr, false),
                _ => continue,
            },
        };
        last = Some(addr);
        let answer = ask(&mut conn, addr, &news);
        if answer.is_err() {
            conn = None;
        }
        if asked && news.send(News::Answer(answer)).is_err() {
            return;
        }
    }
}

/// One request on the kept connection; a connection the server closed meanwhile is replaced
/// once.
fn ask(
    conn: &mut Option<Conn>,
    addr: SocketAddr,
    news: &Sender<News>,
) -> anyhow::Result<serde_json::Value> {
    if let Some(c) = conn.as_mut().filter(|c| c.addr == addr) {
        if let Ok(v) = c.status() {
            return Ok(v);
        }
    }
    let mut c = Conn::open(addr)?;
    let _ = news.send(News::Connected(c.local));
    let v = c.status();
    *conn = Some(c);
    v
}

struct Conn {
    addr: SocketAddr,
    local: SocketAddr,
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        let s = TcpStream::connect_timeout(&addr, TIMEOUT)
            .with_context(|| format!("connect {addr}"))?;
        s.set_read_timeout(Some(TIMEOUT))?;
        s.set_write_timeout(Some(TIMEOUT))?;
        Ok(Conn {
            addr,
            local: s.local_addr()?,
            reader: BufReader::new(s),
        })
    }

    /// GET /status on this connection and parse the body as JSON.
    fn status(&mut self) -> anyhow::Result<serde_json::Value> {
        self.reader
            .get_mut()
            .write_all(b"GET /status HTTP/1.1\r\nHost: tcplab\r\n\r\n")
            .context("send /status")?;
        let mut status_line = String::new();
        let n = self.reader.read_line(&mut status_line).with_context(|| {
            format!(
                "no answer to /status within {}ms (every worker busy?)",
                TIMEOUT.as_millis()
            )
        })?;
        if n == 0 {
            bail!("the server closed the /status connection");
        }
        let mut length = None;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
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
        let mut body = vec![0; length];
        self.reader
            .read_exact(&mut body)
            .context("/status body cut short")?;
        let status_line = status_line.trim_end();
        if !status_line.contains(" 200") {
            bail!("/status answered {status_line}");
        }
        serde_json::from_slice(&body).context("/status is not JSON")
    }
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
