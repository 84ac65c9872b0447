//! `tcplab ps`.
use std::process::ExitCode;

use crate::cli::PsArgs;

pub fn run(_args: PsArgs) -> anyhow::Result<ExitCode> {
    crate::not_available("ps")
}
