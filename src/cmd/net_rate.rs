//! `tcplab net --rate [--interval 1s] [--by-process]`: two samples of every socket's byte
//! counters (`tcp_info`), the interval apart, as bytes per second per socket or per owning
//! process — nethogs without packet capture or root.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use crate::cli::NetArgs;
use crate::kernel::owners::OwnerIndex;
use crate::kernel::sockets::{ScanDetail, ScanOptions, SocketScanner, TcpScan};
use crate::model::rates::{by_process, Counters, ProcessRate, Throughput};
use crate::model::{owners_text, Socket};
use crate::text::printable;
use crate::units::format_size;

use super::net::{json_fields, push_json_string, push_u64};
use crate::model::SocketFilter;

pub fn run(args: &NetArgs, filter: &SocketFilter) -> anyhow::Result<ExitCode> {
    // With --port the kernel lists that port's sockets only: a dump of a busy machine takes
    // long enough (a second at tens of thousands of sockets) that where in it a socket's
    // counters are read would skew its window, and its rate with it.
    // The byte counters are all a rate needs: the brief of tcp_info, not every socket's
    // whole struct and congestion name.
    let mut scanner = SocketScanner::with(ScanOptions {
        detail: ScanDetail::Brief,
        port: args.port,
        ..ScanOptions::default()
    });
    let (first, first_at) = timed_scan(&mut scanner)?;
    if first.from_procfs {
        eprintln!(
            "tcplab net: --rate needs netlink sock_diag (tcp_info), which is unavailable here"
        );
        return Ok(ExitCode::FAILURE);
    }
    let before = Counters::of(&first.sockets);
    drop(first);
    std::thread::sleep(args.interval);
    let (second, second_at) = timed_scan(&mut scanner)?;
    let mut sockets: Vec<Socket> = second
        .sockets
        .into_iter()
        .filter(|s| filter.keeps(s))
        .collect();
    let rates = before.rates(&sockets, second_at.duration_since(first_at));
    if !args.no_owners {
        let mut index = OwnerIndex::new();
        index
            .refresh(&[])
            .map_err(|e| anyhow::anyhow!("cannot list /proc: {e}"))?;
        index.fill(&mut sockets);
    }
    let text = if args.by_process {
        let (procs, unknown, unknown_count) = by_process(&sockets, &rates);
        if args.json {
            process_json(&procs, unknown, unknown_count)?
        } else {
            process_table(&procs, unknown, unknown_count)
        }
    } else {
        // Busiest first; sockets without a rate (not in both samples) are left out.
        let mut rows: Vec<(&Socket, Throughput)> = sockets
            .iter()
            .zip(&rates)
            .filter_map(|(s, r)| r.map(|r| (s, r)))
            .collect();
        rows.sort_by(|a, b| b.1.total().total_cmp(&a.1.total()));
        if args.json {
            socket_json(&rows)?
        } else {
            socket_table(&rows)
        }
    };
    crate::output::print(&text)
}

/// A scan and the moment it read the counters: the middle of the dump.
fn timed_scan(scanner: &mut SocketScanner) -> anyhow::Result<(TcpScan, Instant)> {
    let started = Instant::now();
    let scan = scanner.scan()?;
    Ok((scan, started + started.elapsed() / 2))
}

fn per_second(bytes: f64) -> String {
    format!("{}/s", format_size(bytes.round() as u64))
}

fn socket_table(rows: &[(&Socket, Throughput)]) -> String {
    let mut out = String::with_capacity(rows.len() * 120 + 100);
    let _ = writeln!(
        out,
        "{:<12} {:<45} {:<45} {:>11} {:>11} OWNERS",
        "STATE", "LOCAL", "REMOTE", "SEND", "RECV"
    );
    for (s, r) in rows {
        let _ = writeln!(
            out,
            "{:<12} {:<45} {:<45} {:>11} {:>11} {}",
            s.state.kernel_name(),
            s.local,
            s.remote,
            per_second(r.send),
            per_second(r.recv),
            owners_text(s.owners.as_deref()),
        );
    }
    out
}

fn socket_json(rows: &[(&Socket, Throughput)]) -> anyhow::Result<String> {
    let mut out = Vec::with_capacity(rows.len() * 250 + 4);
    out.extend_from_slice(b"[\n");
    for (i, (s, r)) in rows.iter().enumerate() {
        out.push(b'{');
        json_fields(&mut out, s, None, ScanDetail::Basic);
        push_rate(&mut out, *r);
        out.push(b'}');
        out.extend_from_slice(if i + 1 < rows.len() { b",\n" } else { b"\n" });
    }
    out.extend_from_slice(b"]\n");
    Ok(String::from_utf8(out)?)
}

/// `,"send_bytes_per_s":N,"recv_bytes_per_s":N`
fn push_rate(out: &mut Vec<u8>, r: Throughput) {
    out.extend_from_slice(b",\"send_bytes_per_s\":");
    push_u64(out, r.send.round() as u64);
    out.extend_from_slice(b",\"recv_bytes_per_s\":");
    push_u64(out, r.recv.round() as u64);
}

fn process_table(procs: &[ProcessRate], unknown: Throughput, unknown_count: usize) -> String {
    let mut out = String::with_capacity(procs.len() * 80 + 200);
    let _ = writeln!(
        out,
        "{:>8} {:<16} {:>7} {:>6} {:>11} {:>11}",
        "PID", "COMM", "SOCKETS", "SHARED", "SEND", "RECV"
    );
    for p in procs {
        let _ = writeln!(
            out,
            "{:>8} {:<16} {:>7} {:>6} {:>11} {:>11}",
            p.pid,
            printable(&p.comm),
            p.sockets,
            p.shared,
            per_second(p.rate.send),
            per_second(p.rate.recv)
        );
    }
    if unknown_count > 0 {
        let _ = writeln!(
            out,
            "{:>8} {:<16} {:>7} {:>6} {:>11} {:>11}",
            "?",
            "(owner unknown)",
            unknown_count,
            "-",
            per_second(unknown.send),
            per_second(unknown.recv)
        );
    }
    if procs.iter().any(|p| p.shared > 0) {
        out.push_str(
            "SHARED: sockets other processes hold too; each holder's line counts them in full.\n",
        );
    }
    out
}

fn process_json(
    procs: &[ProcessRate],
    unknown: Throughput,
    unknown_count: usize,
) -> anyhow::Result<String> {
    let mut out = Vec::with_capacity(procs.len() * 150 + 100);
    out.extend_from_slice(b"[\n");
    let mut rows: Vec<Vec<u8>> = procs
        .iter()
        .map(|p| {
            let mut row = b"{\"pid\":".to_vec();
            push_u64(&mut row, p.pid as u64);
            row.extend_from_slice(b",\"comm\":");
            push_json_string(&mut row, &p.comm);
            row.extend_from_slice(b",\"sockets\":");
            push_u64(&mut row, p.sockets as u64);
            row.extend_from_slice(b",\"shared_sockets\":");
            push_u64(&mut row, p.shared as u64);
            push_rate(&mut row, p.rate);
            row.push(b'}');
            row
        })
        .collect();
    if unknown_count > 0 {
        let mut row = b"{\"pid\":null,\"comm\":null,\"sockets\":".to_vec();
        push_u64(&mut row, unknown_count as u64);
        row.extend_from_slice(b",\"shared_sockets\":null");
        push_rate(&mut row, unknown);
        row.push(b'}');
        rows.push(row);
    }
    out.extend_from_slice(&rows.join(&b",\n"[..]));
    if !rows.is_empty() {
        out.push(b'\n');
    }
    out.extend_from_slice(b"]\n");
    Ok(String::from_utf8(out)?)
}
