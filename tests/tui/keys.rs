//! Key sequences on `App::update`: navigation, filter, sort, tree, the signal menu with its
//! confirmation, demos, the server keys, quitting. No terminal and no processes: the effects
//! the core asks for are the assertions.

use std::time::Duration;

use testkit::dashboard;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use dashboard::{app, code, key, press, render, select_pid};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use tcplab::kernel::exit::Exit;
use tcplab::tui::app::{Overlay, Pane, ServerState};
use tcplab::tui::event::{ChildKind, Reaped, SignalTarget};
use tcplab::tui::{fake, Effect, Event};

fn pids(app: &tcplab::tui::App) -> Vec<i32> {
    app.procs
        .rows
        .iter()
        .map(|r| app.snapshot.processes[r.idx].pid)
        .collect()
}

#[test]
fn arrows_move_and_stay_in_bounds() {
    let mut app = app(120, 30);
    assert_eq!(app.procs.selected, Some(1));
    app.update(code(KeyCode::Down));
    press(&mut app, "j");
    assert_eq!(app.procs.selected, Some(3));
    app.update(code(KeyCode::Up));
    assert_eq!(app.procs.selected, Some(2));
    app.update(code(KeyCode::End));
    assert_eq!(app.procs.selected, Some(500));
    app.update(code(KeyCode::Down));
    assert_eq!(app.procs.selected, Some(500));
    app.update(code(KeyCode::Home));
    app.update(code(KeyCode::Up));
    assert_eq!(app.procs.selected, Some(1));
}

#[test]
fn selection_follows_the_process_across_refreshes_and_survives_its_exit() {
    let mut app = app(120, 30);
    select_pid(&mut app, 401);
    // A process before it vanishes: the selection stays on 401.
    let mut s = fake::sample();
    s.processes.retain(|p| p.pid != 2);
    app.update(Event::Snapshot(s.clone()));
    assert_eq!(app.procs.selected, Some(401));
    // 401 itself vanishes: the cursor stays at its position, on a process that exists.
    s.processes.retain(|p| p.pid != 401);
    app.update(Event::Snapshot(s));
    assert_eq!(app.procs.selected, Some(402));
    render(&app);
}

#[test]
fn filter_narrows_and_escape_clears() {
    let mut app = app(120, 30);
    press(&mut app, "/sleep");
    assert!(app.procs.filter.editing);
    assert_eq!(pids(&app), vec![401]);
    app.update(code(KeyCode::Enter));
    assert!(!app.procs.filter.editing);
    // Keys act normally again after Enter: `t` toggles the tree, it is not typed.
    press(&mut app, "t");
    assert!(app.procs.tree);
    assert_eq!(pids(&app), vec![401]);
    app.update(code(KeyCode::Esc));
    assert_eq!(app.procs.rows.len(), app.snapshot.processes.len());
}

#[test]
fn socket_filter_by_state_and_port() {
    let mut app = app(120, 30);
    press(&mut app, "2/time-wait");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.socks.rows.len(), 1);
    app.update(code(KeyCode::Esc));
    press(&mut app, "/listen :22");
    let rows: Vec<u16> = app
        .socks
        .rows
        .iter()
        .map(|&i| app.snapshot.sockets[i].local.port())
        .collect();
    assert_eq!(rows, vec![22]);
}

#[test]
fn sort_keys_change_the_order() {
    let mut app = app(120, 30);
    press(&mut app, "P");
    assert_eq!(pids(&app)[0], 402, "the busy `yes` first by CPU");
    press(&mut app, "N");
    assert_eq!(pids(&app)[0], 1);
    press(&mut app, "I");
    assert_eq!(pids(&app)[0], 500, "inverted pid order");
    press(&mut app, ">");
    assert_eq!(app.procs.sort.column.title(), "PPID");
}

#[test]
fn tree_puts_children_under_parents() {
    let mut app = app(120, 30);
    press(&mut app, "t");
    let order = pids(&app);
    let at = |pid| order.iter().position(|p| *p == pid).unwrap();
    assert!(at(200) < at(201) && at(201) < at(202) && at(203) < at(400));
    assert!(app.procs.rows[at(203)].prefix.ends_with("└─ "));
}

#[test]
fn harmless_signal_is_sent_at_once() {
    let mut app = app(120, 30);
    select_pid(&mut app, 401);
    press(&mut app, "k");
    // CHLD is the tenth entry; its default is to ignore.
    for _ in 0..9 {
        app.update(code(KeyCode::Down));
    }
    let fx = app.update(code(KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Effect::Signal {
            target: SignalTarget::Process(401),
            signal: Signal::SIGCHLD,
            start: Some(Duration::from_secs(100)),
        }]
    );
    assert_eq!(app.overlay, Overlay::None);
}

#[test]
fn destructive_signal_needs_confirmation() {
    let mut app = app(120, 30);
    select_pid(&mut app, 401);
    press(&mut app, "k");
    assert!(
        app.update(code(KeyCode::Enter)).is_empty(),
        "TERM waits for y"
    );
    assert!(matches!(app.overlay, Overlay::Confirm(_)));
    // Anything but y cancels.
    assert!(press(&mut app, "n").is_empty());
    assert_eq!(app.overlay, Overlay::None);
    press(&mut app, "k");
    app.update(code(KeyCode::Enter));
    let fx = press(&mut app, "y");
    assert_eq!(
        fx,
        vec![Effect::Signal {
            target: SignalTarget::Process(401),
            signal: Signal::SIGTERM,
            start: Some(Duration::from_secs(100)),
        }]
    );
}

/// The menu was opened on pid 401; before the choice is made it exits and a new process is
/// given its pid (pids wrap). The new one is not signalled, and the status line says why.
#[test]
fn a_signal_never_reaches_a_later_process_with_the_chosen_pid() {
    let mut app = app(120, 30);
    select_pid(&mut app, 401);
    press(&mut app, "k");
    let mut s = fake::sample();
    let p = s.processes.iter_mut().find(|p| p.pid == 401).unwrap();
    p.start_time += Duration::from_secs(3600);
    p.comm = "newcomer".into();
    app.update(Event::Snapshot(s));
    // CHLD is harmless and would go at once; TERM would ask first.
    for _ in 0..9 {
        app.update(code(KeyCode::Down));
    }
    assert_eq!(app.update(code(KeyCode::Enter)), vec![]);
    assert_eq!(app.overlay, Overlay::None);
    let (_, text) = app.status.clone().unwrap();
    assert!(
        text.contains("pid 401 is gone") && text.contains("newcomer"),
        "{text}"
    );
    // A send that found the pid taken names the process by its pid only, not by the newcomer.
    app.update(Event::Signalled {
        target: SignalTarget::Process(401),
        signal: Signal::SIGTERM,
        start: Some(Duration::from_secs(100)),
        result: Err(Errno::ESRCH),
    });
    let (_, text) = app.status.clone().unwrap();
    assert!(
        text.contains("ESRCH") && !text.contains("newcomer"),
        "{text}"
    );
}

#[test]
fn whole_group_option_signals_the_pgid() {
    let mut app = app(120, 30);
    select_pid(&mut app, 201); // a zombie in group 200
    press(&mut app, "kg");
    app.update(code(KeyCode::Enter));
    let fx = press(&mut app, "y");
    assert_eq!(
        fx,
        vec![Effect::Signal {
            target: SignalTarget::Group(200),
            signal: Signal::SIGTERM,
            start: None,
        }]
    );
}

#[test]
fn errors_come_back_in_the_status_line() {
    let mut app = app(120, 30);
    app.update(Event::Signalled {
        target: SignalTarget::Process(1),
        signal: Signal::SIGKILL,
        start: None,
        result: Err(Errno::EPERM),
    });
    let (_, text) = app.status.clone().unwrap();
    assert!(text.contains("EPERM"), "{text}");
    app.update(Event::Signalled {
        target: SignalTarget::Process(4242),
        signal: Signal::SIGTERM,
        start: None,
        result: Err(Errno::ESRCH),
    });
    let (_, text) = app.status.clone().unwrap();
    assert!(text.contains("ESRCH"), "{text}");
    assert!(render(&app).contains("ESRCH"));
}

#[test]
fn zombie_key_spawns_the_demo_and_selects_it() {
    let mut app = app(120, 30);
    press(&mut app, "2");
    let fx = press(&mut app, "z");
    assert_eq!(
        fx,
        vec![Effect::SpawnDemo {
            name: "zombie".into(),
            args: vec![]
        }]
    );
    assert_eq!(app.pane, Pane::Processes);
    // We spawn the demo's supervisor (150, not in the table yet); its first line names the
    // negligent parent, which is what gets selected once a refresh shows it.
    app.update(Event::Spawned {
        kind: ChildKind::Demo("zombie".into()),
        pid: 150,
        log: None,
    });
    app.update(Event::ChildOutput {
        pid: 150,
        line: "zombie demo: parent 200, zombies 201 202 203".into(),
    });
    assert_ne!(app.procs.selected, Some(200));
    app.update(Event::Snapshot(fake::sample()));
    assert_eq!(app.procs.selected, Some(200));
    assert!(app.pending_select.is_none());
}

#[test]
fn orphaned_zombies_reaped_as_subreaper_are_reported() {
    let mut app = app(120, 30);
    app.update(Event::Spawned {
        kind: ChildKind::Demo("zombie".into()),
        pid: 200,
        log: None,
    });
    app.update(Event::Reaped(vec![
        Reaped {
            pid: 200,
            how: Exit::Killed {
                signal: nix::sys::signal::Signal::SIGTERM,
                core: false,
            },
        },
        Reaped {
            pid: 201,
            how: Exit::Code(0),
        },
        Reaped {
            pid: 202,
            how: Exit::Code(0),
        },
    ]));
    assert!(app.children.is_empty());
    let notes: Vec<&String> = app.notices.iter().collect();
    assert!(notes
        .iter()
        .any(|n| n.contains("demo zombie (pid 200) killed by SIGTERM")));
    let last = notes.last().unwrap();
    assert!(
        last.contains("2 orphaned zombies of dead parent 200") && last.contains("subreaper"),
        "{last}"
    );
}

#[test]
fn quit_ends_children_except_a_detached_server() {
    let mut app = app(120, 30);
    app.update(Event::Spawned {
        kind: ChildKind::Demo("zombie".into()),
        pid: 200,
        log: None,
    });
    let fx = press(&mut app, "s");
    assert_eq!(fx.len(), 1);
    assert!(matches!(fx[0], Effect::StartServer { .. }));
    app.update(Event::Spawned {
        kind: ChildKind::Server,
        pid: 300,
        log: None,
    });
    assert_eq!(
        app.server.state,
        ServerState::Running {
            pid: 300,
            addr: None
        }
    );
    press(&mut app, "D");
    assert!(app.server.detached);
    let fx = press(&mut app, "q");
    assert_eq!(fx, vec![Effect::EndChildren(vec![200]), Effect::Quit]);
}

#[test]
fn ctrl_c_quits_even_while_typing_a_filter() {
    let mut app = app(120, 30);
    press(&mut app, "/abc");
    let fx = app.update(Event::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(fx, vec![Effect::Quit]);
}

#[test]
fn server_keys_signal_the_master_and_load_it() {
    let mut app = app(120, 30);
    // A one-process model has no workers to count: w/W say so.
    press(&mut app, "4m");
    assert_eq!(app.server.model, tcplab::server::models::Model::Iterative);
    press(&mut app, "W");
    assert_eq!(app.server.workers, 1);
    let screen = render(&app);
    assert!(
        screen.contains("model iterative is one process: no workers"),
        "{screen}"
    );
    assert!(!screen.contains("w/W"), "{screen}");
    press(&mut app, "mWW");
    let screen = render(&app);
    assert!(screen.contains("w/W workers: 3"), "{screen}");
    let fx = press(&mut app, "s");
    assert_eq!(
        fx,
        vec![Effect::StartServer {
            model: tcplab::server::models::Model::Prefork,
            workers: 3
        }]
    );
    app.update(Event::Spawned {
        kind: ChildKind::Server,
        pid: 300,
        log: None,
    });
    let addr = "127.0.0.1:8080".parse().unwrap();
    let fx = app.update(Event::ChildOutput {
        pid: 300,
        line:
            "tcplab serve: listening on http://127.0.0.1:8080 (model iterative, 4 workers, pid 300)"
                .into(),
    });
    assert_eq!(app.server.addr(), Some(addr));
    assert!(fx.contains(&Effect::PollServerStatus(
        addr,
        tcplab::server::models::Model::Prefork
    )));
    let sig = |s| Effect::Signal {
        target: SignalTarget::Process(300),
        signal: s,
        start: None,
    };
    assert_eq!(press(&mut app, "r"), vec![sig(Signal::SIGHUP)]);
    // Stopping it is asked first: y sends, any other key does not.
    assert_eq!(press(&mut app, "g"), vec![]);
    let screen = render(&app);
    assert!(screen.contains("Send QUIT to pid 300"), "{screen}");
    assert!(screen.contains("finishes the requests in"), "{screen}");
    assert_eq!(press(&mut app, "y"), vec![sig(Signal::SIGQUIT)]);
    assert_eq!(press(&mut app, "x"), vec![]);
    assert!(render(&app).contains("Send TERM to pid 300"));
    assert_eq!(press(&mut app, "n"), vec![]);
    assert_eq!(app.overlay, Overlay::None);
    assert_eq!(press(&mut app, "x"), vec![]);
    assert_eq!(press(&mut app, "y"), vec![sig(Signal::SIGTERM)]);
    assert!(matches!(
        press(&mut app, "l")[..],
        [Effect::Load {
            connections: 50,
            ..
        }]
    ));
    // Ticks poll its status, as one asks a server of its model (prefork: one connection at a
    // time per worker, so the probe closes between polls).
    assert!(app.update(Event::Tick).contains(&Effect::PollServerStatus(
        addr,
        tcplab::server::models::Model::Prefork
    )));
}

#[test]
fn pause_stops_refreshing_and_interval_steps() {
    let mut app = app(120, 30);
    assert_eq!(app.update(Event::Tick), vec![Effect::Refresh]);
    press(&mut app, "p");
    assert!(app.update(Event::Tick).is_empty());
    press(&mut app, "p+");
    assert_eq!(app.interval.as_millis(), 2000);
    press(&mut app, "--");
    assert_eq!(app.interval.as_millis(), 500);
}

#[test]
fn mouse_click_selects_and_wheel_scrolls() {
    let mut app = app(120, 30);
    let (top, _) = app.table_rows();
    let click = |row| {
        Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 10,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    app.update(click(top + 4));
    assert_eq!(app.procs.selected, Some(200));
    app.update(Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 10,
        row: top,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(app.procs.selected, Some(203));
    // Clicking the tab line switches panes.
    app.update(click(app.table_rows().0 - 3));
    let tabs_row = app.table_rows().0 - 3;
    let fx = app.update(Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 16,
        row: tabs_row,
        modifiers: KeyModifiers::NONE,
    }));
    // (The Sockets pane shows owners: a refresh that looks them up is asked for at once.)
    assert_eq!(fx, vec![Effect::Refresh]);
    assert_eq!(app.pane, Pane::Sockets);
}

#[test]
fn help_opens_and_any_key_closes() {
    let mut app = app(120, 30);
    press(&mut app, "?");
    assert_eq!(app.overlay, Overlay::Help);
    press(&mut app, "x");
    assert_eq!(app.overlay, Overlay::None);
    press(&mut app, "d");
    let fx = app.update(code(KeyCode::Enter));
    assert!(matches!(&fx[..], [Effect::SpawnDemo { name, .. }] if name == "fork"));
    let _ = key('a');
}

#[test]
fn details_say_how_long_a_zombie_waits_and_who_left_it() {
    let mut app = app(160, 30);
    // The header names the parents that fail to reap, and the zombies left to PID 1 (the
    // second snapshot is one second after the first).
    let screen = render(&app);
    assert!(screen.contains("unreaped by: 1(1) 200(3)"), "{screen}");
    assert!(screen.contains("1 left to PID 1, oldest 41.0s"), "{screen}");
    select_pid(&mut app, 201);
    app.update(code(KeyCode::Enter));
    let screen = render(&app);
    assert!(
        screen.contains("ZOMBIE: exited, waiting for 13.0s for parent 200"),
        "{screen}"
    );
}

#[test]
fn owners_are_asked_for_only_while_a_view_shows_them() {
    let mut app = app(120, 30);
    assert!(!app.needs_owners(), "the Processes pane shows no owners");
    // Opening the Sockets pane asks for a refresh at once, so owners appear without waiting.
    assert_eq!(press(&mut app, "2"), vec![Effect::Refresh]);
    assert!(app.needs_owners());
    assert!(press(&mut app, "1").is_empty());
    select_pid(&mut app, 300);
    assert_eq!(app.update(code(KeyCode::Enter)), vec![Effect::Refresh]);
    assert!(app.needs_owners(), "details list the process's sockets");
}

#[test]
fn q_and_esc_in_help_or_details_close_the_overlay_not_the_dashboard() {
    let mut app = app(120, 30);
    for close in [key('q'), code(KeyCode::Esc)] {
        press(&mut app, "?");
        assert_eq!(app.overlay, Overlay::Help);
        assert_eq!(app.update(close.clone()), vec![]);
        assert_eq!(app.overlay, Overlay::None);
        assert!(!app.quitting);

        app.update(code(KeyCode::Enter));
        assert!(matches!(app.overlay, Overlay::Details(_)));
        assert_eq!(app.update(close), vec![]);
        assert_eq!(app.overlay, Overlay::None);
        assert!(!app.quitting);
    }
    // Outside an overlay q still quits.
    assert_eq!(press(&mut app, "q"), vec![Effect::Quit]);
}

#[test]
fn tcp_info_is_asked_for_only_while_a_view_shows_it() {
    // Narrow: no rate columns anywhere, so the scan stays the plain one.
    let mut narrow = app(80, 24);
    assert!(!narrow.needs_info());
    press(&mut narrow, "2");
    assert!(!narrow.needs_info(), "no RTT/rate columns at 80 columns");
    // Enter on a connection opens its detail: tcp_info now, at once.
    assert_eq!(narrow.update(code(KeyCode::Enter)), vec![Effect::Refresh]);
    assert_eq!(narrow.overlay, Overlay::Connection);
    assert!(narrow.needs_info());
    narrow.update(code(KeyCode::Esc));
    assert_eq!(narrow.overlay, Overlay::None);
    assert!(!narrow.needs_info() && narrow.traffic.history.is_none());
    // Wide, one pane at a time (under the overview's 40 lines): the Sockets pane's and the
    // Processes pane's rate columns are on screen.
    let mut wide = app(160, 30);
    assert!(
        wide.needs_info() && wide.needs_owners(),
        "NET columns need owners"
    );
    press(&mut wide, "3");
    assert!(!wide.needs_info());
    press(&mut wide, "2");
    assert!(wide.needs_info());
    // The rate columns read a brief of tcp_info; a connection's detail shows its whole
    // struct, asked for by its ends at once, though tcp_info was already on.
    assert_eq!(wide.followed(), None);
    assert_eq!(wide.update(code(KeyCode::Enter)), vec![Effect::Refresh]);
    let selected = wide.selected_socket().map(|s| (s.local, s.remote));
    assert!(selected.is_some());
    assert!(wide.followed() == selected && wide.needs_info());
    wide.update(code(KeyCode::Esc));
    assert!(wide.followed().is_none() && wide.needs_info());
}

/// A filter typed with the selection far down shows its matches from the first, not only the
/// last one with empty rows above.
#[test]
fn a_filter_applied_far_down_shows_every_match() {
    let mut app = app(120, 12);
    app.update(code(KeyCode::End));
    assert!(app.procs.cursor.offset > 0);
    press(&mut app, "/tcplab");
    app.update(code(KeyCode::Enter));
    let matches = app.procs.rows.len();
    assert!(matches > 1);
    let (_, rows) = app.table_rows();
    let screen = render(&app);
    let shown = screen
        .lines()
        .filter(|l| l.starts_with("\"│") && l.contains("tcplab"))
        .count();
    assert_eq!(shown, matches.min(rows), "{screen}");
}

/// The key hints stay on the last line when a message (the tracer's, at start) takes the
/// status line.
#[test]
fn the_key_hints_stay_visible_under_a_message() {
    let mut app = app(80, 24);
    app.update(Event::TraceReady {
        source: tcplab::model::TransitionSource::Tracepoint,
        detail: "instance tcplab-1, binary per-CPU pipes".into(),
    });
    let screen = render(&app);
    let lines: Vec<&str> = screen.lines().collect();
    assert!(
        lines[22].contains("transitions from the kernel"),
        "{screen}"
    );
    assert!(lines[23].contains("? help"), "{screen}");
    assert!(lines[23].contains("q quit"), "{screen}");
}

/// The first screen as htop's: the busiest process first, kernel threads hidden and counted
/// in the header; `K` lists them.
#[test]
fn the_first_screen_sorts_by_cpu_and_hides_kernel_threads() {
    use std::time::Duration;
    use tcplab::tui::theme::Theme;
    let mut app = tcplab::tui::App::new(Duration::from_secs(1), (120, 30), Theme { color: true });
    let (first, second) = testkit::dashboard::two_readings();
    let kernel = first
        .processes
        .iter()
        .filter(|p| p.is_kernel_thread())
        .count();
    assert!(kernel > 0);
    app.update(Event::Snapshot(first));
    app.update(Event::Snapshot(second.clone()));
    let top = &app.snapshot.processes[app.procs.rows[0].idx];
    assert_eq!(top.comm, "yes", "the busiest first");
    assert_eq!(app.procs.rows.len(), second.processes.len() - kernel);
    assert!(render(&app).contains(&format!("{kernel} kernel threads hidden (K)")));
    press(&mut app, "K");
    assert_eq!(app.procs.rows.len(), second.processes.len());
    assert!(!render(&app).contains("kernel threads hidden"));
}

/// A demo's "stop: Ctrl+C" is advice for its own terminal; in the dashboard Ctrl+C quits (and
/// ends every demo), so the status line names the dashboard's way to stop the demo instead.
#[test]
fn a_demo_is_told_to_stop_with_the_signal_menu_not_ctrl_c() {
    let mut app = app(120, 30);
    press(&mut app, "d");
    app.update(code(KeyCode::Enter));
    app.update(Event::Spawned {
        kind: ChildKind::Demo("signal".into()),
        pid: 150,
        log: None,
    });
    app.update(Event::ChildOutput {
        pid: 150,
        line: "  stop: Ctrl+C or `kill 150`".into(),
    });
    let screen = render(&app);
    assert!(!screen.contains("Ctrl+C"), "{screen}");
    assert!(
        screen.contains("select pid 150: Enter, all it said; k, Enter, stop (TERM)"),
        "{screen}"
    );
    // What comes before the advice on the same line is kept.
    app.update(Event::ChildOutput {
        pid: 150,
        line: "  look: `ps --pid 150`; stop: Ctrl+C, `kill 150`".into(),
    });
    let screen = render(&app);
    assert!(
        screen.contains("look: `ps --pid 150`; stop: select pid 150"),
        "{screen}"
    );
}

/// A demo explains itself in several lines; the status line shows one at a time. Enter on the
/// demo shows them all (select-limit's key line, about the descriptor past FD_SETSIZE,
/// included) and its log file; the details of a process it started point to it.
#[test]
fn enter_on_a_demo_shows_all_it_said_and_its_log() {
    let mut app = app(80, 24);
    app.update(Event::Spawned {
        kind: ChildKind::Demo("select-limit".into()),
        pid: 402,
        log: Some("/tmp/tcplab-tui-9/demo-select-limit-402.log".into()),
    });
    let said = [
        "select-limit demo: port 40123, pid 402, FD_SETSIZE 1024, open-files limit soft 1088 hard 524288",
        "  raised the soft RLIMIT_NOFILE from 1024 to 1088: a process starts at 1024, exactly FD_SETSIZE, so it runs out of descriptors (EMFILE) before select's limit shows",
        "  connection 1020: fd 1023: select() works: 1 ready, fd 1023 readable",
        "  connection 1021: fd 1024 ≥ FD_SETSIZE: refused for select(); in C, FD_SET(1024) would write past the 1024-bit fd_set (undefined behaviour; Rust's nix panics instead)",
        "  poll() on fd 1024: 1 ready, readable: poll and epoll take any descriptor",
        "  look: `ls /proc/402/fd | wc -l`",
        "  stop: Ctrl+C or `kill 402`",
    ];
    for line in said {
        app.update(Event::ChildOutput {
            pid: 402,
            line: line.into(),
        });
    }
    let screen = render(&app);
    assert!(
        !screen.contains("≥ FD_SETSIZE"),
        "one line at a time:\n{screen}"
    );
    assert!(
        screen.contains("select pid 402: Enter, all it said"),
        "{screen}"
    );

    select_pid(&mut app, 402);
    app.update(code(KeyCode::Enter));
    assert_eq!(
        app.overlay,
        Overlay::DemoOutput {
            pid: 402,
            scroll: 0
        }
    );
    let screen = render(&app);
    let text: String = screen
        .lines()
        .map(|l| l.trim_matches(|c| c == '"' || c == '│' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ");
    for part in [
        "demo select-limit · pid 402",
        "log: /tmp/tcplab-tui-9/demo-select-limit-402.log",
        "fd 1024 ≥ FD_SETSIZE: refused for select();",
        "poll and epoll take any descriptor",
        "stop: k, Enter (TERM)",
    ] {
        assert!(text.contains(part), "{part:?} in:\n{screen}");
    }
    // Scrolls to the end and back; any other key closes.
    app.update(code(KeyCode::End));
    app.update(code(KeyCode::Home));
    assert_eq!(
        app.overlay,
        Overlay::DemoOutput {
            pid: 402,
            scroll: 0
        }
    );
    app.update(key('x'));
    assert_eq!(app.overlay, Overlay::None);

    // A process the demo started: its details name the demo.
    app.update(Event::Spawned {
        kind: ChildKind::Demo("zombie".into()),
        pid: 100,
        log: None,
    });
    select_pid(&mut app, 200);
    app.update(code(KeyCode::Enter));
    assert_eq!(app.overlay, Overlay::Details(200));
    assert!(
        render(&app).contains("started by demo zombie (pid 100)"),
        "{}",
        render(&app)
    );
}

/// The connections on screen in the Sockets pane (rate columns shown) keep their recent
/// samples, so Enter opens a detail whose graphs already cover the last refreshes; the
/// history is bounded, and a terminal too narrow for the columns records none.
#[test]
fn a_connection_detail_opens_with_the_history_it_gathered_on_screen() {
    let established = |app: &tcplab::tui::App| {
        app.socks
            .rows
            .iter()
            .position(|&i| app.snapshot.sockets[i].state == tcplab::model::TcpState::Established)
            .unwrap()
    };
    let mut wide = app(160, 30);
    press(&mut wide, "2");
    assert!(wide.needs_info());
    for step in 1..=6 {
        wide.update(Event::Snapshot(fake::sample_with_info(step)));
    }
    wide.socks.cursor.at = established(&wide);
    let sock = wide.selected_socket().unwrap().clone();
    assert_eq!(
        wide.traffic.recent_len(&(sock.local, sock.remote)),
        6,
        "a sample each refresh while on screen"
    );
    wide.update(code(KeyCode::Enter));
    let h = wide.traffic.history.as_ref().unwrap();
    assert_eq!(h.samples.len(), 6);
    assert_eq!(h.samples.back().unwrap().secs, 5.0);
    assert!(h.samples.iter().skip(1).all(|s| s.rate.is_some()));
    let screen = render(&wide);
    assert!(screen.contains("graphs: 6 samples over 5.0s"), "{screen}");
    // Live from there on, after what was gathered.
    wide.update(Event::Snapshot(fake::sample_with_info(7)));
    assert_eq!(wide.traffic.history.as_ref().unwrap().samples.len(), 7);
    wide.update(code(KeyCode::Esc));

    // Bounded: never more than RECENT samples per connection.
    for step in 8..=(8 + tcplab::tui::traffic::RECENT as u64 + 10) {
        wide.update(Event::Snapshot(fake::sample_with_info(step)));
    }
    assert_eq!(
        wide.traffic.recent_len(&(sock.local, sock.remote)),
        tcplab::tui::traffic::RECENT
    );

    // Narrow: no rate columns, no tcp_info asked for, nothing gathered.
    let mut narrow = app(80, 24);
    press(&mut narrow, "2");
    for step in 1..=3 {
        narrow.update(Event::Snapshot(fake::sample_with_info(step)));
    }
    narrow.socks.cursor.at = established(&narrow);
    narrow.update(code(KeyCode::Enter));
    assert!(narrow.traffic.history.as_ref().unwrap().samples.is_empty());
}

/// A demo that ends (a failure, often) takes Enter-on-it with its process: the news of its
/// end says what it said last and where its log is.
#[test]
fn a_demo_that_ended_says_what_it_said_last_and_where_its_log_is() {
    let mut app = app(120, 30);
    app.update(Event::Spawned {
        kind: ChildKind::Demo("select-limit".into()),
        pid: 150,
        log: Some("/tmp/tcplab-tui-9/demo-select-limit-150.log".into()),
    });
    app.update(Event::ChildOutput {
        pid: 150,
        line: "tcplab: the hard limit on open files is 1024, below the 1088 descriptors this demo needs".into(),
    });
    app.update(Event::Reaped(vec![Reaped {
        pid: 150,
        how: Exit::Code(1),
    }]));
    let last = app.notices.back().unwrap();
    assert!(
        last.starts_with("demo select-limit (pid 150) exited"),
        "{last}"
    );
    assert!(
        last.contains("it said last: tcplab: the hard limit on open files is 1024"),
        "{last}"
    );
    assert!(
        last.contains("(all of it: /tmp/tcplab-tui-9/demo-select-limit-150.log)"),
        "{last}"
    );
}

/// The keys `?` lists, one word each: `1 2 3 4, Tab` gives `1` `2` `3` `4` `Tab`.
fn keys_in_help() -> Vec<String> {
    tcplab::tui::render::help::KEYS
        .iter()
        .flat_map(|(k, _)| k.split([' ', ',']).filter(|w| !w.is_empty()))
        .map(str::to_string)
        .collect()
}

/// Every key that does something in a pane is in `?`, the way htop's F1 lists all of its keys:
/// each printable key and Shift+Tab is pressed in each pane of a fresh dashboard, and one that
/// changes the screen or asks for an effect must be listed. (`K`, the kernel threads the header
/// offers, and Shift+Tab were missing.)
#[test]
fn every_key_that_acts_is_in_the_help() {
    let listed = keys_in_help();
    // Second spellings of a listed key, as htop takes `,` `.` for `<` `>`.
    let aliases = [(',', "<"), ('.', ">"), ('=', "+")];
    let mut missing = Vec::new();
    for pane in ['1', '2', '3', '4'] {
        let events = ('!'..='~')
            .map(|c| (c.to_string(), key(c)))
            .chain([("Shift+Tab".to_string(), code(KeyCode::BackTab))]);
        for (name, event) in events {
            let mut app = app(120, 40);
            press(&mut app, &pane.to_string());
            let before = render(&app);
            let effects = app.update(event);
            if effects.is_empty() && render(&app) == before {
                continue;
            }
            let alias = aliases
                .iter()
                .find(|(a, _)| name == a.to_string())
                .map(|(_, k)| k.to_string());
            let shown = alias.as_ref().unwrap_or(&name);
            if !listed.contains(shown) && !missing.contains(&name) {
                missing.push(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "keys that act but `?` does not list: {missing:?}"
    );
}

/// (local, remote) of the Sockets pane's row under the cursor.
fn socket_at_cursor(app: &tcplab::tui::App) -> (std::net::SocketAddr, std::net::SocketAddr) {
    let i = app.socks.rows[app.socks.cursor.at];
    let s = &app.snapshot.sockets[i];
    (s.local, s.remote)
}

/// A connection picked in the Sockets pane stays picked when a refresh brings sockets that sort
/// before it (on a busy machine, every refresh): Enter then opens that connection and `k` its
/// owner, not whichever socket took its row, as the Processes pane follows its pid.
#[test]
fn the_sockets_cursor_follows_its_connection_across_refreshes() {
    let mut app = app(120, 30);
    press(&mut app, "2jjj");
    let picked = socket_at_cursor(&app);
    let row = app.socks.cursor.at;
    // The next refresh: two new connections that sort first (by state, ESTABLISHED, then
    // by address), and the snapshot's own order shuffled.
    let mut next = fake::sample();
    next.sockets.reverse();
    for port in [1, 2] {
        let mut s = next.sockets[0].clone();
        s.state = tcplab::model::TcpState::Established;
        s.local = format!("0.0.0.1:{port}").parse().unwrap();
        s.remote = "0.0.0.2:9".parse().unwrap();
        s.owners = Some(vec![]);
        next.sockets.push(s);
    }
    app.update(Event::Snapshot(next));
    assert_eq!(
        socket_at_cursor(&app),
        picked,
        "the cursor left its connection"
    );
    assert_eq!(app.socks.cursor.at, row + 2, "two rows came before it");
    // Moving on from there, and the sort changed: still the row under the cursor.
    app.update(code(KeyCode::Down));
    let picked = socket_at_cursor(&app);
    press(&mut app, ">");
    app.update(Event::Snapshot(fake::sample()));
    assert_eq!(socket_at_cursor(&app), picked);
    // A connection that is gone leaves the cursor where it was, on what is there now.
    let mut without = fake::sample();
    without.sockets.retain(|s| (s.local, s.remote) != picked);
    let at = app.socks.cursor.at;
    app.update(Event::Snapshot(without));
    assert_eq!(app.socks.cursor.at, at.min(app.socks.rows.len() - 1));
}
