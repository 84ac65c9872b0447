//! The ready line, `tcplab serve: listening on http://ADDR (model M, N workers, pid P)`: printed
//! on stderr once the server accepts connections. The daemon's launcher, the dashboard and the
//! tests wait for it; it is written and read here only.

use std::fmt;
use std::net::SocketAddr;

use clap::ValueEnum;

use crate::server::models::Model;

const PREFIX: &str = "tcplab serve: listening on http://";

/// What the ready line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadyLine {
    pub addr: SocketAddr,
    pub model: Model,
    pub workers: usize,
    /// The master's pid (the only process for one-process models).
    pub pid: i32,
}

impl fmt::Display for ReadyLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}{} (model {}, {} workers, pid {})",
            self.addr,
            self.model.name(),
            self.workers,
            self.pid
        )
    }
}

impl ReadyLine {
    /// Reads a ready line (surrounding whitespace allowed); None for any other line.
    pub fn parse(line: &str) -> Option<ReadyLine> {
        let rest = line.trim().strip_prefix(PREFIX)?;
        let (addr, rest) = rest.split_once(" (model ")?;
        let (model, rest) = rest.split_once(", ")?;
        let (workers, rest) = rest.split_once(" workers, pid ")?;
        let pid = rest.strip_suffix(')')?;
        Some(ReadyLine {
            addr: addr.parse().ok()?,
            model: Model::from_str(model, false).ok()?,
            workers: workers.parse().ok()?,
            pid: pid.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back() {
        let line = ReadyLine {
            addr: "[::1]:8080".parse().unwrap(),
            model: Model::Prefork,
            workers: 4,
            pid: 300,
        };
        let text = line.to_string();
        assert_eq!(
            text,
            "tcplab serve: listening on http://[::1]:8080 (model prefork, 4 workers, pid 300)"
        );
        assert_eq!(ReadyLine::parse(&format!("{text}\n")), Some(line));
    }

    #[test]
    fn other_lines_are_not_ready_lines() {
        for line in [
            "",
            "tcplab serve: cannot listen on 127.0.0.1:80: permission denied",
            "tcplab serve: listening on http://127.0.0.1:80",
            "tcplab serve: listening on http://127.0.0.1:80 (model nosuch, 1 workers, pid 2)",
            "tcplab serve: listening on http://x (model reactor, 1 workers, pid 2)",
        ] {
            assert_eq!(ReadyLine::parse(line), None, "{line}");
        }
    }
}
