//! The lesson panel in the dashboard: drawn beside the panes on a wide terminal and below them
//! on a narrow one, its keys, and the panes following the lesson's step.

use tcplab::learn::lang::Lang;
use tcplab::learn::session::Session;
use tcplab::learn::view::LessonView;
use tcplab::tui::app::Pane;
use tcplab::tui::event::LessonAction;
use tcplab::tui::{fake, Effect, Event};
use testkit::dashboard::{app, press, render};

/// A session on lesson `name` with no progress, checked once against the fake machine.
fn session(name: &str, lang: Lang) -> (Session, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::new(lang, 40123, dir.path().join("learn.json")).unwrap();
    assert!(s.open_lesson(name));
    // The fake machine's processes are the learner's, started since the lesson began: the
    // checks count no one else's.
    let mut snap = fake::sample();
    let now = tcplab::kernel::host::uptime().unwrap();
    for p in &mut snap.processes {
        p.uid = Some(tcplab::kernel::proc::own_uid());
        p.start_time = now;
    }
    s.tick_with(&snap).unwrap();
    (s, dir)
}

fn with_panel(w: u16, h: u16, s: &Session) -> tcplab::tui::App {
    let mut a = app(w, h);
    // L starts the session (and a refresh, when owners were not looked up before).
    let effects = press(&mut a, "L");
    assert_eq!(effects[0], Effect::Lesson(LessonAction::Start));
    assert!(
        effects[1..].iter().all(|e| *e == Effect::Refresh),
        "{effects:?}"
    );
    a.update(Event::Lesson {
        view: Box::new(LessonView::of(s)),
        said: None,
    });
    a
}

#[test]
fn the_zombie_lesson_below_the_panes_at_80x24() {
    let (s, _dir) = session("zombies", Lang::En);
    let a = with_panel(80, 24, &s);
    insta::assert_snapshot!(render(&a));
}

#[test]
fn the_zombie_lesson_beside_the_panes_at_160x40() {
    let (s, _dir) = session("zombies", Lang::En);
    let a = with_panel(160, 40, &s);
    insta::assert_snapshot!(render(&a));
}

#[test]
fn the_handshake_lesson_in_chinese_at_80x24() {
    let (s, _dir) = session("handshake", Lang::Zh);
    let a = with_panel(80, 24, &s);
    insta::assert_snapshot!(render(&a));
}

#[test]
fn the_lesson_list_with_states() {
    let (s, _dir) = session("zombies", Lang::En);
    let mut a = with_panel(160, 40, &s);
    press(&mut a, "O");
    let screen = render(&a);
    assert!(
        screen.contains(" 8 Zombies: children nobody waited for (in progress)"),
        "{screen}"
    );
    assert!(screen.contains("18 The complete server"), "{screen}");
    assert!(screen.contains("19 io_uring"), "{screen}");
}

#[test]
fn keys_panes_follow_and_hide() {
    let (s, _dir) = session("zombies", Lang::En);
    let mut a = with_panel(80, 24, &s);
    // The step is about processes: the Processes pane, filtered to the demo's.
    assert_eq!(a.pane, Pane::Processes);
    assert_eq!(a.filter().map(|f| f.text.as_str()), Some("tcplab"));
    // The step's action keys stay the dashboard's: z starts the zombie demo.
    assert!(matches!(
        press(&mut a, "z").as_slice(),
        [Effect::SpawnDemo { name, .. }] if name == "zombie"
    ));
    assert_eq!(press(&mut a, "]"), [Effect::Lesson(LessonAction::Open(8))]);
    assert_eq!(press(&mut a, "["), [Effect::Lesson(LessonAction::Open(6))]);
    assert_eq!(press(&mut a, "S"), [Effect::Lesson(LessonAction::Skip)]);
    // The fake machine has the demo's parent 200 with three zombies: step 1 passed on it, and
    // step 2's command names that parent.
    assert_eq!(press(&mut a, "C"), [Effect::Copy("kill 200".to_string())]);
    // A socket lesson points the Sockets pane at the lesson's port.
    let (h, _dir2) = session("handshake", Lang::En);
    a.update(Event::Lesson {
        view: Box::new(LessonView::of(&h)),
        said: None,
    });
    assert_eq!(a.pane, Pane::Sockets);
    assert_eq!(a.filter().map(|f| f.text.as_str()), Some(":40123"));
    // A demo's step: the Processes pane filtered to that demo's command line, not to every
    // tcplab on the machine.
    let (d, _dir3) = session("daemon", Lang::En);
    a.update(Event::Lesson {
        view: Box::new(LessonView::of(&d)),
        said: None,
    });
    assert_eq!(a.pane, Pane::Processes);
    assert_eq!(a.filter().map(|f| f.text.as_str()), Some("demo daemon"));
    a.update(Event::Lesson {
        view: Box::new(LessonView::of(&h)),
        said: None,
    });
    assert!(render(&a).contains("Lesson 2/19"));
    press(&mut a, "L");
    assert!(!render(&a).contains("Lesson 2/19"));
    assert!(!a.needs_owners() || a.pane == Pane::Sockets);
}

#[test]
fn the_panel_scrolls_and_the_list_keeps_the_open_lesson_in_sight() {
    let (s, _dir) = session("zombies", Lang::En);
    let mut a = with_panel(80, 24, &s);
    let before = render(&a);
    assert!(
        before.contains("│Zombies: children nobody waited for"),
        "{before}"
    );
    // Down to the explanation below the steps, and back.
    press(&mut a, "}}}");
    let after = render(&a);
    assert!(
        !after.contains("│Zombies: children nobody waited for"),
        "{after}"
    );
    assert!(after.contains("A child that has exited"), "{after}");
    press(&mut a, "{{{");
    assert_eq!(render(&a), before);
    // Lesson 8 of 19 in a panel of a few lines: the list scrolls to it.
    press(&mut a, "O");
    let list = render(&a);
    assert!(list.contains(" 8 Zombies"), "{list}");
}

/// Every lesson, in each language, at 80x24 and 160x40, with each of its steps the current one
/// and scrolled down through its text: every row of the panel keeps both borders. A Chinese
/// character (two columns) wrapped into the last column covered the right border, and the
/// terminal showed the text running past it.
#[test]
fn every_lesson_fits_its_panel_in_both_languages() {
    use ratatui::backend::TestBackend;
    use ratatui::layout::Rect;
    use std::cmp::Ordering;
    use tcplab::learn::view::StepStatus;
    for lang in Lang::ALL {
        let (mut s, _dir) = session("zombies", lang);
        // Each lesson with each step the current one.
        let mut views = Vec::new();
        for id in s.lessons.iter().map(|l| l.id.clone()).collect::<Vec<_>>() {
            assert!(s.open_lesson(&id));
            let base = LessonView::of(&s);
            // What the panel shows names the lesson's port, never the placeholder.
            for step in &base.steps {
                let shown = format!("{:?} {:?}", step.command, step.paragraphs);
                assert!(!shown.contains("{port}"), "{lang} {id}: {shown}");
            }
            for current in 0..base.steps.len() {
                let mut view = base.clone();
                for (i, step) in view.steps.iter_mut().enumerate() {
                    step.status = match i.cmp(&current) {
                        Ordering::Less => StepStatus::Done,
                        Ordering::Equal => StepStatus::Current,
                        Ordering::Greater => StepStatus::Later,
                    };
                }
                views.push((format!("{lang}, lesson {id}, step {}", current + 1), view));
            }
        }
        for (w, h) in [(80, 24), (160, 40)] {
            let panel = tcplab::tui::layout::areas_with(Rect::new(0, 0, w, h), true)
                .lesson
                .unwrap();
            let mut a = with_panel(w, h, &s);
            let mut term = ratatui::Terminal::new(TestBackend::new(w, h)).unwrap();
            for (what, view) in &views {
                a.update(Event::Lesson {
                    view: Box::new(view.clone()),
                    said: None,
                });
                for _ in 0..8 {
                    term.draw(|f| tcplab::tui::draw(f, &a)).unwrap();
                    let buf = term.backend().buffer();
                    for y in panel.y + 1..panel.bottom() - 1 {
                        let row: String = (panel.x..panel.right())
                            .map(|x| buf[(x, y)].symbol().to_string())
                            .collect();
                        assert_eq!(
                            (
                                buf[(panel.x, y)].symbol(),
                                buf[(panel.right() - 1, y)].symbol()
                            ),
                            ("│", "│"),
                            "{what}, {w}x{h}: {row}"
                        );
                    }
                    press(&mut a, "}");
                }
                press(&mut a, &"{".repeat(8));
            }
        }
    }
}

/// With a lesson open, `d` opens the demo menu on the demo the step runs, and a network demo
/// started from it listens on the lesson's port, where the check looks; a process demo takes no
/// port. (The menu started it on a port of its own, and the step could never pass.)
#[test]
fn a_demo_started_from_the_dashboard_uses_the_lessons_port() {
    let (s, _dir) = session("select", Lang::En);
    let mut a = with_panel(160, 40, &s);
    assert!(press(&mut a, "d").is_empty());
    assert_eq!(
        a.update(testkit::dashboard::code(crossterm::event::KeyCode::Enter)),
        [Effect::SpawnDemo {
            name: "select-limit".into(),
            args: vec!["--port".into(), "40123".into()],
        }]
    );
    let (z, _dir2) = session("zombies", Lang::En);
    a.update(Event::Lesson {
        view: Box::new(LessonView::of(&z)),
        said: None,
    });
    assert_eq!(
        press(&mut a, "z"),
        [Effect::SpawnDemo {
            name: "zombie".into(),
            args: vec![],
        }]
    );
}

/// What a step saw is echoed on the status line; longer than the terminal, it ends in `…` after
/// a whole word (it was cut where the terminal ended, mid-word: "and c").
#[test]
fn the_status_line_cuts_what_a_check_saw_after_a_whole_word() {
    let (s, _dir) = session("zombies", Lang::En);
    let mut a = with_panel(80, 24, &s);
    let saw =
        "parent 17514 is gone and so are its zombies: the subreaper adopted them and called wait()";
    a.update(Event::Lesson {
        view: Box::new(LessonView::of(&s)),
        said: Some((tcplab::tui::state::StatusKind::Info, format!("✓ {saw}"))),
    });
    let screen = render(&a);
    let line = screen.lines().rev().nth(1).unwrap();
    assert!(line.contains("✓ parent 17514 is gone"), "{screen}");
    assert!(
        line.trim_end_matches(['"', ' ']).ends_with("and…"),
        "{line}"
    );
}

/// A lesson resumed later (the next day): the zombies' parent that step 1 found may be long
/// gone and its pid given to another process, so step 2's `kill {parent}` names no pid until
/// that very process (pid and start time) is seen again.
#[test]
fn a_resumed_lesson_names_no_pid_of_a_process_that_is_gone() {
    let (s, dir) = session("zombies", Lang::En);
    let reap = s.lesson().steps[1].clone();
    assert_eq!(s.command(&reap).as_deref(), Some("kill 200"));
    let mut resumed = Session::new(Lang::En, 40123, dir.path().join("learn.json")).unwrap();
    assert!(resumed.open_lesson("zombies"));
    assert_eq!(resumed.command(&reap).as_deref(), Some("kill PARENT"));
    // The same parent, seen again by a check: its pid is named.
    let started = resumed.lesson_progress().unwrap().memory["parent"].start;
    let mut snap = fake::sample();
    for p in &mut snap.processes {
        p.uid = Some(tcplab::kernel::proc::own_uid());
        p.start_time = started.unwrap();
    }
    resumed.tick_with(&snap).unwrap();
    assert_eq!(resumed.command(&reap).as_deref(), Some("kill 200"));
}
