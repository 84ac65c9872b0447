//! The dashboard jumps to what each demo is about: the real demos' output names a focus that
//! `demo::focus` reads (so the lines and the reader cannot drift apart), and `App::update`
//! turns it into a selected process or the Sockets pane filtered to the demo's port.

use testkit::dashboard;
use testkit::demo;

use tcplab::demo::focus::{focus_of, Focus};
use tcplab::tui::app::Pane;
use tcplab::tui::event::ChildKind;
use tcplab::tui::{fake, Effect, Event};
use testkit::{subreaper, tcplab};

#[test]
fn every_demo_names_its_focus() {
    subreaper();
    let demos = [
        ("fork", false),
        ("zombie", false),
        ("orphan", false),
        ("daemon", false),
        ("signal", false),
        ("time-wait", true),
        ("close-wait", true),
        ("backlog", true),
        ("shared-accept", true),
        ("select-limit", true),
    ];
    for (name, by_port) in demos {
        let out = tcplab()
            .args(["demo", name, "--duration", "400ms"])
            .output()
            .unwrap();
        assert!(out.status.success(), "demo {name} failed: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        let focus = text
            .lines()
            .find_map(focus_of)
            .unwrap_or_else(|| panic!("demo {name} names no focus:\n{text}"));
        match focus {
            Focus::Port(port) => {
                assert!(by_port, "{name}: {focus:?}");
                assert!(text
                    .lines()
                    .next()
                    .unwrap()
                    .contains(&format!("port {port},")));
            }
            Focus::Process(pid) => {
                assert!(!by_port, "{name}: {focus:?}");
                // The process named is one the demo made, and it is gone now.
                assert!(text.contains(&pid.to_string()));
                assert!(!demo::exists(pid), "{name}: {pid} outlived the demo");
            }
        }
    }
}

fn spawn(app: &mut tcplab::tui::App, name: &str, line: &str) {
    app.update(Event::Spawned {
        kind: ChildKind::Demo(name.into()),
        pid: 150,
        log: None,
    });
    app.update(Event::ChildOutput {
        pid: 150,
        line: line.into(),
    });
}

#[test]
fn d_menu_starts_a_network_demo_and_shows_its_port() {
    let mut app = dashboard::app(120, 30);
    let names: Vec<String> = app.demos.iter().map(|(n, _)| n.clone()).collect();
    let at = names.iter().position(|n| n == "backlog").unwrap();
    dashboard::press(&mut app, "d");
    for _ in 0..at {
        dashboard::press(&mut app, "j");
    }
    let fx = app.update(dashboard::code(crossterm::event::KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::SpawnDemo {
            name: "backlog".into(),
            args: vec![]
        }]
    );
    spawn(
        &mut app,
        "backlog",
        "backlog demo: port 8080, pid 150, backlog 1",
    );
    assert_eq!(app.pane, Pane::Sockets);
    assert_eq!(app.socks.filter.text, ":8080");
    assert!(app.pending_select.is_none());
}

#[test]
fn d_menu_selects_the_process_a_demo_names_not_its_supervisor() {
    let mut app = dashboard::app(120, 30);
    app.pending_select = Some(ChildKind::Demo("daemon".into()));
    spawn(
        &mut app,
        "daemon",
        "daemon demo: supervisor 150 (stands in for your shell)",
    );
    app.update(Event::Snapshot(fake::sample()));
    assert!(
        app.pending_select.is_some(),
        "selected before the daemon was named"
    );
    app.update(Event::ChildOutput {
        pid: 150,
        line: "daemon demo: daemon 400 running".into(),
    });
    app.update(Event::Snapshot(fake::sample()));
    assert_eq!(app.pane, Pane::Processes);
    assert_eq!(app.procs.selected, Some(400));
    assert!(app.pending_select.is_none());
}
