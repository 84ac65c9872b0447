//! `tcplab net`.
use std::process::ExitCode;

use crate::cli::NetArgs;

pub fn run(_args: NetArgs) -> anyhow::Result<ExitCode> {
    crate::not_available("net")
}
