//! `tcplab tui`: the live dashboard.
//!
//! - [`app`]: the state and `App::update(Event) -> Vec<Effect>`, single-threaded and free of
//!   I/O; [`panes`] holds one state per pane with the keys that act on it, [`keys`] the keys
//!   the dashboard takes before any pane, [`log`] the transitions seen, [`views`] the rows,
//!   [`predict`] what a signal would do.
//! - `jump`: `Z`, to the next zombie, its parent, or a process started here.
//! - [`meters`]: the header's CPU and memory meters.
//! - [`overview`]: every pane at once, in boxes, on a terminal of 160×40 or more.
//! - [`render`]: drawing, a pure function of `&App`, one file per pane and overlay.
//! - [`term`] and [`runtime`]: the terminal (setup, restore on quit, panic and TERM/HUP) and
//!   the loop that turns effects into system calls and their results back into events.
//! - [`traffic`]: throughput per socket and per process, and the open connection's history.
//! - [`history`]: the rings behind the graphs (sockets per state, transitions/s, the server).
//! - [`fake`]: a fixed snapshot source for tests.

pub mod app;
mod children;
pub mod event;
pub mod fake;
pub mod history;
mod jump;
mod keys;
pub mod layout;
pub mod lesson;
pub mod log;
pub mod meters;
pub mod overview;
pub mod panes;
pub mod predict;
mod probe;
pub mod render;
mod runtime;
pub mod scanner;
pub mod state;
mod term;
pub mod theme;
pub mod traffic;
pub mod views;

use std::process::ExitCode;

use crate::cli::TuiArgs;

pub use app::App;
pub use event::{Effect, Event};
pub use render::draw;

/// `tcplab tui`: the dashboard on the live kernel, until `q`.
pub fn run(args: TuiArgs) -> anyhow::Result<ExitCode> {
    runtime::run(args)
}

/// `tcplab learn` in a terminal: the dashboard with the lesson panel open on `session`.
pub fn run_learning(
    session: crate::learn::session::Session,
    interval: std::time::Duration,
) -> anyhow::Result<ExitCode> {
    runtime::run_with(TuiArgs { interval }, Some(session))
}
