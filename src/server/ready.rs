//! The ready line, `tcplab serve: listening on http://ADDR (model M, N workers, pid P)` (`1 worker`): printed
//! on stderr once the server accepts connections. The daemon's launcher, the dashboard and the
//! tests wait for it; it is written and read here only. `tcplab metrics` prints a line of the
//! same shape (`tcplab metrics: listening on http://ADDR (...)`), written with [`listening`];
//! [`listening_addr`] reads the address of either.

use std::fmt;
use std::net::SocketAddr;

use clap::ValueEnum;

use crate::server::models::Model;

const PREFIX: &str = "tcplab serve: listening on http://";

/// The start of a listening command's ready line: `tcplab COMMAND: listening on http://ADDR`;
/// the command adds what it wants to say in parentheses.
pub fn listening(command: &str, addr: SocketAddr) -> String {
    format!("tcplab {command}: listening on http://{addr}")
}

/// The address in the ready line of any listening command (`serve`, `metrics`); None for any
/// other line.
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = line.trim().strip_prefix("tcplab ")?;
    let (_command, rest) = rest.split_once(": listening on http://")?;
    let (addr, _) = rest.split_once(" (")?;
    addr.parse().ok()
}

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
            "{} (model {}, {}, pid {})",
            listening("serve", self.addr),
            self.model.name(),
            crate::units::count(self.workers, "worker", "workers"),
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
        let (workers, rest) = rest.split_once(", pid ")?;
        let workers = workers
            .strip_suffix(" workers")
            .or_else(|| workers.strip_suffix(" worker"))?;
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
        let one = ReadyLine { workers: 1, ..line };
        let text = one.to_string();
        assert!(
            text.ends_with("(model prefork, 1 worker, pid 300)"),
            "{text}"
        );
        assert_eq!(ReadyLine::parse(&text), Some(one));
    }

    #[test]
    fn other_lines_are_not_ready_lines() {
        for line in [
            "",
            "tcplab serve: cannot listen on 127.0.0.1:80: permission denied",
            "tcplab serve: listening on http://127.0.0.1:80",
            "tcplab serve: listening on http://127.0.0.1:80 (model nosuch, 1 worker, pid 2)",
            "tcplab serve: listening on http://x (model reactor, 1 worker, pid 2)",
            "tcplab serve: listening on http://127.0.0.1:80 (model reactor, 1 cow, pid 2)",
        ] {
            assert_eq!(ReadyLine::parse(line), None, "{line}");
        }
    }

    #[test]
    fn the_address_of_any_listening_commands_line() {
        let addr: SocketAddr = "127.0.0.1:9814".parse().unwrap();
        let metrics = format!(
            "{} (GET /metrics; transitions: kernel, pid 7)\n",
            listening("metrics", addr)
        );
        assert_eq!(listening_addr(&metrics), Some(addr));
        assert_eq!(ReadyLine::parse(&metrics), None, "not serve's line");
        let serve = ReadyLine {
            addr: "[::1]:80".parse().unwrap(),
            model: Model::Reactor,
            workers: 2,
            pid: 1,
        };
        assert_eq!(listening_addr(&serve.to_string()), Some(serve.addr));
        for line in [
            "",
            "tcplab metrics: listening on http://nope (x)",
            "listening on http://127.0.0.1:1 (x)",
        ] {
            assert_eq!(listening_addr(line), None, "{line}");
        }
    }
}
