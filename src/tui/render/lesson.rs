//! The lesson panel: the open lesson's steps (each with its action and its check's verdict),
//! then its explanation; or, with `O`, the list of lessons and how far each got.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use crate::learn::check::Verdict;
use crate::learn::lang::Lang;
use crate::learn::progress::LessonState;
use crate::learn::state_name;
use crate::learn::view::{LessonView, StepStatus};
use crate::tui::app::App;
use crate::tui::render::wrap::wrap_indented;

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    frame.render_widget(Clear, area);
    let Some(view) = &app.lesson.view else {
        let block = Block::default().borders(Borders::ALL).title(" Lessons ");
        frame.render_widget(Paragraph::new(" starting…").block(block), area);
        return;
    };
    let lang = view.lang;
    let title = lang.pick(
        format!(
            " Lesson {}/{} · {} · port {} ",
            view.number(),
            view.lessons.len(),
            state_name(view.state(), lang),
            view.port
        ),
        format!(
            " 第 {}/{} 课 · {} · 端口 {} ",
            view.number(),
            view.lessons.len(),
            state_name(view.state(), lang),
            view.port
        ),
    );
    let keys = lang.pick(
        " [ ] lesson · { } scroll · O list · C copy · S skip · L hide ",
        " [ ] 换课 · { } 滚动 · O 列表 · C 复制 · S 跳过 · L 隐藏 ",
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, app.theme.title()))
        .title_bottom(Span::styled(keys, app.theme.dim()));
    // Wrapped here, by terminal columns (a Chinese character takes two), each piece keeping
    // its line's indentation. The list keeps the open lesson in sight; the lesson scrolls
    // with { }.
    let inner = area.height.saturating_sub(2);
    let width = usize::from(area.width.saturating_sub(2));
    let (lines, scroll) = if app.lesson.list_open {
        let (lines, open_at) = wrapped(list(app, view), width, Some(view.open));
        let open = open_at.unwrap_or(0) as u16;
        (lines, open.saturating_sub(inner.saturating_sub(1)))
    } else {
        (wrapped(lesson(app, view), width, None).0, app.lesson.scroll)
    };
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), area);
}

/// Each line cut to `width` columns; also where line `mark` begins among the pieces.
fn wrapped(
    lines: Vec<(String, Style)>,
    width: usize,
    mark: Option<usize>,
) -> (Vec<Line<'static>>, Option<usize>) {
    let mut out = Vec::new();
    let mut at = None;
    for (i, (text, style)) in lines.into_iter().enumerate() {
        if Some(i) == mark {
            at = Some(out.len());
        }
        for piece in wrap_indented(&text, width) {
            out.push(Line::from(Span::styled(piece, style)));
        }
    }
    (out, at)
}

fn list(app: &App, view: &LessonView) -> Vec<(String, Style)> {
    view.lessons
        .iter()
        .enumerate()
        .map(|(i, (n, _, title, state))| {
            let (mark, style) = match state {
                LessonState::Done => ("✓", app.theme.good()),
                LessonState::InProgress => ("…", app.theme.accent()),
                LessonState::NotStarted => (" ", Style::new()),
            };
            let style = if i == view.open {
                app.theme.selected()
            } else {
                style
            };
            (
                format!("{mark} {n:>2} {title} ({})", state_name(*state, view.lang)),
                style,
            )
        })
        .collect()
}

fn action(lang: Lang, key: Option<&str>, command: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(k) = key {
        parts.push(lang.pick(format!("key {k}"), format!("按键 {k}")));
    }
    if let Some(c) = command {
        parts.push(lang.pick(format!("run: {c}"), format!("运行：{c}")));
    }
    parts.join(lang.pick(" · or ", " · 或 "))
}

fn lesson(app: &App, view: &LessonView) -> Vec<(String, Style)> {
    let lang = view.lang;
    let mut lines = vec![(view.title().to_string(), app.theme.title())];
    for (i, step) in view.steps.iter().enumerate() {
        let (mark, style) = match step.status {
            StepStatus::Done => ("✓", app.theme.good()),
            StepStatus::Skipped => ("–", app.theme.dim()),
            StepStatus::Current => ("▶", app.theme.accent()),
            StepStatus::Later => (" ", app.theme.dim()),
        };
        let skipped = match step.status {
            StepStatus::Skipped => lang.pick(" (skipped)", "（已跳过）"),
            _ => "",
        };
        lines.push((format!("{mark} {}. {}{skipped}", i + 1, step.title), style));
        if step.status == StepStatus::Current {
            lines.push((
                format!(
                    "   {}",
                    action(lang, step.key.as_deref(), step.command.as_deref())
                ),
                Style::new(),
            ));
            for p in &step.paragraphs {
                lines.push((format!("   {p}"), app.theme.dim()));
            }
        }
        match &step.verdict {
            Some(Verdict::Passed(t)) => lines.push((format!("   ✓ {t}"), app.theme.good())),
            Some(Verdict::Waiting(t)) => lines.push((
                lang.pick(format!("   … waiting: {t}"), format!("   … 等待中：{t}")),
                app.theme.warn(),
            )),
            Some(Verdict::Cannot(t)) => lines.push((
                lang.pick(
                    format!("   ✗ cannot check here: {t} (S skips, never ticks)"),
                    format!("   ✗ 这里无法检查：{t}（S 跳过，不算完成）"),
                ),
                app.theme.danger(),
            )),
            None => {}
        }
    }
    if view.state() == LessonState::Done {
        lines.push((
            lang.pick(
                format!("Lesson {} done. ] opens the next one.", view.number()),
                format!("第 {} 课完成（done）。按 ] 打开下一课。", view.number()),
            ),
            app.theme.good(),
        ));
    }
    lines.push((String::new(), Style::new()));
    for p in &view.paragraphs {
        lines.push((p.clone(), Style::new()));
        lines.push((String::new(), Style::new()));
    }
    lines
}
