//! Pane 1, Processes: the rows (flat or tree), sort, filter and the selected process, which
//! the cursor follows across refreshes by pid.

use crossterm::event::{KeyCode, KeyEvent};

use super::{sort_key, Cursor, PaneState, Reply, World};
use crate::tui::state::Filter;
use crate::tui::views::{self, ProcColumn, ProcRow, Sort};

#[derive(Debug)]
pub struct ProcessesPane {
    pub rows: Vec<ProcRow>,
    pub sort: Sort<ProcColumn>,
    pub filter: Filter,
    pub cursor: Cursor,
    /// The pid under the cursor; kept across refreshes while it lives.
    pub selected: Option<i32>,
    /// Tree view (`t`).
    pub tree: bool,
    /// Kernel threads listed (`K`); hidden by default, as htop does, and counted in the header.
    pub kernel_threads: bool,
}

impl Default for ProcessesPane {
    fn default() -> ProcessesPane {
        ProcessesPane {
            rows: Vec::new(),
            // What the person came for first: the busiest processes (as htop).
            sort: Sort {
                column: ProcColumn::Cpu,
                descending: true,
            },
            filter: Filter::default(),
            cursor: Cursor::default(),
            selected: None,
            tree: false,
            kernel_threads: false,
        }
    }
}

impl ProcessesPane {
    /// Selects `pid` (a demo's process) with the filter cleared, so it is in the rows.
    pub fn select(&mut self, pid: i32) {
        self.filter = Filter::default();
        self.selected = Some(pid);
    }

    /// The pid at the cursor, after the cursor moved.
    fn follow_cursor(&mut self, world: &World) {
        self.selected = self
            .rows
            .get(self.cursor.at)
            .map(|r| world.snapshot.processes[r.idx].pid);
    }
}

impl PaneState for ProcessesPane {
    fn filter(&self) -> Option<&Filter> {
        Some(&self.filter)
    }

    fn filter_mut(&mut self) -> Option<&mut Filter> {
        Some(&mut self.filter)
    }

    fn refresh(&mut self, world: &World) {
        let processes = &world.snapshot.processes;
        self.rows = views::process_rows(
            processes,
            world.cpu,
            &world.traffic.processes,
            self.sort,
            &self.filter.text,
            self.tree,
            self.kernel_threads,
        );
        let found = self
            .selected
            .and_then(|pid| self.rows.iter().position(|r| processes[r.idx].pid == pid));
        match found {
            Some(i) => self.cursor.at = i,
            None => self.cursor.clamp(self.rows.len()),
        }
        self.follow_cursor(world);
    }

    fn move_cursor(&mut self, delta: isize, world: &World) {
        self.cursor.step(delta, self.rows.len());
        self.follow_cursor(world);
    }

    fn click(&mut self, row: usize, world: &World) {
        if self.cursor.offset + row < self.rows.len() {
            self.cursor.at = self.cursor.offset + row;
            self.follow_cursor(world);
        }
    }

    fn scroll_into_view(&mut self, world: &World) {
        self.cursor.scroll_into_view(world.page, self.rows.len());
    }

    fn target_pid(&self, world: &World) -> Option<i32> {
        self.selected
            .filter(|p| world.relations.index.contains_key(p))
    }

    fn hints(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("Enter", "details"),
            ("k", "signal"),
            ("/", "filter"),
            ("Z", "next zombie"),
            ("t", "tree"),
            ("P/M/N", "sort"),
            ("K", "kthreads"),
            ("z", "zombie demo"),
        ]
    }

    fn on_key(&mut self, key: &KeyEvent, world: &World) -> Reply {
        match key.code {
            KeyCode::Char('t') | KeyCode::F(5) => self.tree = !self.tree,
            KeyCode::Char('K') => self.kernel_threads = !self.kernel_threads,
            KeyCode::Char(c @ ('P' | 'M' | 'N')) => {
                self.sort.column = match c {
                    'P' => ProcColumn::Cpu,
                    'M' => ProcColumn::Rss,
                    _ => ProcColumn::Pid,
                };
                self.sort.descending = c != 'N';
            }
            _ if sort_key(key, &mut self.sort, &ProcColumn::ALL) => {}
            _ => return Reply::Ignored,
        }
        self.refresh(world);
        Reply::Done
    }
}
