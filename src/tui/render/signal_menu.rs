//! `k`/F9: the signal menu, each signal with what it would do to the selected process
//! (predicted from its masks), the whole-group switch, and the confirmation box.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{fit, overlay_block};
use crate::text::printable;
use crate::tui::app::{App, Confirm, SignalMenu};
use crate::tui::layout::centered;
use crate::tui::predict::{menu_signals, predict, short_name};

pub fn draw_menu(frame: &mut Frame, app: &App, menu: &SignalMenu, area: Rect) {
    let t = app.theme;
    let rect = centered(area, 84, 24);
    let (block, inner) = overlay_block(frame, rect, " Send a signal · Enter send · g group · Esc ");
    frame.render_widget(block, rect);
    let Some(p) = app.process(menu.pid) else {
        frame.render_widget(
            Paragraph::new(format!("pid {} is gone: it has exited", menu.pid)),
            inner,
        );
        return;
    };
    let target = if menu.group {
        format!("whole process group {} (kill -SIG -{})", p.pgid, p.pgid)
    } else {
        format!("pid {} only", p.pid)
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{} {}", p.pid, printable(&p.comm)), t.title()),
        Span::raw(format!(" · to: {target}")),
    ])];
    if p.masks.is_none() && !p.is_zombie() {
        lines.push(Line::from(Span::styled(
            "masks unreadable: predictions show defaults only",
            t.warn(),
        )));
    }
    let signals = menu_signals();
    let rows = (inner.height as usize).saturating_sub(lines.len()).max(1);
    // Keep the selection in view.
    let start = menu.selected.saturating_sub(rows.saturating_sub(1));
    let w = inner.width as usize;
    for (i, sig) in signals.iter().enumerate().skip(start).take(rows) {
        let outcome = predict(p, *sig);
        let marker = if i == menu.selected { "▶" } else { " " };
        let text = fit(
            &format!(
                "{marker} {:<7}{:>3}  {}",
                short_name(*sig),
                *sig as i32,
                outcome.describe()
            ),
            w,
        );
        let style = if i == menu.selected {
            t.selected()
        } else if outcome.is_destructive() {
            t.warn()
        } else {
            Style::new()
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

pub fn draw_confirm(frame: &mut Frame, app: &App, c: &Confirm, area: Rect) {
    let t = app.theme;
    let rect = centered(area, 64, 7);
    let (block, inner) = overlay_block(frame, rect, " Confirm ");
    frame.render_widget(block, rect);
    let who = app
        .process(c.pid)
        .map_or(String::new(), |p| format!(" ({})", printable(&p.comm)));
    let lines = vec![
        Line::from(Span::styled(
            format!("Send {} to {}{who}?", short_name(c.signal), c.target),
            t.title(),
        )),
        Line::from(c.prediction.clone()),
        Line::from(Span::styled("y send · any other key cancels", t.accent())),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
}
