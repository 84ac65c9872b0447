//! Drawing: a pure function of `&App` into a ratatui `Frame`. One file per pane and overlay;
//! nothing here changes state or performs I/O, so a `TestBackend` shows exactly what a person
//! would see.

mod connection;
mod demo_menu;
pub mod demo_output;
mod details;
mod header;
pub mod help;
mod history;
mod lesson;
mod meters;
mod overview;
mod processes;
mod server;
mod signal_menu;
mod sockets;
mod state_lanes;
mod state_machine;
pub mod wrap;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use super::app::{App, Overlay, Pane, StatusKind};
use super::layout::{self, TAB_TITLES};

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if layout::too_small(area) {
        let msg = format!(
            "terminal too small ({}x{}); need {}x{}. q quits",
            area.width,
            area.height,
            layout::MIN_WIDTH,
            layout::MIN_HEIGHT
        );
        frame.render_widget(
            Paragraph::new(msg).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let areas = layout::areas_with(area, app.lesson_visible());
    header::draw(frame, app, areas.header);
    draw_tabs(frame, app, areas.tabs);
    match app.overview() {
        Some(boxes) => overview::draw(frame, app, &boxes),
        None if app.pane == Pane::Machine => {
            let rest = history::below_machine(frame, app, areas.body);
            draw_pane(frame, app, app.pane, rest)
        }
        None => draw_pane(frame, app, app.pane, areas.body),
    }
    if let Some(panel) = areas.lesson {
        lesson::draw(frame, app, panel);
    }
    draw_status(frame, app, areas.status, areas.status == areas.hints);
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help => help::draw(frame, app, area),
        Overlay::Details(pid) => details::draw(frame, app, *pid, area),
        Overlay::SignalMenu(menu) => signal_menu::draw_menu(frame, app, menu, area),
        Overlay::Confirm(c) => signal_menu::draw_confirm(frame, app, c, area),
        Overlay::DemoMenu { selected } => demo_menu::draw(frame, app, *selected, area),
        Overlay::Connection => connection::draw(frame, app, area),
        Overlay::DemoOutput { pid, scroll } => demo_output::draw(frame, app, *pid, *scroll, area),
    }
}

/// One pane in `area`, whether it fills the body or is a box of the overview.
fn draw_pane(frame: &mut Frame, app: &App, pane: Pane, area: Rect) {
    match pane {
        Pane::Processes => processes::draw(frame, app, area),
        Pane::Sockets => sockets::draw(frame, app, area),
        Pane::Machine => state_machine::draw(frame, app, area),
        Pane::Server => server::draw(frame, app, area),
    }
}

fn draw_tabs(frame: &mut Frame, app: &App, area: Rect) {
    let mut spans = vec![Span::raw(" ")];
    for (i, t) in TAB_TITLES.iter().enumerate() {
        let style = if i == app.pane.index() {
            app.theme.selected()
        } else {
            Style::new()
        };
        spans.push(Span::styled(format!(" {t} "), style));
        spans.push(Span::raw(" "));
    }
    if app.paused {
        spans.push(Span::styled("PAUSED ", app.theme.warn()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The status line: the filter being typed, or the last message; on a terminal too short for
/// both lines (`shared`), the key hints while there is neither.
fn draw_status(frame: &mut Frame, app: &App, area: Rect, shared: bool) {
    if !shared {
        frame.render_widget(
            Paragraph::new(hints_line(app, area.width)),
            layout_hints(area),
        );
    }
    let line = if let Some(f) = editing_filter(app) {
        Line::from(vec![
            Span::styled(" filter: ", app.theme.accent()),
            Span::raw(f.to_string()),
            Span::styled("▏ Enter keep · Esc clear", app.theme.dim()),
        ])
    } else if let Some((kind, text)) = &app.status {
        let style = match kind {
            StatusKind::Info => app.theme.accent(),
            StatusKind::Error => app.theme.danger(),
        };
        let text = wrap::fit_columns(&format!(" {text}"), usize::from(area.width));
        Line::from(Span::styled(text, style))
    } else if shared {
        hints_line(app, area.width)
    } else {
        Line::default()
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The hints' line, just below the status line.
fn layout_hints(status: Rect) -> Rect {
    Rect::new(status.x, status.y + 1, status.width, 1)
}

/// htop's F-key line: help and quit, the focused pane's keys, then the dashboard's; as many
/// as fit in `width` whole, so a key never shows without what it does (`P/M/N` without
/// `sort`, `Tab pan`).
fn hints_line(app: &App, width: u16) -> Line<'static> {
    let t = app.theme;
    let pane = app.pane_state(app.pane).hints();
    let first: &[(&str, &str)] = &[("?", "help"), ("q", "quit")];
    let last: &[(&str, &str)] = &[("Tab", "pane"), ("d", "demos")];
    // `o` only where the terminal has room for the overview.
    let overview: &[(&str, &str)] = match (app.overview_wanted, app.overview().is_some()) {
        (true, true) => &[("o", "one pane")],
        (false, _) if app.overview_fits() => &[("o", "overview")],
        _ => &[],
    };
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for (key, what) in first.iter().chain(pane).chain(last).chain(overview) {
        // The two spaces after the last one may fall off the edge.
        let wide = key.chars().count() + 1 + what.chars().count();
        if used + wide > usize::from(width) {
            break;
        }
        used += wide + 2;
        spans.push(Span::styled(key.to_string(), t.accent()));
        spans.push(Span::styled(format!(" {what}  "), t.dim()));
    }
    Line::from(spans)
}

fn editing_filter(app: &App) -> Option<&str> {
    app.filter().filter(|f| f.editing).map(|f| f.text.as_str())
}

/// A bordered, cleared box for overlays.
fn overlay_block<'a>(frame: &mut Frame, area: Rect, title: &'a str) -> (Block<'a>, Rect) {
    frame.render_widget(Clear, area);
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    (block, inner)
}

/// The pane's border with its title and the filter in force; none for a pane too short for
/// one (`layout::bordered`).
fn pane_block<'a>(app: &App, area: Rect, title: String, filter: &str) -> Block<'a> {
    if !layout::bordered(area) {
        return Block::default();
    }
    let mut block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, app.theme.title()));
    if !filter.is_empty() {
        block = block.title_bottom(Span::styled(
            format!(" filter: {filter} "),
            app.theme.accent(),
        ));
    }
    block
}

/// Cuts `s` to `w` characters, marking the cut.
fn fit(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else if w == 0 {
        String::new()
    } else {
        let mut t: String = s.chars().take(w - 1).collect();
        t.push('…');
        t
    }
}
