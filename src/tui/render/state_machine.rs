//! Pane 3, State machine: the RFC 793 diagram as boxes and arrows, each state with its live
//! count, each edge lit for a few refreshes after a socket took it; beside it, the transition
//! log. Smaller terminals (80×24) get the compact diagram of `state_lanes.rs` above the log,
//! tiny ones the counts as a list. `/` restricts to a port or a pid.

use std::time::UNIX_EPOCH;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{pane_block, state_lanes};
use crate::model::counts::StateCounts;
use crate::model::{TcpState, TransitionSource};
use crate::text::printable;
use crate::tui::app::{App, MachineFilter};

const BOX_W: u16 = 19;
/// The diagram's size in cells.
pub const DIAGRAM_W: u16 = 77;
pub const DIAGRAM_H: u16 = 23;
/// Log lines the full diagram leaves at least, else the compact one is drawn.
const MIN_LOG_LINES: u16 = 8;

/// Where each state's box sits (top-left corner).
const BOXES: [(TcpState, &str, u16, u16); 11] = [
    (TcpState::Close, "CLOSE", 29, 0),
    (TcpState::Listen, "LISTEN", 0, 4),
    (TcpState::SynSent, "SYN_SENT", 58, 4),
    (TcpState::SynRecv, "SYN_RECV", 0, 8),
    (TcpState::Established, "ESTABLISHED", 29, 8),
    (TcpState::FinWait1, "FIN_WAIT1", 0, 12),
    (TcpState::CloseWait, "CLOSE_WAIT", 58, 12),
    (TcpState::FinWait2, "FIN_WAIT2", 0, 16),
    (TcpState::Closing, "CLOSING", 29, 16),
    (TcpState::LastAck, "LAST_ACK", 58, 16),
    (TcpState::TimeWait, "TIME_WAIT", 0, 20),
];

/// An arrow of the diagram: the transition it stands for, its path (the last point gets the
/// arrowhead), and its labels.
struct Edge {
    from: TcpState,
    to: TcpState,
    path: &'static [(u16, u16)],
    labels: &'static [(u16, u16, &'static str)],
}

const EDGES: [Edge; 14] = [
    Edge {
        from: TcpState::Close,
        to: TcpState::Listen,
        path: &[(28, 1), (9, 1), (9, 3)],
        labels: &[(11, 2, "passive open")],
    },
    Edge {
        from: TcpState::Close,
        to: TcpState::SynSent,
        path: &[(48, 1), (67, 1), (67, 3)],
        labels: &[(50, 2, "active open, snd SYN")],
    },
    Edge {
        from: TcpState::Listen,
        to: TcpState::SynRecv,
        path: &[(9, 7)],
        labels: &[(11, 7, "rcv SYN, snd SYN+ACK")],
    },
    Edge {
        from: TcpState::SynSent,
        to: TcpState::Established,
        path: &[(67, 7), (67, 9), (48, 9)],
        labels: &[(50, 10, "rcv SYN+ACK, snd ACK")],
    },
    Edge {
        from: TcpState::SynRecv,
        to: TcpState::Established,
        path: &[(19, 9), (28, 9)],
        labels: &[(20, 8, "rcv ACK")],
    },
    Edge {
        from: TcpState::SynRecv,
        to: TcpState::FinWait1,
        path: &[(4, 11)],
        labels: &[(6, 11, "close")],
    },
    Edge {
        from: TcpState::Established,
        to: TcpState::FinWait1,
        path: &[(33, 11), (33, 13), (19, 13)],
        labels: &[(19, 12, "close, snd FIN")],
    },
    Edge {
        from: TcpState::Established,
        to: TcpState::CloseWait,
        path: &[(43, 11), (43, 13), (57, 13)],
        labels: &[(45, 11, "rcv FIN, snd ACK")],
    },
    Edge {
        from: TcpState::FinWait1,
        to: TcpState::FinWait2,
        path: &[(9, 15)],
        labels: &[(11, 15, "rcv ACK")],
    },
    Edge {
        from: TcpState::FinWait1,
        to: TcpState::Closing,
        path: &[(19, 14), (38, 14), (38, 15)],
        labels: &[(20, 15, "rcv FIN, snd ACK")],
    },
    Edge {
        from: TcpState::CloseWait,
        to: TcpState::LastAck,
        path: &[(67, 15)],
        labels: &[(52, 15, "close, snd FIN")],
    },
    Edge {
        from: TcpState::FinWait2,
        to: TcpState::TimeWait,
        path: &[(9, 19)],
        labels: &[(11, 19, "rcv FIN, snd ACK")],
    },
    Edge {
        from: TcpState::Closing,
        to: TcpState::TimeWait,
        path: &[(38, 19), (38, 21), (19, 21)],
        labels: &[(40, 20, "rcv ACK")],
    },
    Edge {
        from: TcpState::LastAck,
        to: TcpState::Close,
        path: &[(67, 19), (67, 20)],
        labels: &[(69, 19, "rcv ACK"), (64, 21, "CLOSE")],
    },
];

/// TIME_WAIT's exit, drawn as a stub: the box would be far away.
const TIME_WAIT_EXIT: Edge = Edge {
    from: TcpState::TimeWait,
    to: TcpState::Close,
    path: &[(19, 22), (22, 22)],
    labels: &[(24, 22, "CLOSE after 2MSL")],
};

/// The diagram's states merge the kernel's request sockets into SYN_RECV.
fn diagram_state(st: TcpState) -> TcpState {
    match st {
        TcpState::NewSynRecv => TcpState::SynRecv,
        other => other,
    }
}

/// The edge of the diagram a kernel transition stands for. Linux hands a connection entering
/// TIME_WAIT to a separate timewait socket, so the tracepoint reports FIN_WAIT2 -> CLOSE (and
/// CLOSING -> CLOSE) where RFC 793 draws the arrow into TIME_WAIT.
fn diagram_edge(old: TcpState, new: TcpState) -> (TcpState, TcpState) {
    match (diagram_state(old), diagram_state(new)) {
        (from @ (TcpState::FinWait2 | TcpState::Closing), TcpState::Close) => {
            (from, TcpState::TimeWait)
        }
        edge => edge,
    }
}

/// A grid of styled characters the diagram is drawn on, then copied into the frame.
struct Canvas {
    cells: Vec<(char, Style)>,
}

impl Canvas {
    fn new() -> Canvas {
        Canvas {
            cells: vec![(' ', Style::new()); (DIAGRAM_W * DIAGRAM_H) as usize],
        }
    }

    fn put(&mut self, x: u16, y: u16, c: char, style: Style) {
        if x < DIAGRAM_W && y < DIAGRAM_H {
            self.cells[(y * DIAGRAM_W + x) as usize] = (c, style);
        }
    }

    fn text(&mut self, x: u16, y: u16, s: &str, style: Style) {
        for (i, c) in s.chars().enumerate() {
            self.put(x + i as u16, y, c, style);
        }
    }

    fn blit(&self, buf: &mut Buffer, area: Rect) {
        for y in 0..DIAGRAM_H.min(area.height) {
            for x in 0..DIAGRAM_W.min(area.width) {
                let (c, style) = self.cells[(y * DIAGRAM_W + x) as usize];
                if let Some(cell) = buf.cell_mut((area.x + x, area.y + y)) {
                    cell.set_char(c).set_style(style);
                }
            }
        }
    }
}

fn draw_edge(canvas: &mut Canvas, e: &Edge, style: Style) {
    let pts = e.path;
    for w in pts.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if y0 == y1 {
            for x in x0.min(x1)..=x0.max(x1) {
                canvas.put(x, y0, '─', style);
            }
        } else {
            for y in y0.min(y1)..=y0.max(y1) {
                canvas.put(x0, y, '│', style);
            }
        }
    }
    // Corners where a horizontal run turns vertical or back.
    for w in pts.windows(3) {
        let ((x0, y0), (x1, y1), (x2, y2)) = (w[0], w[1], w[2]);
        let corner = match (x0.cmp(&x1), y1.cmp(&y2), y0 == y1) {
            (std::cmp::Ordering::Greater, std::cmp::Ordering::Less, true) => '┌',
            (std::cmp::Ordering::Less, std::cmp::Ordering::Less, true) => '┐',
            _ if x1 > x2 && y0 < y1 => '┘',
            _ if x1 < x2 && y0 < y1 => '└',
            _ => '┼',
        };
        let _ = (x2, y2);
        canvas.put(x1, y1, corner, style);
    }
    let (lx, ly) = pts[pts.len() - 1];
    let head = match pts.len() {
        1 => '▼',
        n => {
            let (px, py) = pts[n - 2];
            if px < lx {
                '▶'
            } else if px > lx {
                '◀'
            } else if py < ly {
                '▼'
            } else {
                '▲'
            }
        }
    };
    canvas.put(lx, ly, head, style);
    for (x, y, s) in e.labels {
        canvas.text(*x, *y, s, style);
    }
}

/// The diagram's edges taken recently, with their age in refreshes.
fn diagram_lit(app: &App) -> Vec<(TcpState, TcpState, u64)> {
    app.lit_edges()
        .into_iter()
        .map(|(a, b, age)| {
            let (a, b) = diagram_edge(a, b);
            (a, b, age)
        })
        .collect()
}

fn diagram(app: &App, counts: &StateCounts) -> Canvas {
    let t = app.theme;
    let lit = diagram_lit(app);
    let mut c = Canvas::new();
    for e in EDGES.iter().chain([&TIME_WAIT_EXIT]) {
        let style = match lit.iter().find(|(a, b, _)| (*a, *b) == (e.from, e.to)) {
            Some((_, _, age)) => t.lit_aged(*age),
            None => t.dim(),
        };
        draw_edge(&mut c, e, style);
    }
    for (st, name, x, y) in BOXES {
        let n = counts.get(st)
            + if st == TcpState::SynRecv {
                counts.get(TcpState::NewSynRecv)
            } else {
                0
            };
        let entered = lit.iter().any(|(_, to, _)| *to == st);
        let style = if entered {
            t.lit()
        } else if n > 0 {
            t.accent()
        } else {
            Style::new()
        };
        let inner = (BOX_W - 2) as usize;
        c.text(x, y, &format!("┌{}┐", "─".repeat(inner)), style);
        let count = n.to_string();
        let label = format!(
            "{name:<w$}{count}",
            w = inner.saturating_sub(count.len()).max(1)
        );
        c.text(x, y + 1, &format!("│{label:<inner$}│"), style);
        c.text(x, y + 2, &format!("└{}┘", "─".repeat(inner)), style);
    }
    c
}

/// `12:00:01.234` (UTC) of a transition.
fn clock(ts: std::time::SystemTime) -> String {
    let d = ts.duration_since(UNIX_EPOCH).unwrap_or_default();
    let s = d.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600,
        s % 3600 / 60,
        s % 60,
        d.subsec_millis()
    )
}

/// The selected connection's life, wrapped between steps to `width`: a title line, then
/// `CLOSE→SYN_SENT 0.050ms→ESTABLISHED 12.3s→…` (the last state is the one it is in).
fn timeline_lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let (Some((local, remote)), Some(steps)) = (app.machine.selected, app.selected_timeline())
    else {
        return Vec::new();
    };
    let t = app.theme;
    let mut lines = vec![Line::from(Span::styled(
        format!("Life of {local} → {remote}  (Esc: none)"),
        t.title(),
    ))];
    if local.port() == 0 {
        // A connect whose port the kernel had not picked yet, and no later line shows it.
        let why = "a connect before its port was picked; no later transition in the log shows which connection it became";
        for part in super::wrap::wrap(why, width) {
            lines.push(Line::from(Span::styled(part, t.dim())));
        }
        return lines;
    }
    if steps.is_empty() {
        lines.push(Line::from(Span::styled("(no longer in the log)", t.dim())));
        return lines;
    }
    let ended = steps.last().is_some_and(|s| s.state == TcpState::Close) && steps.len() > 1;
    let life = crate::trace::format::life(&steps, ended);
    let mut line = String::new();
    for (i, part) in life.split('→').enumerate() {
        let piece = if i == 0 {
            part.to_string()
        } else {
            format!("→{part}")
        };
        if !line.is_empty() && line.chars().count() + piece.chars().count() > width.max(1) {
            lines.push(Line::from(Span::styled(
                std::mem::take(&mut line),
                t.accent(),
            )));
        }
        line.push_str(&piece);
    }
    lines.push(Line::from(Span::styled(line, t.accent())));
    lines
}

fn log_lines(app: &App, max: usize) -> Vec<Line<'static>> {
    let t = app.theme;
    let mut lines: Vec<Line> = app
        .machine_transitions()
        .rev()
        .take(max)
        .map(|st| {
            let tr = &st.transition;
            let who = match (&tr.comm, tr.pid) {
                (Some(c), Some(p)) => format!(" {}({p})", printable(c)),
                _ => String::new(),
            };
            let picked = app.machine.selected == Some(st.conn);
            let line_style = if picked { t.selected() } else { Style::new() };
            Line::from(vec![
                Span::styled(clock(tr.ts), t.dim()),
                Span::raw(format!(" {} {}", tr.local, tr.remote)),
                Span::styled(
                    format!(" {}→{}", tr.old.kernel_name(), tr.new.kernel_name()),
                    t.accent(),
                ),
                Span::raw(who),
            ])
            .style(line_style)
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::from(Span::styled("no transitions seen yet", t.dim())));
    }
    lines
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let source = match app.log.source {
        TransitionSource::Tracepoint => "transitions: kernel".to_string(),
        TransitionSource::Sampled { interval } => format!(
            "transitions: sampled every {} (shorter states are missed)",
            crate::units::format_duration(interval)
        ),
    };
    let scope = match MachineFilter::parse(&app.machine.filter.text) {
        Some(MachineFilter::Port(p)) => format!(" · port {p}"),
        Some(MachineFilter::Pid(p)) => format!(" · pid {p}"),
        None => String::new(),
    };
    let title = format!(" State machine{scope} · {source} ");
    let block = pane_block(app, area, title, &app.machine.filter.text);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let counts = app.machine_counts();
    let log_header = || {
        Line::from(vec![
            Span::styled("Recent transitions", t.title()),
            Span::styled("  ↑↓: a connection's life", t.dim()),
        ])
    };
    // The full diagram when the log still gets room beside or below it; else the compact
    // one, which leaves the log most of the pane (80×24 shows both).
    let beside = inner.width >= DIAGRAM_W + 2 + 64 && inner.height >= DIAGRAM_H;
    let below = inner.width >= DIAGRAM_W && inner.height >= DIAGRAM_H + MIN_LOG_LINES;
    if beside || below {
        let d = Rect::new(inner.x, inner.y, DIAGRAM_W, DIAGRAM_H);
        diagram(app, &counts).blit(frame.buffer_mut(), d);
        let log_area = if beside {
            Rect::new(
                d.right() + 2,
                inner.y,
                inner.width - DIAGRAM_W - 2,
                inner.height,
            )
        } else {
            Rect::new(inner.x, d.bottom(), inner.width, inner.height - DIAGRAM_H)
        };
        let mut lines = timeline_lines(app, log_area.width as usize);
        lines.push(log_header());
        lines.extend(log_lines(app, log_area.height as usize));
        frame.render_widget(Paragraph::new(lines), log_area);
        return;
    }
    if inner.width >= state_lanes::MIN_WIDTH && inner.height >= state_lanes::HEIGHT + 3 {
        let lit = diagram_lit(app);
        let mut lines = state_lanes::lines(t, &counts, &lit, inner.width as usize);
        lines.extend(timeline_lines(app, inner.width as usize));
        lines.push(log_header());
        lines.extend(log_lines(app, inner.height as usize));
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    }
    // Too small for either diagram: the counts in diagram order, then the log.
    let mut lines: Vec<Line> = BOXES
        .iter()
        .map(|(st, name, _, _)| {
            let n = counts.get(*st);
            let style = if n > 0 { t.accent() } else { Style::new() };
            Line::from(Span::styled(format!("{name:<12}{n:>6}"), style))
        })
        .collect();
    lines.extend(timeline_lines(app, inner.width as usize));
    lines.extend(log_lines(app, inner.height as usize));
    frame.render_widget(Paragraph::new(lines), inner);
}
