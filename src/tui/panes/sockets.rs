//! Pane 2, Sockets: the rows (indices into the snapshot's sockets), sort, filter and cursor;
//! once moved, the cursor follows its connection across refreshes, as the Processes pane's
//! follows its pid.

use std::net::SocketAddr;

use crossterm::event::KeyEvent;

use super::{sort_key, Cursor, PaneState, Reply, World};
use crate::model::counts::StateCounts;
use crate::model::{Socket, SocketFilter, TcpState};
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
    /// (local, remote) of the socket under the cursor since the cursor was moved: a refresh
    /// puts the cursor back on it wherever the sort moved it, so Enter and `k` act on the
    /// connection that was picked. None until then (the cursor stays at the top).
    selected: Option<(SocketAddr, SocketAddr)>,
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
            selected: None,
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

    /// From now on the cursor follows the socket under it (set once ordered, in
    /// `scroll_into_view`, which runs after every move).
    fn follow(&mut self, world: &World) {
        self.selected = self.selected(world).map(|s| (s.local, s.remote));
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
        let sockets = &world.snapshot.sockets;
        let found = self.selected.and_then(|(local, remote)| {
            let at = sockets
                .iter()
                .position(|s| s.local == local && s.remote == remote)?;
            self.rows.contains(&at).then_some(at)
        });
        match found {
            // Where it comes now; ordering the rows down to the cursor puts it there.
            Some(at) => {
                self.cursor.at =
                    views::socket_rank(&self.rows, at, sockets, &world.traffic.sockets, self.sort)
            }
            None => self.cursor.clamp(self.rows.len()),
        }
        self.scroll_into_view(world);
    }

    /// Sorting tens of thousands of sockets every refresh is the dashboard's biggest cost of
    /// its own: only while the pane is shown.
    fn hide(&mut self) {
        self.rows = Vec::new();
        self.ordered = 0;
        self.counts = StateCounts::default();
    }

    fn move_cursor(&mut self, delta: isize, world: &World) {
        self.cursor.step(delta, self.rows.len());
        self.follow(world);
    }

    fn click(&mut self, row: usize, world: &World) {
        if self.cursor.offset + row < self.rows.len() {
            self.cursor.at = self.cursor.offset + row;
            self.follow(world);
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
        if self.selected.is_some() {
            self.selected = self.selected(world).map(|s| (s.local, s.remote));
        }
    }

    fn target_pid(&self, world: &World) -> Option<i32> {
        self.selected(world)
            .and_then(|s| s.owners.as_ref())
            .and_then(|o| o.first())
            .map(|o| o.pid)
    }

    fn no_target(&self, world: &World) -> &'static str {
        match self.selected(world) {
            Some(s) => no_owner(s),
            None => "no socket selected",
        }
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

/// Why `k` has no process to signal for socket `s`: a socket no process holds is the kernel's
/// alone (or not accepted yet); one whose holder could not be read belongs to someone the
/// dashboard may not look at.
pub fn no_owner(s: &Socket) -> &'static str {
    match (s.state, &s.owners) {
        (TcpState::TimeWait, _) => {
            "no process holds a TIME_WAIT socket: the kernel keeps it until its timer ends"
        }
        (TcpState::SynRecv | TcpState::NewSynRecv, _) => {
            "no process holds a handshake in progress: signal the owner of its listener"
        }
        (_, Some(_)) => {
            "no process holds this socket: its owner closed it, or has not accepted it yet"
        }
        (_, None) => "its owner is not known: another user's socket (root sees every owner)",
    }
}
