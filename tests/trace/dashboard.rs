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
