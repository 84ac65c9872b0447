//! Where each part of the screen goes for a terminal size. Drawing and mouse handling both use
//! these functions, so a click lands on the row that was drawn there.

use ratatui::layout::Rect;

/// Lines of the header (host, processes, sockets).
pub const HEADER_LINES: u16 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub tabs: Rect,
    pub body: Rect,
    /// Messages and the filter being typed; the hints' line on terminals under 12 lines.
    pub status: Rect,
    /// The lesson panel, when it is shown: beside the panes on a wide terminal, below them on
    /// a narrow one.
    pub lesson: Option<Rect>,
    /// The key hints, always on the last line.
    pub hints: Rect,
}

/// From this height on, the status line and the key hints get a line each.
pub const TWO_BOTTOM_LINES: u16 = 12;

/// Below this the dashboard only says the terminal is too small.
pub const MIN_WIDTH: u16 = 20;
pub const MIN_HEIGHT: u16 = 6;

pub fn too_small(area: Rect) -> bool {
    area.width < MIN_WIDTH || area.height < MIN_HEIGHT
}

/// The areas with the lesson panel taken out of the body when `lesson` is shown.
pub fn areas_with(area: Rect, lesson: bool) -> Areas {
    let mut a = areas(area);
    if lesson {
        let body = a.body;
        let (rest, panel) = if body.width >= BESIDE_FROM {
            let w = (body.width * 2 / 5).max(48);
            (
                Rect::new(body.x, body.y, body.width - w, body.height),
                Rect::new(body.x + body.width - w, body.y, w, body.height),
            )
        } else {
            let h = (body.height * 3 / 5).max(body.height.min(8));
            (
                Rect::new(body.x, body.y, body.width, body.height - h),
                Rect::new(body.x, body.y + body.height - h, body.width, h),
            )
        };
        a.body = rest;
        a.lesson = Some(panel);
    }
    a
}

/// From this width the lesson panel goes beside the panes, not below them.
pub const BESIDE_FROM: u16 = 120;

pub fn areas(area: Rect) -> Areas {
    // Small terminals get a shorter header, so the table keeps its rows.
    let header_lines = match area.height {
        h if h >= 24 => HEADER_LINES,
        h if h >= 16 => 2,
        _ => 1,
    };
    let header = Rect::new(area.x, area.y, area.width, header_lines);
    let tabs = Rect::new(area.x, area.y + header_lines, area.width, 1);
    let hints = Rect::new(area.x, area.bottom().saturating_sub(1), area.width, 1);
    let status = match area.height >= TWO_BOTTOM_LINES {
        true => Rect::new(area.x, area.bottom().saturating_sub(2), area.width, 1),
        false => hints,
    };
    let body_y = tabs.bottom();
    let body = Rect::new(area.x, body_y, area.width, status.y.saturating_sub(body_y));
    Areas {
        header,
        tabs,
        body,
        status,
        lesson: None,
        hints,
    }
}

/// Whether a pane of this size gets its border (and the titles on it). Below this a border
/// would take most of the rows (at 20×6 all of them): the table goes without.
pub fn bordered(body: Rect) -> bool {
    body.height >= 7
}

/// The rows of a table drawn in `body` with a header line, inside its border when it has one:
/// (first row's y, count).
pub fn table_rows(body: Rect) -> (u16, usize) {
    match bordered(body) {
        true => (body.y + 2, body.height.saturating_sub(3) as usize),
        false => (body.y + 1, body.height.saturating_sub(1) as usize),
    }
}

/// A centred rectangle for overlays, at most `w`×`h`, never larger than `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Tab titles and the x range each occupies on the tab line, for clicks.
pub const TAB_TITLES: [&str; 4] = ["1 Processes", "2 Sockets", "3 State machine", "4 Server"];

pub fn tab_at(x: u16) -> Option<usize> {
    let mut start = 1u16;
    for (i, t) in TAB_TITLES.iter().enumerate() {
        let end = start + t.len() as u16 + 2;
        if x >= start && x < end {
            return Some(i);
        }
        start = end + 1;
    }
    None
}
