//! `tcplab net --info` and `--rate` against the kernel: every tcp_info field `ss -tin` prints
//! agrees with ours for connections this test makes (exactly, for a socket whose counters did
//! not move between two reads of ss around ours), as root and as nobody; a transfer this test
//! paces at 1 MiB/s reads as 1 MiB/s (±10%) per socket and per process.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use testkit::inspect::as_nobody;
use testkit::ss::{info_pair, parse_info, still, SsInfo};
use testkit::{tcplab, wait_for, Running};

const DEADLINE: Duration = Duration::from_secs(20);

/// `ss -tinH` for sockets on `port`.
fn ss_info(port: u16) -> BTreeMap<(String, String), (String, SsInfo)> {
    let out = Command::new("ss")
        .args([
            "-tinH",
            "state",
            "all",
            &format!("( sport = :{port} or dport = :{port} )"),
        ])
        .output()
        .expect("run ss");
    assert!(
        out.status.success(),
        "ss: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_info(&String::from_utf8_lossy(&out.stdout))
}

/// How one ss key compares with one of ours.
#[derive(Clone, Copy)]
enum Kind {
    /// The same integer; ss leaves zeros out.
    Plain,
    /// Milliseconds with microsecond resolution (ss prints %g of ms).
    Millis,
    /// ss prints bits per second, we write bytes per second.
    Bits,
}

/// (ss's name, ours, how): every tcp_info field `ss -tin` (iproute2 6.1) prints for an
/// established connection.
const FIELDS: &[(&str, &str, Kind)] = &[
    ("rto", "rto_ms", Kind::Millis),
    ("ato", "ato_ms", Kind::Millis),
    ("backoff", "backoff", Kind::Plain),
    ("mss", "mss", Kind::Plain),
    ("pmtu", "pmtu", Kind::Plain),
    ("rcvmss", "rcv_mss", Kind::Plain),
    ("advmss", "advmss", Kind::Plain),
    ("cwnd", "cwnd", Kind::Plain),
    ("ssthresh", "ssthresh", Kind::Plain),
    ("bytes_sent", "bytes_sent", Kind::Plain),
    ("bytes_retrans", "bytes_retrans", Kind::Plain),
    ("bytes_acked", "bytes_acked", Kind::Plain),
    ("bytes_received", "bytes_received", Kind::Plain),
    ("segs_out", "segs_out", Kind::Plain),
    ("segs_in", "segs_in", Kind::Plain),
    ("data_segs_out", "data_segs_out", Kind::Plain),
    ("data_segs_in", "data_segs_in", Kind::Plain),
    ("pacing_rate", "pacing_rate", Kind::Bits),
    ("delivery_rate", "delivery_rate", Kind::Bits),
    ("delivered", "delivered", Kind::Plain),
    ("unacked", "unacked", Kind::Plain),
    ("lost", "lost", Kind::Plain),
    ("sacked", "sacked", Kind::Plain),
    ("dsack_dups", "dsack_dups", Kind::Plain),
    ("reord_seen", "reord_seen", Kind::Plain),
    ("rcv_rtt", "rcv_rtt_ms", Kind::Millis),
    ("rcv_space", "rcv_space", Kind::Plain),
    ("rcv_ssthresh", "rcv_ssthresh", Kind::Plain),
    ("notsent", "notsent_bytes", Kind::Plain),
    ("minrtt", "min_rtt_ms", Kind::Millis),
    ("rcv_ooopack", "rcv_ooopack", Kind::Plain),
    ("snd_wnd", "snd_wnd", Kind::Plain),
];

/// Differences between one socket's `info` and ss's line; empty when they agree.
fn compare(ours: &Value, ss: &SsInfo) -> Vec<String> {
    let mut diffs = Vec::new();
    let num = |v: &Value| v.as_f64().unwrap_or(0.0);
    for &(ss_key, our_key, kind) in FIELDS {
        assert!(ours.get(our_key).is_some(), "no `{our_key}` in {ours}");
        let theirs = ss.get(ss_key).map(|v| v.trim_end_matches("bps"));
        // With a max_pacing_rate set, ss writes `pacing_rate Xbps/Ybps`.
        let theirs = theirs.map(|v| v.split('/').next().unwrap_or(v));
        let theirs: f64 = theirs.map_or(0.0, |v| v.parse().unwrap_or(f64::NAN));
        let mine = num(&ours[our_key]);
        let agree = match kind {
            Kind::Plain => mine == theirs,
            Kind::Millis => (mine - theirs).abs() <= 0.001,
            Kind::Bits => mine * 8.0 == theirs,
        };
        if !agree {
            diffs.push(format!("{ss_key}: ss {theirs} ours {mine}"));
        }
    }
    // rtt:A/B and retrans:A/B.
    let (rtt, rttvar) = info_pair(ss, "rtt");
    if (num(&ours["rtt_ms"]) - rtt).abs() > 0.001
        || (num(&ours["rttvar_ms"]) - rttvar).abs() > 0.001
    {
        diffs.push(format!(
            "rtt: ss {rtt}/{rttvar} ours {}/{}",
            ours["rtt_ms"], ours["rttvar_ms"]
        ));
    }
    let (retrans, total) = info_pair(ss, "retrans");
    if num(&ours["retrans"]) != retrans || num(&ours["total_retrans"]) != total {
        diffs.push(format!(
            "retrans: ss {retrans}/{total} ours {}/{}",
            ours["retrans"], ours["total_retrans"]
        ));
    }
    // ss leaves the default reordering (3) out.
    let reordering: f64 = ss.get("reordering").map_or(3.0, |v| v.parse().unwrap());
    if num(&ours["reordering"]) != reordering {
        diffs.push(format!(
            "reordering: ss {reordering} ours {}",
            ours["reordering"]
        ));
    }
    if ss.contains_key("app_limited") != (ours["delivery_rate_app_limited"] == true) {
        diffs.push("app_limited".into());
    }
    let cong = ours["congestion"].as_str().unwrap_or("?");
    if !ss.contains_key(cong) {
        diffs.push(format!("congestion {cong} not in ss's line {ss:?}"));
    }
    diffs
}

fn run_json(out: Output) -> Vec<Value> {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {err}", out.status);
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("JSON")
        .as_array()
        .unwrap()
        .clone()
}

/// Connections with different amounts sent each way, so no two sockets' counters look alike.
fn make_connections(listener: &TcpListener) -> Vec<(TcpStream, TcpStream)> {
    (1..=3)
        .map(|i| {
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (mut server, _) = listener.accept().unwrap();
            let up = vec![b'u'; i * 70_000 + 5];
            let down = vec![b'd'; i * 3_000];
            client.write_all(&up).unwrap();
            let mut got = vec![0; up.len()];
            server.read_exact(&mut got).unwrap();
            server.write_all(&down).unwrap();
            let mut got = vec![0; down.len()];
            client.read_exact(&mut got).unwrap();
            (client, server)
        })
        .collect()
}

/// Compares every connection on `port` until each was seen still (ss identical before and
/// after our read) and agreeing, with `run` producing our JSON.
fn agree_with_ss(port: u16, run: impl Fn() -> Output) {
    let mut verified = BTreeSet::new();
    let mut last_diffs = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        let before = ss_info(port);
        let ours = run_json(run());
        let after = ss_info(port);
        let established: Vec<_> = before
            .iter()
            .filter(|(_, (state, _))| state == "ESTAB")
            .collect();
        assert_eq!(
            established.len(),
            6,
            "ss sees our 3 connections: {before:?}"
        );
        for (key, (_, info)) in established {
            let Some((_, again)) = after.get(key) else {
                continue;
            };
            if still(info) != still(again) {
                continue;
            }
            let mine = ours
                .iter()
                .find(|s| s["local"] == key.0.as_str() && s["remote"] == key.1.as_str())
                .unwrap_or_else(|| panic!("{key:?} missing from net --info"));
            assert!(mine["info"].is_object(), "no info for {key:?}: {mine}");
            let diffs = compare(&mine["info"], info);
            if diffs.is_empty() {
                verified.insert(key.clone());
            } else {
                last_diffs = diffs;
            }
        }
        // The listener: only its congestion control applies.
        let listener = ours.iter().find(|s| s["state"] == "LISTEN").unwrap();
        assert!(listener["info"]["rtt_ms"].is_null(), "{listener}");
        assert!(listener["info"]["congestion"].is_string(), "{listener}");
        if verified.len() == 6 {
            return;
        }
    }
    panic!(
        "{} of 6 sockets agreed with ss; last differences: {last_diffs:?}",
        verified.len()
    );
}

#[test]
fn info_agrees_with_ss_as_root_and_as_nobody() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let conns = make_connections(&listener);
    let port_arg = port.to_string();
    let args = [
        "net",
        "--info",
        "--json",
        "--no-owners",
        "--port",
        &port_arg,
    ];
    agree_with_ss(port, || tcplab().args(args).output().unwrap());
    agree_with_ss(port, || as_nobody(&args));
    // A TIME_WAIT socket has no tcp_info: null, not zeros.
    let (client, server) = conns.into_iter().next().unwrap();
    // The client closes first: its end waits in TIME_WAIT. shutdown, not drop: another test
    // of this binary that forks meanwhile holds copies of these descriptors, and a close
    // would send nothing while the copy lives.
    let tw_local = client.local_addr().unwrap().to_string();
    client.shutdown(std::net::Shutdown::Both).unwrap();
    wait_for("the server to read the client's FIN", DEADLINE, || {
        let mut buf = [0u8; 1];
        (matches!((&server).read(&mut buf), Ok(0))).then_some(())
    });
    server.shutdown(std::net::Shutdown::Both).unwrap();
    wait_for("a TIME_WAIT socket", DEADLINE, || {
        let socks = run_json(tcplab().args(args).output().unwrap());
        socks
            .iter()
            .find(|s| s["state"] == "TIME_WAIT" && s["local"] == tw_local.as_str())
            .map(|s| assert!(s["info"].is_null(), "{s}"))
    });
    drop((client, server));
    // Without --info the JSON stays as it was: no `info` key.
    let plain = run_json(
        tcplab()
            .args(["net", "--json", "--no-owners", "--port", &port_arg])
            .output()
            .unwrap(),
    );
    assert!(plain.iter().all(|s| s.get("info").is_none()));
}

/// Sends to `stream` at `rate` bytes per second until `stop` is set (or the receiver goes), in
/// small writes spaced by the clock, so any second-long window carries the rate.
fn paced_sender(mut stream: TcpStream, rate: u64, stop: &AtomicBool) {
    let chunk = [b'x'; 8192];
    let started = Instant::now();
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent + chunk.len() as u64 <= due {
            if stream.write_all(&chunk).is_err() {
                return;
            }
            sent += chunk.len() as u64;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn rate_reads_a_paced_transfer_per_socket_and_per_process() {
    const RATE: f64 = 1024.0 * 1024.0;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // The receiver is another process (curl, which reads as fast as bytes come), so the
    // per-process line is its own and no other test's traffic mixes in.
    let curl = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            &format!("http://127.0.0.1:{port}/"),
        ])
        .stdin(Stdio::null())
        .spawn()
        .expect("run curl");
    let curl = Running {
        child: curl,
        stderr: None,
    };
    let (mut server, _) = listener.accept().unwrap();
    let mut head = [0u8; 1024];
    let _ = server.read(&mut head).unwrap();
    server
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
        .unwrap();
    let sender_port = server.local_addr().unwrap().port();
    // Sending until the rounds are done, however long a loaded machine makes them: a sender
    // that stopped at a fixed time left the last round no traffic to measure (curl gone).
    let stop = Arc::new(AtomicBool::new(false));
    let sending = stop.clone();
    let sender = std::thread::spawn(move || paced_sender(server, RATE as u64, &sending));
    // Past the first window's burst into empty buffers.
    std::thread::sleep(Duration::from_millis(500));

    let port_arg = port.to_string();
    // Each sample is one dump, read in several netlink batches; on a loaded machine tcplab can be
    // descheduled between batches, so two sockets' windows may differ by a tenth of a second. A
    // rate off by a constant factor misses in every round; scheduling noise does not.
    let mut misses = Vec::new();
    for _round in 0..3 {
        match paced_rates_within(port, &port_arg, sender_port, curl.pid(), RATE) {
            Ok(()) => break,
            Err(miss) => misses.push(miss),
        }
    }
    stop.store(true, Ordering::Relaxed);
    assert!(misses.len() < 3, "every round missed: {misses:#?}");
    drop(curl);
    sender.join().unwrap();
}

/// One round of `rate_reads_a_paced_transfer_per_socket_and_per_process`: the sender's send
/// rate, curl's receive rate per socket and per process, each within 10% of `rate`.
fn paced_rates_within(
    port: u16,
    port_arg: &str,
    sender_port: u16,
    curl_pid: i32,
    rate: f64,
) -> Result<(), String> {
    let within = |what: &str, v: &Value| {
        let got = v.as_f64().unwrap_or_else(|| panic!("{what}: {v}"));
        if (got - rate).abs() <= rate * 0.10 {
            Ok(())
        } else {
            Err(format!("{what}: {got} B/s, paced at {rate}"))
        }
    };
    let socks = run_json(
        tcplab()
            .args([
                "net",
                "--rate",
                "--interval",
                "2s",
                "--json",
                "--port",
                port_arg,
            ])
            .output()
            .unwrap(),
    );
    let ours = socks
        .iter()
        .find(|s| s["local"] == format!("127.0.0.1:{sender_port}"))
        .expect("the sender's socket");
    let theirs = socks
        .iter()
        .find(|s| s["remote"] == format!("127.0.0.1:{sender_port}"))
        .expect("curl's socket");
    assert_eq!(theirs["owners"][0]["pid"], curl_pid, "port {port}");
    within("sender's send rate", &ours["send_bytes_per_s"])?;
    within("curl's receive rate", &theirs["recv_bytes_per_s"])?;

    let procs = run_json(
        tcplab()
            .args([
                "net",
                "--rate",
                "--by-process",
                "--interval",
                "2s",
                "--json",
            ])
            .output()
            .unwrap(),
    );
    let line = procs
        .iter()
        .find(|p| p["pid"] == curl_pid)
        .unwrap_or_else(|| panic!("curl {curl_pid} not among {procs:?}"));
    assert_eq!(line["comm"], "curl");
    within("curl's process receive rate", &line["recv_bytes_per_s"])
}
