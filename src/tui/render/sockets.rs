//! Pane 2, Sockets: every TCP socket with state, addresses, queues, timer (a TIME_WAIT
//! countdown) and every owner; per-state counts at the bottom.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

use super::{fit, pane_block};
use crate::model::{owners_text, Socket, TcpState, TimerKind};
use crate::tui::app::App;
use crate::tui::traffic::{rate_text, rtt_text};
use crate::tui::views::{shows_socket_traffic, SockColumn};
use crate::units::format_duration;

fn columns(width: u16) -> Vec<(SockColumn, u16)> {
    use SockColumn::*;
    let all = [
        (State, 12),
        (Local, 22),
        (Remote, 22),
        (RecvQ, 6),
        (SendQ, 6),
        (Rtt, 6),
        (Cwnd, 5),
        (Retr, 8),
        (Up, 9),
        (Down, 9),
        (Timer, 12),
        (Owners, 0),
    ];
    let keep: &[SockColumn] = if shows_socket_traffic(width) {
        &SockColumn::ALL
    } else if width >= 100 {
        &[State, Local, Remote, RecvQ, SendQ, Timer, Owners]
    } else if width >= 64 {
        &[State, Local, Remote, Owners]
    } else {
        &[State, Local, Owners]
    };
    all.into_iter().filter(|(c, _)| keep.contains(c)).collect()
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let cols = columns(area.width);
    let arrow = if app.socks.sort.descending {
        "▼"
    } else {
        "▲"
    };
    let header = Row::new(cols.iter().map(|(c, _)| {
        let mut title = c.title().to_string();
        if *c == app.socks.sort.column {
            title.push_str(arrow);
        }
        Cell::from(title)
    }))
    .style(t.title());
    let (_, rows) = crate::tui::layout::table_rows(area);
    let owners_width =
        area.width
            .saturating_sub(cols.iter().map(|(_, w)| w + 1).sum::<u16>() + 2) as usize;
    let body =
        app.socks
            .rows
            .iter()
            .enumerate()
            .skip(app.socks.cursor.offset)
            .take(rows)
            .map(|(i, &idx)| {
                let s = &app.snapshot.sockets[idx];
                let info = s.info.as_deref().filter(|i| !i.listener);
                let rate = app.traffic.socket(idx);
                let style = if i == app.socks.cursor.at {
                    t.selected()
                } else {
                    state_style(app, s.state)
                };
                Row::new(cols.iter().map(|(c, _)| {
                    Cell::from(match c {
                        SockColumn::State => s.state.kernel_name().to_string(),
                        SockColumn::Local => s.local.to_string(),
                        SockColumn::Remote => s.remote.to_string(),
                        SockColumn::RecvQ => s.recv_q.to_string(),
                        SockColumn::SendQ => s.send_q.to_string(),
                        SockColumn::Rtt => rtt_text(info),
                        SockColumn::Cwnd => info.map_or("-".into(), |i| i.snd_cwnd.to_string()),
                        SockColumn::Retr => info
                            .map_or("-".into(), |i| format!("{}/{}", i.retrans, i.total_retrans)),
                        SockColumn::Up => rate_text(rate.map(|r| r.send)),
                        SockColumn::Down => rate_text(rate.map(|r| r.recv)),
                        SockColumn::Timer => timer(s),
                        SockColumn::Owners => fit(&owners_text(s.owners.as_deref()), owners_width),
                    })
                }))
                .style(style)
            });
    let widths: Vec<Constraint> = cols
        .iter()
        .map(|(c, w)| match c {
            SockColumn::Owners => Constraint::Min(8),
            _ => Constraint::Length(*w),
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
    let shown: crate::model::counts::StateCounts = app
        .socks
        .rows
        .iter()
        .filter_map(|&i| app.snapshot.sockets.get(i))
        .collect();
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
    let block = pane_block(app, title, filter).title_bottom(Line::from(counts).right_aligned());
    let table = Table::new(body, widths).header(header).block(block);
    frame.render_widget(table, area);
    if app.socks.rows.is_empty() && !filter.is_empty() {
        let inner = Rect::new(area.x + 2, area.y + 2, area.width.saturating_sub(4), 1);
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
