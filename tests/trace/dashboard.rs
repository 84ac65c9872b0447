//! The State-machine pane with live transitions: choosing a connection of the log shows its
//! whole life, built from the log by `trace::conns::timeline_of`.

use testkit::dashboard;

use std::time::{Duration, SystemTime};

use crossterm::event::KeyCode;
use dashboard::{app, code, press, render};
use tcplab::model::{TcpState, Transition};
use tcplab::tui::Event;

fn tr(
    ms: u64,
    local: &str,
    remote: &str,
    old: TcpState,
    new: TcpState,
    in_old_us: Option<u64>,
) -> Transition {
    Transition {
        ts: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms),
        local: local.parse().unwrap(),
        remote: remote.parse().unwrap(),
        old,
        new,
        in_old: in_old_us.map(Duration::from_micros),
        pid: Some(42),
        comm: Some("curl".into()),
        tid: None,
    }
}

#[test]
fn arrows_pick_a_connection_and_its_life_is_shown() {
    use TcpState::*;
    let mut app = app(120, 45);
    press(&mut app, "3");
    let (client, server) = ("127.0.0.1:5555", "127.0.0.1:80");
    app.update(Event::Transitions(vec![
        tr(0, "127.0.0.1:0", server, Close, SynSent, None),
        tr(1, client, server, SynSent, Established, Some(500)),
        tr(1, server, client, Listen, SynRecv, None),
        tr(2001, client, server, Established, FinWait1, Some(2_000_000)),
    ]));
    let screen = render(&app);
    assert!(!screen.contains("Life of"), "nothing chosen yet:\n{screen}");

    app.update(code(KeyCode::Down));
    let screen = render(&app);
    assert!(
        screen.contains("Life of 127.0.0.1:5555 → 127.0.0.1:80"),
        "the newest connection:\n{screen}"
    );
    assert!(
        screen.contains("CLOSE→SYN_SENT 0.500ms→ESTABLISHED 2.0s→FIN_WAIT1"),
        "{screen}"
    );

    app.update(code(KeyCode::Down));
    let screen = render(&app);
    assert!(
        screen.contains("Life of 127.0.0.1:80 → 127.0.0.1:5555"),
        "{screen}"
    );
    assert!(screen.contains("LISTEN→SYN_RECV"), "{screen}");

    app.update(code(KeyCode::Esc));
    assert!(!render(&app).contains("Life of"));
}

/// Between refreshes the dashboard makes transitions with the function `tcplab trace` uses
/// when it samples: a socket that appears comes from CLOSE with its owner, and each carries the
/// time spent in the state it left.
#[test]
fn sampled_transitions_are_the_same_account_as_trace() {
    use tcplab::tui::fake;
    use TcpState::*;
    let mut app = app(120, 45);
    let base = fake::sample();
    let at = |ms: u64| base.taken_at.map(|t| t + Duration::from_millis(ms));
    let fw2 = base
        .sockets
        .iter()
        .position(|s| s.state == FinWait2)
        .unwrap();
    let pair = (base.sockets[fw2].local, base.sockets[fw2].remote);
    let owned = base
        .sockets
        .iter()
        .find(|s| s.state == Established && s.owners.as_ref().is_some_and(|o| !o.is_empty()))
        .unwrap()
        .clone();

    let mut next = base.clone();
    next.taken_at = at(2_000);
    next.sockets[fw2].state = TimeWait;
    let mut new = owned.clone();
    new.remote.set_port(new.remote.port() + 1000);
    next.sockets.push(new.clone());
    app.update(Event::Snapshot(next.clone()));
    let mut gone = next;
    gone.taken_at = at(3_500);
    gone.sockets.retain(|s| (s.local, s.remote) != pair);
    app.update(Event::Snapshot(gone));

    let seen: Vec<_> = app
        .log
        .seen
        .iter()
        .map(|t| &t.transition)
        .map(|t| ((t.local, t.remote), t.old, t.new, t.in_old, t.pid))
        .collect();
    let owner = owned.owners.as_ref().unwrap()[0].pid;
    assert!(
        seen.contains(&(
            (new.local, new.remote),
            Close,
            Established,
            None,
            Some(owner)
        )),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(pair, FinWait2, TimeWait, None, None)),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(
            pair,
            TimeWait,
            Close,
            Some(Duration::from_millis(1_500)),
            None
        )),
        "{seen:?}"
    );
}

/// Picking a connect's first line (local port 0: the kernel had not picked the port yet) shows
/// the life of the socket it became, and only that socket's; a connect no later line explains
/// says so instead of gathering every portless connect to the same server.
#[test]
fn a_connect_line_shows_the_life_of_the_socket_it_became() {
    use TcpState::*;
    let mut app = app(120, 45);
    press(&mut app, "3");
    let server = "127.0.0.1:80";
    let any = "127.0.0.1:0";
    let (a, b) = ("127.0.0.1:5001", "127.0.0.1:5002");
    app.update(Event::Transitions(vec![
        tr(0, any, server, Close, SynSent, None),
        tr(1, any, server, Close, SynSent, None),
        tr(2, a, server, SynSent, Established, Some(2_000)),
        tr(3, b, server, SynSent, Established, Some(2_000)),
        tr(10, a, server, Established, FinWait1, Some(8_000)),
        tr(11, a, server, FinWait1, FinWait2, Some(1_000)),
        tr(12, a, server, FinWait2, TimeWait, Some(1_000)),
        tr(20, b, server, Established, Close, Some(17_000)),
        tr(30, any, server, Close, SynSent, None),
    ]));
    // Every connection the arrows reach, newest first.
    let mut lives = Vec::new();
    for _ in 0..4 {
        app.update(code(KeyCode::Down));
        let screen = render(&app);
        let title = screen
            .lines()
            .find_map(|l| l.split("Life of ").nth(1))
            .map(|t| t.split("  (Esc").next().unwrap().trim().to_string())
            .unwrap_or_else(|| panic!("no life shown:\n{screen}"));
        lives.push((title, screen));
    }
    let titles: Vec<&str> = lives.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        titles,
        [
            "127.0.0.1:0 → 127.0.0.1:80",
            "127.0.0.1:5002 → 127.0.0.1:80",
            "127.0.0.1:5001 → 127.0.0.1:80",
            "127.0.0.1:5001 → 127.0.0.1:80",
        ],
        "the last connect, then each socket once (the arrows stop at the oldest)"
    );
    let (_, unresolved) = &lives[0];
    assert!(
        unresolved.contains("a connect before its port was picked"),
        "{unresolved}"
    );
    assert!(!unresolved.contains("CLOSE→SYN_SENT→"), "{unresolved}");
    let (_, b_life) = &lives[1];
    assert!(
        b_life.contains("CLOSE→SYN_SENT 2.00ms→ESTABLISHED 17.0ms→CLOSE"),
        "{b_life}"
    );
    let (_, a_life) = &lives[2];
    assert!(
        a_life.contains(
            "CLOSE→SYN_SENT 2.00ms→ESTABLISHED 8.00ms→FIN_WAIT1 1.00ms→FIN_WAIT2 1.00ms→TIME_WAIT"
        ),
        "{a_life}"
    );
}

/// While paused the log stays still, so a connection picked in it can be read on a busy
/// machine; what came meanwhile shows on resume.
#[test]
fn pause_holds_the_log_still() {
    use TcpState::*;
    let mut app = app(120, 45);
    press(&mut app, "3");
    let (client, server) = ("127.0.0.1:5555", "127.0.0.1:80");
    app.update(Event::Transitions(vec![tr(
        0,
        client,
        server,
        SynSent,
        Established,
        Some(500),
    )]));
    app.update(code(KeyCode::Down));
    press(&mut app, "p");
    // A flood of other connections, more than the log holds.
    let flood: Vec<Transition> = (0..300)
        .map(|i| {
            let other = format!("127.0.0.1:{}", 20_000 + i);
            tr(10 + i, &other, server, SynSent, Established, Some(100))
        })
        .collect();
    app.update(Event::Transitions(flood));
    let screen = render(&app);
    assert!(
        screen.contains("SYN_SENT 0.500ms→ESTABLISHED"),
        "the picked life is still readable:\n{screen}"
    );
    assert!(
        !screen.contains("127.0.0.1:20299"),
        "nothing new while paused:\n{screen}"
    );
    press(&mut app, "p");
    let screen = render(&app);
    assert!(screen.contains("127.0.0.1:20299"), "{screen}");
    assert!(screen.contains("(no longer in the log)"), "{screen}");
}

/// Restricted to one port, the log keeps that port's transitions however many others pass
/// (on a busy machine the last 200 are all someone else's within a second).
#[test]
fn a_port_keeps_its_transitions_through_a_flood_of_others() {
    use TcpState::*;
    let mut app = app(120, 45);
    press(&mut app, "3/80");
    app.update(code(KeyCode::Enter));
    let (client, server) = ("127.0.0.1:5555", "127.0.0.1:80");
    app.update(Event::Transitions(vec![
        tr(0, "127.0.0.1:0", server, Close, SynSent, None),
        tr(1, client, server, SynSent, Established, Some(500)),
    ]));
    let flood: Vec<Transition> = (0..300)
        .map(|i| {
            let other = format!("127.0.0.1:{}", 20_000 + i);
            tr(
                10 + i,
                &other,
                "127.0.0.1:9999",
                SynSent,
                Established,
                Some(100),
            )
        })
        .collect();
    app.update(Event::Transitions(flood));
    app.update(Event::Transitions(vec![tr(
        400,
        client,
        server,
        Established,
        FinWait1,
        Some(399_000),
    )]));
    app.update(code(KeyCode::Down));
    let screen = render(&app);
    assert!(
        screen.contains("127.0.0.1:5555 127.0.0.1:80 SYN_SENT→ESTABLISHED"),
        "{screen}"
    );
    assert!(
        screen.contains("CLOSE→SYN_SENT 0.500ms→ESTABLISHED 399.0ms→FIN_WAIT1"),
        "{screen}"
    );
    // Without the restriction, the log is the last of everything: the handshake is gone.
    app.update(code(KeyCode::Esc));
    assert!(!render(&app).contains("127.0.0.1:5555 127.0.0.1:80 SYN_SENT→ESTABLISHED"));
}
