//! The dashboard's main-loop cost per refresh, apart from the scan: a live snapshot (owners
//! and `tcp_info`, as the rate columns want) handed to `App::update`, then one frame drawn into
//! a test backend, at the size bench/tui.sh's "-rates" cases use (160x50, Sockets alone). The
//! snapshots are taken first, so the scan's time is not in the figures. Transitions are taken
//! to come from the kernel's tracepoints, as they do for root.
//!
//! Times are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so a busy machine's waits for a
//! core are not in them.
//!
//! Usage: tui_cost [ROUNDS]   (default 10)

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tcplab::kernel::live::LiveSource;
use tcplab::kernel::sockets::ScanDetail;
use tcplab::model::{SnapshotSource, TransitionSource};
use tcplab::tui::theme::Theme;
use tcplab::tui::{App, Event};

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let mut source = LiveSource::new();
    source.set_owner_lookup(true);
    source.set_socket_detail(ScanDetail::Brief);
    let (w, h) = (160, 50);
    let mut app = App::new(Duration::from_secs(1), (w, h), Theme::default());
    let mut term = Terminal::new(TestBackend::new(w, h))?;
    // As root the kernel's tracepoints give the transitions (bench/tui.sh runs as root): the
    // snapshot-diff sampler does not run.
    app.set_transition_source(TransitionSource::Tracepoint);
    for c in ['o', '2'] {
        app.update(Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }
    let mut snaps = Vec::with_capacity(rounds + 1);
    for _ in 0..=rounds {
        snaps.push(source.snapshot()?);
        std::thread::sleep(Duration::from_millis(200));
    }
    let sockets = snaps[0].sockets.len();
    let (mut updates, mut draws) = (Vec::new(), Vec::new());
    for snap in snaps {
        let t = cpu_now();
        app.update(Event::Snapshot(snap));
        updates.push(cpu_now() - t);
        // The dashboard frees the replaced snapshot on its refresh thread.
        let retired = app.retired.take();
        let t = cpu_now();
        term.draw(|f| tcplab::tui::draw(f, &app))?;
        draws.push(cpu_now() - t);
        drop(retired);
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1000.0
    };
    println!(
        "sockets={sockets} update_median_ms={:.2} draw_median_ms={:.2}",
        median(updates),
        median(draws)
    );
    Ok(())
}

/// The CPU time this thread has used.
fn cpu_now() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}
