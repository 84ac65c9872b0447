//! Pane 3, State machine: its filter (one port or one process) and the connection whose life
//! it shows, chosen with the arrows among the connections of the log.

use std::net::SocketAddr;

use super::{clamp_step, PaneState, World};
use crate::tui::state::{Filter, MachineFilter};

#[derive(Debug, Default)]
pub struct MachinePane {
    pub filter: Filter,
    /// The connection (local, remote) whose life the pane shows.
    pub selected: Option<(SocketAddr, SocketAddr)>,
}

impl MachinePane {
    /// The filter in force, parsed.
    pub fn scope(&self) -> Option<MachineFilter> {
        MachineFilter::parse(&self.filter.text)
    }
}

impl PaneState for MachinePane {
    fn filter(&self) -> Option<&Filter> {
        Some(&self.filter)
    }

    fn filter_mut(&mut self) -> Option<&mut Filter> {
        Some(&mut self.filter)
    }

    fn clear(&mut self) {
        self.filter = Filter::default();
        self.selected = None;
    }

    /// Through the connections of the log, newest first; the first press picks the newest.
    fn move_cursor(&mut self, delta: isize, world: &World) {
        let conns = world.log.connections(self.scope());
        let at = self
            .selected
            .and_then(|sel| conns.iter().position(|c| *c == sel));
        let next = match at {
            Some(i) => clamp_step(i, delta, conns.len()),
            None => 0,
        };
        self.selected = conns.get(next).copied();
    }

    fn hints(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("↑↓", "a connection's life"),
            ("/", "port or pid"),
            ("Esc", "clear"),
        ]
    }

    fn shows_owners(&self) -> bool {
        true
    }
}
