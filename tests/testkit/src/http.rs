//! A minimal HTTP/1.1 client over a raw TcpStream, for the serve tests: it sends exactly the
//! bytes a test writes and parses answers strictly, so the tests see what the server really
//! sent (pipelined answers, missing bodies after HEAD, closes). Generous timeouts: the machine
//! is shared and loaded; a timeout here is a test failure, never a wait.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// (lower-case name, value)
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect to tcplab serve");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write request");
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        self.response()
    }

    /// Reads more bytes; false at EOF (or a reset, which is the same for these tests).
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16384];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return false,
                Err(e) => panic!("reading a response: {e}"),
            }
        }
    }

    /// Reads one response; `head_only` for an answer to HEAD (no body whatever the length).
    pub fn response_to(&mut self, head_only: bool) -> Response {
        self.try_response(head_only)
            .unwrap_or_else(|| panic!("connection closed before a response; got {:?}", self.text()))
    }

    pub fn response(&mut self) -> Response {
        self.response_to(false)
    }

    /// None if the connection closes before a whole response.
    pub fn try_response(&mut self, head_only: bool) -> Option<Response> {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if !self.fill() {
                return None;
            }
        };
        let head = String::from_utf8(self.buf[..end].to_vec()).expect("ASCII head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
        let status: u16 = status_line[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').expect("header line");
                (n.to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        self.buf.drain(..end);
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let len = if head_only || status == 100 { 0 } else { len };
        while self.buf.len() < len {
            if !self.fill() {
                return None;
            }
        }
        let body = self.buf.drain(..len).collect();
        Some(Response {
            status,
            headers,
            body,
        })
    }

    /// Sends `request`; None (instead of a panic) if no answer comes within the read timeout.
    pub fn try_response_after(&mut self, request: &[u8]) -> Option<Response> {
        self.stream.write_all(request).ok()?;
        let mut first = [0u8; 1];
        match self.stream.peek(&mut first) {
            Ok(n) if n > 0 => self.try_response(false),
            _ => None,
        }
    }

    /// Bytes received and not yet parsed.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }

    /// Waits for EOF and returns what came before it.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        while self.fill() {}
        std::mem::take(&mut self.buf)
    }
}

/// One request on a fresh connection.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    Client::connect(addr).get(path)
}

/// Sends `request` on a fresh connection and returns the answer, after checking that the
/// server then closed the connection with nothing more (a read timeout panics instead).
pub fn refused(addr: SocketAddr, request: &[u8]) -> Response {
    let mut c = Client::connect(addr);
    // A server that refuses early may close before the whole request is written.
    let _ = c.stream.write_all(request);
    let r = c.response();
    let rest = c.read_to_close();
    assert!(rest.is_empty(), "bytes after a closing answer: {rest:?}");
    assert_eq!(r.header("connection"), Some("close"), "{r:?}");
    r
}

/// Sends `bytes` on a fresh connection, half-closes it (so a server waiting for more sees the
/// end), and returns everything the server sent until it closed: for answers to requests
/// that may not parse.
pub fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut c = Client::connect(addr);
    // A server that refuses early may close before the whole request is written.
    let _ = c.stream.write_all(bytes);
    let _ = c.stream.shutdown(std::net::Shutdown::Write);
    c.read_to_close()
}
