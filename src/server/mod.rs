//! `tcplab serve` and its control commands.
//!
//! The HTTP layer is pure and shared by every model: [`http`] (request heads), [`body`]
//! (request bodies), [`response`] (encoding), [`routes`] (what is answered), [`exchange`]
//! (bytes in, answers out, for one connection); static files are [`static_files`] (finding
//! and streaming), [`conditional`] (validators, preconditions), [`entity_tag`] (ETags and
//! their comparisons), [`ranges`] (`Range`) and [`file_answer`] (200, 206, 304, 412 or 416).
//! Every model's loop shares [`connections`] (the connection table: timers, sweep, drain,
//! close, logs) over [`conn`] (one connection's state machine), and takes signals as
//! [`intents`]; each keeps only its way of waiting: [`reactor`] (epoll through mio), [`uring`]
//! (io_uring completions, over the ring in [`kernel::uring`](crate::kernel::uring)) and the
//! [`models`] before them. [`stats`] are the counters `/status` shows, laid out to live in memory
//! shared between processes; [`metrics`] shows the same counters to Prometheus (`/metrics`).
//!
//! Processes: [`launch`] turns the flags into a running server (daemon or not, pid file, one
//! process or a [`master`] with forked workers sharing a [`worker_table`]); [`daemon`] detaches,
//! [`pidfile`] claims and judges pid files, [`control`] is `stop | reload | reopen | status`.
//! [`models`] holds the tutorial's earlier designs (iterative, prefork, select, poll).
pub mod body;
pub mod conditional;
pub mod config;
pub mod conn;
pub mod connections;
pub mod control;
pub mod daemon;
pub mod date;
pub mod entity_tag;
pub mod exchange;
pub mod file_answer;
pub mod http;
pub mod intents;
pub mod launch;
pub mod logs;
pub mod master;
pub mod metrics;
pub mod models;
pub mod pidfile;
pub mod ranges;
pub mod reactor;
pub mod ready;
pub mod response;
pub mod routes;
pub mod slab;
pub mod static_files;
pub mod stats;
pub mod status_client;
pub mod uring;
pub mod worker_table;

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

use crate::cli::ServeArgs;
use crate::kernel::net::{self, ListenError, ReusePort};

/// `tcplab serve`: see [`launch`].
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    launch::run(args)
}

/// The accept queue's length (the kernel caps it at net.core.somaxconn). std's 128 drops
/// SYNs when hundreds of clients connect at once; nginx uses 511.
const BACKLOG: i32 = 1024;

/// Binds the listening socket; the error is the one line a user should see (after
/// `tcplab serve: `).
pub fn bind(addr: SocketAddr) -> Result<TcpListener, ListenError> {
    net::listen(addr, BACKLOG, ReusePort::No)
}

/// As [`bind`], with SO_REUSEPORT set so that other sockets (other workers) may bind the same
/// address and the kernel spreads new connections across them.
pub fn bind_reuseport(addr: SocketAddr) -> Result<TcpListener, ListenError> {
    net::listen(addr, BACKLOG, ReusePort::Yes)
}
