//! The session as the dashboard drives it: checked against the dashboard's own snapshots
//! (`tick_with`), with transitions from the session's tracer.

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use tcplab::kernel::live::LiveSource;
use tcplab::learn::lang::Lang;
use tcplab::learn::session::{Change, Session};
use tcplab::model::SnapshotSource;

#[test]
fn the_handshake_lesson_on_the_dashboards_snapshots() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut s = Session::new(Lang::En, port, dir.path().join("learn.json")).unwrap();
    assert!(s.open_lesson("handshake"));
    assert!(s.watcher.wait_tracing(Duration::from_secs(15)));
    let mut source = LiveSource::new();
    let mut tick = |s: &mut Session| s.tick_with(&source.snapshot().unwrap()).unwrap();
    // The listener is there: step 1 at the first look.
    assert!(matches!(tick(&mut s), Some(Change::StepDone(0, _))));
    assert_eq!(tick(&mut s), None);
    let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let _a = l.accept().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(Change::StepDone(1, text)) = tick(&mut s) {
            assert!(text.contains("ESTABLISHED"), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "no handshake: {:?}", s.verdict);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(s.next_step(), None);
}
