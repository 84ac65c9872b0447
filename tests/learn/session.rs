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

/// A check that cannot be made here (who holds the listener is unknown: another user's, and
/// tcplab not root) says why; S skips it, recorded as skipped, not done; a step that is only
/// waiting cannot be skipped.
#[test]
fn a_check_that_cannot_be_made_is_skipped_never_ticked() {
    use tcplab::learn::check::Verdict;
    use tcplab::model::{Snapshot, TcpState};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("learn.json");
    let mut s = Session::new(Lang::En, 40123, path.clone()).unwrap();
    assert!(s.open_lesson("prefork"));
    // Nothing listens yet: waiting, and S does nothing.
    let mut snap = Snapshot::default();
    assert_eq!(s.tick_with(&snap).unwrap(), None);
    assert!(
        matches!(s.verdict, Some(Verdict::Waiting(_))),
        "{:?}",
        s.verdict
    );
    assert!(!s.skip().unwrap());
    // A listener whose holders could not be read.
    let mut l = tcplab::tui::fake::sample().sockets[0].clone();
    l.state = TcpState::Listen;
    l.local = "127.0.0.1:40123".parse().unwrap();
    l.remote = "0.0.0.0:0".parse().unwrap();
    l.owners = None;
    snap.sockets.push(l);
    assert_eq!(s.tick_with(&snap).unwrap(), None);
    match &s.verdict {
        Some(Verdict::Cannot(why)) => assert!(why.contains("root"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(s.skip().unwrap());
    let step = s.lesson().steps[0].clone();
    assert_eq!(s.step_finished(&step), Some("skipped"));
    let saved = tcplab::learn::progress::Progress::load(&path).unwrap();
    let p = &saved.lessons["prefork"];
    assert_eq!(
        (p.done.len(), p.skipped.as_slice()),
        (0, [step.id.clone()].as_slice())
    );
    assert_eq!(s.next_step(), Some(1));
}
