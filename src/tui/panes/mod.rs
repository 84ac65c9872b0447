//! One state per pane, with the keys that act on it next to it (like gitui's components):
//! rows, sort, filter, cursor and scroll offset live in the pane's own struct, and `App` reaches
//! the focused one through [`PaneState`] instead of matching on the pane in every handler.
//!
//! Adding a pane: a variant in `app::Pane` (with its tab title), a struct here implementing
//! [`PaneState`], a field in `App` and an arm in `App::pane_state`, and its drawing in
//! `render/`. A pane gets the keys the dashboard does not take itself (see `keys.rs`).

pub mod machine;
pub mod processes;
pub mod server;
pub mod sockets;

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent};

use super::event::Effect;
use super::log::TransitionLog;
use super::state::{Confirm, Filter, StatusKind};
use super::traffic::Traffic;
use super::views::{Relations, Sort};
use crate::model::Snapshot;

pub use machine::MachinePane;
pub use processes::ProcessesPane;
pub use sockets::SocketsPane;

/// What a pane may read while it handles a key or rebuilds its rows: the data every pane is
/// derived from, owned by `App`.
pub struct World<'a> {
    pub snapshot: &'a Snapshot,
    pub cpu: &'a HashMap<i32, f32>,
    pub relations: &'a Relations,
    pub log: &'a TransitionLog,
    pub traffic: &'a Traffic,
    /// Table rows the pane has on screen now (a page for PageUp/PageDown).
    pub page: usize,
}

/// What a pane made of a key.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// Not a key of this pane.
    Ignored,
    /// Handled; nothing to ask of the world.
    Done,
    /// Handled; these effects go to the runtime.
    Effects(Vec<Effect>),
    /// Handled; a line for the status bar.
    Say(StatusKind, String),
    /// Handled; asks the person before sending this signal.
    Confirm(Confirm),
}

/// The state of one pane and the keys it owns.
pub trait PaneState {
    /// The pane's filter, when it has one (`/` edits it, Esc clears it).
    fn filter(&self) -> Option<&Filter> {
        None
    }
    fn filter_mut(&mut self) -> Option<&mut Filter> {
        None
    }
    /// Rebuilds the rows after a new snapshot, filter or sort, keeping the selection.
    fn refresh(&mut self, _world: &World) {}
    /// Drops rows that are expensive to keep while the pane is not shown.
    fn hide(&mut self) {}
    /// Moves the cursor by `delta` rows, clamped.
    fn move_cursor(&mut self, _delta: isize, _world: &World) {}
    /// A click on the `row`-th table row on screen.
    fn click(&mut self, _row: usize, _world: &World) {}
    /// Keeps the cursor inside a window of `world.page` rows, filled as far as the rows allow.
    fn scroll_into_view(&mut self, _world: &World) {}
    /// Esc outside an editor: the filter, and any selection the pane keeps, go.
    fn clear(&mut self) {
        if let Some(f) = self.filter_mut() {
            *f = Filter::default();
        }
    }
    /// The process that `k` and Enter act on.
    fn target_pid(&self, _world: &World) -> Option<i32> {
        None
    }
    /// Why there is no process for `k` to signal.
    fn no_target(&self, _world: &World) -> &'static str {
        "no process selected"
    }
    /// Whether the pane shows socket owners (the runtime looks them up only then).
    fn shows_owners(&self) -> bool {
        false
    }
    /// The pane's keys for the hint bar, most useful first: (key, what it does).
    fn hints(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// A key the dashboard did not take itself.
    fn on_key(&mut self, _key: &KeyEvent, _world: &World) -> Reply {
        Reply::Ignored
    }
}

/// A table's cursor and the first row drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub at: usize,
    pub offset: usize,
}

impl Cursor {
    /// Moves by `delta` inside `0..len`.
    pub fn step(&mut self, delta: isize, len: usize) {
        self.at = clamp_step(self.at, delta, len);
    }

    /// Keeps `at` at most the last of `len` rows.
    pub fn clamp(&mut self, len: usize) {
        self.at = self.at.min(len.saturating_sub(1));
    }

    /// Scrolls so the cursor is inside a window of `rows` rows, and the window shows as many
    /// of the `len` rows as fit (a filter that shrank the list does not leave it half empty).
    pub fn scroll_into_view(&mut self, rows: usize, len: usize) {
        if rows == 0 || self.at < self.offset {
            self.offset = self.at;
        } else if self.at >= self.offset + rows {
            self.offset = self.at + 1 - rows;
        }
        self.offset = self.offset.min(len.saturating_sub(rows));
    }
}

/// `cur + delta`, clamped to `0..len`.
pub fn clamp_step(cur: usize, delta: isize, len: usize) -> usize {
    (cur as isize)
        .saturating_add(delta)
        .clamp(0, len.saturating_sub(1) as isize) as usize
}

/// The sort keys every table shares: `<`/`,` and `>`/`.` step the column, `I` inverts.
/// Returns whether the key was one of them.
pub fn sort_key<C: Copy + PartialEq>(key: &KeyEvent, sort: &mut Sort<C>, all: &[C]) -> bool {
    let step = |forward: bool, cur: C| {
        let i = all.iter().position(|c| *c == cur).unwrap_or(0);
        let n = all.len();
        all[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    };
    match key.code {
        KeyCode::Char('<') | KeyCode::Char(',') => sort.column = step(false, sort.column),
        KeyCode::Char('>') | KeyCode::Char('.') => sort.column = step(true, sort.column),
        KeyCode::Char('I') => sort.descending = !sort.descending,
        _ => return false,
    }
    true
}
