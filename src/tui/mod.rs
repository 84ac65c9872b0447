//! `tcplab tui`: the live dashboard.
use std::process::ExitCode;

use crate::cli::TuiArgs;

pub fn run(_args: TuiArgs) -> anyhow::Result<ExitCode> {
    crate::not_available("tui")
}
