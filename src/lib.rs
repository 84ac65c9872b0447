//! tcplab: the TCP state machine and the Unix process lifecycle, visible and touchable.
//!
//! The map:
//! - [`cli`]: the command line (clap); its doc comments are the help, man page and completions.
//! - [`units`]: durations (`500ms`) and sizes (`16KiB`) as every command writes them.
//! - [`model`]: pure data (processes, sockets, TCP states, signal masks) and derived views.
//! - [`kernel`]: the only code that reads or changes the OS (procfs, netlink, tracefs, signals).
//! - [`cmd`]: the plain commands for scripts (`ps`, `net`, ...): format a model for a terminal
//!   or as JSON.
//! - [`server`]: `tcplab serve`: HTTP parsing, connections, the reactor, master and workers.
//! - [`trace`]: `tcplab trace`: live state transitions.
//! - [`tui`]: `tcplab tui`: the dashboard.
//! - [`demo`]: one demo per lesson of the tutorial.

pub mod cli;
pub mod cmd;
pub mod demo;
pub mod kernel;
pub mod metrics;
pub mod model;
pub mod server;
pub mod trace;
pub mod tui;
pub mod units;

use std::process::ExitCode;

use cli::{Cli, Command};

/// Runs one parsed command line; the binary's whole job is to call this.
pub fn run(cli: Cli) -> ExitCode {
    let command = match cli.command {
        Some(c) => c,
        None => {
            // The dashboard is the default in a terminal; elsewhere show the help.
            use std::io::IsTerminal;
            if std::io::stdout().is_terminal() {
                Command::Tui(cli::TuiArgs::default())
            } else {
                use clap::CommandFactory;
                let _ = Cli::command().print_help();
                return ExitCode::from(2);
            }
        }
    };
    let result = match command {
        Command::Tui(args) => tui::run(args),
        Command::Serve(args) => server::run(args),
        Command::Stop(args) => server::control::stop(args),
        Command::Reload(args) => server::control::reload(args),
        Command::Reopen(args) => server::control::reopen(args),
        Command::Status(args) => server::control::status(args),
        Command::Ps(args) => cmd::ps::run(args),
        Command::Net(args) => cmd::net::run(args),
        Command::Trace(args) => trace::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Completions(args) => cmd::docs::completions(args),
        Command::Man => cmd::docs::man(),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("tcplab: {err:#}");
            ExitCode::FAILURE
        }
    }
}
