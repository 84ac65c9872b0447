//! `GET /metrics`: the server's counters in the Prometheus text format, read from the same
//! [`Scoreboard`] that `/status` reads, so both pages always agree.
//!
//! Series without a `worker` label are the whole server since it started: they survive
//! reloads and respawns (a worker's counts move into the server's totals when its slot is
//! reused). Series with `worker` (the slot number) are that worker's own and start over when
//! a new worker takes the slot, as a counter reset that `rate()` handles. Everything starts
//! over when the server process restarts.

use prometheus_client::registry::Unit;

use super::config::Config;
use super::stats::{Scoreboard, StatsView};
use crate::metrics::exposition::{self, labels, Exposition, Format, Labels};

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The page, encoded as the scraper asked.
pub fn page(board: &Scoreboard, config: &Config, format: Format) -> String {
    exposition_of(board, config.model.name(), config.server_started_unix_ms).encode(format)
}

fn exposition_of(board: &Scoreboard, model: &str, started_unix_ms: u64) -> Exposition {
    let mut e = Exposition::new();
    exposition::build_info(&mut e);
    e.info(
        "tcplab_serve_model",
        "The server's concurrency model (--model)",
        labels([("model", model)]),
    );
    e.gauge_f64(
        "tcplab_serve_start_time",
        "When the server process started, since the Unix epoch",
        Some(Unit::Seconds),
        started_unix_ms as f64 / 1000.0,
    );
    let workers: Vec<(usize, StatsView)> = board.in_use_indexed().collect();
    e.gauge(
        "tcplab_serve_workers",
        "Worker processes serving now",
        None,
        workers.len() as i64,
    );
    let totals = board.server_totals();
    e.counter(
        "tcplab_serve_reloads",
        "Reloads (HUP): a new generation of workers, or a one-process server's logs reopened",
        None,
        totals.reloads.load(std::sync::atomic::Ordering::Relaxed),
    );
    e.counter(
        "tcplab_serve_worker_respawns",
        "Workers that died unexpectedly and were replaced",
        None,
        totals.respawns.load(std::sync::atomic::Ordering::Relaxed),
    );
    let all = board.totals();
    e.counters(
        "tcplab_serve_requests",
        "Responses sent, by status class, over the server's whole life",
        None,
        by_class(&[], &all),
    );
    e.counter(
        "tcplab_serve_connections_accepted",
        "Connections accepted over the server's whole life",
        None,
        all.connections_total,
    );
    e.gauge(
        "tcplab_serve_connections_open",
        "Connections open now",
        None,
        all.connections_open as i64,
    );
    e.counter(
        "tcplab_serve_received",
        "Bytes read from clients over the server's whole life",
        Some(Unit::Bytes),
        all.bytes_in,
    );
    e.counter(
        "tcplab_serve_sent",
        "Bytes written to clients over the server's whole life",
        Some(Unit::Bytes),
        all.bytes_out,
    );

    let per = |f: fn(&StatsView) -> u64| -> Vec<(Labels, u64)> {
        workers
            .iter()
            .map(|(slot, w)| (labels([("worker", &slot.to_string())]), f(w)))
            .collect()
    };
    let as_gauge = |rows: Vec<(Labels, u64)>| -> Vec<(Labels, i64)> {
        rows.into_iter().map(|(l, v)| (l, v as i64)).collect()
    };
    e.counters(
        "tcplab_serve_worker_requests",
        "Responses sent by this worker, by status class (reset when a new worker takes the slot)",
        None,
        workers
            .iter()
            .flat_map(|(slot, w)| by_class(&[("worker", slot.to_string())], w))
            .collect(),
    );
    e.counters(
        "tcplab_serve_worker_connections_accepted",
        "Connections this worker accepted",
        None,
        per(|w| w.connections_total),
    );
    e.gauges(
        "tcplab_serve_worker_connections_open",
        "Connections this worker has open now",
        None,
        as_gauge(per(|w| w.connections_open)),
    );
    e.counters(
        "tcplab_serve_worker_received",
        "Bytes this worker read from clients",
        Some(Unit::Bytes),
        per(|w| w.bytes_in),
    );
    e.counters(
        "tcplab_serve_worker_sent",
        "Bytes this worker wrote to clients",
        Some(Unit::Bytes),
        per(|w| w.bytes_out),
    );
    e.gauges(
        "tcplab_serve_worker_pid",
        "The process id of the worker in this slot",
        None,
        as_gauge(per(|w| w.pid)),
    );
    e
}

/// One series per status class, after `first` labels.
fn by_class(first: &[(&'static str, String)], s: &StatsView) -> Vec<(Labels, u64)> {
    CLASSES
        .iter()
        .zip(s.responses)
        .map(|(class, n)| {
            let mut l: Labels = first.to_vec();
            l.push(("class", class.to_string()));
            (l, n)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::stats::{ServerTotals, Stats};
    use std::sync::atomic::Ordering::Relaxed;

    /// Two live workers (slots 0 and 2) and one that exited (slot 1), after one reload and
    /// one respawn.
    fn board() -> Scoreboard {
        let slots: &'static [Stats; 3] =
            Box::leak(Box::new([Stats::new(), Stats::new(), Stats::new()]));
        let totals: &'static ServerTotals = Box::leak(Box::new(ServerTotals::new()));
        for (i, (pid, conns, open, bytes_in, bytes_out, codes)) in [
            (101_u64, 4, 1, 800, 2000, &[200, 200, 200, 404][..]),
            (0, 2, 0, 300, 900, &[200, 304][..]),
            (103, 1, 1, 100, 150, &[500][..]),
        ]
        .into_iter()
        .enumerate()
        {
            let s = &slots[i];
            for _ in 0..conns {
                s.opened();
            }
            for _ in open..conns {
                s.closed();
            }
            s.add_requests(codes.len() as u64);
            for &c in codes {
                s.answered(c);
            }
            s.add_bytes_in(bytes_in);
            s.add_bytes_out(bytes_out);
            s.pid.store(pid, Relaxed);
            s.started_unix_ms.store(1_700_000_000_000, Relaxed);
        }
        totals.bump_reloads();
        totals.bump_respawns();
        Scoreboard::new(slots, totals, 0)
    }

    #[test]
    fn exposition_of_a_fixed_server() {
        let e = exposition_of(&board(), "prefork", 1_700_000_000_250);
        let text = e
            .encode(Format::Prometheus)
            .replace(env!("CARGO_PKG_VERSION"), "VERSION");
        insta::assert_snapshot!("serve_prometheus", text);
        let om = e
            .encode(Format::OpenMetrics)
            .replace(env!("CARGO_PKG_VERSION"), "VERSION");
        insta::assert_snapshot!("serve_openmetrics", om);
    }
}
