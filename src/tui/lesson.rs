//! The lesson panel's state in the dashboard (`tcplab learn`, or `L` in `tcplab tui`): the
//! view of the open lesson the runtime sends after each refresh, whether the panel is shown,
//! and its keys. The session itself (progress, checks, tracer) lives in the runtime.

use crossterm::event::{KeyCode, KeyEvent};

use super::app::{App, Pane, StatusKind};
use super::event::{Effect, LessonAction};
use crate::learn::view::{Follow, LessonView};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LessonPanel {
    pub visible: bool,
    /// The lesson list instead of the open lesson.
    pub list_open: bool,
    pub view: Option<LessonView>,
    /// Lines the open lesson's text is scrolled by (`{` `}`).
    pub scroll: u16,
    /// The (lesson, step) the panes were last pointed at, so they follow each step once and
    /// are the person's again afterwards.
    followed: Option<(u32, String)>,
}

impl App {
    pub fn lesson_visible(&self) -> bool {
        self.lesson.visible
    }

    /// The lesson panel's keys; None when the key is not one of them.
    pub(super) fn on_lesson_key(&mut self, key: KeyEvent) -> Option<Vec<Effect>> {
        if key.code == KeyCode::Char('L') {
            if self.lesson.view.is_none() {
                self.lesson.visible = true;
                return Some(vec![Effect::Lesson(LessonAction::Start)]);
            }
            self.lesson.visible = !self.lesson.visible;
            return Some(vec![]);
        }
        if !self.lesson.visible {
            return None;
        }
        let view = self.lesson.view.as_ref()?;
        let lang = view.lang;
        Some(match key.code {
            KeyCode::Char(']') => vec![Effect::Lesson(LessonAction::Open(view.open + 1))],
            KeyCode::Char('[') => match view.open.checked_sub(1) {
                Some(i) => vec![Effect::Lesson(LessonAction::Open(i))],
                None => vec![],
            },
            KeyCode::Char('O') => {
                self.lesson.list_open = !self.lesson.list_open;
                vec![]
            }
            KeyCode::Char('S') => vec![Effect::Lesson(LessonAction::Skip)],
            KeyCode::Char('}') => {
                self.lesson.scroll = self.lesson.scroll.saturating_add(3);
                vec![]
            }
            KeyCode::Char('{') => {
                self.lesson.scroll = self.lesson.scroll.saturating_sub(3);
                vec![]
            }
            KeyCode::Char('C') => match view.current().and_then(|s| s.command.clone()) {
                Some(cmd) => {
                    self.say(
                        StatusKind::Info,
                        lang.pick(
                            format!("copied (where the terminal allows OSC 52): {cmd}"),
                            format!("已复制（终端支持 OSC 52 时）：{cmd}"),
                        ),
                    );
                    vec![Effect::Copy(cmd)]
                }
                None => vec![],
            },
            _ => return None,
        })
    }

    /// A new view of the lesson: shown, and the panes follow its current step.
    pub(super) fn on_lesson_view(&mut self, view: LessonView) {
        if self.lesson.view.as_ref().map(|v| v.number()) != Some(view.number()) {
            self.lesson.scroll = 0;
        }
        let step = view.current().map(|s| (view.number(), s.id.clone()));
        if step.is_some() && step != self.lesson.followed {
            self.lesson.followed = step;
            match &view.follow {
                Some(Follow::Processes(f)) => self.follow(Pane::Processes, f),
                Some(Follow::Sockets(f)) => self.follow(Pane::Sockets, f),
                Some(Follow::Machine(f)) => self.follow(Pane::Machine, f),
                None => {}
            }
        }
        self.lesson.view = Some(view);
    }

    /// The demo the lesson's current step runs (`tcplab demo NAME ...`), as its place in the
    /// demo menu, so `d` opens the menu on it.
    pub(super) fn lesson_demo(&self) -> Option<usize> {
        let cmd = self.lesson.view.as_ref()?.current()?.command.clone()?;
        let name = cmd
            .strip_prefix("tcplab demo ")?
            .split_whitespace()
            .next()?;
        self.demos.iter().position(|(n, _)| n == name)
    }

    /// With a lesson open, a network demo started from the dashboard listens on the lesson's
    /// port, where the lesson's checks look (on a port of its own no step would ever pass).
    pub(super) fn lesson_demo_args(&self, demo: &str) -> Vec<String> {
        match &self.lesson.view {
            Some(v) if demo_takes_port(demo) => vec!["--port".into(), v.port.to_string()],
            _ => vec![],
        }
    }

    fn follow(&mut self, pane: Pane, filter: &str) {
        self.with_pane(pane, |p, _| {
            if let Some(f) = p.filter_mut() {
                f.text = filter.to_string();
                f.editing = false;
            }
        });
        self.pane = pane;
        self.recompute_rows();
    }
}

/// Whether `tcplab demo NAME` takes `--port` (the network demos), from the command line's
/// definition.
fn demo_takes_port(name: &str) -> bool {
    use clap::CommandFactory;
    crate::cli::Cli::command()
        .find_subcommand("demo")
        .and_then(|d| d.find_subcommand(name))
        .is_some_and(|c| c.get_arguments().any(|a| a.get_long() == Some("port")))
}
