//! Graphs over the last minutes (`tui/history.rs`): transitions per second and sockets per
//! state in the overview's History box, requests per second and open connections in the
//! Server pane. One sparkline row per series: its name, the graph (newest at the right, scaled
//! to the series' own peak) and its value now. The graph covers every sample kept: when there
//! are more samples than columns, a column shows the peak of several.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline};
use ratatui::Frame;

use crate::model::TcpState;
use crate::tui::app::App;
use crate::units::format_duration;

/// Width of a row's name and of its value.
const NAME: u16 = 12;
const VALUE: u16 = 7;

/// One series to draw: its name, one value per column oldest first (None: no value then)
/// and its value now.
struct Series {
    name: String,
    values: Vec<Option<f64>>,
    now: String,
    style: Style,
}

/// The overview's History box.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let h = &app.history.sockets;
    let block = Block::default().borders(Borders::ALL);
    let inner = block.inner(area);
    let shown: Vec<_> = h.newest(h.len()).collect();
    let span = match (shown.first(), shown.last()) {
        (Some(a), Some(b)) => b.at.duration_since(a.at).unwrap_or_default(),
        _ => Default::default(),
    };
    let title = format!(" History · last {} ", format_duration(span));
    frame.render_widget(block.title(Span::styled(title, app.theme.title())), area);
    if shown.len() < 2 {
        let text = "graphs start after two refreshes";
        frame.render_widget(Span::styled(text, app.theme.dim()), inner);
        return;
    }
    let columns = graph_width(inner.width) as usize;
    let per_sec = shown.iter().map(|s| s.per_sec).collect::<Vec<_>>();
    let now = per_sec.last().copied().flatten().unwrap_or(0.0);
    let mut series = vec![Series {
        name: "transitions".into(),
        values: peaks(&per_sec, columns),
        now: format!("{}/s", rate(now)),
        style: app.theme.accent(),
    }];
    // The states that had a socket at some point of the window, in the kernel's order.
    for st in TcpState::ALL {
        let values: Vec<Option<f64>> = shown
            .iter()
            .map(|s| Some(s.counts.get(st) as f64))
            .collect();
        if values.iter().all(|v| *v == Some(0.0)) {
            continue;
        }
        series.push(Series {
            name: st.kernel_name().to_string(),
            now: app.sock_counts.get(st).to_string(),
            values: peaks(&values, columns),
            style: state_style(app, st),
        });
    }
    draw_rows(frame, app, inner, &series);
}

/// One pane at a time, the State machine pane gives its bottom third to the History box when
/// it has 30 rows or more; returns what is left for the pane.
pub fn below_machine(frame: &mut Frame, app: &App, body: Rect) -> Rect {
    if body.height < 30 || body.width < 60 {
        return body;
    }
    let h = (body.height / 3).clamp(6, 16);
    let history = Rect::new(body.x, body.bottom() - h, body.width, h);
    draw(frame, app, history);
    Rect::new(body.x, body.y, body.width, body.height - h)
}

/// Two rows at the bottom of the Server pane while a server runs: requests per second and
/// open connections, as `/status` gave them (the dashboard's own polling left out). Returns
/// the area left above them, or all of `inner` when there is no room or no history yet.
pub fn draw_server(frame: &mut Frame, app: &App, inner: Rect) -> Rect {
    let h = &app.history.server;
    if inner.height < 10 || h.is_empty() || app.server.pid().is_none() {
        return inner;
    }
    let rows = Rect::new(inner.x, inner.bottom() - 2, inner.width, 2);
    let title = Rect::new(inner.x, inner.bottom() - 3, inner.width, 1);
    let shown: Vec<_> = h.newest(h.len()).collect();
    let columns = graph_width(inner.width) as usize;
    let last = shown.last().copied();
    let requests: Vec<Option<f64>> = shown.iter().map(|s| s.per_sec).collect();
    let open: Vec<Option<f64>> = shown.iter().map(|s| Some(s.open as f64)).collect();
    let span = match (shown.first(), last) {
        (Some(a), Some(b)) => b.uptime.saturating_sub(a.uptime),
        _ => Default::default(),
    };
    let series = [
        Series {
            name: "requests/s".into(),
            values: peaks(&requests, columns),
            now: rate(last.and_then(|s| s.per_sec).unwrap_or(0.0)),
            style: app.theme.accent(),
        },
        Series {
            name: "open conns".into(),
            values: peaks(&open, columns),
            now: last.map_or(0, |s| s.open).to_string(),
            style: app.theme.good(),
        },
    ];
    let said = format!("/status over the last {}", format_duration(span));
    frame.render_widget(Span::styled(said, app.theme.title()), title);
    draw_rows(frame, app, rows, &series);
    Rect::new(inner.x, inner.y, inner.width, inner.height - 3)
}

/// `values` in at most `columns` columns: each column the peak of as many consecutive values
/// as it takes to fit them all (None where a column has no value), newest last.
fn peaks(values: &[Option<f64>], columns: usize) -> Vec<Option<f64>> {
    if columns == 0 {
        return Vec::new();
    }
    let per = values.len().div_ceil(columns).max(1);
    // Whole groups end at the newest value, so the last column is always the newest sample.
    let skip = values.len() % per;
    let mut out: Vec<Option<f64>> = Vec::new();
    if skip > 0 {
        out.push(peak(&values[..skip]));
    }
    out.extend(values[skip..].chunks(per).map(peak));
    out
}

fn peak(group: &[Option<f64>]) -> Option<f64> {
    group.iter().flatten().copied().reduce(f64::max)
}

/// Columns of graph in a row `width` wide.
fn graph_width(width: u16) -> u16 {
    width.saturating_sub(NAME + VALUE + 2)
}

fn rate(per_sec: f64) -> String {
    if per_sec >= 100.0 {
        format!("{per_sec:.0}")
    } else {
        format!("{per_sec:.1}")
    }
}

/// One row per series, as many as fit, and a line saying how many did not.
fn draw_rows(frame: &mut Frame, app: &App, area: Rect, series: &[Series]) {
    let fits = area.height as usize;
    let cut = series.len() > fits;
    let take = if cut { fits.saturating_sub(1) } else { fits };
    let gw = graph_width(area.width);
    for (i, s) in series.iter().take(take).enumerate() {
        let y = area.y + i as u16;
        let name = Rect::new(area.x, y, NAME.min(area.width), 1);
        frame.render_widget(Span::styled(s.name.clone(), app.theme.dim()), name);
        if gw > 0 {
            let graph = Rect::new(area.x + NAME + 1, y, gw, 1);
            frame.render_widget(sparkline(&s.values, s.style), graph);
        }
        let value = Rect::new(area.right().saturating_sub(VALUE), y, VALUE, 1);
        frame.render_widget(
            Paragraph::new(Line::from(s.now.clone()).right_aligned()),
            value,
        );
    }
    if cut {
        let y = area.y + take as u16;
        let more = format!(
            "+{} states (the Sockets pane lists them)",
            series.len() - take
        );
        frame.render_widget(
            Span::styled(more, app.theme.dim()),
            Rect::new(area.x, y, area.width, 1),
        );
    }
}

/// A one-row sparkline of `values`, scaled to their peak; tenths kept so that a rate under
/// one per second still shows.
fn sparkline(values: &[Option<f64>], style: Style) -> Sparkline<'static> {
    let data: Vec<Option<u64>> = values
        .iter()
        .map(|v| v.map(|x| (x * 10.0).round() as u64))
        .collect();
    let peak = data.iter().flatten().copied().max().unwrap_or(0).max(1);
    Sparkline::default().data(data).max(peak).style(style)
}

fn state_style(app: &App, st: TcpState) -> Style {
    match st {
        TcpState::Established => app.theme.good(),
        TcpState::TimeWait | TcpState::CloseWait => app.theme.warn(),
        _ => Style::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_samples_than_columns_show_each_columns_peak_newest_last() {
        let v = |xs: &[f64]| xs.iter().map(|x| Some(*x)).collect::<Vec<_>>();
        assert_eq!(peaks(&v(&[1.0, 2.0]), 5), v(&[1.0, 2.0]));
        // Seven values in three columns: three per column, the oldest column partial.
        let seven = v(&[9.0, 1.0, 2.0, 3.0, 4.0, 0.0, 5.0]);
        assert_eq!(peaks(&seven, 3), v(&[9.0, 3.0, 5.0]));
        assert_eq!(peaks(&[None, None, Some(1.0)], 1), vec![Some(1.0)]);
        assert!(peaks(&seven, 0).is_empty());
    }
}
