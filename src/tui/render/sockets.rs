//! Pane 2, Sockets: every TCP socket with state, addresses, queues, timer (a TIME_WAIT
//! countdown) and every owner; per-state counts at the bottom.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::{fit, pane_block};
use crate::model::{owners_text, owners_text_within, Socket, TcpState, TimerKind};
use crate::tui::app::App;
use crate::tui::traffic::{rate_text, rtt_text};
use crate::tui::views::{shows_socket_traffic, SockColumn};
use crate::units::format_duration;

/// The most a column takes; addresses longer than 22 (IPv6) are cut with `…`.
fn cap(c: SockColumn) -> u16 {
    use SockColumn::*;
    match c {
        State => 12,
        Local | Remote => 22,
        RecvQ | SendQ => 6,
        Rtt => 6,
        Cwnd => 5,
        Retr => 8,
        Up | Down => 9,
        Timer => 12,
        Owners => 0,
    }
}

/// The columns shown at a width. Each takes the width of its longest value on screen (up to
/// its cap), so at 80 columns the queues and the timer keep their place beside two IPv4
/// addresses and the owners.
fn columns(width: u16) -> &'static [SockColumn] {
    use SockColumn::*;
    if shows_socket_traffic(width) {
        &SockColumn::ALL
    } else if width >= 64 {
        &[State, Local, Remote, RecvQ, SendQ, Timer, Owners]
    } else if width >= 32 {
        &[State, Local, Owners]
    } else {
        &[State, Local]
    }
}

fn text(app: &App, idx: usize, s: &Socket, c: SockColumn) -> String {
    let info = s.brief.as_ref().filter(|i| !i.listener);
    let rate = app.traffic.socket(idx);
    match c {
        SockColumn::State => s.state.kernel_name().to_string(),
        SockColumn::Local => s.local.to_string(),
        SockColumn::Remote => s.remote.to_string(),
        SockColumn::RecvQ => s.recv_q.to_string(),
        SockColumn::SendQ => s.send_q.to_string(),
        SockColumn::Rtt => rtt_text(info),
        SockColumn::Cwnd => info.map_or("-".into(), |i| i.snd_cwnd.to_string()),
        SockColumn::Retr => {
            info.map_or("-".into(), |i| format!("{}/{}", i.retrans, i.total_retrans))
        }
        SockColumn::Up => rate_text(rate.map(|r| r.send)),
        SockColumn::Down => rate_text(rate.map(|r| r.recv)),
        SockColumn::Timer => timer(s),
        SockColumn::Owners => owners_text(s.owners.as_deref()),
    }
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let wanted = columns(area.width);
    let arrow = if app.socks.sort.descending {
        "▼"
    } else {
        "▲"
    };
    let titles: Vec<String> = wanted
        .iter()
        .map(|c| {
            let mut title = c.title().to_string();
            if *c == app.socks.sort.column {
                title.push_str(arrow);
            }
            title
        })
        .collect();
    let (_, rows) = crate::tui::layout::table_rows(area);
    let visible: Vec<(usize, usize, Vec<String>)> = app
        .socks
        .rows
        .iter()
        .enumerate()
        .skip(app.socks.cursor.offset)
        .take(rows)
        .map(|(i, &idx)| {
            let s = &app.snapshot.sockets[idx];
            (
                i,
                idx,
                wanted.iter().map(|c| text(app, idx, s, *c)).collect(),
            )
        })
        .collect();
    // The last column takes what the others leave.
    let cols: Vec<(SockColumn, u16)> = wanted
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let longest = visible
                .iter()
                .map(|(_, _, texts)| texts[k].chars().count())
                .chain([titles[k].chars().count()])
                .max()
                .unwrap_or(0) as u16;
            (*c, longest.min(cap(*c)))
        })
        .collect();
    let header = Row::new(titles.into_iter().map(Cell::from)).style(t.title());
    let inner_width = match crate::tui::layout::bordered(area) {
        true => area.width.saturating_sub(2),
        false => area.width,
    };
    let fixed = &cols[..cols.len() - 1];
    let flex = inner_width.saturating_sub(fixed.iter().map(|(_, w)| w + 1).sum::<u16>()) as usize;
    let body = visible.into_iter().map(|(i, idx, texts)| {
        let s = &app.snapshot.sockets[idx];
        let style = if i == app.socks.cursor.at {
            t.selected()
        } else {
            state_style(app, s.state)
        };
        let last = cols.len() - 1;
        Row::new(
            cols.iter()
                .zip(texts)
                .enumerate()
                .map(|(k, ((c, w), text))| {
                    let width = if k == last { flex } else { *w as usize };
                    Cell::from(match c {
                        SockColumn::Owners => owners_text_within(s.owners.as_deref(), width),
                        _ => fit(&text, width),
                    })
                }),
        )
        .style(style)
    });
    let widths: Vec<Constraint> = cols
        .iter()
        .enumerate()
        .map(|(k, (_, w))| match k + 1 == cols.len() {
            true => Constraint::Fill(1),
            false => Constraint::Length(*w),
        })
        .collect();
    let title = format!(
        " Sockets {}/{} · sort {}{} ",
        app.socks.rows.len(),
        app.snapshot.sockets.len(),
        app.socks.sort.column.title(),
        arrow
    );
    // The counts of what the list shows (the filter's), in the room the filter's label
    // leaves on the bottom border: whole counts only, `…` for the rest.
    let shown = app.socks.counts;
    let filter = &app.socks.filter.text;
    let label = match filter.is_empty() {
        true => 0,
        false => filter.chars().count() + " filter:  ".len() + 2,
    };
    let room = (area.width as usize).saturating_sub(label + 4);
    let mut counts = vec![Span::raw(" ")];
    let mut used = 1;
    for st in TcpState::ALL {
        let n = shown.get(st);
        if n > 0 {
            let text = format!("{} {n} ", st.kernel_name());
            if used + text.chars().count() + 2 > room {
                counts.push(Span::raw("… "));
                break;
            }
            used += text.chars().count();
            counts.push(Span::styled(text, state_style(app, st)));
        }
    }
    let mut block = pane_block(app, area, title, filter);
    if crate::tui::layout::bordered(area) {
        block = block.title_bottom(Line::from(counts).right_aligned());
    }
    let first_row = crate::tui::layout::table_rows(area).0;
    let table = Table::new(body, widths).header(header).block(block);
    frame.render_widget(table, area);
    if app.socks.rows.is_empty() && !filter.is_empty() {
        let inner = Rect::new(area.x + 2, first_row, area.width.saturating_sub(4), 1);
        frame.render_widget(Span::styled("no match", t.dim()), inner);
    }
}

fn state_style(app: &App, st: TcpState) -> Style {
    let t = app.theme;
    match st {
        TcpState::Listen => t.good(),
        TcpState::CloseWait | TcpState::SynSent | TcpState::SynRecv | TcpState::NewSynRecv => {
            t.warn()
        }
        TcpState::TimeWait | TcpState::Close => t.dim(),
        _ => Style::new(),
    }
}

/// `tw 41.5s` (TIME_WAIT countdown), `rto 800ms x2`, `ka 2m00s`.
pub fn timer(s: &Socket) -> String {
    let left = format_duration(s.timer.expires_in);
    match s.timer.kind {
        TimerKind::Off => String::new(),
        TimerKind::TimeWait => format!("tw {left}"),
        TimerKind::Retransmit => format!("rto {left} x{}", s.timer.retransmits),
        TimerKind::Keepalive => format!("ka {left}"),
        TimerKind::Probe => format!("probe {left}"),
    }
}
