//! Enter on a connection: live graphs of its throughput, congestion window and rtt over the
//! last minutes (from while it was on screen in the Sockets pane, then live: watch slow start, a
//! loss and the recovery), and its whole `tcp_info`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};
use ratatui::Frame;

use super::overlay_block;
use crate::model::{owners_text, TcpState};
use crate::tui::app::App;
use crate::tui::traffic::{rate_text, ConnHistory, ConnSample};

/// One graph: its label and how to read a sample.
struct Graph {
    label: &'static str,
    value: fn(&ConnSample) -> Option<f64>,
    text: fn(f64) -> String,
}

const GRAPHS: [Graph; 4] = [
    Graph {
        label: "send/s",
        value: |s| s.rate.map(|r| r.send),
        text: |v| rate_text(Some(v)),
    },
    Graph {
        label: "recv/s",
        value: |s| s.rate.map(|r| r.recv),
        text: |v| rate_text(Some(v)),
    },
    Graph {
        label: "cwnd",
        value: |s| Some(s.cwnd as f64),
        text: |v| format!("{v:.0}"),
    },
    Graph {
        label: "rtt ms",
        value: |s| s.rtt_ms,
        text: |v| format!("{v:.2}"),
    },
];

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let rect = Rect::new(
        area.x + 1,
        area.y + 1,
        area.width.saturating_sub(2),
        area.height.saturating_sub(2),
    );
    let (block, inner) = overlay_block(frame, rect, " Connection · k signal · any key closes ");
    frame.render_widget(block, rect);
    let Some(h) = &app.traffic.history else {
        return;
    };
    let Some(sock) = &h.last else {
        frame.render_widget(
            Paragraph::new(format!(
                "{} → {} is gone: it closed since it was selected",
                h.local, h.remote
            )),
            inner,
        );
        return;
    };
    let info = sock.info.as_deref();
    let timer = super::sockets::timer(sock);
    let mut head = vec![Line::from(vec![
        Span::styled(format!("{} ", sock.state.kernel_name()), t.title()),
        Span::raw(format!("{} → {}  ", sock.local, sock.remote)),
        Span::raw(if timer.is_empty() {
            timer
        } else {
            format!("{timer}  ")
        }),
        Span::styled(owners_text(sock.owners.as_deref()), t.dim()),
    ])];
    match info {
        Some(i) => head.push(Line::from(format!(
            "{} {}  retrans {}/{}  graphs: {} samples over {}, every {}",
            i.congestion.map_or("?".to_string(), |c| c.to_string()),
            i.ca_state.map_or("?", |s| s.name()),
            i.retrans,
            i.total_retrans,
            h.samples.len(),
            crate::units::format_duration(std::time::Duration::from_secs_f64(
                h.samples.back().map_or(0.0, |s| s.secs)
            )),
            crate::units::format_duration(app.interval),
        ))),
        None => head.extend(
            // No socket had tcp_info, or this one only the rate columns' brief: the whole
            // struct was not asked for yet (the view just opened).
            super::wrap::wrap(
                &without_info(
                    sock.state,
                    app.traffic.sockets.is_empty() || sock.brief.is_some(),
                ),
                inner.width as usize,
            )
            .into_iter()
            .map(|l| Line::from(Span::styled(l, t.dim()))),
        ),
    }
    // Tall terminals get three rows per graph, others one; none for a connection that never
    // had a sample (one seen only without tcp_info).
    let graph_rows: u16 = match (h.samples.is_empty(), inner.height >= 30) {
        (true, _) => 0,
        (false, true) => 3,
        (false, false) => 1,
    };
    let [head_area, graphs_area, fields_area] = Layout::vertical([
        Constraint::Length(head.len() as u16),
        Constraint::Length(graph_rows * GRAPHS.len() as u16 + (graph_rows > 0) as u16),
        Constraint::Min(0),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(head), head_area);
    if graph_rows > 0 {
        let rows = Layout::vertical(GRAPHS.iter().map(|_| Constraint::Length(graph_rows))).split(
            Rect::new(
                graphs_area.x,
                graphs_area.y + 1,
                graphs_area.width,
                graphs_area.height.saturating_sub(1),
            ),
        );
        for (graph, row) in GRAPHS.iter().zip(rows.iter()) {
            draw_graph(frame, app, h, graph, *row);
        }
    }
    if let Some(info) = info {
        draw_fields(frame, app, &info.fields(), fields_area);
    }
}

/// Why a socket the kernel still lists comes without `tcp_info`, and what the view shows of it.
fn without_info(state: TcpState, not_asked_yet: bool) -> String {
    match state {
        TcpState::TimeWait => "The kernel keeps no tcp_info for a socket in TIME_WAIT: it is no \
             longer a full socket, only its two ends and the timer that removes it (tw, the time \
             left), and no process holds it."
            .to_string(),
        TcpState::NewSynRecv => "The kernel keeps no tcp_info for a connection still in its \
             handshake (NEW_SYN_RECV): it is a request waiting for the final ACK, not yet a \
             socket."
            .to_string(),
        _ if not_asked_yet => "Its tcp_info comes with the next refresh.".to_string(),
        state => format!(
            "The kernel gave no tcp_info for this socket ({}).",
            state.kernel_name()
        ),
    }
}

fn draw_graph(frame: &mut Frame, app: &App, h: &ConnHistory, g: &Graph, area: Rect) {
    const LABEL: u16 = 27;
    let [label_area, spark_area] =
        Layout::horizontal([Constraint::Length(LABEL), Constraint::Min(0)]).areas(area);
    let values: Vec<Option<f64>> = h.samples.iter().map(g.value).collect();
    let now = values.last().copied().flatten();
    let max = values.iter().flatten().copied().fold(0.0, f64::max);
    let label = format!(
        "{:<7}{:>9} ^{:<9}",
        g.label,
        now.map_or("-".to_string(), g.text),
        (g.text)(max)
    );
    frame.render_widget(
        Paragraph::new(Span::styled(label, app.theme.accent())),
        label_area,
    );
    // The newest samples that fit, scaled to the largest of them (a sparkline of u64).
    let width = spark_area.width as usize;
    let shown = &values[values.len().saturating_sub(width)..];
    let scale = if max > 0.0 { 1000.0 / max } else { 0.0 };
    let data: Vec<u64> = shown
        .iter()
        .map(|v| (v.unwrap_or(0.0) * scale).round() as u64)
        .collect();
    frame.render_widget(
        Sparkline::default()
            .data(&data)
            .max(1000)
            .style(app.theme.good()),
        spark_area,
    );
}

/// Every field as `name value`, in as many columns as the width holds; what does not fit is
/// counted on the last line.
fn draw_fields(
    frame: &mut Frame,
    app: &App,
    fields: &[(&str, crate::model::tcp_info::FieldValue)],
    area: Rect,
) {
    // The longest name (delivery_rate_app_limited) and a value.
    const NAME: usize = 26;
    const COLUMN: u16 = NAME as u16 + 12;
    if area.height == 0 {
        return;
    }
    let columns = (area.width / COLUMN).max(1) as usize;
    let rows = area.height as usize;
    let cut = fields.len() > columns * rows;
    // A cut list keeps its last row for the count of what is left out.
    let shown = fields.len().min(columns * (rows - cut as usize));
    let per_column = shown.div_ceil(columns).max(1);
    let mut lines: Vec<Line> = Vec::with_capacity(rows);
    for r in 0..per_column.min(rows) {
        let mut spans = Vec::new();
        for c in 0..columns {
            let Some((name, value)) = fields
                .get(c * per_column + r)
                .filter(|_| c * per_column + r < shown)
            else {
                continue;
            };
            spans.push(Span::styled(format!("{name:<NAME$}"), app.theme.dim()));
            spans.push(Span::raw(format!("{:<12}", value.to_string())));
        }
        lines.push(Line::from(spans));
    }
    if cut {
        lines.push(Line::from(Span::styled(
            format!(
                "… {} more fields: a larger terminal shows them (or `tcplab net --info`)",
                fields.len() - shown
            ),
            app.theme.dim(),
        )));
    }
    frame.render_widget(Paragraph::new(lines), area);
}
