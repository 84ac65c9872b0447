//! What the learner has done, kept between runs in `$XDG_STATE_HOME/tcplab/learn.json`
//! (`~/.local/state/tcplab/learn.json` when XDG_STATE_HOME is unset or not absolute): per lesson
//! the steps done and the facts found (pids later steps name).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::check::Memory;
use super::lesson::Lesson;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    #[serde(default)]
    pub lessons: BTreeMap<String, LessonProgress>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LessonProgress {
    /// Step ids done, in the order they were done.
    #[serde(default)]
    pub done: Vec<String>,
    /// Step ids skipped (their check could not be made here).
    #[serde(default)]
    pub skipped: Vec<String>,
    #[serde(default)]
    pub memory: Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LessonState {
    NotStarted,
    InProgress,
    Done,
}

impl LessonProgress {
    pub fn is_finished(&self, step: &str) -> bool {
        self.done.iter().any(|s| s == step) || self.skipped.iter().any(|s| s == step)
    }
}

impl Progress {
    pub fn state(&self, lesson: &Lesson) -> LessonState {
        let Some(p) = self.lessons.get(&lesson.id) else {
            return LessonState::NotStarted;
        };
        if lesson.steps.iter().all(|s| p.is_finished(&s.id)) {
            LessonState::Done
        } else if p.done.is_empty() && p.skipped.is_empty() {
            LessonState::NotStarted
        } else {
            LessonState::InProgress
        }
    }

    /// Reads the file; a missing file is no progress yet.
    pub fn load(path: &Path) -> anyhow::Result<Progress> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is not a progress file tcplab can read (--reset starts over)",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Progress::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the file atomically (a temporary file renamed over it), making its directory.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let dir = path
            .parent()
            .context("the progress path has no directory")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let tmp = dir.join(format!(".learn.json.{}", std::process::id()));
        let text = serde_json::to_vec_pretty(self)?;
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// Where progress lives, from the environment (`env` is `std::env::var_os` outside tests).
pub fn path(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> anyhow::Result<PathBuf> {
    let absolute = |v: Option<std::ffi::OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    let base = match absolute(env("XDG_STATE_HOME")) {
        Some(state) => state,
        None => absolute(env("HOME"))
            .context("neither XDG_STATE_HOME nor HOME is set to an absolute path: nowhere to keep progress")?
            .join(".local/state"),
    };
    Ok(base.join("tcplab").join("learn.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_home_then_home() {
        let env = |state: Option<&'static str>| {
            move |k: &str| match k {
                "XDG_STATE_HOME" => state.map(Into::into),
                "HOME" => Some("/home/ada".into()),
                _ => None,
            }
        };
        assert_eq!(
            path(env(Some("/s"))).unwrap(),
            Path::new("/s/tcplab/learn.json")
        );
        assert_eq!(
            path(env(None)).unwrap(),
            Path::new("/home/ada/.local/state/tcplab/learn.json")
        );
        // A relative XDG_STATE_HOME is invalid by the spec and ignored.
        assert_eq!(
            path(env(Some("rel"))).unwrap(),
            Path::new("/home/ada/.local/state/tcplab/learn.json")
        );
    }

    #[test]
    fn saves_loads_and_refuses_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a/b/learn.json");
        assert_eq!(Progress::load(&file).unwrap(), Progress::default());
        let mut p = Progress::default();
        p.lessons
            .entry("zombies".into())
            .or_default()
            .done
            .push("make".into());
        p.save(&file).unwrap();
        assert_eq!(Progress::load(&file).unwrap(), p);
        std::fs::write(&file, b"{not json").unwrap();
        let e = Progress::load(&file).unwrap_err();
        assert!(format!("{e:#}").contains("--reset"));
    }
}
