//! `tcplab serve` and its control commands.
pub mod control;

use std::process::ExitCode;

use crate::cli::ServeArgs;

pub fn run(_args: ServeArgs) -> anyhow::Result<ExitCode> {
    crate::not_available("serve")
}
