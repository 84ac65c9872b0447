//! Talking to the server the dashboard started: its `/status` JSON, read on its own thread (a
//! busy server never stalls the screen), and the load key's
//! burst of connections that are held a moment and then closed (by us first, so our side
//! passes through FIN_WAIT and TIME_WAIT and the states visibly move).
//!
//! A server that multiplexes is polled over one kept-alive connection: no new connection and
//! no TIME_WAIT per refresh. A server whose processes serve one connection at a time
//! (iterative, prefork) would be held by such a connection, every other client waiting behind
//! it; it is asked with `Connection: close` on a fresh connection each time, and we wait for
//! its close before ours, so the TIME_WAIT is the server's, as after any HTTP/1.0 answer.

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;

const TIMEOUT: Duration = Duration::from_millis(300);
/// How long a load connection stays open before we close it.
const HOLD: Duration = Duration::from_millis(1500);
/// A request at least this often keeps the connection alive: the server closes idle ones
/// after 5 s by default, and a close by the server would leave a TIME_WAIT on its port.
const KEEP_ALIVE: Duration = Duration::from_secs(3);
/// A server asked with `Connection: close` is asked at most this often, whatever the refresh
/// interval: each ask leaves a TIME_WAIT on it for a minute.
const CLOSE_EVERY: Duration = Duration::from_secs(1);

/// What the poller reports.
#[derive(Debug)]
pub enum News {
    /// A new connection to the server, from this local address (the dashboard hides it).
    Connected(SocketAddr),
    /// The answer to a request, or why there is none.
    Answer(anyhow::Result<serde_json::Value>),
}

/// A request for `/status`: where, and whether to close the connection after the answer.
type Ask = (SocketAddr, bool);

/// `/status` on a thread, over one kept-alive connection unless asked to close. Dropping it
/// closes the connection.
pub struct StatusPoller {
    requests: Option<Sender<Ask>>,
    news: Receiver<News>,
    in_flight: bool,
    /// When the last ask with `Connection: close` was sent.
    last_close: Option<Instant>,
    thread: Option<JoinHandle<()>>,
}

impl StatusPoller {
    pub fn start() -> std::io::Result<StatusPoller> {
        let (req_tx, req_rx) = mpsc::channel::<Ask>();
        let (news_tx, news_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tcplab-status".into())
            .spawn(move || poll_loop(req_rx, news_tx))?;
        Ok(StatusPoller {
            requests: Some(req_tx),
            news: news_rx,
            in_flight: false,
            last_close: None,
            thread: Some(thread),
        })
    }

    /// Asks for `/status` unless a request is already in flight; with `close`, on a connection
    /// of its own that the server closes after answering.
    pub fn request(&mut self, addr: SocketAddr, close: bool) {
        let now = Instant::now();
        if close && self.last_close.is_some_and(|t| now < t + CLOSE_EVERY) {
            return;
        }
        if !self.in_flight {
            self.last_close = close.then_some(now);
            if let Some(tx) = &self.requests {
                self.in_flight = tx.send((addr, close)).is_ok();
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

fn poll_loop(requests: Receiver<Ask>, news: Sender<News>) {
    let mut conn: Option<Conn> = None;
    let mut last: Option<SocketAddr> = None;
    loop {
        let (addr, asked) = match requests.recv_timeout(KEEP_ALIVE) {
            Ok((addr, true)) => {
                // A kept connection would hold the server: none is kept, and none is
                // refreshed while idle.
                conn = None;
                last = None;
                let answer = ask_once(addr, &news);
                if news.send(News::Answer(answer)).is_err() {
                    return;
                }
                continue;
            }
            Ok((addr, false)) => (addr, true),
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
        if let Ok(v) = c.status(false) {
            return Ok(v);
        }
    }
    let mut c = Conn::open(addr, news)?;
    let v = c.status(false);
    *conn = Some(c);
    v
}

/// One request with `Connection: close` on a new connection; the server's close is awaited
/// before ours, so the TIME_WAIT is on its side.
fn ask_once(addr: SocketAddr, news: &Sender<News>) -> anyhow::Result<serde_json::Value> {
    let mut c = Conn::open(addr, news)?;
    let v = c.status(true)?;
    c.await_close();
    Ok(v)
}

struct Conn {
    addr: SocketAddr,
    reader: BufReader<TcpStream>,
}

impl Conn {
    /// Connects, telling the dashboard our end before the kernel shows the connection: a
    /// refresh must never count it, nor the sampled log take its states for a client's.
    fn open(addr: SocketAddr, news: &Sender<News>) -> anyhow::Result<Conn> {
        let s = crate::kernel::net::connect_announced(addr, TIMEOUT, |local| {
            let _ = news.send(News::Connected(local));
        })
        .with_context(|| format!("connect {addr}"))?;
        s.set_read_timeout(Some(TIMEOUT))?;
        s.set_write_timeout(Some(TIMEOUT))?;
        Ok(Conn {
            addr,
            reader: BufReader::new(s),
        })
    }

    /// GET /status on this connection and parse the body as JSON; with `close`, the request
    /// asks the server to close the connection after its answer.
    fn status(&mut self, close: bool) -> anyhow::Result<serde_json::Value> {
        crate::server::status_client::ask(&mut self.reader, close, TIMEOUT)
    }

    /// Waits (up to the timeout) for the server's FIN after an answer with `Connection:
    /// close`; dropping the connection then closes our side second.
    fn await_close(mut self) {
        let mut sink = [0u8; 512];
        while let Ok(n) = self.reader.read(&mut sink) {
            if n == 0 {
                break;
            }
        }
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
        let first = self.open.len();
        let mut error = None;
        for _ in 0..n {
            match TcpStream::connect_timeout(&addr, TIMEOUT) {
                Ok(mut s) => {
                    let _ = s.set_nonblocking(true);
                    let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: tcplab\r\n\r\n");
                    self.open.push((s, Instant::now()));
                }
                Err(e) => {
                    error = Some(format!("connect {addr}: {e}"));
                    break;
                }
            }
        }
        // One time for the whole burst: it is closed at once, and said so once.
        let due = Instant::now() + HOLD;
        for (_, at) in &mut self.open[first..] {
            *at = due;
        }
        (self.open.len() - first, error)
    }

    /// Closes connections whose time is up (drains what the server sent, so the close is a
    /// FIN, not a RST); returns how many.
    pub fn close_due(&mut self, now: Instant) -> usize {
        let before = self.open.len();
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
        before - self.open.len()
    }
}
