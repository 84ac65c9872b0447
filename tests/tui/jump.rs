//! `Z`: from anywhere to the next zombie parent, zombie, or process the dashboard started.

use testkit::dashboard;

use crossterm::event::KeyCode;
use dashboard::{app, code, press, render};
use tcplab::tui::app::Pane;
use tcplab::tui::event::ChildKind;
use tcplab::tui::{fake, Event};

#[test]
fn z_walks_the_zombies_parents_their_zombies_then_what_was_started_here() {
    let mut app = app(120, 30);
    // The header names the parents and the key.
    assert!(render(&app).contains("unreaped by: 1(1) 200(3) (Z)"));
    app.update(Event::Spawned {
        kind: ChildKind::Demo("signal".into()),
        pid: 400,
        log: None,
    });
    // From a process that is none of the stops (bash), the first stop comes first.
    dashboard::select_pid(&mut app, 100);
    press(&mut app, "2");
    let mut seen = Vec::new();
    for _ in 0..8 {
        press(&mut app, "Z");
        assert_eq!(app.pane, Pane::Processes, "Z shows the Processes pane");
        seen.push(app.procs.selected.unwrap());
        // The selection is on screen.
        let (_, rows) = app.table_rows();
        let c = app.procs.cursor;
        assert!(c.at >= c.offset && c.at < c.offset + rows);
    }
    assert_eq!(seen, [1, 500, 200, 201, 202, 203, 400, 1]);
    let (_, said) = app.status.clone().unwrap();
    assert!(
        said.starts_with("Z 1/7: init (1) has not reaped 1 zombie"),
        "{said}"
    );
    press(&mut app, "ZZ");
    let (_, said) = app.status.clone().unwrap();
    assert_eq!(
        said,
        "Z 3/7: tcplab (200) has not reaped 3 zombie child(ren) · Z next"
    );
    press(&mut app, "Z");
    assert!(render(&app).contains("zombie 201: exited, waiting for 200 to reap it"));
}

#[test]
fn z_shows_a_zombie_the_filter_hid() {
    let mut app = app(120, 30);
    press(&mut app, "/yes");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.procs.rows.len(), 1);
    press(&mut app, "Z");
    assert_eq!(app.procs.selected, Some(1));
    assert!(app.procs.filter.text.is_empty(), "the filter made way");
    assert!(app.procs.rows.len() > 1);
}

#[test]
fn z_without_zombies_or_demos_says_so() {
    let mut app = app(120, 30);
    let mut s = fake::sample();
    s.processes.retain(|p| !p.is_zombie());
    app.update(Event::Snapshot(s));
    let before = app.procs.selected;
    press(&mut app, "Z");
    assert_eq!(app.procs.selected, before);
    let (_, said) = app.status.clone().unwrap();
    assert!(
        said.starts_with("no zombies, and nothing started here"),
        "{said}"
    );
}

/// A zombie parent that named itself with a newline, an escape sequence and a bidi override:
/// the status line `Z` writes (and the notices that keep it) shows them as `?`.
#[test]
fn z_escapes_a_hostile_name() {
    let mut app = app(120, 30);
    let mut s = fake::sample();
    let init = s.processes.iter_mut().find(|p| p.pid == 1).unwrap();
    init.comm = "in\nit\x1b[31m\u{202E}".into();
    app.update(Event::Snapshot(s));
    dashboard::select_pid(&mut app, 100);
    press(&mut app, "Z");
    assert_eq!(app.procs.selected, Some(1));
    let (_, said) = app.status.clone().unwrap();
    assert!(
        said.starts_with("Z 1/6: in?it?[31m? (1) has not reaped 1 zombie"),
        "{said:?}"
    );
    let notice = app.notices.back().unwrap();
    assert!(!notice.chars().any(char::is_control), "{notice:?}");
}
