//! `d`: the demos that exist (from the command line's definition), to start one as a child.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{fit, overlay_block};
use crate::tui::app::App;
use crate::tui::layout::centered;

pub fn draw(frame: &mut Frame, app: &App, selected: usize, area: Rect) {
    let rect = centered(area, 80, app.demos.len() as u16 + 2);
    let (block, inner) = overlay_block(frame, rect, " Start a demo · Enter start · Esc ");
    frame.render_widget(block, rect);
    let w = inner.width as usize;
    let lines: Vec<Line> = app
        .demos
        .iter()
        .enumerate()
        .map(|(i, (name, about))| {
            let style = if i == selected {
                app.theme.selected()
            } else {
                Style::new()
            };
            Line::from(Span::styled(fit(&format!(" {name:<14} {about}"), w), style))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
