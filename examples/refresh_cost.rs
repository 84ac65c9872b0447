//! The in-process cost of one full refresh (processes + sockets + owners) as the dashboard does
//! it with one long-lived `LiveSource`: the first refresh (cold caches) and steady-state ones.
//!
//! Then the same steady-state refresh with the dashboard's rate columns shown: `tcp_info` in
//! the dump and the per-socket and per-process rates computed (`tui::traffic::Traffic`).
//!
//! Usage: refresh_cost [STEADY_ROUNDS]   (default 20)

use std::time::{Duration, Instant};

use tcplab::kernel::live::LiveSource;
use tcplab::model::SnapshotSource;

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let mut source = LiveSource::new();
    let t = Instant::now();
    let first = source.snapshot()?;
    let first_cost = t.elapsed();
    let first_reads = source.owner_reads().unwrap_or(0);
    let mut times: Vec<Duration> = Vec::with_capacity(rounds);
    let mut reads = Vec::with_capacity(rounds);
    let mut sockets = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let snap = source.snapshot()?;
        times.push(t.elapsed());
        reads.push(source.owner_reads().unwrap_or(0));
        sockets = snap.sockets.len();
    }
    times.sort();
    // The parts on their own: the kernel's socket dump, and the process scan.
    let mut dump: Vec<Duration> = (0..rounds.min(10))
        .map(|_| {
            let t = Instant::now();
            let _ = source.sockets_only();
            t.elapsed()
        })
        .collect();
    dump.sort();
    let mut scanner = tcplab::kernel::processes::ProcessScanner::new();
    let mut procs: Vec<Duration> = (0..rounds.min(10))
        .map(|_| {
            let t = Instant::now();
            let _ = scanner.scan();
            t.elapsed()
        })
        .collect();
    procs.sort();
    source.set_socket_detail(tcplab::kernel::sockets::ScanDetail::Brief);
    let mut traffic = tcplab::tui::traffic::Traffic::default();
    // A tall terminal's worth of connections on screen, whose graphs are kept.
    let seed = source.snapshot()?;
    let in_view: Vec<_> = seed
        .sockets
        .iter()
        .take(100)
        .map(|s| (s.local, s.remote))
        .collect();
    traffic.update(&seed, &in_view);
    // The update alone runs on the dashboard's main loop, between keys.
    let mut updates: Vec<Duration> = Vec::with_capacity(rounds);
    let mut with_info: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            if let Ok(snap) = source.snapshot() {
                let u = Instant::now();
                traffic.update(&snap, &in_view);
                updates.push(u.elapsed());
            }
            t.elapsed()
        })
        .collect();
    with_info.sort();
    updates.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "processes={} sockets={} first_ms={:.2} first_fd_reads={} steady_median_ms={:.2} steady_min_ms={:.2} steady_max_ms={:.2} steady_fd_reads_max={} sockets_only_median_ms={:.2} processes_only_median_ms={:.2} rated_refresh_median_ms={:.2} rates_update_median_ms={:.2}",
        first.processes.len(),
        sockets,
        ms(first_cost),
        first_reads,
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        reads.iter().max().unwrap_or(&0),
        ms(dump[dump.len() / 2]),
        ms(procs[procs.len() / 2]),
        ms(with_info[with_info.len() / 2]),
        updates.get(updates.len() / 2).map_or(f64::NAN, |&d| ms(d)),
    );
    Ok(())
}
