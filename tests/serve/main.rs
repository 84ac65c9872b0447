//! `tcplab serve` against the real binary: HTTP, limits, static files, the master and its
//! workers, the daemon and its pid file, the I/O models, and operating it.

mod daemon;
mod fuzz;
mod hostile;
mod http;
mod limits;
mod master;
mod models;
mod ops;
mod smuggling;
mod static_files;
mod traversal;
