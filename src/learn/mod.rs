//! `tcplab learn`: the tutorial's lessons, walked through on this machine, each step checked
//! against the live kernel.
//!
//! - [`lesson`]: a lesson file's format and parser; [`catalog`]: the lessons built in.
//! - [`check`]: the facts a step waits for, evaluated on a snapshot and transitions.
//! - [`watch`]: the live source and tracer the checks read.
//! - [`session`]: the open lesson, the next step, progress ([`progress`]) saved as steps pass.
//! - [`exercise`]: `tcplab learn check`, the exercises graded from a shell.
//! - [`walk`]: the lesson in a plain terminal, step by step; [`view`]: what the dashboard's
//!   lesson panel shows.

pub mod catalog;
pub mod check;
pub mod exercise;
pub mod lang;
pub mod lesson;
pub mod progress;
pub mod session;
pub mod view;
pub mod walk;
pub mod watch;

use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{LearnArgs, LearnCommand};
use lang::Lang;
use progress::{LessonState, Progress};

fn env_lang(asked: Option<Lang>) -> Lang {
    Lang::choose(asked, |k| std::env::var(k).ok())
}

/// How often a lesson's checks look at the kernel unless `--interval` says otherwise.
const INTERVAL: Duration = Duration::from_millis(500);

pub fn run(args: LearnArgs) -> anyhow::Result<ExitCode> {
    let lang = env_lang(args.lang);
    if let Some(command) = &args.command {
        if let Some(why) = misplaced(&args, command) {
            eprintln!("tcplab learn: {why}");
            return Ok(ExitCode::from(2));
        }
    }
    match args.command {
        Some(LearnCommand::Check(c)) => return exercise::run(c.exercise, c.port, lang),
        Some(LearnCommand::List) => return list(lang),
        None => {}
    }
    let path = progress::path(|k| std::env::var_os(k))?;
    if let Some(name) = &args.lesson {
        if catalog::find(&catalog::lessons(lang), name).is_none() {
            eprintln!("tcplab learn: no lesson `{name}`: `tcplab learn list` shows them");
            return Ok(ExitCode::from(2));
        }
    }
    if args.reset {
        let mut p = Progress::load(&path).unwrap_or_default();
        match &args.lesson {
            Some(name) => {
                let lessons = catalog::lessons(lang);
                if let Some(l) = catalog::find(&lessons, name) {
                    p.lessons.remove(&l.id);
                }
            }
            None => p = Progress::default(),
        }
        p.save(&path)?;
    }
    let port = match args.port {
        Some(p) => p,
        None => free_port()?,
    };
    let mut session = session::Session::new(lang, port, path)?;
    if let Some(name) = &args.lesson {
        session.open_lesson(name);
    }
    let interval = args.interval.unwrap_or(INTERVAL);
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        crate::tui::run_learning(session, interval)
    } else {
        walk::run(session, interval)
    }
}

/// What was given with `list` or `check` that only opening a lesson uses, said as the one line
/// that refuses it: dropping it without a word would leave `--reset list` listing old progress.
fn misplaced(args: &LearnArgs, command: &LearnCommand) -> Option<String> {
    let (name, takes) = match command {
        LearnCommand::List => ("list", "`tcplab learn list` takes only --lang"),
        LearnCommand::Check(_) => (
            "check",
            "`tcplab learn check EXERCISE --port P` takes --port after the exercise, and --lang",
        ),
    };
    if let Some(lesson) = &args.lesson {
        return Some(format!(
            "`{name}` takes no lesson: `tcplab learn {lesson}` opens lesson {lesson}"
        ));
    }
    [
        ("--reset", args.reset),
        ("--port", args.port.is_some()),
        ("--interval", args.interval.is_some()),
    ]
    .into_iter()
    .find(|(_, given)| *given)
    .map(|(flag, _)| format!("{flag} is for opening a lesson; {takes}"))
}
/// A port no one listens on now, for the lesson's commands (`{port}`).
fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// `tcplab learn list`: every lesson with its state.
fn list(lang: Lang) -> anyhow::Result<ExitCode> {
    let path = progress::path(|k| std::env::var_os(k))?;
    let progress = Progress::load(&path)?;
    crate::output::print(&list_text(&progress, lang))
}

/// One row a lesson: number, id, state, title; the columns lined up in terminal columns (a
/// Chinese character takes two).
fn list_text(progress: &Progress, lang: Lang) -> String {
    use unicode_width::UnicodeWidthStr;
    let lessons = catalog::lessons(lang);
    let states: Vec<&str> = lessons
        .iter()
        .map(|l| state_name(progress.state(l), lang))
        .collect();
    let wide = states.iter().map(|s| s.width()).max().unwrap_or(0);
    let mut out = String::new();
    for (l, state) in lessons.iter().zip(states) {
        let pad = " ".repeat(wide - state.width());
        out.push_str(&format!(
            "{:>2}  {:<20} {state}{pad} {}\n",
            l.number, l.id, l.title
        ));
    }
    out
}

pub fn state_name(state: LessonState, lang: Lang) -> &'static str {
    match state {
        LessonState::NotStarted => lang.pick("not started", "未开始"),
        LessonState::InProgress => lang.pick("in progress", "进行中"),
        LessonState::Done => lang.pick("done", "完成"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn the_list_lines_up_in_chinese_too() {
        let mut p = Progress::default();
        let zombies = catalog::find(&catalog::lessons(Lang::Zh), "zombies")
            .unwrap()
            .clone();
        let done = p.lessons.entry(zombies.id.clone()).or_default();
        done.done = zombies.steps.iter().map(|s| s.id.clone()).collect();
        for lang in Lang::ALL {
            let text = list_text(&p, lang);
            // Where each row's title begins, in columns.
            let starts: std::collections::BTreeSet<usize> = text
                .lines()
                .zip(catalog::lessons(lang))
                .map(|(row, l)| row[..row.rfind(&l.title).unwrap()].width())
                .collect();
            assert_eq!(starts.len(), 1, "{lang}:\n{text}");
            assert!(text.contains(state_name(LessonState::Done, lang)), "{text}");
        }
    }
}
