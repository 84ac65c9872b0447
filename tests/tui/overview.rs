//! The overview at 160×40 and more: every pane in its box, focus by Tab, number keys and
//! mouse, keys to the focused box; the history graphs fed by snapshots.

use testkit::dashboard;

use std::time::Duration;

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use dashboard::{app, code, press, render};
use tcplab::model::TcpState;
use tcplab::tui::app::Pane;
use tcplab::tui::{fake, App, Event};

/// The title line of the focused box: its border is drawn heavy (`┏`).
fn focused_title(screen: &str) -> Option<String> {
    let line = screen.lines().find(|l| l.contains('┏'))?;
    let from = line.find('┏')?;
    Some(line[from..].chars().skip(2).take(14).collect())
}

fn click(app: &mut App, column: u16, row: u16) {
    app.update(Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    }));
}

fn wheel_down(app: &mut App, column: u16, row: u16) {
    app.update(Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    }));
}

#[test]
fn overview_at_160x40() {
    let app = app(160, 40);
    let screen = render(&app);
    for title in [
        "┏ Processes",
        "┌ Sockets",
        "┌ State machine",
        "┌ History",
        "┌ Server",
    ] {
        assert!(screen.contains(title), "{title}:\n{screen}");
    }
    assert_eq!(focused_title(&screen).as_deref(), Some("Processes 16/1"));
    insta::assert_snapshot!(screen);
}

#[test]
fn overview_at_200x50() {
    let mut app = app(200, 50);
    press(&mut app, "3");
    let screen = render(&app);
    assert_eq!(focused_title(&screen).as_deref(), Some("State machine "));
    insta::assert_snapshot!(screen);
}

#[test]
fn smaller_terminals_and_o_show_one_pane() {
    for (w, h) in [(159, 40), (160, 39), (80, 24)] {
        let mut app = app(w, h);
        assert!(app.overview().is_none(), "{w}x{h}");
        assert!(!render(&app).contains("Sockets 13/13"), "{w}x{h}");
        press(&mut app, "o");
        assert!(app.overview().is_none(), "{w}x{h}");
        let (_, said) = app.status.clone().unwrap();
        assert!(said.contains("the overview needs 160x40"), "{said}");
    }
    let mut app = app(160, 40);
    assert!(render(&app).contains("Sockets 13/13"));
    press(&mut app, "o");
    assert!(app.overview().is_none());
    let screen = render(&app);
    assert!(
        !screen.contains("Sockets 13/13") && !screen.contains('┏'),
        "{screen}"
    );
    assert!(
        screen.contains("o overview"),
        "the hint says how to get it back"
    );
    press(&mut app, "o");
    assert!(app.overview().is_some());
    // A terminal grown to the overview's size shows every box with its rows.
    let mut grown = dashboard::app(120, 30);
    grown.update(Event::Resize(160, 40));
    assert!(render(&grown).contains("Sockets 13/13"));
}

#[test]
fn tab_and_number_keys_move_the_focus_and_keys_go_to_the_focused_box() {
    let mut app = app(160, 40);
    let order: Vec<Pane> = (0..4)
        .map(|_| {
            app.update(code(KeyCode::Tab));
            app.pane
        })
        .collect();
    assert_eq!(
        order,
        [Pane::Sockets, Pane::Machine, Pane::Server, Pane::Processes]
    );
    app.update(code(KeyCode::BackTab));
    assert_eq!(app.pane, Pane::Server);
    assert!(app.overview().is_some(), "focus moves inside the overview");
    press(&mut app, "2");
    assert_eq!(
        focused_title(&render(&app)).as_deref(),
        Some("Sockets 13/13 ")
    );
    // A filter typed now is the Sockets box's; the Processes box keeps all its rows.
    press(&mut app, "/listen");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.socks.filter.text, "listen");
    assert!(app.procs.filter.text.is_empty());
    let screen = render(&app);
    assert!(screen.contains("Sockets 2/13"), "{screen}");
    assert!(screen.contains("Processes 16/16"), "{screen}");
    // ↓ moves the focused box's cursor only.
    let procs_at = app.procs.cursor.at;
    app.update(code(KeyCode::Down));
    assert_eq!((app.socks.cursor.at, app.procs.cursor.at), (1, procs_at));
}

#[test]
fn a_click_focuses_a_box_and_selects_the_row_under_it() {
    let mut app = app(160, 40);
    let boxes = app.overview().unwrap();
    let socks = boxes.of(Pane::Sockets);
    // The third row of the Sockets table: border and header line above the first.
    click(&mut app, socks.x + 5, socks.y + 2 + 2);
    assert_eq!(app.pane, Pane::Sockets);
    assert_eq!(app.socks.cursor.at, 2);
    assert_eq!(
        app.selected_socket().map(|s| s.state),
        Some(TcpState::SynRecv)
    );
    // Back to the Processes box: its fifth row is pid 200, the zombies' parent.
    let procs = boxes.of(Pane::Processes);
    click(&mut app, procs.x + 3, procs.y + 2 + 4);
    assert_eq!(app.pane, Pane::Processes);
    assert_eq!(app.procs.selected, Some(200));
    // A click on a box's border focuses it and selects nothing else.
    let machine = boxes.of(Pane::Machine);
    click(&mut app, machine.x, machine.y);
    assert_eq!(app.pane, Pane::Machine);
    assert_eq!(app.procs.selected, Some(200));
    // The wheel scrolls the box under the pointer.
    wheel_down(&mut app, socks.x + 5, socks.y + 4);
    assert_eq!(app.socks.cursor.at, 5);
    assert_eq!(app.pane, Pane::Machine, "the wheel does not move the focus");
    // The History box takes no focus, and the wheel over it moves nothing.
    click(&mut app, boxes.history.x + 3, boxes.history.y + 3);
    assert_eq!(app.pane, Pane::Machine);
    // With the Sockets box focused, the wheel over the History box or the header moves nothing.
    press(&mut app, "2");
    for (x, y) in [(boxes.history.x + 3, boxes.history.y + 3), (3, 1)] {
        wheel_down(&mut app, x, y);
        assert_eq!(app.socks.cursor.at, 5);
    }
}

#[test]
fn a_page_is_the_focused_boxs_rows() {
    let mut app = app(160, 40);
    let (_, rows) = app.table_rows();
    let procs = app.overview().unwrap().of(Pane::Processes);
    assert_eq!(rows, procs.height as usize - 3);
    app.update(code(KeyCode::PageDown));
    assert_eq!(app.procs.cursor.at, rows);
}

/// The fake machine `n` times, a second apart, with `moved` connections going from
/// ESTABLISHED to FIN_WAIT1 and back each time.
fn refreshes(app: &mut App, n: u64) {
    let first = fake::sample();
    for i in 1..=n {
        let mut s = first.clone();
        s.taken_at = s.taken_at.map(|t| t + Duration::from_secs(10 + i));
        if i % 2 == 1 {
            for sock in &mut s.sockets {
                if sock.state == TcpState::Established {
                    sock.state = TcpState::FinWait1;
                }
            }
        }
        app.update(Event::Snapshot(s));
    }
}

#[test]
fn history_records_each_refresh_and_the_transitions_between() {
    let mut app = app(160, 40);
    let before = app.history.sockets.len();
    refreshes(&mut app, 6);
    let h = &app.history.sockets;
    assert_eq!(h.len(), before + 6);
    let last: Vec<_> = h.newest(6).collect();
    // Odd refreshes move the connection to FIN_WAIT1, even ones back (the fake's own clock
    // put ten seconds before the first).
    let estab: Vec<usize> = last
        .iter()
        .map(|s| s.counts.get(TcpState::Established))
        .collect();
    assert_eq!(estab, [0, 1, 0, 1, 0, 1]);
    let rates: Vec<Option<f64>> = last.iter().skip(1).map(|s| s.per_sec).collect();
    assert!(
        rates.iter().all(|r| r.is_some_and(|r| r > 0.0)),
        "a transition a second: {rates:?}"
    );
    let screen = render(&app);
    assert!(screen.contains("History · last"), "{screen}");
    assert!(screen.contains("transitions"), "{screen}");
    assert!(screen.contains("FIN_WAIT1 "), "{screen}");
}

/// htop's bars at the header's right on a wide terminal; at 80 columns a few words at the end
/// of the first line, the other lines keeping their width (the zombies' parents still shown).
#[test]
fn header_meters_and_how_they_degrade_at_80x24() {
    let wide = render(&app(160, 40));
    let lines: Vec<&str> = wide.lines().take(3).collect();
    assert!(
        lines[0].ends_with("CPU[|||||||||||           40.0%]\""),
        "{wide}"
    );
    assert!(
        lines[1].ends_with("Mem[||||||||||    3.0GiB/8.0GiB]\""),
        "{wide}"
    );
    assert!(
        lines[2].ends_with("Swp[|||||||     512.0MiB/2.0GiB]\""),
        "{wide}"
    );
    let narrow = render(&app(80, 24));
    let lines: Vec<&str> = narrow.lines().take(3).collect();
    assert!(lines[0].ends_with(" cpu 40% mem 38% \""), "{narrow}");
    assert!(!narrow.contains("CPU["), "{narrow}");
    assert!(lines[1].contains("unreaped by: 1(1) 200(3)"), "{narrow}");
    insta::assert_snapshot!(narrow);
}

/// The meters read the machine: memory as `free` reports it, CPU time that moves.
#[test]
fn the_meters_read_this_machine() {
    let host = tcplab::kernel::host::read();
    let mem = host.memory.expect("/proc/meminfo read");
    let free = std::process::Command::new("free")
        .arg("-b")
        .output()
        .unwrap();
    let free = String::from_utf8_lossy(&free.stdout);
    let total: u64 = free
        .lines()
        .find(|l| l.starts_with("Mem:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .expect("free -b prints Mem: total");
    assert_eq!(mem.total, total);
    assert!(mem.available <= mem.total && mem.available > 0);
    let before = host.cpu.expect("/proc/stat read");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = tcplab::kernel::host::read().cpu.unwrap();
        if now.total > before.total {
            assert!(now.user >= before.user && now.system >= before.system);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "CPU time never moved");
        std::thread::yield_now();
    }
}

/// Ten minutes are kept (600 refreshes at the default interval); the graph then covers them
/// all, several refreshes a column.
#[test]
fn history_keeps_the_last_ten_minutes() {
    let mut app = app(160, 40);
    refreshes(&mut app, 700);
    assert_eq!(app.history.sockets.len(), tcplab::tui::history::SAMPLES);
    let screen = render(&app);
    assert!(screen.contains("History · last 9m59s"), "{screen}");
    // Every other refresh had a transition: the peaks fill the whole graph.
    let row = screen
        .lines()
        .find(|l| l.contains("│transitions "))
        .expect("the transitions row");
    let graph: String = row
        .chars()
        .skip_while(|c| *c != '█')
        .take_while(|c| *c == '█')
        .collect();
    assert!(graph.chars().count() >= 10, "{row}");
}

/// Where transitions come from (the kernel's tracepoint, or sampling that misses short
/// states) is in the header at 80 columns too: the first line gives up the refresh's cost and
/// two of the three loads for it, not the other way round.
#[test]
fn the_header_says_where_transitions_come_from_at_80_columns() {
    use tcplab::model::TransitionSource;
    for (w, h) in [(80u16, 24u16), (100, 30), (160, 40)] {
        let mut app = app(w, h);
        let first = |app: &App| render(app).lines().next().unwrap().to_string();
        assert!(
            first(&app).contains("transitions: sampled"),
            "{w}x{h}: {}",
            first(&app)
        );
        app.update(Event::TraceReady {
            source: TransitionSource::Tracepoint,
            detail: "test".into(),
        });
        assert!(
            first(&app).contains("transitions: kernel"),
            "{w}x{h}: {}",
            first(&app)
        );
        if w >= 160 {
            // Room for all: the three loads and what the last refresh cost.
            let line = first(&app);
            assert!(line.contains("load 0.50 0.25 0.10"), "{line}");
            assert!(line.contains("refresh "), "{line}");
        }
    }
}
