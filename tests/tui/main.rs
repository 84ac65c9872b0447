//! The dashboard: key sequences on `App::update`, snapshots of each pane on the fake machine
//! (tests/tui/snapshots/), and the real binary in a real terminal (tmux).

mod connection;
mod jump;
mod keys;
mod overview;
mod overview_tmux;
mod refresh;
mod snapshots;
mod tmux;
