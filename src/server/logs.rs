//! The access log (combined log format) and the error log. Lines are gathered in memory and
//! written once per turn of the event loop, so logging costs no system call per request; USR1
//! reopens the files by path (after logrotate moved them).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::date::Clock;
use super::http::Request;

/// Where a log goes: stderr, or a file opened for appending that can be reopened.
#[derive(Debug)]
pub struct LogSink {
    target: Target,
    buf: Vec<u8>,
}

#[derive(Debug)]
enum Target {
    Stderr,
    File { path: PathBuf, file: File },
}

/// Gathered lines are written out once they pass this, even mid-turn.
const FLUSH_AT: usize = 64 << 10;

impl LogSink {
    pub fn stderr() -> LogSink {
        LogSink {
            target: Target::Stderr,
            buf: Vec::new(),
        }
    }

    /// `-` means stderr.
    pub fn open(path: &Path) -> io::Result<LogSink> {
        if path == Path::new("-") {
            return Ok(LogSink::stderr());
        }
        Ok(LogSink {
            target: Target::File {
                path: path.to_path_buf(),
                file: open_append(path)?,
            },
            buf: Vec::new(),
        })
    }

    /// Opens the file again by its path; on failure the old file stays in use.
    pub fn reopen(&mut self) -> io::Result<()> {
        self.flush();
        if let Target::File { path, file } = &mut self.target {
            *file = open_append(path).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot reopen {}: {e}", path.display()))
            })?;
        }
        Ok(())
    }

    /// Writes what was gathered. A failing log must not stop the server, so errors are dropped
    /// (there is nowhere better to report a failing error log).
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let _ = match &mut self.target {
            Target::Stderr => io::stderr().lock().write_all(&self.buf),
            Target::File { file, .. } => file.write_all(&self.buf),
        };
        self.buf.clear();
        if self.buf.capacity() > 4 * FLUSH_AT {
            self.buf.shrink_to(FLUSH_AT);
        }
    }

    fn line_done(&mut self) {
        self.buf.push(b'\n');
        if self.buf.len() >= FLUSH_AT {
            self.flush();
        }
    }
}

/// Mode 0644 spelled out: a daemon runs with umask 0 (the tutorial's recipe), and a log must not
/// become world-writable.
fn open_append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .open(path)
}

/// One finished request, as the access log needs it.
#[derive(Debug, Clone, Copy)]
pub struct AccessRecord<'a> {
    pub peer: IpAddr,
    /// None when the request could not be parsed: logged as `"-"`.
    pub request: Option<&'a Request<'a>>,
    pub status: u16,
    pub body_bytes: u64,
}

impl LogSink {
    /// `127.0.0.1 - - [27/Nov/2026:10:15:13 +0000] "GET / HTTP/1.1" 200 11 "-" "curl/8.5.0"`
    pub fn access(&mut self, clock: &Clock, r: &AccessRecord<'_>) {
        let b = &mut self.buf;
        let _ = write!(b, "{} - - [", r.peer);
        b.extend_from_slice(clock.log_date());
        b.extend_from_slice(b"] \"");
        let (referer, user_agent) = match r.request {
            Some(req) => {
                escaped(b, req.method_name.as_bytes());
                b.push(b' ');
                escaped(b, req.target.as_bytes());
                let _ = write!(b, " HTTP/1.{}", req.minor_version);
                (req.referer, req.user_agent)
            }
            None => {
                b.push(b'-');
                (None, None)
            }
        };
        let _ = write!(b, "\" {} {} \"", r.status, r.body_bytes);
        escaped(b, referer.unwrap_or(b"-"));
        b.extend_from_slice(b"\" \"");
        escaped(b, user_agent.unwrap_or(b"-"));
        b.push(b'"');
        self.line_done();
    }

    /// `[27/Nov/2026:10:15:13 +0000] tcplab[1234]: message`
    pub fn error(&mut self, clock: &Clock, msg: std::fmt::Arguments<'_>) {
        let b = &mut self.buf;
        b.push(b'[');
        b.extend_from_slice(clock.log_date());
        let _ = write!(b, "] tcplab[{}]: {msg}", std::process::id());
        self.line_done();
    }
}

/// Quotes and control bytes as `\xHH`, as nginx writes them, so a client cannot forge lines.
fn escaped(out: &mut Vec<u8>, s: &[u8]) {
    for &c in s {
        if c == b'"' || c == b'\\' || !(0x20..0x7f).contains(&c) {
            let _ = write!(out, "\\x{c:02X}");
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_format_with_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let mut log = LogSink::open(&path).unwrap();
        let clock = Clock::new();
        let req = Request {
            method: crate::server::http::Method::Get,
            method_name: "GET",
            target: "/a\"b",
            minor_version: 1,
            keep_alive: true,
            referer: None,
            user_agent: Some(b"curl/8\n"),
            accept: None,
            conditions: Default::default(),
        };
        log.access(
            &clock,
            &AccessRecord {
                peer: "127.0.0.1".parse().unwrap(),
                request: Some(&req),
                status: 200,
                body_bytes: 11,
            },
        );
        log.flush();
        let text = std::fs::read_to_string(&path).unwrap();
        let date = String::from_utf8(clock.log_date().to_vec()).unwrap();
        assert_eq!(
            text,
            format!(
                "127.0.0.1 - - [{date}] \"GET /a\\x22b HTTP/1.1\" 200 11 \"-\" \"curl/8\\x0A\"\n"
            )
        );
    }
}
