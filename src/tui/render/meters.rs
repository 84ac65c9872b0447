//! The header's meters, drawn as htop draws them: `CPU[|||||      23.4%]` (user time green,
//! system red) and `Mem[||||||    1.2GiB/7.7GiB]` at the header's right from 140 columns on;
//! narrower, `cpu 23% mem 41%` at the first line's end (the header's text keeps its room for
//! what only it says, as the zombies' parents); under 60 columns, nothing.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::app::App;
use crate::units::format_size;

/// From this width the header has a column of bars; below, words on the first line.
const BARS_FROM: u16 = 140;
/// Below this width, no meters.
const WORDS_FROM: u16 = 60;

/// Draws the meters in the header's `area` and returns what is left for the header's text:
/// the area, and the width its first line may take.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) -> (Rect, u16) {
    if area.width < WORDS_FROM {
        return (area, area.width);
    }
    if area.width < BARS_FROM || area.height < 2 {
        let text = words(app);
        let w = (text.chars().count() as u16 + 1).min(area.width);
        let at = Rect::new(area.right() - w, area.y, w, 1);
        frame.render_widget(Span::styled(text, app.theme.dim()), at);
        return (area, area.width - w);
    }
    let w = (area.width / 5).clamp(28, 40);
    let column = Rect::new(area.right() - w, area.y, w, area.height);
    let mut lines = vec![cpu_bar(app, w), mem_bar(app, w)];
    if area.height >= 3 {
        lines.push(swap_bar(app, w));
    }
    frame.render_widget(Paragraph::new(lines), column);
    let text = Rect::new(area.x, area.y, area.width - w - 1, area.height);
    (text, text.width)
}

/// `cpu 23% mem 41%`, for a header too small for bars.
fn words(app: &App) -> String {
    let cpu = app
        .cpu_share
        .map_or("-".to_string(), |s| format!("{:.0}%", s.busy() * 100.0));
    let mem = app.host.memory.map_or("-".to_string(), |m| {
        format!("{:.0}%", fraction(m.used(), m.total) * 100.0)
    });
    format!(" cpu {cpu} mem {mem}")
}

fn fraction(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64).min(1.0)
    }
}

fn cpu_bar(app: &App, w: u16) -> Line<'static> {
    let t = app.theme;
    match app.cpu_share {
        Some(s) => {
            let text = format!("{:.1}%", s.busy() * 100.0);
            bar(
                "CPU",
                w,
                &[(s.user, t.good()), (s.system, t.danger())],
                &text,
                app,
            )
        }
        None => bar("CPU", w, &[], "-", app),
    }
}

fn mem_bar(app: &App, w: u16) -> Line<'static> {
    match app.host.memory {
        Some(m) => {
            let f = fraction(m.used(), m.total);
            let text = amount(m.used(), m.total, f, inner(w));
            bar("Mem", w, &[(f, app.theme.good())], &text, app)
        }
        None => bar("Mem", w, &[], "-", app),
    }
}

fn swap_bar(app: &App, w: u16) -> Line<'static> {
    match app.host.memory {
        Some(m) if m.swap_total > 0 => {
            let f = fraction(m.swap_used(), m.swap_total);
            let text = amount(m.swap_used(), m.swap_total, f, inner(w));
            bar("Swp", w, &[(f, app.theme.danger())], &text, app)
        }
        Some(_) => bar("Swp", w, &[], "none", app),
        None => bar("Swp", w, &[], "-", app),
    }
}

/// `1.2GiB/7.7GiB` where it leaves room for a few bars, else `41%`.
fn amount(used: u64, total: u64, f: f64, room: usize) -> String {
    let long = format!("{}/{}", format_size(used), format_size(total));
    if long.chars().count() + 4 <= room {
        long
    } else {
        format!("{:.0}%", f * 100.0)
    }
}

/// Cells between the brackets of a meter `w` wide.
fn inner(w: u16) -> usize {
    w.saturating_sub(5) as usize
}

/// `LBL[|||||    text]`: each part a run of `|` as long as its fraction of the inside, in its
/// style; `text` at the right, over the bars.
fn bar(label: &str, w: u16, parts: &[(f64, Style)], text: &str, app: &App) -> Line<'static> {
    let n = inner(w);
    let text: String = text.chars().take(n).collect();
    let text_from = n - text.chars().count();
    let mut cells: Vec<(char, Style)> = vec![(' ', Style::new()); n];
    let mut at = 0usize;
    for (f, style) in parts {
        let len = (f * n as f64).round() as usize;
        for cell in cells.iter_mut().skip(at).take(len) {
            *cell = ('|', *style);
        }
        at = (at + len).min(n);
    }
    for (i, c) in text.chars().enumerate() {
        cells[text_from + i] = (c, app.theme.title());
    }
    let mut spans = vec![
        Span::styled(label.to_string(), app.theme.accent()),
        Span::raw("["),
    ];
    // One span per run of one style.
    let mut run = String::new();
    let mut style = cells.first().map(|c| c.1).unwrap_or_default();
    for (c, s) in cells {
        if s != style && !run.is_empty() {
            spans.push(Span::styled(std::mem::take(&mut run), style));
        }
        style = s;
        run.push(c);
    }
    spans.push(Span::styled(run, style));
    spans.push(Span::raw("]"));
    Line::from(spans)
}
