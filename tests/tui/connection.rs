//! Enter on a real connection the kernel keeps without `tcp_info` (TIME_WAIT, on loopback):
//! the detail view shows what is known of it, says "gone" only once the socket has left the
//! kernel's table, and `k` says why there is no process to signal.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crossterm::event::KeyCode;
use testkit::dashboard::{code, press, render};
use testkit::wait_for;

use tcplab::kernel::live::LiveSource;
use tcplab::model::{Snapshot, SnapshotSource, TcpState};
use tcplab::tui::scanner::{RefreshSource, Want};
use tcplab::tui::theme::Theme;
use tcplab::tui::{App, Event};

/// A connection on loopback whose accepting side closed first, so its TIME_WAIT lands on the
/// accepted end: (local, remote) of that end.
fn time_wait_pair() -> (SocketAddr, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    let ends = (
        accepted.local_addr().unwrap(),
        accepted.peer_addr().unwrap(),
    );
    drop(accepted);
    // The client has the FIN (end of file) before it closes in turn.
    assert_eq!(client.read(&mut [0; 1]).unwrap(), 0);
    drop(client);
    ends
}

#[test]
fn a_time_wait_connection_shows_what_is_known_not_gone() {
    let (local, remote) = time_wait_pair();
    let mut source = LiveSource::new();
    source.want(Want {
        owners: true,
        info: true,
        follow: Some((local, remote)),
    });
    let is_it = |s: &tcplab::model::Socket| s.local == local && s.remote == remote;
    let mut scan = || -> Snapshot {
        wait_for("the socket in TIME_WAIT", Duration::from_secs(10), || {
            let snap = source.snapshot().unwrap();
            snap.sockets
                .iter()
                .any(|s| is_it(s) && s.state == TcpState::TimeWait)
                .then_some(snap)
        })
    };
    let mut app = App::new(Duration::from_secs(1), (80, 24), Theme { color: false });
    app.update(Event::Snapshot(scan()));
    press(&mut app, "2");
    // The cursor put on its row (other sockets of this machine come and go around it).
    let pick = |app: &mut App| {
        app.socks.cursor.at = app
            .socks
            .rows
            .iter()
            .position(|&i| is_it(&app.snapshot.sockets[i]))
            .expect("the TIME_WAIT socket is a row of the Sockets pane");
    };
    pick(&mut app);
    app.update(code(KeyCode::Enter));
    // The refreshes after it opened (with tcp_info asked for) still find it.
    app.update(Event::Snapshot(scan()));
    app.update(Event::Snapshot(scan()));
    let screen = render(&app);
    assert!(!screen.contains("is gone"), "{screen}");
    assert!(
        screen.contains(&format!("TIME_WAIT {local} → {remote}")),
        "{screen}"
    );
    assert!(screen.contains("no tcp_info"), "{screen}");
    assert!(
        screen.contains(" tw "),
        "the TIME_WAIT countdown:\n{screen}"
    );
    // `k` (the title offers it) has no process to signal, and says why rather than "no
    // process selected" over a selected connection.
    press(&mut app, "k");
    assert_eq!(app.overlay, tcplab::tui::app::Overlay::None);
    let said = app.status.as_ref().map(|(_, t)| t.as_str()).unwrap_or("");
    assert!(
        said.contains("no process holds a TIME_WAIT socket"),
        "status line: {said:?}"
    );
    pick(&mut app);
    app.update(code(KeyCode::Enter));

    // Once it has left the kernel's table (here: a snapshot without it), it is gone.
    let mut without = scan();
    without.sockets.retain(|s| !is_it(s));
    app.update(Event::Snapshot(without));
    let screen = render(&app);
    assert!(
        screen.contains(&format!("{local} → {remote} is gone")),
        "{screen}"
    );
}

/// While a connection's detail is open, each refresh carries that connection's whole tcp_info
/// (with its congestion control's name), looked up by its ends; every other socket carries the
/// brief the rate columns read, and no boxed struct.
#[test]
fn only_the_followed_connection_carries_its_whole_tcp_info() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    let followed = (client.local_addr().unwrap(), client.peer_addr().unwrap());
    let other = (
        accepted.local_addr().unwrap(),
        accepted.peer_addr().unwrap(),
    );
    let mut source = LiveSource::new();
    let mut want = Want {
        owners: false,
        info: true,
        follow: Some(followed),
    };
    source.want(want);
    let snap = source.snapshot().unwrap();
    let find = |snap: &Snapshot, ends: (SocketAddr, SocketAddr)| {
        snap.sockets
            .iter()
            .find(|s| (s.local, s.remote) == ends)
            .cloned()
            .expect("the test's connection")
    };
    let whole = find(&snap, followed);
    let info = whole
        .info
        .as_deref()
        .expect("the followed connection's tcp_info");
    assert!(info.congestion.is_some(), "{info:?}");
    assert_eq!(whole.brief, Some(info.brief()));
    let brief_only = find(&snap, other);
    assert!(brief_only.brief.is_some() && brief_only.info.is_none());
    assert!(snap
        .sockets
        .iter()
        .all(|s| s.info.is_none() || (s.local, s.remote) == followed));
    // Closed: nobody is looked up.
    want.follow = None;
    source.want(want);
    let snap = source.snapshot().unwrap();
    assert!(snap.sockets.iter().all(|s| s.info.is_none()));
    assert!(find(&snap, followed).brief.is_some());
    drop((client, accepted, listener));
}
