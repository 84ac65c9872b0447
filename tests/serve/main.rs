//! `tcplab serve` against the real binary: HTTP, limits, static files, the master and its
//! workers, the daemon and its pid file, the I/O models, and operating it.

// The behaviour tests are compiled twice on purpose: here against the reactor, in `uring`
// against --model uring.
#![allow(clippy::duplicate_mod)]

mod daemon;
mod fuzz;
mod hostile;
mod http;
mod limits;
mod master;
mod models;
mod ops;
mod seccomp;
mod smuggling;
mod static_files;
mod traversal;
mod uring;

/// The model the behaviour tests (http, limits, ops, static files, hostile input) run against
/// here; `uring` runs them all again against `--model uring`.
pub const MODEL: &str = "reactor";

pub fn serve(extra: &[&str]) -> (testkit::Running, std::net::SocketAddr) {
    serve_model(MODEL, extra)
}

/// `tcplab serve --model MODEL`, unless the test names a model itself.
pub fn serve_model(model: &str, extra: &[&str]) -> (testkit::Running, std::net::SocketAddr) {
    if extra.contains(&"--model") {
        return testkit::serve(extra);
    }
    let mut args = vec!["--model", model];
    args.extend_from_slice(extra);
    testkit::serve(&args)
}
