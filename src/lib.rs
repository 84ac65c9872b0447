//! tcplab: the TCP state machine and the Unix process lifecycle, visible and touchable.
//!
//! The map:
//! - [`cli`]: the command line (clap); its doc comments are the help, man page and completions.
//! - [`units`]: durations (`500ms`) and sizes (`16KiB`) as every command writes them.
//! - [`model`]: pure data (processes, sockets, TCP states, signal masks) and derived views.
//! - [`kernel`]: the door to the OS (procfs, netlink, tracefs, signals, fork, the subreaper, one
//!   task's facts in `kernel::proc`); the rest reads the machine through it. On purpose,
//!   some code makes the calls a lesson is about itself: `server` binds, accepts, forks its
//!   workers and daemonizes, `demo` forks, listens and selects to show the kernel doing it,
//!   and `tui`'s runtime owns its terminal and the children it starts.
//! - [`cmd`]: the plain commands for scripts (`ps`, `net`, ...): format a model for a terminal
//!   or as JSON.
//! - [`output`]: writing to stdout for every command: a closed pipe ends quietly.
//! - [`server`]: `tcplab serve`: HTTP parsing, connections, the reactor, master and workers;
//!   its io_uring model keeps every `unsafe` the ring needs in `kernel::uring`.
//! - [`trace`]: `tcplab trace`: live state transitions.
//! - [`metrics`]: Prometheus: the exposition `serve` and `tcplab metrics` share, the exporter.
//! - [`tui`]: `tcplab tui`: the dashboard.
//! - [`demo`]: one demo per lesson of the tutorial.
//! - [`learn`]: `tcplab learn`: the lessons, each step checked against the kernel.

pub mod cli;
pub mod cmd;
pub mod demo;
pub mod kernel;
pub mod learn;
pub mod metrics;
pub mod model;
pub mod output;
pub mod server;
pub mod text;
pub mod trace;
pub mod tui;
pub mod units;

use std::process::ExitCode;

use cli::{Cli, Command};

/// Parses this process's command line and runs it: the binary's whole job. A command line clap
/// rejects is a usage error like any other: one line, exit 2 (help and version print as usual).
pub fn main() -> ExitCode {
    use clap::error::ErrorKind;
    use clap::Parser;
    match Cli::try_parse() {
        Ok(cli) => run(cli),
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = e.print();
                ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
            }
            _ => fail(
                cli::typed_command(std::env::args_os().skip(1)).as_deref(),
                &cli::UsageError(cli::one_line(&e)).into(),
            ),
        },
    }
}

/// Runs one parsed command line.
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
    let name = command.name();
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
        Command::Metrics(args) => metrics::exporter::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Learn(args) => learn::run(args),
        Command::Completions(args) => cmd::docs::completions(args),
        Command::Man => cmd::docs::man(),
    };
    match result {
        Ok(code) => code,
        Err(err) => fail(Some(name), &err),
    }
}

/// The one place a command's error is printed: `tcplab <command>: why`, one line. A usage
/// error (the command line asks for what cannot be) exits 2, as clap's own errors do; any other
/// failure exits 1.
fn fail(command: Option<&str>, err: &anyhow::Error) -> ExitCode {
    match command {
        Some(command) => eprintln!("tcplab {command}: {err:#}"),
        None => eprintln!("tcplab: {err:#}"),
    }
    if err.chain().any(|e| e.is::<cli::UsageError>()) {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}
