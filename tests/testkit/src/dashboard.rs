//! Shared by the dashboard's tests: an `App` fed the fake machine, and rendering to text.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tcplab::kernel::host::{CpuTimes, Memory};
use tcplab::tui::event::HostInfo;
use tcplab::model::Snapshot;
use tcplab::tui::theme::Theme;
use tcplab::tui::{draw, fake, App, Effect, Event};

/// An app that has seen the fake machine twice, one second apart (so CPU% exists), listing
/// every process, kernel threads included, by pid (not the first screen's choices, so each
/// row of the fake machine stays in view).
pub fn app(w: u16, h: u16) -> App {
    let mut app = App::new(Duration::from_secs(1), (w, h), Theme { color: true });
    app.procs.kernel_threads = true;
    app.procs.sort = tcplab::tui::views::Sort {
        column: tcplab::tui::views::ProcColumn::Pid,
        descending: false,
    };
    // Two readings of the CPU counters (30% user, 10% system between them) and memory.
    let gib = 1 << 30;
    let mut host = HostInfo {
        hostname: "lab".into(),
        uptime: Duration::from_secs(93_784),
        load: [0.5, 0.25, 0.1],
        cpu: Some(CpuTimes {
            user: 1000,
            system: 500,
            total: 10_000,
        }),
        memory: Some(Memory {
            total: 8 * gib,
            available: 5 * gib,
            swap_total: 2 * gib,
            swap_free: gib * 3 / 2,
        }),
    };
    app.update(Event::Host(host.clone()));
    host.cpu = Some(CpuTimes {
        user: 1300,
        system: 600,
        total: 11_000,
    });
    app.update(Event::Host(host));
    let (first, second) = two_readings();
    app.update(Event::Snapshot(first));
    app.update(Event::Snapshot(second));
    app
}

/// The fake machine read twice, one second apart, `yes` busy (97% of a core) in between: what
/// makes CPU% exist.
pub fn two_readings() -> (Snapshot, Snapshot) {
    let first = fake::sample();
    let mut second = first.clone();
    second.taken_at = second.taken_at.map(|t| t + Duration::from_secs(1));
    for p in &mut second.processes {
        if p.comm == "yes" {
            p.cpu_time += Duration::from_millis(970);
        }
    }
    (first, second)
}

pub fn render(app: &App) -> String {
    let mut term = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
    term.draw(|f| draw(f, app)).unwrap();
    term.backend().to_string()
}

pub fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn code(c: KeyCode) -> Event {
    Event::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

/// Presses each key in turn and returns every effect asked for.
pub fn press(app: &mut App, keys: &str) -> Vec<Effect> {
    keys.chars().flat_map(|c| app.update(key(c))).collect()
}

/// Moves the Processes selection to `pid`.
pub fn select_pid(app: &mut App, pid: i32) {
    app.update(code(KeyCode::Home));
    for _ in 0..app.procs.rows.len() {
        if app.procs.selected == Some(pid) {
            return;
        }
        app.update(code(KeyCode::Down));
    }
    assert_eq!(app.procs.selected, Some(pid), "pid {pid} not in the list");
}

/// An app that has seen one real snapshot of this machine, as the dashboard takes it.
pub fn live_app() -> App {
    use tcplab::model::SnapshotSource;
    let mut app = App::new(Duration::from_secs(1), (120, 40), Theme { color: false });
    let snap = tcplab::kernel::live::LiveSource::new()
        .snapshot()
        .expect("a snapshot of this machine");
    app.update(Event::Snapshot(snap));
    app
}

/// The Processes pane's marks of `pid` (`D` daemon, `L` leader, ...), if the app lists it.
pub fn marks_of(app: &App, pid: i32) -> Option<String> {
    let p = app.snapshot.processes.iter().find(|p| p.pid == pid)?;
    Some(tcplab::tui::views::marks(p, &app.relations))
}
