//! Every behaviour test of the reactor, again against `--model uring`: the same HTTP, limits,
//! timeouts, signals, drain, static files and hostile input (fuzzing, smuggling, traversal) over io_uring's completions.

pub const MODEL: &str = "uring";

pub fn serve(extra: &[&str]) -> (testkit::Running, std::net::SocketAddr) {
    super::serve_model(MODEL, extra)
}

#[path = "fuzz.rs"]
mod fuzz;
#[path = "hostile.rs"]
mod hostile;
#[path = "http.rs"]
mod http;
#[path = "limits.rs"]
mod limits;
#[path = "ops.rs"]
mod ops;
#[path = "smuggling.rs"]
mod smuggling;
#[path = "static_files.rs"]
mod static_files;
#[path = "traversal.rs"]
mod traversal;
