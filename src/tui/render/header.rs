//! The header: host, uptime, load, refresh interval and cost, where transitions come from,
//! processes by state (zombies in red) and TCP sockets by state; the meters at its right.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::model::{TcpState, TransitionSource};
use crate::tui::app::App;
use crate::units::format_duration;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    // CPU and memory meters at the right; the text gets the rest.
    let (area, first_width) = super::meters::draw(frame, app, area);
    let t = app.theme;
    let h = &app.host;
    let up = h.uptime.as_secs();
    let uptime = if up >= 86_400 {
        format!(
            "{}d {:02}:{:02}",
            up / 86_400,
            up % 86_400 / 3600,
            up % 3600 / 60
        )
    } else {
        format!("{:02}:{:02}", up / 3600, up % 3600 / 60)
    };
    let source = match app.log.source {
        TransitionSource::Tracepoint => "kernel".to_string(),
        TransitionSource::Sampled { .. } => "sampled".to_string(),
    };
    let host = if h.hostname.is_empty() {
        "tcplab"
    } else {
        &h.hostname
    };
    // The first line, from the most said to the least; narrower, it drops the refresh's
    // cost, then two of the three loads, then the uptime, before anything whole-span
    // trimming would cut: where transitions come from must show at 80 columns too.
    let first_line = |up: bool, loads: usize, cost: bool| {
        let mut line = vec![Span::styled(format!(" {host}"), t.title())];
        if up {
            line.push(Span::raw(format!("  up {uptime}")));
        }
        let loads: Vec<String> = h.load[..loads].iter().map(|l| format!("{l:.2}")).collect();
        line.push(Span::raw(format!(
            "  load {}  every {}",
            loads.join(" "),
            format_duration(app.interval),
        )));
        // A refresh takes longer than the interval: the dashboard waits longer, and says so.
        let backed_off = app.backed_off();
        if let Some(every) = backed_off {
            line.push(Span::styled(
                format!(
                    "→{} (a refresh takes {})",
                    format_duration(every),
                    format_duration(app.snapshot.cost)
                ),
                t.warn(),
            ));
        }
        line.push(Span::raw("  transitions: "));
        line.push(Span::styled(source.clone(), t.accent()));
        if cost && backed_off.is_none() {
            line.push(Span::raw(format!(
                "  refresh {}ms",
                app.snapshot.cost.as_millis()
            )));
        }
        if let Some(e) = &app.source_error {
            line.push(Span::styled(format!("  scan failed: {e}"), t.danger()));
        }
        Line::from(line)
    };
    let first = [
        (true, 3, true),
        (true, 3, false),
        (true, 1, false),
        (false, 1, false),
    ]
    .into_iter()
    .map(|(up, loads, cost)| first_line(up, loads, cost))
    .find(|l| l.width() <= usize::from(first_width))
    .unwrap_or_else(|| first_line(true, 3, true));

    let mut procs = vec![Span::styled(
        format!(" procs {}:", app.snapshot.processes.len()),
        t.title(),
    )];
    for (letter, n) in app.proc_counts {
        let style = match letter {
            'Z' if n > 0 => t.danger(),
            'T' | 'D' if n > 0 => t.warn(),
            _ => Style::new(),
        };
        procs.push(Span::styled(format!(" {letter} {n}"), style));
    }
    if app.proc_counts[3].1 > 0 {
        // Who failed to reap: each parent with its count.
        let parents = app.relations.zombie_parents();
        let list: Vec<String> = parents.iter().map(|(p, n)| format!("{p}({n})")).collect();
        procs.push(Span::styled(
            format!("  unreaped by: {} (Z)", list.join(" ")),
            t.danger(),
        ));
    }
    if !app.procs.kernel_threads {
        let hidden = app
            .snapshot
            .processes
            .iter()
            .filter(|p| p.is_kernel_thread())
            .count();
        if hidden > 0 {
            procs.push(Span::styled(
                format!("  {hidden} kernel threads hidden (K)"),
                t.dim(),
            ));
        }
    }
    if let Some(oldest) = app.init_zombies.iter().filter_map(|z| z.waited).max() {
        procs.push(Span::styled(
            format!(
                "  {} left to PID 1, oldest {}",
                app.init_zombies.len(),
                format_duration(oldest)
            ),
            t.warn(),
        ));
    }

    let mut tcp = vec![Span::styled(
        format!(" tcp {}:", app.snapshot.sockets.len()),
        t.title(),
    )];
    for st in TcpState::ALL {
        let n = app.sock_counts.get(st);
        if n > 0 {
            tcp.push(Span::raw(format!(" {} {n}", st.kernel_name())));
        }
    }
    if app.snapshot.owners_partial && app.needs_owners() {
        tcp.push(Span::styled("  (owners partial: not root)", t.dim()));
    }

    let lines = match area.height {
        0 | 1 => {
            // One line: what matters most on a tiny terminal.
            let z = app.proc_counts[3].1;
            let mut compact = vec![Span::styled(
                format!(" procs {}", app.snapshot.processes.len()),
                t.title(),
            )];
            if z > 0 {
                compact.push(Span::styled(format!(" Z {z}"), t.danger()));
            }
            compact.push(Span::raw(format!(
                " · tcp {} · every {}",
                app.snapshot.sockets.len(),
                format_duration(app.interval)
            )));
            vec![Line::from(compact)]
        }
        2 => {
            procs.push(Span::raw(" │"));
            procs.extend(tcp);
            vec![first, Line::from(procs)]
        }
        _ => vec![first, Line::from(procs), Line::from(tcp)],
    };
    let width = |i: usize| match i {
        0 => first_width,
        _ => area.width,
    };
    let lines: Vec<Line> = lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| whole_spans(l, width(i) as usize))
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

/// The spans of `line` that fit in `width` whole, and `…` where the rest was left out: a
/// header never shows half a number (`CLOSE_WAIT 12` for 126).
fn whole_spans(line: Line<'static>, width: usize) -> Line<'static> {
    let total: usize = line.spans.iter().map(|s| s.width()).sum();
    if total <= width {
        return line;
    }
    let mut kept = Vec::new();
    let mut used = 0;
    for span in line.spans {
        // Room for the span and the `…` after it.
        if used + span.width() + 1 > width {
            break;
        }
        used += span.width();
        kept.push(span);
    }
    // A label whose value did not fit goes too (`transitions: ` without `kernel`).
    if kept
        .last()
        .is_some_and(|s| s.content.trim_end().ends_with(':') && kept.len() > 1)
    {
        kept.pop();
    }
    kept.push(Span::raw("…"));
    Line::from(kept)
}
