//! `Z`: the next of what the person most likely came to see and the default sort may bury:
//! each parent the header names as "unreaped by" followed by its zombies, then every process
//! the dashboard started (demos and the server) and what they started. The Processes pane takes
//! the focus with that process selected, and the status line says what it is.

use super::app::App;
use super::event::ChildKind;
use super::state::{Pane, StatusKind};
use crate::text::printable;

/// A process `Z` stops at, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub pid: i32,
    pub what: String,
}

impl App {
    /// Where `Z` goes, in order: zombie parents (by pid), each followed by its zombies, then
    /// the processes started here, each followed by its descendants; every pid once.
    pub fn jump_stops(&self) -> Vec<Stop> {
        let mut stops: Vec<Stop> = Vec::new();
        let mut add = |pid: i32, what: String| {
            if !stops.iter().any(|s| s.pid == pid) {
                stops.push(Stop { pid, what });
            }
        };
        for (parent, n) in self.relations.zombie_parents() {
            let name = self
                .process(parent)
                .map_or("?".into(), |p| printable(&p.comm));
            add(
                parent,
                format!("{name} ({parent}) has not reaped {n} zombie child(ren)"),
            );
            let mut zombies: Vec<i32> = self
                .relations
                .children
                .get(&parent)
                .into_iter()
                .flatten()
                .copied()
                .filter(|c| self.process(*c).is_some_and(|p| p.is_zombie()))
                .collect();
            zombies.sort_unstable();
            for z in zombies {
                add(
                    z,
                    format!("zombie {z}: exited, waiting for {parent} to reap it"),
                );
            }
        }
        for child in &self.children {
            if self.process(child.pid).is_none() {
                continue;
            }
            let started = match &child.kind {
                ChildKind::Demo(name) => format!("demo {name}"),
                ChildKind::Server => "the server".to_string(),
            };
            add(
                child.pid,
                format!("{started} ({}), started here", child.pid),
            );
            let mut below = vec![child.pid];
            while let Some(pid) = below.pop() {
                for &kid in self.relations.children.get(&pid).into_iter().flatten() {
                    let comm = self.process(kid).map_or("?".into(), |p| printable(&p.comm));
                    add(kid, format!("{comm} ({kid}), started by {started}"));
                    below.push(kid);
                }
            }
        }
        stops
    }

    /// `Z`: selects the stop after the selected process (the first when it is none of them).
    pub(super) fn jump_next(&mut self) {
        let stops = self.jump_stops();
        if stops.is_empty() {
            self.say(
                StatusKind::Info,
                "no zombies, and nothing started here (z starts the zombie demo, d the others)"
                    .to_string(),
            );
            return;
        }
        let at = self
            .procs
            .selected
            .and_then(|sel| stops.iter().position(|s| s.pid == sel));
        let i = at.map_or(0, |i| (i + 1) % stops.len());
        let stop = &stops[i];
        self.set_pane(Pane::Processes);
        // Shown even where the filter or hidden kernel threads would leave it out.
        let listed = self.procs.rows.iter().any(|r| {
            self.snapshot
                .processes
                .get(r.idx)
                .is_some_and(|p| p.pid == stop.pid)
        });
        if listed {
            self.procs.selected = Some(stop.pid);
        } else {
            self.procs.select(stop.pid);
            self.procs.kernel_threads |=
                self.process(stop.pid).is_some_and(|p| p.is_kernel_thread());
        }
        self.recompute_rows();
        let text = format!("Z {}/{}: {} · Z next", i + 1, stops.len(), stop.what);
        self.say(StatusKind::Info, text);
    }
}
