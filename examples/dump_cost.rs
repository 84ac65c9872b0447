//! The CPU (every thread of this process, user and system) one socket dump costs, for each
//! way the dashboard and the tracer ask the kernel: plain, with `tcp_info`, split or whole, and
//! the TIME_WAIT watch's dump of one state.
//!
//! Usage: dump_cost [ROUNDS]   (default 20)
//! Env:   ONLY=NAME   run only the case of that name (`info`, `refresh-rates`, ...)

use nix::time::{clock_gettime, ClockId};
use tcplab::kernel::live::LiveSource;
use tcplab::kernel::sockets::{ScanDetail, ScanOptions, SocketScanner, SplitPolicy};
use tcplab::model::{SnapshotSource, TcpState};
use tcplab::tui::traffic::Traffic;

fn cpu_ms() -> f64 {
    let t = clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID).expect("process CPU clock");
    t.tv_sec() as f64 * 1000.0 + t.tv_nsec() as f64 / 1e6
}

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let cases = [
        ("plain", ScanDetail::Basic, SplitPolicy::Auto, None),
        ("plain-whole", ScanDetail::Basic, SplitPolicy::Never, None),
        ("info", ScanDetail::Brief, SplitPolicy::Auto, None),
        ("info-whole", ScanDetail::Brief, SplitPolicy::Never, None),
        (
            "time-wait",
            ScanDetail::Basic,
            SplitPolicy::Never,
            Some(TcpState::TimeWait),
        ),
    ];
    let wanted = std::env::var("ONLY").ok();
    let run = |name: &str| wanted.as_deref().is_none_or(|w| w == name);
    for (name, detail, split, only) in cases {
        if !run(name) {
            continue;
        }
        let mut scanner = SocketScanner::with(ScanOptions {
            detail,
            split,
            only,
            ..ScanOptions::default()
        });
        let mut n = scanner.scan()?.sockets.len();
        let mut cpu: Vec<f64> = (0..rounds)
            .map(|_| {
                let t = cpu_ms();
                n = scanner.scan().map_or(0, |s| s.sockets.len());
                cpu_ms() - t
            })
            .collect();
        cpu.sort_by(f64::total_cmp);
        println!(
            "{name:12} sockets={n:6} cpu_ms median={:.2} min={:.2}",
            cpu[rounds / 2],
            cpu[0]
        );
    }
    // One socket asked for by its ends, as the TIME_WAIT watch does for a few.
    if run("lookup") {
        let mut scanner = SocketScanner::new();
        let pairs: Vec<_> = scanner
            .scan()?
            .sockets
            .iter()
            .take(1000)
            .map(|s| (s.local, s.remote))
            .collect();
        let t = cpu_ms();
        let found = pairs
            .iter()
            .filter(|(l, r)| matches!(scanner.lookup(*l, *r, ScanDetail::Basic), Ok(Some(_))))
            .count();
        println!(
            "lookup       {found} of {} found, cpu_us each={:.1}",
            pairs.len(),
            (cpu_ms() - t) * 1000.0 / pairs.len().max(1) as f64
        );
    }
    // The whole refresh as the dashboard runs it: the 18k case (no owners, no tcp_info) and
    // the rate columns (owners and tcp_info, then the rates on the main loop).
    for (name, owners, detail, split) in [
        ("refresh", false, ScanDetail::Basic, SplitPolicy::Auto),
        ("refresh-rates", true, ScanDetail::Brief, SplitPolicy::Auto),
        (
            "refresh-rates-whole",
            true,
            ScanDetail::Brief,
            SplitPolicy::Never,
        ),
    ] {
        if !run(name) {
            continue;
        }
        let mut source = LiveSource::new();
        source.set_owner_lookup(owners);
        source.set_socket_detail(detail);
        source.set_split(split);
        let mut traffic = Traffic::default();
        let first = source.snapshot()?;
        let in_view: Vec<_> = first
            .sockets
            .iter()
            .take(45)
            .map(|s| (s.local, s.remote))
            .collect();
        traffic.update(&first, &in_view);
        let mut cpu = Vec::new();
        let mut upd = Vec::new();
        let mut wall = Vec::new();
        for _ in 0..rounds {
            let t = cpu_ms();
            let started = std::time::Instant::now();
            let snap = source.snapshot()?;
            wall.push(started.elapsed().as_secs_f64() * 1000.0);
            let u = cpu_ms();
            if owners {
                traffic.update(&snap, &in_view);
            }
            let done = cpu_ms();
            drop(snap);
            cpu.push(done - t);
            upd.push(done - u);
        }
        cpu.sort_by(f64::total_cmp);
        upd.sort_by(f64::total_cmp);
        wall.sort_by(f64::total_cmp);
        println!(
            "{name:12} cpu_ms median={:.2} min={:.2} wall_ms median={:.2} (rates update median={:.2})",
            cpu[rounds / 2],
            cpu[0],
            wall[rounds / 2],
            upd[rounds / 2]
        );
    }
    Ok(())
}
