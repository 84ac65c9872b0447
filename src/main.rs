use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tcplab::run(tcplab::cli::Cli::parse())
}
