//! `tcplab net`: every TCP socket like `ss -tanp`, with every process holding it; filters by
//! state and port, a per-state summary, or JSON.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::mpsc;

use crate::cli::{NetArgs, UsageError};
use crate::kernel::owners::OwnerIndex;
use crate::kernel::sockets::{ScanDetail, ScanOptions, SocketScanner, SplitPolicy, TcpScan};
use crate::model::counts::StateCounts;
use crate::model::{owners_text, Socket, SocketFilter, TcpState, TimerKind};

/// The sockets the command line asks for (`--state`, `--listen`, `--port`), or a one-line
/// usage error for an unknown state name.
pub fn filter_of(args: &NetArgs) -> Result<SocketFilter, UsageError> {
    let mut states = args
        .states
        .iter()
        .map(|s| SocketFilter::state(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| UsageError(e.to_string()))?;
    if args.listen {
        states.push(TcpState::Listen);
    }
    Ok(SocketFilter {
        states,
        ports: args.port.into_iter().collect(),
        words: Vec::new(),
    })
}

pub fn run(args: NetArgs) -> anyhow::Result<ExitCode> {
    let filter = filter_of(&args)?;
    if args.rate {
        return super::net_rate::run(&args, &filter);
    }
    let detail = if args.info {
        ScanDetail::TcpInfo
    } else {
        ScanDetail::Basic
    };
    let want_owners = !args.no_owners && !args.summary;
    let (scan, index) = scan_and_walk(detail, want_owners);
    let scan = scan?;
    let mut sockets: Vec<Socket> = scan
        .sockets
        .into_iter()
        .filter(|s| filter.keeps(s))
        .collect();
    if scan.from_procfs {
        eprintln!("tcplab net: netlink sock_diag unavailable; read /proc/net/tcp instead (no listen backlog, no tcp_info)");
    }

    if args.summary {
        return crate::output::print(&summary(&StateCounts::of(&sockets), args.json)?);
    }

    let index = index
        .transpose()
        .map_err(|e| anyhow::anyhow!("cannot list /proc: {e}"))?;
    let done = if args.json {
        // Owners straight from the index: no list per socket to build and free.
        print_json(&sockets, index.as_ref(), detail)
    } else {
        if let Some(index) = &index {
            index.fill(&mut sockets);
        }
        crate::output::print(&table(&sockets))
    };
    // Printed: what is left is freed by the process's exit at once, not object by object
    // (tens of thousands of sockets and the owner index).
    std::mem::forget((sockets, index));
    done
}

/// The kernel's socket dump and, when `owners`, the walk of every process's descriptors. They
/// are independent: run at once (the walk is most of the command's time with thousands of
/// sockets).
fn scan_and_walk(
    detail: ScanDetail,
    owners: bool,
) -> (anyhow::Result<TcpScan>, Option<std::io::Result<OwnerIndex>>) {
    std::thread::scope(|scope| {
        let walk = owners.then(|| {
            scope.spawn(|| {
                let mut index = OwnerIndex::new();
                index.refresh(&[]).map(|()| index)
            })
        });
        // With owners, the walk is the longer task and both cores are busy with it: a split
        // dump would only add its second walk of the hash table.
        let mut scanner = SocketScanner::with(ScanOptions {
            detail,
            split: if owners {
                SplitPolicy::Never
            } else {
                SplitPolicy::Auto
            },
            ..ScanOptions::default()
        });
        let scan = scanner.scan();
        let index = walk.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the owner walk panicked")))
        });
        (scan, index)
    })
}

/// `--summary`: sockets per state and the total, as a table or a JSON object.
fn summary(counts: &StateCounts, json: bool) -> anyhow::Result<String> {
    if json {
        let map: serde_json::Map<String, serde_json::Value> = counts
            .iter()
            .map(|(s, n)| (s.kernel_name().to_string(), n.into()))
            .collect();
        return Ok(format!("{}\n", serde_json::to_string_pretty(&map)?));
    }
    let mut t = String::new();
    for (s, n) in counts.iter() {
        let _ = writeln!(t, "{:<13}{n:>7}", s.kernel_name());
    }
    let _ = writeln!(t, "{:<13}{:>7}", "TOTAL", counts.total());
    Ok(t)
}

/// `tcplab net --json` (schema in docs/json.md): one object per line inside the array.
///
/// Written by hand rather than through serde: at tens of thousands of sockets the per-socket
/// allocations (address strings, one serialized string per object) and `fmt` machinery were a
/// visible share of the command's time (bench/RESULTS.md). Only `comm` can need escaping; it
/// goes through serde_json.
pub fn json(sockets: &[Socket]) -> anyhow::Result<String> {
    let mut out = Vec::with_capacity(sockets.len() * 200 + 4);
    out.extend_from_slice(b"[\n");
    for (i, s) in sockets.iter().enumerate() {
        json_object(&mut out, s, None, ScanDetail::Basic);
        out.extend_from_slice(if i + 1 < sockets.len() { b",\n" } else { b"\n" });
    }
    out.extend_from_slice(b"]\n");
    Ok(String::from_utf8(out)?)
}

/// Streams the same JSON to stdout in blocks of whole objects, so 18,000 sockets need neither a
/// multi-megabyte buffer nor the page faults of filling one; stops quietly if the reader left.
/// With two cores a helper thread formats every other block while this one formats and writes
/// the rest, in order: with `--info` each object is about a kilobyte, and formatting was a
/// quarter of the command's time.
fn print_json(
    sockets: &[Socket],
    index: Option<&OwnerIndex>,
    detail: ScanDetail,
) -> anyhow::Result<ExitCode> {
    const BLOCK: usize = 256;
    let blocks = sockets.len().div_ceil(BLOCK);
    let format = |k: usize, buf: &mut Vec<u8>| {
        buf.clear();
        let start = k * BLOCK;
        let end = (start + BLOCK).min(sockets.len());
        for (i, s) in sockets[start..end].iter().enumerate() {
            json_object(buf, s, index, detail);
            buf.extend_from_slice(if start + i + 1 < sockets.len() {
                b",\n"
            } else {
                b"\n"
            });
        }
    };
    let capacity = |detail| match detail {
        ScanDetail::Basic => BLOCK * 250,
        ScanDetail::TcpInfo | ScanDetail::Brief => BLOCK * 1300,
    };
    if !crate::output::write(b"[\n")? {
        return Ok(ExitCode::SUCCESS);
    }
    let two_cores = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    let open = std::thread::scope(|scope| -> anyhow::Result<bool> {
        // Formatted blocks to this thread; emptied buffers back to the helper.
        let (formatted, from_helper) = mpsc::sync_channel::<Vec<u8>>(2);
        let (spare, spares) = mpsc::channel::<Vec<u8>>();
        let helper = (two_cores && blocks > 1).then(|| {
            scope.spawn(move || {
                for k in (1..blocks).step_by(2) {
                    let mut buf = spares
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(capacity(detail)));
                    format(k, &mut buf);
                    if formatted.send(buf).is_err() {
                        return; // the reader left
                    }
                }
            })
        });
        let mut buf = Vec::with_capacity(capacity(detail));
        for k in 0..blocks {
            let theirs = if helper.is_some() && k % 2 == 1 {
                from_helper.recv().ok()
            } else {
                None
            };
            let written = match theirs {
                Some(block) => {
                    let written = crate::output::write(&block)?;
                    let _ = spare.send(block);
                    written
                }
                // This thread's block, or the helper's if it is gone (it panicked).
                None => {
                    format(k, &mut buf);
                    crate::output::write(&buf)?
                }
            };
            if !written {
                return Ok(false);
            }
        }
        Ok(true)
    })?;
    if open {
        crate::output::write(b"]\n")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One socket's object, appended to `out`; with `info` (null where the kernel gave none) when
/// the scan asked for it.
fn json_object(out: &mut Vec<u8>, s: &Socket, index: Option<&OwnerIndex>, detail: ScanDetail) {
    out.push(b'{');
    json_fields(out, s, index, detail);
    out.push(b'}');
}

/// The members of a socket's object, without the braces (`net --rate` adds its own).
pub(super) fn json_fields(
    out: &mut Vec<u8>,
    s: &Socket,
    index: Option<&OwnerIndex>,
    detail: ScanDetail,
) {
    out.extend_from_slice(b"\"state\":\"");
    out.extend_from_slice(s.state.kernel_name().as_bytes());
    out.extend_from_slice(b"\",\"local\":\"");
    push_addr(out, &s.local);
    out.extend_from_slice(b"\",\"remote\":\"");
    push_addr(out, &s.remote);
    out.extend_from_slice(b"\",\"recv_q\":");
    push_u64(out, s.recv_q as u64);
    out.extend_from_slice(b",\"send_q\":");
    push_u64(out, s.send_q as u64);
    out.extend_from_slice(b",\"inode\":");
    push_u64(out, s.inode);
    out.extend_from_slice(b",\"uid\":");
    push_u64(out, s.uid as u64);
    out.extend_from_slice(b",\"timer\":{\"kind\":\"");
    out.extend_from_slice(timer_name(s.timer.kind).as_bytes());
    out.extend_from_slice(b"\",\"expires_ms\":");
    push_u64(out, s.timer.expires_in.as_millis() as u64);
    out.extend_from_slice(b",\"retransmits\":");
    push_u64(out, s.timer.retransmits as u64);
    out.extend_from_slice(b"},\"owners\":");
    // The index when there is one (tcplab net), else what the socket carries.
    match index {
        Some(index) => push_owners(out, index.each_owner(s.inode)),
        None => push_owners(
            out,
            s.owners
                .as_ref()
                .map(|owners| owners.iter().map(|o| (o.pid, o.fd, o.comm.as_str()))),
        ),
    }
    if detail == ScanDetail::TcpInfo {
        out.extend_from_slice(b",\"info\":");
        match &s.info {
            Some(info) => super::net_info::push_json(out, info),
            None => out.extend_from_slice(b"null"),
        }
    }
}

/// `[{"pid":P,"fd":F,"comm":"C"},...]`, or `null` when the holders are not known.
fn push_owners<'a>(out: &mut Vec<u8>, owners: Option<impl Iterator<Item = (i32, i32, &'a str)>>) {
    let Some(owners) = owners else {
        out.extend_from_slice(b"null");
        return;
    };
    out.push(b'[');
    for (j, (pid, fd, comm)) in owners.enumerate() {
        if j > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"pid\":");
        push_u64(out, pid as u64);
        out.extend_from_slice(b",\"fd\":");
        push_u64(out, fd as u64);
        out.extend_from_slice(b",\"comm\":");
        push_json_string(out, comm);
        out.push(b'}');
    }
    out.push(b']');
}

/// Decimal digits without the `fmt` machinery. All 20 bytes of the digit buffer are copied and
/// the excess cut off: a copy of a fixed size is two moves, one of the digits' own length a
/// call to memcpy, and this runs some 30 times per socket with `--info`.
pub(super) fn push_u64(out: &mut Vec<u8>, n: u64) {
    let mut buf = [0u8; 20];
    let len = crate::units::decimal(n, &mut buf).len();
    let at = out.len();
    out.extend_from_slice(&buf);
    out.truncate(at + len);
}

/// `text` as a JSON string, quotes included, escaped as serde_json does (no allocation: one
/// owner per socket at tens of thousands of sockets).
pub(super) fn push_json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            c if (c as u32) < 0x20 => {
                let _ = std::io::Write::write_fmt(out, format_args!("\\u{:04x}", c as u32));
            }
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out.push(b'"');
}

fn push_addr(out: &mut Vec<u8>, addr: &SocketAddr) {
    match addr {
        SocketAddr::V4(a) => {
            for (i, octet) in a.ip().octets().iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_u64(out, *octet as u64);
            }
            out.push(b':');
            push_u64(out, a.port() as u64);
        }
        SocketAddr::V6(_) => {
            let _ = std::io::Write::write_fmt(out, format_args!("{addr}"));
        }
    }
}

/// The timer's name in JSON and in the table.
pub fn timer_name(kind: TimerKind) -> &'static str {
    match kind {
        TimerKind::Off => "off",
        TimerKind::Retransmit => "retransmit",
        TimerKind::Keepalive => "keepalive",
        TimerKind::TimeWait => "timewait",
        TimerKind::Probe => "probe",
    }
}

/// One row a socket, like `ss -tanp`; the address columns as wide as the longest address
/// listed (as ss sizes them), not as the longest IPv6 one could be: IPv4 rows fit in about
/// 100 columns rather than 170.
fn table(sockets: &[Socket]) -> String {
    let mut out = String::with_capacity(sockets.len() * 120 + 100);
    let wide = |addr: fn(&Socket) -> std::net::SocketAddr, title: &str| {
        let mut longest = title.len();
        let mut text = String::with_capacity(48);
        for s in sockets {
            text.clear();
            let _ = write!(text, "{}", addr(s));
            longest = longest.max(text.len());
        }
        longest
    };
    let (lw, rw) = (wide(|s| s.local, "LOCAL"), wide(|s| s.remote, "REMOTE"));
    let _ = writeln!(
        out,
        "{:<12} {:>7} {:>7} {:<lw$} {:<rw$} {:<16} OWNERS",
        "STATE", "RECV-Q", "SEND-Q", "LOCAL", "REMOTE", "TIMER"
    );
    for s in sockets {
        let timer = match s.timer.kind {
            TimerKind::Off => "-".to_string(),
            kind => format!(
                "{}:{}",
                timer_name(kind),
                crate::units::format_duration(s.timer.expires_in)
            ),
        };
        let owners = owners_text(s.owners.as_deref());
        let _ = writeln!(
            out,
            "{:<12} {:>7} {:>7} {:<lw$} {:<rw$} {:<16} {}",
            s.state.kernel_name(),
            s.recv_q,
            s.send_q,
            s.local,
            s.remote,
            timer,
            owners
        );
        if let Some(info) = &s.info {
            let _ = writeln!(out, "    {}", super::net_info::text(info));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Owner, Timer};
    use std::time::Duration;

    #[test]
    fn json_strings_match_serde_json() {
        for text in [
            "plain",
            "a \"quoted\" (x)",
            "back\\slash",
            "tab\tnl\ncr\r",
            "\u{1}\u{1f}\u{7f}",
            "é ü 漢",
            "",
        ] {
            let mut out = Vec::new();
            push_json_string(&mut out, text);
            let out = String::from_utf8(out).unwrap();
            assert_eq!(out, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn json_is_valid_and_escapes_comm() {
        let sock = Socket {
            state: TcpState::TimeWait,
            local: "[::1]:80".parse().unwrap(),
            remote: "127.0.0.1:5".parse().unwrap(),
            recv_q: 1,
            send_q: 2,
            inode: 3,
            uid: 4,
            timer: Timer {
                kind: TimerKind::TimeWait,
                expires_in: Duration::from_millis(1500),
                retransmits: 0,
            },
            owners: Some(vec![Owner {
                pid: 9,
                fd: 7,
                comm: "we \"ird\\".into(),
            }]),
            info: None,
            brief: None,
        };
        let unknown = Socket {
            owners: None,
            ..sock.clone()
        };
        let text = json(&[sock, unknown]).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v[0]["local"], "[::1]:80");
        assert_eq!(v[0]["state"], "TIME_WAIT");
        assert_eq!(v[0]["timer"]["kind"], "timewait");
        assert_eq!(v[0]["timer"]["expires_ms"], 1500);
        assert_eq!(v[0]["owners"][0]["comm"], "we \"ird\\");
        assert!(v[1]["owners"].is_null());
        let empty: serde_json::Value = serde_json::from_str(&json(&[]).unwrap()).unwrap();
        assert_eq!(empty, serde_json::json!([]));
    }
}
