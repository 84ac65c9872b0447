//! The tutorial's server designs before the reactor. Each connection is the reactor's own state
//! machine ([`Conn`](crate::server::conn::Conn), over a std `TcpStream`) in the same connection
//! table ([`Connections`](crate::server::connections::Connections)), so every model speaks
//! exactly the same HTTP, times out and drains the same way, and only the way it waits for
//! sockets differs:
//! - [`blocking`]: `iterative` (one process: accept, answer, close; one client at a time) and
//!   `prefork` (N processes blocking in accept on one shared listener);
//! - [`multiplex`] with [`select`] or [`poll`]: one process, non-blocking sockets, one loop.

pub mod blocking;
pub mod multiplex;
pub mod poll;
pub mod select;

use std::net::TcpStream;

use clap::ValueEnum;

/// The connection table of the models here: std sockets.
pub type Table = crate::server::connections::Connections<TcpStream>;

/// The server designs of the tutorial, from the first to the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Model {
    /// An epoll event loop (mio): one thread, thousands of connections
    #[default]
    Reactor,
    /// One process: blocking accept, answer, close; one client at a time
    Iterative,
    /// N processes blocking in accept on one shared listening socket
    Prefork,
    /// One process multiplexing with select(2); limited to FD_SETSIZE descriptors
    Select,
    /// One process multiplexing with poll(2)
    Poll,
    /// io_uring (a proactor): multishot accept, receives into provided buffers, batched sends
    Uring,
}

impl Model {
    /// Whether a master forks workers for it (`--workers` applies); the others are one
    /// process.
    pub fn has_workers(self) -> bool {
        matches!(self, Model::Reactor | Model::Prefork | Model::Uring)
    }

    /// Whether each process serves one connection at a time (blocking accept, answer,
    /// close): a connection kept open between requests holds a whole process, so a client
    /// that polls must close between polls. The others multiplex many connections.
    pub fn serves_one_at_a_time(self) -> bool {
        matches!(self, Model::Iterative | Model::Prefork)
    }

    pub fn name(self) -> &'static str {
        match self {
            Model::Reactor => "reactor",
            Model::Iterative => "iterative",
            Model::Prefork => "prefork",
            Model::Select => "select",
            Model::Poll => "poll",
            Model::Uring => "uring",
        }
    }
}
