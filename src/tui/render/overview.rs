//! The overview (`tui/overview.rs`): every pane in its box, the history box beside the state
//! machine, and the focused box's border drawn heavy and in the accent colour, so the box that
//! gets the keys shows with colour or without.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::Frame;

use super::draw_pane;
use crate::tui::app::App;
use crate::tui::overview::Boxes;
use crate::tui::state::Pane;

pub fn draw(frame: &mut Frame, app: &App, boxes: &Boxes) {
    for pane in Pane::ALL {
        draw_pane(frame, app, pane, boxes.of(pane));
    }
    super::history::draw(frame, app, boxes.history);
    highlight(frame.buffer_mut(), boxes.of(app.pane), app.theme.accent());
}

/// Redraws the border of `area` with heavy lines in `style`, leaving the title's text as it is.
fn highlight(buf: &mut Buffer, area: Rect, style: Style) {
    if area.width < 2 || area.height < 2 {
        return;
    }
    let (x0, y0, x1, y1) = (area.x, area.y, area.right() - 1, area.bottom() - 1);
    let mut cells: Vec<(u16, u16)> = Vec::new();
    for x in x0..=x1 {
        cells.push((x, y0));
        cells.push((x, y1));
    }
    for y in y0 + 1..y1 {
        cells.push((x0, y));
        cells.push((x1, y));
    }
    for (x, y) in cells {
        let Some(cell) = buf.cell_mut((x, y)) else {
            continue;
        };
        if let Some(heavy) = heavy(cell.symbol()) {
            cell.set_symbol(heavy);
            cell.set_style(style);
        }
    }
}

/// The heavy form of a light box-drawing character; None for anything else (a title).
fn heavy(light: &str) -> Option<&'static str> {
    Some(match light {
        "─" => "━",
        "│" => "┃",
        "┌" => "┏",
        "┐" => "┓",
        "└" => "┗",
        "┘" => "┛",
        _ => return None,
    })
}
