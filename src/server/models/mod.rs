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

/// The connection table of the models here: std sockets.
pub type Table = crate::server::connections::Connections<TcpStream>;
