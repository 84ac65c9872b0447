//! What a worker needs to know to serve, taken from `tcplab serve`'s flags once and checked,
//! so that a bad value is one clear line at start-up, never a failure under load.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::http::Limits;
use super::models::Model;
use crate::cli::ServeArgs;
use crate::kernel::beneath::Beneath;

/// The longest `/sleep?ms=N` honoured; larger values are cut to this.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Config {
    pub limits: Limits,
    pub header_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub max_connections: usize,
    /// `--root`, opened once: every static file is opened beneath this descriptor.
    pub root: Option<Arc<Beneath>>,
    pub access_log: Option<PathBuf>,
    pub error_log: Option<PathBuf>,
    /// The model (`/status` and the metrics name it).
    pub model: Model,
    /// The server's own pid and start time (the master's, when there are workers).
    pub server_pid: u32,
    pub server_started_unix_ms: u64,
    /// How this worker's io_uring submits receives (`multishot`, or `single-shot` on a kernel
    /// without multishot ones): set by `--model uring`'s loop, shown in `/status`.
    pub uring_receives: Option<&'static str>,
}

impl Config {
    pub fn from_args(args: &ServeArgs) -> anyhow::Result<Config> {
        let root = match &args.root {
            None => None,
            Some(dir) => Some(Arc::new(
                Beneath::open(dir).with_context(|| format!("--root {}", dir.display()))?,
            )),
        };
        let usize_of = |v: u64, flag: &str| {
            usize::try_from(v).with_context(|| format!("{flag} {v}: too large"))
        };
        Ok(Config {
            limits: Limits {
                max_request_line: usize_of(args.max_request_line, "--max-request-line")?,
                max_header_size: usize_of(args.max_header_size, "--max-header-size")?,
                max_headers: args.max_headers,
                max_body: args.max_body,
            },
            header_timeout: args.header_timeout,
            keepalive_timeout: args.keepalive_timeout,
            shutdown_timeout: args.shutdown_timeout,
            max_connections: args.max_connections,
            root,
            access_log: args.access_log.clone(),
            error_log: args.error_log.clone(),
            model: args.model,
            server_pid: std::process::id(),
            server_started_unix_ms: super::stats::unix_ms(),
            uring_receives: None,
        })
    }

    /// Opens the log files once, so that a bad path is an error before the server is up
    /// (each worker opens its own afterwards).
    pub fn check_logs(&self) -> anyhow::Result<()> {
        for (flag, path) in [
            ("--access-log", &self.access_log),
            ("--error-log", &self.error_log),
        ] {
            if let Some(p) = path {
                super::logs::LogSink::open(p).with_context(|| format!("{flag} {}", p.display()))?;
            }
        }
        Ok(())
    }
}
