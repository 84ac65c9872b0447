//! `tcplab trace`: live TCP state transitions.
use std::process::ExitCode;

use crate::cli::TraceArgs;

pub fn run(_args: TraceArgs) -> anyhow::Result<ExitCode> {
    crate::not_available("trace")
}
