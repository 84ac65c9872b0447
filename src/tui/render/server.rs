//! Pane 4, Server: a `tcplab serve` started from here (`s`): its master and workers from the
//! process table, its connections by state from the socket table, its own `/status` answer and
//! its log; the keys that reload, stop and load it.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{fit, pane_block};
use crate::model::counts::StateCounts;
use crate::model::TcpState;
use crate::tui::app::{App, ServerState};
use crate::tui::theme::Theme;
use crate::tui::views::stat_string;
use crate::units::{format_duration, format_size};
use std::time::Duration;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let s = &app.server;
    let block = pane_block(app, area, " Server ".to_string(), "");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // Requests/s and open connections over time at the bottom, while a server runs.
    let inner = super::history::draw_server(frame, app, inner);
    let w = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let workers = match s.model.has_workers() {
        true => format!("w/W workers: {}", s.workers),
        false => "one process, no workers".to_string(),
    };
    let keys_idle = format!("s start · m model: {} · {workers}", s.model.name());
    match &s.state {
        ServerState::NotStarted => {
            lines.push(Line::from("No server started from here yet."));
            lines.push(Line::from(Span::styled(keys_idle, t.accent())));
        }
        ServerState::Starting => lines.push(Line::from(format!(
            "starting tcplab serve --model {} ({workers}) ...",
            s.model.name(),
        ))),
        ServerState::Failed(e) => {
            lines.push(Line::from(Span::styled(
                format!("could not start: {e}"),
                t.danger(),
            )));
            lines.push(Line::from(Span::styled(keys_idle, t.accent())));
        }
        ServerState::Exited { pid, how } => {
            lines.push(Line::from(Span::styled(
                format!("server pid {pid} {how}; reaped"),
                t.warn(),
            )));
            lines.push(Line::from(Span::styled(keys_idle, t.accent())));
        }
        ServerState::Running { pid, addr } => {
            let at = addr.map_or("waiting for its ready line".to_string(), |a| {
                format!("http://{a}")
            });
            lines.push(Line::from(vec![
                Span::styled(format!("master {pid}"), t.title()),
                Span::raw(format!(" · {at} · model {} · ", s.model.name())),
                Span::styled(
                    if s.detached {
                        "detached: keeps running after quit"
                    } else {
                        "stopped on quit"
                    },
                    if s.detached { t.warn() } else { t.dim() },
                ),
            ]));
            lines.push(Line::from(Span::styled(
                "r reload (HUP) · g graceful stop (QUIT) · x stop (TERM) · l load · D detach · k signal menu",
                t.accent(),
            )));
            lines.extend(processes(app, *pid, w));
            if let Some(a) = addr {
                lines.push(connections(app, a.port()));
            }
            if let Some(l) = &s.last_load {
                lines.push(Line::from(Span::styled(l.clone(), t.dim())));
            }
            // A kept connection would hold a server that serves one at a time (`probe`).
            let how = match s.model.serves_one_at_a_time() {
                true => "  new connection per poll, server closes; left out of the counts above",
                false => "  polled over one kept-alive connection, left out of the counts above",
            };
            lines.push(Line::from(vec![
                Span::styled("/status", t.title()),
                Span::styled(how, t.dim()),
            ]));
            match &s.status {
                None => lines.push(Line::from(Span::styled("(not polled yet)", t.dim()))),
                Some(Err(e)) => {
                    lines.push(Line::from(Span::styled(fit(&e.to_string(), w), t.danger())))
                }
                Some(Ok(v)) => lines.extend(status_table(v, w, app.theme)),
            }
        }
    }
    if !s.log.is_empty() {
        lines.push(Line::from(Span::styled("log", t.title())));
        let room = (inner.height as usize).saturating_sub(lines.len()).max(1);
        let skip = s.log.len().saturating_sub(room);
        for l in s.log.iter().skip(skip) {
            lines.push(Line::from(Span::styled(fit(l, w), t.dim())));
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The master and every descendant, from the process table.
fn processes(app: &App, master: i32, w: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let mut stack = vec![(master, 0usize)];
    while let Some((pid, depth)) = stack.pop() {
        let Some(p) = app.process(pid) else {
            if depth == 0 {
                out.push(Line::from(format!("  {pid} (not in the last refresh yet)")));
            }
            continue;
        };
        let role = if depth == 0 { "master" } else { "worker" };
        let style = if p.is_zombie() {
            app.theme.danger()
        } else {
            Style::new()
        };
        out.push(Line::from(Span::styled(
            fit(
                &format!(
                    "{}{role} {:>7} {:<4} {}",
                    "  ".repeat(depth + 1),
                    p.pid,
                    stat_string(p),
                    super::processes::shown_command(p)
                ),
                w,
            ),
            style,
        )));
        if let Some(kids) = app.relations.children.get(&pid) {
            for k in kids.iter().rev() {
                stack.push((*k, depth + 1));
            }
        }
    }
    out
}

/// Connections to or from the server's port, by state.
fn connections(app: &App, port: u16) -> Line<'static> {
    let counts: StateCounts = app
        .snapshot
        .sockets
        .iter()
        .filter(|s| s.local.port() == port || s.remote.port() == port)
        .collect();
    let mut spans = vec![Span::styled(format!("port {port}:"), app.theme.title())];
    for st in TcpState::ALL {
        let n = counts.get(st);
        if n > 0 {
            spans.push(Span::raw(format!(" {} {n}", st.kernel_name())));
        }
    }
    Line::from(spans)
}

/// The server's `/status` as a table: the whole server, then each worker, with uptime, open
/// and total connections, requests and bytes (`tcplab status` prints the same counters).
fn status_table(v: &serde_json::Value, w: usize, t: Theme) -> Vec<Line<'static>> {
    let Some(map) = v.as_object() else {
        return vec![Line::from(fit(&v.to_string(), w))];
    };
    let num = |o: &serde_json::Value, k: &str| o.get(k).and_then(serde_json::Value::as_u64);
    let text = |n: Option<u64>, f: fn(u64) -> String| n.map_or("-".to_string(), f);
    let row = |role: &str, o: &serde_json::Value| {
        format!(
            "  {role:<7} {:>7} {:>7} {:>6} {:>7} {:>9} {:>9} {:>9}",
            text(num(o, "pid"), |n| n.to_string()),
            text(num(o, "uptime_ms"), |ms| format_duration(
                Duration::from_millis(ms)
            )),
            text(num(o, "connections_open"), |n| n.to_string()),
            text(num(o, "connections_total"), |n| n.to_string()),
            text(num(o, "requests"), |n| n.to_string()),
            text(num(o, "bytes_in"), format_size),
            text(num(o, "bytes_out"), format_size),
        )
    };
    // The server's own counters: unlike the port's counts above, they include our poll.
    let mut about = vec!["counts include our poll".to_string()];
    if let Some(model) = map.get("model").and_then(|m| m.as_str()) {
        about.push(format!("model {model}"));
    }
    if let Some(ms) = num(v, "shutdown_timeout_ms") {
        about.push(format!(
            "graceful stop waits up to {}",
            format_duration(Duration::from_millis(ms))
        ));
    }
    let mut out = Vec::new();
    out.push(Line::from(fit(&format!("  {}", about.join(" · ")), w)));
    out.push(Line::from(Span::styled(
        fit(
            &format!(
                "  {:<7} {:>7} {:>7} {:>6} {:>7} {:>9} {:>9} {:>9}",
                "", "PID", "UP", "OPEN", "CONNS", "REQUESTS", "IN", "OUT"
            ),
            w,
        ),
        t.title(),
    )));
    out.push(Line::from(fit(&row("server", v), w)));
    let workers = map.get("workers").and_then(|ws| ws.as_array());
    for worker in workers.into_iter().flatten() {
        out.push(Line::from(fit(&row("worker", worker), w)));
    }
    out
}
