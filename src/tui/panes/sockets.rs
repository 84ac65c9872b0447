//! Pane 2, Sockets: the rows (indices into the snapshot's sockets), sort, filter and cursor.

use crossterm::event::KeyEvent;

use super::{sort_key, Cursor, PaneState, Reply, World};
use crate::model::counts::StateCounts;
use crate::model::{Socket, SocketFilter};
use crate::tui::state::Filter;
use crate::tui::views::{self, SockColumn, Sort};

#[derive(Debug)]
pub struct SocketsPane {
    /// Indices into the snapshot's sockets, filtered; the first `ordered` in the sort's order,
    /// the rest after them unordered (`views::order_socket_rows`); empty while hidden.
    pub rows: Vec<usize>,
    /// How many of `rows` are in order: at least those on screen.
    ordered: usize,
    pub sort: Sort<SockColumn>,
    pub filter: Filter,
    pub cursor: Cursor,
    /// Rows per state (the bottom border's counts), counted when the rows are rebuilt rather
    /// than on every frame.
    pub counts: StateCounts,
}

impl Default for SocketsPane {
    fn default() -> SocketsPane {
        SocketsPane {
            rows: Vec::new(),
            ordered: 0,
            sort: Sort {
                column: SockColumn::State,
                descending: false,
            },
            filter: Filter::default(),
            cursor: Cursor::default(),
            counts: StateCounts::default(),
        }
    }
}

impl SocketsPane {
    /// Shows the sockets of one port (a demo's).
    pub fn show_port(&mut self, port: u16) {
        self.filter = Filter {
            text: format!(":{port}"),
            editing: false,
        };
    }

    pub fn selected<'a>(&self, world: &World<'a>) -> Option<&'a Socket> {
        self.rows
            .get(self.cursor.at)
            .and_then(|&i| world.snapshot.sockets.get(i))
    }
}

impl PaneState for SocketsPane {
    fn filter(&self) -> Option<&Filter> {
        Some(&self.filter)
    }

    fn filter_mut(&mut self) -> Option<&mut Filter> {
        Some(&mut self.filter)
    }

    fn refresh(&mut self, world: &World) {
        let filter = SocketFilter::parse(&self.filter.text);
        self.rows = views::socket_rows(&world.snapshot.sockets, &filter);
        self.ordered = 0;
        self.counts = self
            .rows
            .iter()
            .filter_map(|&i| world.snapshot.sockets.get(i))
            .collect();
        self.cursor.clamp(self.rows.len());
        self.scroll_into_view(world);
    }

    /// Sorting tens of thousands of sockets every refresh is the dashboard's biggest cost of
    /// its own: only while the pane is shown.
    fn hide(&mut self) {
        self.rows = Vec::new();
        self.ordered = 0;
        self.counts = StateCounts::default();
    }

    fn move_cursor(&mut self, delta: isize, _world: &World) {
        self.cursor.step(delta, self.rows.len());
    }

    fn click(&mut self, row: usize, _world: &World) {
        if self.cursor.offset + row < self.rows.len() {
            self.cursor.at = self.cursor.offset + row;
        }
    }

    /// Scrolls to the cursor and orders the rows down to a page below the window: going down
    /// a line at a time orders more only every so often, and twice as many each time.
    fn scroll_into_view(&mut self, world: &World) {
        self.cursor.scroll_into_view(world.page, self.rows.len());
        let needed = self.cursor.offset + world.page.max(1);
        if needed > self.ordered {
            let to = (needed + world.page).max(2 * self.ordered);
            views::order_socket_rows(
                &mut self.rows,
                self.ordered,
                to,
                &world.snapshot.sockets,
                &world.traffic.sockets,
                self.sort,
            );
            self.ordered = to.min(self.rows.len());
        }
    }

    fn target_pid(&self, world: &World) -> Option<i32> {
        self.selected(world)
            .and_then(|s| s.owners.as_ref())
            .and_then(|o| o.first())
            .map(|o| o.pid)
    }

    fn shows_owners(&self) -> bool {
        true
    }

    fn hints(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("Enter", "detail"),
            ("k", "signal"),
            ("/", "filter: state port"),
            ("</>", "sort"),
        ]
    }

    fn on_key(&mut self, key: &KeyEvent, world: &World) -> Reply {
        if sort_key(key, &mut self.sort, &SockColumn::ALL) {
            self.refresh(world);
            return Reply::Done;
        }
        Reply::Ignored
    }
}
