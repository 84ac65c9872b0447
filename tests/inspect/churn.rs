//! Processes and sockets that come and go during a scan: a refresh never fails or panics
//! because something vanished half-way, and what it returns is consistent.

use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tcplab::kernel::live::LiveSource;
use tcplab::model::SnapshotSource;

#[test]
fn refresh_survives_processes_and_sockets_vanishing() {
    testkit::subreaper();
    let stop = AtomicBool::new(false);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut source = LiveSource::new();
    let mut refreshes = 0;
    std::thread::scope(|scope| {
        // Short-lived processes, one after another.
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let _ = Command::new("true").status();
            }
        });
        // Connections opened and closed as fast as they go.
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(c) = TcpStream::connect(addr) {
                    if let Ok((s, _)) = listener.accept() {
                        drop((c, s));
                    }
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(2);
        // At least 2 s of churn and at least 3 refreshes, however slow the machine is.
        while Instant::now() < deadline || refreshes < 3 {
            let snap = source.snapshot().expect("a refresh under churn");
            refreshes += 1;
            assert!(snap
                .processes
                .iter()
                .any(|p| p.pid == std::process::id() as i32));
            for p in &snap.processes {
                assert!(p.pid > 0, "{p:?}");
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
}
