//! `?`: every key the dashboard knows (the same keys `keys.rs` handles).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::overlay_block;
use crate::tui::app::App;
use crate::tui::layout::centered;

pub const KEYS: [(&str, &str); 26] = [
    (
        "1 2 3 4, Tab",
        "panes: processes, sockets, state machine, server",
    ),
    (
        "↑ ↓ j, PgUp PgDn Home End",
        "move (state machine: pick a connection, see its life); mouse too",
    ),
    (
        "/",
        "filter (sockets: state names, ports; state machine: port or 'pid N')",
    ),
    ("Esc", "clear the filter / close"),
    ("< >  I", "sort column left/right, invert order"),
    ("P M N", "sort by CPU, memory, pid"),
    ("t, F5", "tree view"),
    (
        "Enter",
        "details: process ids, sockets, masks; socket graphs, tcp_info",
    ),
    (
        "k, F9",
        "signal menu with predicted effect; g: whole process group",
    ),
    ("z", "start the zombie demo and select it"),
    ("d", "demo menu"),
    ("s", "start a server (server pane)"),
    ("m, w W", "server: model, workers (before starting)"),
    (
        "r g x",
        "server: reload (HUP), graceful stop (QUIT), stop (TERM)",
    ),
    ("l", "server: load: open and close 50 connections"),
    ("D", "server: keep it running after quit (detach)"),
    ("L", "lesson panel: the tutorial's lessons, checked live"),
    (
        "[ ] { } O C S",
        "lesson: previous/next, scroll, list, copy, skip",
    ),
    ("p", "pause refreshing"),
    ("+ -", "refresh interval"),
    ("?, F1", "this help"),
    (
        "q, Ctrl+C",
        "quit: ends and reaps every demo and server started here",
    ),
    (
        "STAT",
        "R run S sleep D disk Z zombie T stopped I idle; s leader + foreground",
    ),
    (
        "MARK",
        "Zn parent of n zombies, D daemon, L session leader, G group leader",
    ),
    ("red", "zombie; yellow: its parent, stopped; green: daemon"),
    (
        "reaping",
        "tcplab is a child subreaper: orphans of its demos come back and are reaped",
    ),
];

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let rect = centered(area, 92, KEYS.len() as u16 + 2);
    let (block, inner) = overlay_block(frame, rect, " Help · any key closes ");
    frame.render_widget(block, rect);
    let kw = if inner.width < 70 { 12 } else { 26 };
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:>kw$}  "), t.accent()),
                Span::raw(*what),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
