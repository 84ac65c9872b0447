//! `?`: every key the dashboard knows (the same keys `keys.rs` handles).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::overlay_block;
use super::wrap::wrap;
use crate::tui::app::App;
use crate::tui::layout::centered;
use crate::tui::theme::Theme;

pub const KEYS: [(&str, &str); 29] = [
    (
        "1 2 3 4, Tab, Shift+Tab",
        "panes: processes, sockets, state machine, server",
    ),
    ("o", "overview: all panes at once as boxes (160x40 and up)"),
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
    ("K", "show or hide kernel threads"),
    (
        "Enter",
        "details: process ids, sockets, masks; socket graphs, tcp_info; a demo: all it said, its log",
    ),
    (
        "k, F9",
        "signal menu with predicted effect; g: whole process group",
    ),
    ("z", "start the zombie demo and select it"),
    (
        "Z",
        "next zombie's parent, zombie, or process started here (demos, server)",
    ),
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
        "R run S sleep D disk Z zombie T stopped I idle; s session leader, l threads, + foreground",
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

/// Columns kept free on each side of the box, and rows above and below it.
const MARGIN_X: u16 = 2;
const MARGIN_Y: u16 = 1;

/// The help box on a screen of `area`: never wider than the screen minus a margin, as tall as
/// its wrapped lines need and the screen allows. Returns the box and those lines.
fn layout(area: Rect, theme: Theme) -> (Rect, Vec<Line<'static>>) {
    let w = 92
        .min(area.width.saturating_sub(2 * MARGIN_X))
        .max(area.width.min(3));
    let all = lines(w.saturating_sub(2), theme);
    let h = (all.len() as u16 + 2)
        .min(area.height.saturating_sub(2 * MARGIN_Y))
        .max(area.height.min(3));
    (centered(area, w, h), all)
}

/// Every help line wrapped for a box whose inside is `width` wide: the key in its column, what
/// it does beside it, continued under itself. A key wider than its column gets a line of its own.
fn lines(width: u16, theme: Theme) -> Vec<Line<'static>> {
    let width = width as usize;
    let kw = if width < 50 {
        0
    } else if width < 70 {
        12
    } else {
        26
    };
    let indent = if kw == 0 { 2 } else { kw + 2 };
    let mut out = Vec::new();
    for (k, what) in KEYS {
        let mut rows = wrap(what, width.saturating_sub(indent)).into_iter();
        if kw == 0 || k.chars().count() > kw {
            out.push(Line::from(Span::styled(k.to_string(), theme.accent())));
        } else if let Some(first) = rows.next() {
            out.push(Line::from(vec![
                Span::styled(format!("{k:>kw$}  "), theme.accent()),
                Span::raw(first),
            ]));
        }
        out.extend(rows.map(|r| Line::from(format!("{:indent$}{r}", ""))));
    }
    out
}

/// How far the help can scroll on a screen of `size`: the wrapped lines that do not fit.
pub(crate) fn max_scroll(size: (u16, u16), theme: Theme) -> u16 {
    let (rect, all) = layout(Rect::new(0, 0, size.0, size.1), theme);
    (all.len() as u16).saturating_sub(rect.height.saturating_sub(2))
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let (rect, all) = layout(area, app.theme);
    let (mut block, inner) = overlay_block(frame, rect, " Help · q closes ");
    let max = (all.len() as u16).saturating_sub(inner.height);
    let top = app.help_scroll.min(max);
    if top > 0 {
        block = block.title(Line::from(" ↑ more ").right_aligned());
    }
    if top < max {
        block = block.title_bottom(Line::from(" ↓ more · ↑↓ PgUp PgDn ").right_aligned());
    }
    frame.render_widget(block, rect);
    let shown: Vec<Line> = all
        .into_iter()
        .skip(top as usize)
        .take(inner.height as usize)
        .collect();
    frame.render_widget(Paragraph::new(shown), inner);
}
