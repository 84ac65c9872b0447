//! `tcplab demo NAME`: one live demo per lesson of the tutorial.
use std::process::ExitCode;

use crate::cli::DemoArgs;

pub fn run(_args: DemoArgs) -> anyhow::Result<ExitCode> {
    crate::not_available("demo")
}
