//! One learner's walk through the lessons: which lesson is open, which step is next, its check
//! watched until it holds, progress saved as each step is done. The plain walk-through and the
//! dashboard's lesson panel both drive this.

use std::path::PathBuf;

use super::catalog;
use super::check::{Found, Memory, Verdict};
use super::lang::Lang;
use super::lesson::{Lesson, Step};
use super::progress::{LessonProgress, LessonState, Progress};
use super::watch::Watcher;
use crate::model::Snapshot;

pub struct Session {
    pub lessons: Vec<Lesson>,
    pub progress: Progress,
    path: PathBuf,
    pub watcher: Watcher,
    /// Index of the open lesson.
    pub open: usize,
    /// The open step's last verdict.
    pub verdict: Option<Verdict>,
    /// What each step's check saw when it passed in this run, by step id.
    pub passed: std::collections::BTreeMap<String, String>,
    /// The remembered processes (by name) the last snapshot checked did not have: their pids
    /// may name other processes by now. None before the first check of the open lesson.
    gone: Option<std::collections::BTreeSet<String>>,
}

/// What a tick changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The step's check passed: the step (by index) and what was seen.
    StepDone(usize, String),
}

impl Session {
    pub fn new(lang: Lang, port: u16, path: PathBuf) -> anyhow::Result<Session> {
        let progress = Progress::load(&path)?;
        let lessons = catalog::lessons(lang);
        let open = lessons
            .iter()
            .position(|l| progress.state(l) != LessonState::Done)
            .unwrap_or(0);
        let mut s = Session {
            lessons,
            progress,
            path,
            watcher: Watcher::new(port, lang),
            open,
            verdict: None,
            passed: Default::default(),
            gone: None,
        };
        s.opened();
        Ok(s)
    }

    pub fn lang(&self) -> Lang {
        self.watcher.lang
    }

    pub fn port(&self) -> u16 {
        self.watcher.port
    }

    /// Opens a lesson by id or number; false if there is none.
    pub fn open_lesson(&mut self, name: &str) -> bool {
        match catalog::find(&self.lessons, name) {
            Some(l) => {
                let id = l.id.clone();
                self.open = self.lessons.iter().position(|l| l.id == id).unwrap_or(0);
                self.opened();
                true
            }
            None => false,
        }
    }

    pub fn open_index(&mut self, i: usize) {
        if i < self.lessons.len() {
            self.open = i;
            self.opened();
        }
    }

    fn opened(&mut self) {
        self.verdict = None;
        self.gone = None;
        if self
            .lessons
            .get(self.open)
            .is_some_and(|l| l.steps.iter().any(|s| s.check.needs_transitions()))
        {
            // Without a tracer the checks say so; they never pass for lack of one.
            if let Err(e) = self.watcher.start_tracing() {
                self.watcher
                    .notices
                    .push(format!("cannot start tracing: {e}"));
            }
        }
        self.watcher.begin_lesson();
    }

    pub fn lesson(&self) -> &Lesson {
        &self.lessons[self.open]
    }

    pub fn lesson_progress(&self) -> Option<&LessonProgress> {
        self.progress.lessons.get(&self.lesson().id)
    }

    pub fn state(&self, lesson: &Lesson) -> LessonState {
        self.progress.state(lesson)
    }

    /// The open lesson's first step not done (or skipped), by index.
    pub fn next_step(&self) -> Option<usize> {
        let p = self.lesson_progress();
        self.lesson()
            .steps
            .iter()
            .position(|s| !p.is_some_and(|p| p.is_finished(&s.id)))
    }

    pub fn step_finished(&self, step: &Step) -> Option<&'static str> {
        let p = self.lesson_progress()?;
        if p.done.contains(&step.id) {
            Some("done")
        } else if p.skipped.contains(&step.id) {
            Some("skipped")
        } else {
            None
        }
    }

    fn memory(&self) -> Memory {
        self.lesson_progress()
            .map(|p| p.memory.clone())
            .unwrap_or_default()
    }

    /// The step's command with `{port}` and remembered facts filled in (unknown ones stay
    /// as their name in capitals: `PARENT`).
    pub fn command(&self, step: &Step) -> Option<String> {
        Some(self.fill(step.run.as_deref()?))
    }

    /// `text` (a command, or a paragraph that names one) with `{port}` and the remembered
    /// facts (`{parent}`) filled in; unknown ones stay as their name in capitals, and so do
    /// processes that are gone: `kill {parent}` must not name a pid that another process has
    /// been given since (a lesson resumed the next day).
    pub fn fill(&self, text: &str) -> String {
        let mut out = text.replace("{port}", &self.port().to_string());
        let memory = self.memory();
        let mut from = 0;
        while let Some(at) = out[from..].find('{').map(|i| from + i) {
            let Some(len) = out[at..].find('}') else {
                break;
            };
            let name = out[at + 1..at + len].to_string();
            let there = |f: &&Found| match &self.gone {
                Some(gone) => !gone.contains(&name),
                None => f.is_there_now(),
            };
            let value = memory
                .get(&name)
                .filter(there)
                .map(|v| v.pid.to_string())
                .unwrap_or_else(|| name.to_uppercase());
            out.replace_range(at..at + len + 1, &value);
            from = at + value.len();
        }
        out
    }

    /// Takes a snapshot and checks the open step.
    pub fn tick(&mut self) -> anyhow::Result<Option<Change>> {
        let snap = self.watcher.snapshot()?;
        self.tick_with(&snap)
    }

    /// Checks the open step against `snap`; saves progress when it passes.
    pub fn tick_with(&mut self, snap: &Snapshot) -> anyhow::Result<Option<Change>> {
        self.watcher.drain();
        let Some(i) = self.next_step() else {
            self.verdict = None;
            return Ok(None);
        };
        let mut memory = self.memory();
        let check = self.lesson().steps[i].check.clone();
        let verdict = self.watcher.evaluate(&check, snap, &mut memory);
        let id = self.lesson().id.clone();
        let change = if let Verdict::Passed(text) = &verdict {
            let step = self.lesson().steps[i].id.clone();
            let p = self.progress.lessons.entry(id).or_default();
            p.done.push(step);
            p.memory = memory;
            self.passed
                .insert(self.lesson().steps[i].id.clone(), text.clone());
            self.progress.save(&self.path)?;
            self.watcher.forget_transitions();
            Some(Change::StepDone(i, text.clone()))
        } else {
            None
        };
        self.gone = Some(
            self.memory()
                .into_iter()
                .filter(|(_, f)| f.in_snapshot(snap).is_none())
                .map(|(name, _)| name)
                .collect(),
        );
        self.verdict = Some(verdict);
        Ok(change)
    }

    /// Skips the open step, only when its check cannot be made here (never a tick).
    pub fn skip(&mut self) -> anyhow::Result<bool> {
        let (Some(i), Some(Verdict::Cannot(_))) = (self.next_step(), &self.verdict) else {
            return Ok(false);
        };
        let step = self.lesson().steps[i].id.clone();
        let id = self.lesson().id.clone();
        self.progress
            .lessons
            .entry(id)
            .or_default()
            .skipped
            .push(step);
        self.progress.save(&self.path)?;
        self.verdict = None;
        Ok(true)
    }

    /// Forgets the open lesson's progress (`all`: every lesson's).
    pub fn reset(&mut self, all: bool) -> anyhow::Result<()> {
        if all {
            self.progress = Progress::default();
        } else {
            let id = self.lesson().id.clone();
            self.progress.lessons.remove(&id);
        }
        self.progress.save(&self.path)?;
        self.opened();
        Ok(())
    }
}
