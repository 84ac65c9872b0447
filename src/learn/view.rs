//! What the dashboard's lesson panel shows, as plain data made from a [`Session`]: the panel
//! draws it and never reaches into the session (which does I/O) itself.

use super::check::{Check, Verdict};
use super::lang::Lang;
use super::progress::LessonState;
use super::session::Session;

#[derive(Debug, Clone, PartialEq)]
pub struct LessonView {
    pub lang: Lang,
    pub port: u16,
    /// Every lesson: (number, id, title, state).
    pub lessons: Vec<(u32, String, String, LessonState)>,
    /// Index of the open lesson in `lessons`.
    pub open: usize,
    pub paragraphs: Vec<String>,
    pub steps: Vec<StepView>,
    /// Where the panes should look for the open step.
    pub follow: Option<Follow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    Done,
    Skipped,
    /// The step being watched now.
    Current,
    Later,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepView {
    pub id: String,
    pub title: String,
    pub key: Option<String>,
    /// The command with `{port}` and known facts filled in.
    pub command: Option<String>,
    pub paragraphs: Vec<String>,
    pub status: StepStatus,
    /// For the current step: the check's last verdict; for a step done in this run: what it saw.
    pub verdict: Option<Verdict>,
}

/// The pane a step is about and the filter that shows its part of the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Follow {
    Processes(String),
    Sockets(String),
    Machine(String),
}

fn follow(check: &Check, port: u16) -> Follow {
    match check {
        Check::Handshake | Check::Teardown => Follow::Machine(port.to_string()),
        Check::Group { comm, .. } => Follow::Processes(comm.clone()),
        // The demo's own processes, by its command line.
        Check::Fork { cmd }
        | Check::Daemon { cmd: Some(cmd) }
        | Check::Signal { cmd: Some(cmd), .. } => Follow::Processes(cmd.clone()),
        // Zombies have no command line left, only their name.
        Check::Zombies { .. } | Check::Reaped | Check::Daemon { .. } | Check::Signal { .. } => {
            Follow::Processes("tcplab".into())
        }
        _ => Follow::Sockets(format!(":{port}")),
    }
}

impl LessonView {
    pub fn of(s: &Session) -> LessonView {
        let lesson = s.lesson();
        let next = s.next_step();
        let steps = lesson
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let status = match s.step_finished(step) {
                    Some("done") => StepStatus::Done,
                    Some(_) => StepStatus::Skipped,
                    None if Some(i) == next => StepStatus::Current,
                    None => StepStatus::Later,
                };
                let verdict = match status {
                    StepStatus::Current => s.verdict.clone(),
                    _ => s.passed.get(&step.id).cloned().map(Verdict::Passed),
                };
                StepView {
                    id: step.id.clone(),
                    title: step.title.clone(),
                    key: step.key.clone(),
                    command: s.command(step),
                    paragraphs: step.paragraphs.iter().map(|p| s.fill(p)).collect(),
                    status,
                    verdict,
                }
            })
            .collect();
        LessonView {
            lang: s.lang(),
            port: s.port(),
            lessons: s
                .lessons
                .iter()
                .map(|l| (l.number, l.id.clone(), l.title.clone(), s.state(l)))
                .collect(),
            open: s.open,
            paragraphs: lesson.paragraphs.clone(),
            steps,
            follow: next.map(|i| follow(&lesson.steps[i].check, s.port())),
        }
    }

    pub fn title(&self) -> &str {
        &self.lessons[self.open].2
    }

    pub fn number(&self) -> u32 {
        self.lessons[self.open].0
    }

    pub fn state(&self) -> LessonState {
        self.lessons[self.open].3
    }

    pub fn current(&self) -> Option<&StepView> {
        self.steps.iter().find(|s| s.status == StepStatus::Current)
    }
}
