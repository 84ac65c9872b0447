//! Refreshes that take long: keys act while a scan is still running (the scan is on its own
//! thread), and the interval backs off while a refresh costs more than it, saying so. The slow
//! source is a fake that answers only when the test lets it: no clock decides anything.

use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use testkit::dashboard::{app, key, render};
use testkit::wait_for;

use tcplab::model::{Snapshot, SnapshotSource};
use tcplab::tui::fake::{self, FakeSource};
use tcplab::tui::scanner::{RefreshSource, Scanner, Want};
use tcplab::tui::Event;

/// A source whose every scan waits until the test opens the gate once.
struct Gated {
    inner: FakeSource,
    gate: Receiver<()>,
}

impl SnapshotSource for Gated {
    fn snapshot(&mut self) -> anyhow::Result<Snapshot> {
        self.gate.recv()?;
        self.inner.snapshot()
    }
}

impl RefreshSource for Gated {}

#[test]
fn a_key_acts_on_screen_while_a_refresh_is_still_running() {
    let (open, gate) = mpsc::channel();
    let mut later = fake::sample();
    later.processes.retain(|p| p.pid != 2);
    let mut scanner = Scanner::start(Gated {
        inner: FakeSource::new([later]),
        gate,
    })
    .unwrap();
    let mut app = app(120, 30);
    scanner.request(Want::default());
    assert!(scanner.busy());
    // The scan cannot finish until the gate opens: the key's effect is on screen first.
    app.update(key('2'));
    let screen = render(&app);
    assert!(screen.contains("Sockets 13/13"), "{screen}");
    assert!(scanner.finished().is_empty(), "the scan is still running");
    // A request meanwhile waits for the running scan, not beside it.
    scanner.request(Want {
        owners: true,
        ..Want::default()
    });
    open.send(()).unwrap();
    let first = wait_for("the first refresh", Duration::from_secs(10), || {
        scanner.finished().pop()
    });
    app.update(Event::Snapshot(first.unwrap()));
    assert_eq!(app.snapshot.processes.len(), 15);
    assert!(scanner.busy(), "the queued request started");
    open.send(()).unwrap();
    wait_for("the queued refresh", Duration::from_secs(10), || {
        scanner.finished().pop()
    })
    .unwrap();
    assert!(!scanner.busy());
}

#[test]
fn the_interval_backs_off_while_a_refresh_costs_more_and_says_so() {
    let mut app = app(120, 30);
    assert_eq!(app.tick_interval(), Duration::from_secs(1));
    let mut slow = fake::sample();
    slow.cost = Duration::from_millis(1600);
    app.update(Event::Snapshot(slow));
    assert_eq!(app.tick_interval(), Duration::from_millis(3200));
    let screen = render(&app);
    assert!(
        screen.contains("every 1.0s→3.2s (a refresh takes 1.6s)"),
        "{screen}"
    );
    let mut quick = fake::sample();
    quick.cost = Duration::from_millis(20);
    app.update(Event::Snapshot(quick));
    assert_eq!(app.tick_interval(), Duration::from_secs(1));
}

/// The snapshot a new one replaces is handed back (the runtime frees it on the refresh
/// thread, not between keys), and the refresh thread, given it, goes on answering refreshes.
#[test]
fn a_replaced_snapshot_is_handed_back_and_freed_off_the_main_loop() {
    let mut app = app(120, 30);
    let mut first = fake::sample();
    first.processes.retain(|p| p.pid != 2);
    let second = fake::sample();
    app.update(Event::Snapshot(first));
    assert!(
        app.retired.take().is_some(),
        "the one the test's app began with"
    );
    app.update(Event::Snapshot(second));
    let replaced = app.retired.take().expect("the first snapshot, handed back");
    assert!(replaced.processes.iter().all(|p| p.pid != 2));
    assert!(app.snapshot.processes.iter().any(|p| p.pid == 2));

    let mut scanner = Scanner::start(FakeSource::new([fake::sample()])).unwrap();
    scanner.retire(replaced);
    scanner.request(Want::default());
    let done = wait_for(
        "a refresh after a freed snapshot",
        Duration::from_secs(10),
        || scanner.finished().pop(),
    );
    assert!(done.unwrap().processes.iter().any(|p| p.pid == 2));
}
