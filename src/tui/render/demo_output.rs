//! Enter on a demo the dashboard started: everything it said (the status line shows one line
//! at a time, and a demo explains itself in several), wrapped and scrollable, and where its
//! log file is.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::overlay_block;
use super::wrap::{wrap, wrap_indented};
use crate::text::printable;
use crate::tui::app::App;
use crate::tui::event::ChildKind;
use crate::tui::layout::centered;

/// Its log's path, then every line it printed, wrapped to `width`.
fn lines(app: &App, pid: i32, width: usize) -> Vec<Line<'static>> {
    let t = app.theme;
    let child = app.children.iter().find(|c| c.pid == pid);
    let mut lines: Vec<Line> = Vec::new();
    let log = child
        .and_then(|c| c.log.as_ref())
        .map_or("none".to_string(), |p| p.display().to_string());
    for piece in wrap(&format!("log: {log}"), width) {
        lines.push(Line::from(Span::styled(piece, t.dim())));
    }
    let output = child.map(|c| c.output.as_slice()).unwrap_or_default();
    if output.is_empty() {
        lines.push(Line::from(Span::styled("(nothing printed yet)", t.dim())));
    }
    for line in output {
        for piece in wrap_indented(&printable(line), width) {
            lines.push(Line::from(piece));
        }
    }
    lines
}

/// The box on a terminal of `area` and its lines.
fn layout(app: &App, pid: i32, area: Rect) -> (Rect, Vec<Line<'static>>) {
    let width = area.width.saturating_sub(4).min(100);
    let all = lines(app, pid, width.saturating_sub(2) as usize);
    let height = (all.len() as u16 + 2).min(area.height.saturating_sub(2));
    (centered(area, width, height), all)
}

/// The last useful scroll position on a terminal of `size`.
pub fn max_scroll(app: &App, pid: i32, size: (u16, u16)) -> u16 {
    let (rect, all) = layout(app, pid, Rect::new(0, 0, size.0, size.1));
    (all.len() as u16).saturating_sub(rect.height.saturating_sub(2))
}

pub fn draw(frame: &mut Frame, app: &App, pid: i32, scroll: u16, area: Rect) {
    let name = match app.children.iter().find(|c| c.pid == pid).map(|c| &c.kind) {
        Some(ChildKind::Demo(name)) => name.as_str(),
        _ => "?",
    };
    let (rect, all) = layout(app, pid, area);
    let title = format!(" demo {name} · pid {pid} · ↑↓ scroll · k signal · any key closes ");
    let (block, inner) = overlay_block(frame, rect, &title);
    frame.render_widget(block, rect);
    let max = (all.len() as u16).saturating_sub(inner.height);
    frame.render_widget(Paragraph::new(all).scroll((scroll.min(max), 0)), inner);
}
