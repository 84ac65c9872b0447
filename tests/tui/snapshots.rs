//! What each pane looks like on the fake machine (a zombie demo and its parent, a daemon, a
//! socket in every state), rendered to ratatui's TestBackend and compared with insta.

use testkit::dashboard;

use std::time::Duration;

use crossterm::event::KeyCode;
use dashboard::{app, code, key, press, render, select_pid};
use ratatui::style::Color;
use tcplab::model::TcpState;
use tcplab::tui::app::ServerState;
use tcplab::tui::{fake, Event};

#[test]
fn processes_flat() {
    let app = app(140, 30);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn processes_tree() {
    let mut app = app(140, 30);
    press(&mut app, "t");
    insta::assert_snapshot!(render(&app));
}

#[test]
fn sockets_in_every_state() {
    let mut app = app(140, 30);
    press(&mut app, "2");
    insta::assert_snapshot!(render(&app));
}

/// The fake machine after one more refresh in which two connections moved on.
fn with_two_transitions(mut app: tcplab::tui::App) -> tcplab::tui::App {
    let mut next = fake::sample();
    next.taken_at = next.taken_at.map(|t| t + Duration::from_secs(2));
    for s in &mut next.sockets {
        if s.state == TcpState::Established {
            s.state = TcpState::FinWait1;
        } else if s.state == TcpState::CloseWait {
            s.state = TcpState::LastAck;
        }
    }
    app.update(Event::Snapshot(next));
    app
}

#[test]
fn state_machine_with_lit_edges() {
    let mut app = with_two_transitions(app(120, 45));
    press(&mut app, "3");
    insta::assert_snapshot!(render(&app));
}

/// The lessons on handshake and teardown need the diagram and the log together at 80×24.
#[test]
fn state_machine_at_80x24_has_a_diagram_and_the_log() {
    for h in [24, 30] {
        let mut app = with_two_transitions(app(80, h));
        press(&mut app, "3");
        let screen = render(&app);
        for lane in [
            "CLOSE 1 ─▶ LISTEN 2 ─▶ SYN_RECV 2 ─▶ ESTABLISHED 0",
            "FIN_WAIT1 2 ─▶ FIN_WAIT2 1 ─▶ TIME_WAIT 1 ─▶ CLOSE",
            "└─▶ CLOSING 1 ─▶ TIME_WAIT",
            "ESTABLISHED ─▶ CLOSE_WAIT 0 ─▶ LAST_ACK 2 ─▶ CLOSE",
        ] {
            assert!(
                screen.contains(lane),
                "{lane:?} missing at 80x{h}:\n{screen}"
            );
        }
        assert!(screen.contains("Recent transitions"), "{screen}");
        assert!(
            screen.contains("ESTABLISHED→FIN_WAIT1"),
            "the log at 80x{h}:\n{screen}"
        );
        if h == 24 {
            insta::assert_snapshot!(screen);
        }
    }
}

#[test]
fn lit_edges_fade_with_each_refresh_then_go_out() {
    let mut app = app(120, 45);
    let mut next = fake::sample();
    for s in &mut next.sockets {
        if s.state == TcpState::Established {
            s.state = TcpState::FinWait1;
        }
    }
    app.update(Event::Snapshot(next.clone()));
    let edge = |app: &tcplab::tui::app::App| {
        app.lit_edges()
            .into_iter()
            .find(|(a, b, _)| (*a, *b) == (TcpState::Established, TcpState::FinWait1))
            .map(|(_, _, age)| age)
    };
    assert_eq!(edge(&app), Some(0), "just taken: brightest");
    let t = app.theme;
    assert_ne!(
        t.lit_aged(0),
        t.lit_aged(1),
        "an older edge is drawn dimmer"
    );
    let mut ages = vec![];
    for _ in 0..tcplab::tui::app::LIT_REFRESHES {
        app.update(Event::Snapshot(next.clone()));
        ages.push(edge(&app));
    }
    let lit = tcplab::tui::app::LIT_REFRESHES as usize - 1;
    assert_eq!(
        ages[..lit].iter().map(|a| a.unwrap()).collect::<Vec<_>>(),
        (1..=lit as u64).collect::<Vec<_>>()
    );
    assert_eq!(ages[lit], None, "out after {} refreshes", lit + 1);
}

/// A prefork server started from the dashboard, its /status answered.
fn with_server(app: &mut tcplab::tui::App) {
    app.server.state = ServerState::Running {
        pid: 300,
        addr: Some("127.0.0.1:8080".parse().unwrap()),
    };
    // What a real prefork server answers.
    app.server.status = Some(Ok(serde_json::json!({
        "pid": 300,
        "model": "prefork",
        "uptime_ms": 65_200,
        "shutdown_timeout_ms": 10_000,
        "connections_open": 3,
        "connections_total": 40,
        "requests": 17,
        "bytes_in": 1445,
        "bytes_out": 20_480,
        "workers": [
            {"uptime_ms": 65_100, "pid": 301, "started_unix_ms": 1_796_008_076_642_u64,
             "connections_open": 2, "connections_total": 25, "requests": 9,
             "bytes_in": 765, "bytes_out": 10_240},
            {"uptime_ms": 1_500, "pid": 302, "started_unix_ms": 1_796_008_140_242_u64,
             "connections_open": 1, "connections_total": 15, "requests": 8,
             "bytes_in": 680, "bytes_out": 10_240}
        ]
    })));
    app.server.log.push_back("worker 301 started".into());
}

#[test]
fn server_pane_running() {
    let mut app = app(120, 30);
    press(&mut app, "4");
    with_server(&mut app);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn signal_menu_on_the_zombies_parent() {
    let mut app = app(120, 30);
    select_pid(&mut app, 200);
    press(&mut app, "k");
    insta::assert_snapshot!(render(&app));
}

#[test]
fn signal_menu_on_a_zombie() {
    let mut app = app(120, 30);
    select_pid(&mut app, 201);
    press(&mut app, "k");
    // KILL is the fifth entry.
    for _ in 0..4 {
        app.update(code(KeyCode::Down));
    }
    insta::assert_snapshot!(render(&app));
}

#[test]
fn confirmation_for_kill() {
    let mut app = app(100, 24);
    select_pid(&mut app, 401);
    press(&mut app, "k");
    for _ in 0..4 {
        app.update(code(KeyCode::Down));
    }
    app.update(code(KeyCode::Enter));
    insta::assert_snapshot!(render(&app));
}

#[test]
fn details_of_the_zombies_parent() {
    let mut app = app(120, 30);
    select_pid(&mut app, 200);
    app.update(code(KeyCode::Enter));
    insta::assert_snapshot!(render(&app));
}

#[test]
fn help_overlay() {
    let mut app = app(120, 30);
    app.update(key('?'));
    insta::assert_snapshot!(render(&app));
}

/// The help at `w`×`h`: its first screen, then after Down, j and PgDn, then back up with k.
fn help_screens(w: u16, h: u16) -> String {
    let mut app = app(w, h);
    app.update(key('?'));
    let mut screens = render(&app);
    app.update(code(KeyCode::Down));
    app.update(key('j'));
    app.update(code(KeyCode::PageDown));
    screens.push_str(&render(&app));
    app.update(code(KeyCode::End));
    app.update(key('k'));
    screens.push_str(&render(&app));
    screens
}

/// The help fits the screen (a margin on each side), wraps at words and scrolls.
#[test]
fn help_fits_wraps_and_scrolls_at_80x24() {
    let screens = help_screens(80, 24);
    assert!(screens.contains("↓ more"), "{screens}");
    assert!(screens.contains("↑ more"), "{screens}");
    insta::assert_snapshot!(screens);
}

#[test]
fn help_fits_wraps_and_scrolls_at_120x40() {
    let screens = help_screens(120, 40);
    // Here it all fits: no "more", and scrolling keys leave it where it is.
    assert!(!screens.contains("more"), "{screens}");
    insta::assert_snapshot!(screens);
}

/// Every word of every help line can be read at some scroll position, whole.
#[test]
fn help_shows_every_word_whole() {
    for (w, h) in [(80u16, 24u16), (120, 40), (40, 12)] {
        let mut app = app(w, h);
        app.update(key('?'));
        let mut seen = String::new();
        for _ in 0..500 {
            let screen = render(&app);
            seen.push_str(&screen);
            if !screen.contains("↓ more") {
                break;
            }
            app.update(code(KeyCode::Down));
        }
        assert_eq!(
            app.overlay,
            tcplab::tui::state::Overlay::Help,
            "Down keeps it open"
        );
        let words: String = seen.split(['│', '"', '\n']).collect::<Vec<_>>().join(" ");
        let words: Vec<&str> = words.split_whitespace().collect();
        for (_, what) in tcplab::tui::render::help::KEYS {
            for word in what.split_whitespace() {
                assert!(
                    words.contains(&word),
                    "{word:?} of {what:?} not shown whole at {w}x{h}:\n{seen}"
                );
            }
        }
    }
}

#[test]
fn demo_menu() {
    let mut app = app(100, 24);
    app.update(key('d'));
    insta::assert_snapshot!(render(&app));
}

#[test]
fn tiny_terminal_every_pane() {
    let mut app = app(40, 12);
    let mut screens = String::new();
    for k in ['1', '2', '3', '4'] {
        app.update(key(k));
        screens.push_str(&render(&app));
    }
    app.update(key('?'));
    screens.push_str(&render(&app));
    app.update(key('x'));
    app.update(key('k'));
    screens.push_str(&render(&app));
    insta::assert_snapshot!(screens);
}

#[test]
fn survives_any_size() {
    let mut app = app(40, 12);
    for pane in ['1', '2', '3', '4', '?'] {
        app.update(key(pane));
        for w in [1u16, 5, 19, 20, 33, 41, 77, 80] {
            for h in [1u16, 2, 5, 6, 7, 12, 25] {
                app.update(Event::Resize(w, h));
                render(&app);
            }
        }
        app.update(code(KeyCode::Esc));
    }
}

#[test]
fn zombies_are_red_and_no_color_is_respected() {
    let app = app(140, 30);
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(140, 30)).unwrap();
    term.draw(|f| tcplab::tui::draw(f, &app)).unwrap();
    let buf = term.backend().buffer().clone();
    let zombie_row = (0..30)
        .find(|&y| {
            let line: String = (0..140).map(|x| buf[(x, y)].symbol().to_string()).collect();
            line.contains("   201 ")
        })
        .expect("zombie row drawn");
    assert_eq!(buf[(3, zombie_row)].fg, Color::Red);

    let mut plain = dashboard::app(140, 30);
    plain.theme = tcplab::tui::theme::Theme { color: false };
    term.draw(|f| tcplab::tui::draw(f, &plain)).unwrap();
    let buf = term.backend().buffer();
    for y in 0..30 {
        for x in 0..140 {
            assert_eq!(
                buf[(x, y)].fg,
                Color::Reset,
                "colour at {x},{y} with NO_COLOR"
            );
            assert_eq!(
                buf[(x, y)].bg,
                Color::Reset,
                "colour at {x},{y} with NO_COLOR"
            );
        }
    }
}

/// The fake machine refreshed twice with `tcp_info`, a second apart: rates known.
fn with_traffic(w: u16, h: u16) -> tcplab::tui::App {
    let mut app = app(w, h);
    for step in 1..=2 {
        app.update(Event::Snapshot(fake::sample_with_info(step)));
    }
    app
}

#[test]
fn sockets_with_rtt_cwnd_retransmits_and_rates() {
    let mut app = with_traffic(160, 30);
    press(&mut app, "2");
    assert!(app.needs_info());
    insta::assert_snapshot!(render(&app));
}

#[test]
fn processes_with_net_columns() {
    let app = with_traffic(160, 30);
    assert!(app.needs_info() && app.needs_owners());
    insta::assert_snapshot!(render(&app));
}

/// Enter on the established connection: its graphs over a few refreshes and its tcp_info.
fn connection_detail(w: u16, h: u16) -> String {
    let mut app = with_traffic(w, h);
    press(&mut app, "2");
    let at = app
        .socks
        .rows
        .iter()
        .position(|&i| app.snapshot.sockets[i].state == TcpState::Established)
        .unwrap();
    app.socks.cursor.at = at;
    app.update(code(KeyCode::Enter));
    assert!(app.needs_info());
    for step in 3..=12 {
        app.update(Event::Snapshot(fake::sample_with_info(step)));
    }
    render(&app)
}

#[test]
fn connection_detail_at_160x40() {
    insta::assert_snapshot!(connection_detail(160, 40));
}

#[test]
fn connection_detail_at_80x24() {
    insta::assert_snapshot!(connection_detail(80, 24));
}

/// A header line too long for the terminal loses whole items, marked `…`, never half a
/// number.
#[test]
fn the_header_never_cuts_a_number() {
    let mut app = app(80, 24);
    let mut s = fake::sample();
    let template = s
        .sockets
        .iter()
        .find(|k| k.state == TcpState::CloseWait)
        .unwrap()
        .clone();
    for i in 0..125u16 {
        let mut k = template.clone();
        k.remote.set_port(20_000 + i);
        s.sockets.push(k);
    }
    app.update(Event::Snapshot(s));
    let screen = render(&app);
    let lines: Vec<&str> = screen.lines().take(3).collect();
    for l in &lines {
        let l = l.trim_matches('"').trim_end();
        assert!(l.chars().count() <= 80);
    }
    assert!(lines[0].contains("transitions: sampled") || lines[0].contains('…'));
    assert!(!lines[0].contains("transitions: sa…"), "{}", lines[0]);
    let tcp = lines[2];
    assert!(
        tcp.contains("CLOSE_WAIT 126") || !tcp.contains("CLOSE_WAIT"),
        "{tcp}"
    );
    assert!(tcp.trim_end_matches([' ', '"']).ends_with('…'), "{tcp}");
}

/// A refresh in which `pid` runs tcplab by its full path with `args`, as a build tree does.
fn run_from_a_path(app: &mut tcplab::tui::App, pid: i32, args: &[&str]) {
    let mut s = fake::sample();
    for p in &mut s.processes {
        if p.pid == pid {
            let mut argv = vec!["/home/you/tcplab/target/debug/tcplab".to_string()];
            argv.extend(args.iter().map(|a| a.to_string()));
            p.cmdline = Some(argv);
        }
    }
    app.update(Event::Snapshot(s));
}

/// At 80 columns COMMAND gets the spare width and shows the program's name, not its path.
#[test]
fn at_80_columns_the_command_is_readable() {
    let mut app = app(80, 24);
    run_from_a_path(&mut app, 200, &["demo", "zombie"]);
    let screen = render(&app);
    assert!(screen.contains("tcplab demo zombie"), "{screen}");
    assert!(!screen.contains("/home/you"), "{screen}");
}

/// A filtered socket list at 80 columns: the footer counts what the list shows and leaves the
/// filter's label whole; nothing matching says so.
#[test]
fn a_filtered_socket_list_and_its_footer_at_80x24() {
    let mut app = app(80, 24);
    press(&mut app, "2/time_wait listen");
    app.update(code(KeyCode::Enter));
    let screen = render(&app);
    let footer = screen
        .lines()
        .find(|l| l.contains("filter: time_wait listen"))
        .unwrap_or_else(|| panic!("the filter's label is whole:\n{screen}"));
    assert!(footer.contains("LISTEN 2"), "{footer}");
    assert!(footer.contains("TIME_WAIT 1"), "{footer}");
    assert!(
        !footer.contains("ESTABLISHED"),
        "counts only what the list shows: {footer}"
    );
    insta::assert_snapshot!(screen);
    press(&mut app, "/nothing-matches-this");
    app.update(code(KeyCode::Enter));
    assert!(render(&app).contains("no match"));
}

/// Every pane as it looks at one size: the fake machine, two transitions in the log, a server
/// running with its /status answered.
fn every_pane(w: u16, h: u16) -> String {
    let mut app = with_two_transitions(app(w, h));
    with_server(&mut app);
    let mut screens = String::new();
    for pane in ["1", "2", "3", "4"] {
        press(&mut app, pane);
        screens.push_str(&render(&app));
        screens.push('\n');
    }
    screens
}

#[test]
fn every_pane_at_80x24() {
    insta::assert_snapshot!(every_pane(80, 24));
}

#[test]
fn every_pane_at_120x40() {
    insta::assert_snapshot!(every_pane(120, 40));
}

#[test]
fn every_pane_at_160x40() {
    insta::assert_snapshot!(every_pane(160, 40));
}

#[test]
fn every_pane_at_40x12() {
    insta::assert_snapshot!(every_pane(40, 12));
}

#[test]
fn every_pane_at_20x6() {
    insta::assert_snapshot!(every_pane(20, 6));
}

/// The row of `screen` that contains `what`.
fn row_with<'a>(screen: &'a str, what: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no row with {what:?}:\n{screen}"))
}

/// At 80 columns the Sockets pane keeps the queues and the timer: the TIME_WAIT countdown and
/// a listener's accept queue (waiting / backlog), beside the owners.
#[test]
fn at_80_columns_sockets_keep_the_queues_and_the_timer() {
    let mut app = app(80, 24);
    press(&mut app, "2");
    let screen = render(&app);
    let header = row_with(&screen, "│STATE");
    for title in ["LOCAL", "REMOTE", "RECV-Q", "SEND-Q", "TIMER", "OWNERS"] {
        assert!(header.contains(title), "{title}: {header}");
    }
    assert!(row_with(&screen, "TIME_WAIT  ").contains("tw 41.5s"));
    let listener: Vec<&str> = row_with(&screen, "0.0.0.0:8080")
        .split_whitespace()
        .collect();
    assert_eq!(listener[1..5], ["0.0.0.0:8080", "0.0.0.0:0", "2", "128"]);
    assert!(listener[5].starts_with("tcpla"), "{listener:?}");
    // Columns are as wide as what they show: with shorter rows the owners get the room.
    press(&mut app, "/listen time_wait");
    app.update(code(KeyCode::Enter));
    let screen = render(&app);
    assert!(row_with(&screen, "TIME_WAIT ").contains("tw 41.5s"));
    assert!(
        row_with(&screen, "0.0.0.0:8080").contains("2      128             tcplab[300]+2"),
        "the first owner and how many more: {screen}"
    );
}

/// A MARK column with nothing in it is not drawn; COMMAND gets its room.
#[test]
fn processes_without_marks_have_no_mark_column() {
    let mut app = app(80, 24);
    press(&mut app, "/yes");
    app.update(code(KeyCode::Enter));
    let screen = render(&app);
    assert!(row_with(&screen, "COMMAND").contains("MARK"), "{screen}");
    press(&mut app, "/");
    app.update(code(KeyCode::Esc));
    press(&mut app, "/301");
    app.update(code(KeyCode::Enter));
    let screen = render(&app);
    let header = row_with(&screen, "COMMAND");
    assert!(!header.contains("MARK"), "{screen}");
    let cpu = header.find("CPU%").unwrap();
    assert_eq!(
        header.find("COMMAND"),
        Some(cpu + "CPU% ".len()),
        "{header}"
    );
}

/// The smallest terminal the dashboard draws on still shows data in every pane; at 40×12 the
/// owners of a socket are readable.
#[test]
fn the_smallest_sizes_show_data() {
    let screens = every_pane(20, 6);
    let panes: Vec<&str> = screens.split("\n\n").collect();
    for (pane, what) in panes
        .iter()
        .zip(["init", "SYN_SENT", "LISTEN", "master 300"])
    {
        assert!(pane.contains(what), "{what}:\n{pane}");
    }
    let mut app = app(40, 12);
    press(&mut app, "2");
    let screen = render(&app);
    assert!(
        row_with(&screen, "FIN_WAIT1").contains("tcplab[30"),
        "{screen}"
    );
}

/// The server's /status as a table: a header, the server's totals, one row per worker.
#[test]
fn server_status_is_a_table() {
    let mut app = app(80, 24);
    with_server(&mut app);
    press(&mut app, "4");
    let screen = render(&app);
    let header = row_with(&screen, "REQUESTS");
    for title in ["PID", "UP", "OPEN", "CONNS", "REQUESTS", "IN", "OUT"] {
        assert!(header.contains(title), "{title}: {header}");
    }
    let cells = |what: &str| -> Vec<String> {
        row_with(&screen, what)
            .trim_matches(|c| c == '"' || c == '│' || c == ' ')
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        cells("  server  "),
        ["server", "300", "1m05s", "3", "40", "17", "1.4KiB", "20.0KiB"]
    );
    assert_eq!(
        cells("680B"),
        ["worker", "302", "1.5s", "1", "15", "8", "680B", "10.0KiB"]
    );
    assert!(
        screen.contains("graceful stop waits up to 10.0s"),
        "{screen}"
    );
    // The table is the server's own count, our poll in it; the port's counts leave it out.
    // At 80 columns both say so whole.
    assert!(screen.contains("  counts include our poll · "), "{screen}");
    assert!(
        screen.contains("kept-alive connection, left out of the counts above"),
        "{screen}"
    );
}

/// The Server pane names its processes as the Processes pane does: the program, not its path.
#[test]
fn server_processes_show_the_program_not_its_path() {
    let mut app = app(80, 24);
    run_from_a_path(&mut app, 300, &["serve", "--listen", "127.0.0.1:0"]);
    with_server(&mut app);
    press(&mut app, "4");
    let screen = render(&app);
    assert!(
        row_with(&screen, "master     300").contains("tcplab serve --listen 127.0.0.1:0"),
        "{screen}"
    );
    assert!(!screen.contains("/home/you"), "{screen}");
}

/// The hint line shows whole hints only, however narrow: every `key what` on it is one of the
/// pane's or the dashboard's, never cut (`P/M/N` without `sort`, `Tab pan` at 80 columns).
#[test]
fn the_hint_line_shows_whole_hints() {
    let shared = [
        ("?", "help"),
        ("q", "quit"),
        ("Tab", "pane"),
        ("d", "demos"),
        ("o", "overview"),
        ("o", "one pane"),
    ];
    for w in [60u16, 80, 100, 140] {
        for pane in ['1', '2', '3', '4'] {
            let mut app = app(w, 24);
            press(&mut app, &pane.to_string());
            let screen = render(&app);
            let last = screen.lines().last().unwrap().trim_matches('"');
            let hints: Vec<String> = app
                .pane_state(app.pane)
                .hints()
                .iter()
                .chain(&shared)
                .map(|(k, what)| format!("{k} {what}"))
                .collect();
            let shown: Vec<&str> = last
                .split("  ")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            assert!(shown.len() >= 2, "{w} cols, pane {pane}: {last:?}");
            for hint in shown {
                assert!(
                    hints.iter().any(|h| h == hint),
                    "{w} cols, pane {pane}: {hint:?} is not a whole hint in {last:?}"
                );
            }
        }
    }
}
