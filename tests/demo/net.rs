//! The network demos: every state they announce is checked with `ss` (filtered by the demo's
//! own port, chosen by binding port 0), descriptors with /proc/PID/fd, and each demo ends
//! cleanly with nothing of it left.

use testkit::demo;

use std::process::Command;
use std::time::Duration;

use demo::{exists, has_addr, numbers_after, ss, Demo};
use nix::sys::signal::Signal;
use testkit::{subreaper, tcplab, wait_for};

const T: Duration = Duration::from_secs(10);

/// The port from a first line `NAME demo: port P, ...`.
fn port_of(first: &str) -> u16 {
    numbers_after(first, "port")[0] as u16
}

/// The first `127.0.0.1:N` address of a demo line that is not on `port`.
fn other_end(line: &str, port: u16) -> String {
    line.split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:") && !w.ends_with(&format!(":{port}")))
        .unwrap_or_else(|| panic!("no peer address in {line:?}"))
        .to_string()
}

/// Seconds left in ss's `timer:(timewait,59sec,0)`.
fn ss_timewait_secs(line: &str) -> u64 {
    let t = line
        .split("timer:(timewait,")
        .nth(1)
        .expect("timewait timer");
    let secs = t.split(',').next().unwrap();
    // ss writes `59sec` or `1min` (and `1min59sec` style never for TIME_WAIT's 60s).
    if let Some(m) = secs.strip_suffix("min") {
        m.parse::<u64>().unwrap() * 60
    } else {
        secs.trim_end_matches("sec").parse().unwrap()
    }
}

#[test]
fn time_wait_is_left_on_the_active_closer_with_the_kernels_timer() {
    for (closer, on_port) in [("client", false), ("server", true)] {
        let mut d = Demo::start(&["time-wait", "--closer", closer]);
        let port = port_of(&d.line_with("time-wait demo: port", T));
        let line = d.line_with("TIME_WAIT ", T);
        let peer = other_end(&line, port);
        let said: f64 = line
            .split("time-wait timer ")
            .nth(1)
            .unwrap()
            .trim_end_matches('s')
            .replace("1m00", "60")
            .parse()
            .unwrap();
        let filter = format!("( sport = :{port} or dport = :{port} )");
        let tw = ss(&["-tano", "state", "time-wait", &filter]);
        let mine = format!("127.0.0.1:{port}");
        let row = tw
            .iter()
            .find(|l| has_addr(l, &peer) && has_addr(l, &mine))
            .unwrap_or_else(|| panic!("ss shows no TIME_WAIT {peer} <-> {mine}: {tw:?}"));
        // Local column first: the active closer's end.
        let local = row.split_whitespace().nth(2).unwrap();
        assert_eq!(local == mine, on_port, "closer {closer}: {row}");
        let left = ss_timewait_secs(row) as f64;
        assert!(
            (left - said).abs() <= 5.0,
            "demo said {said}s, ss says {left}s"
        );
        assert!(left > 0.0 && left <= 60.0, "{row}");
        d.stop(Signal::SIGTERM);
    }
}

#[test]
fn close_wait_stays_until_the_demo_closes() {
    let mut d = Demo::start(&["close-wait", "--count", "2"]);
    let port = port_of(&d.line_with("close-wait demo: port", T));
    d.line_with("CLOSE_WAIT ", T);
    d.line_with("CLOSE_WAIT ", T);
    let filter = format!("( sport = :{port} )");
    let rows = ss(&["-tanp", "state", "close-wait", &filter]);
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        assert!(
            row.contains(&format!("pid={},", d.pid())),
            "not held by the demo: {row}"
        );
    }
    d.stop(Signal::SIGTERM);
    // close() at the end: nothing of this port stays in CLOSE_WAIT.
    wait_for("CLOSE_WAIT to end", T, || {
        ss(&["-tan", "state", "close-wait", &filter])
            .is_empty()
            .then_some(())
    });
}

#[test]
fn backlog_fills_and_later_clients_sit_in_syn_sent() {
    let mut d = Demo::start(&["backlog", "--backlog", "1", "--clients", "4"]);
    let port = port_of(&d.line_with("backlog demo: port", T));
    d.line_with("client 4:", T);
    let listen = ss(&["-tln", &format!("( sport = :{port} )")]);
    assert_eq!(listen.len(), 1, "{listen:?}");
    let cols: Vec<&str> = listen[0].split_whitespace().collect();
    // LISTEN Recv-Q = connections waiting for accept: backlog + 1 on Linux; Send-Q = backlog.
    assert_eq!((cols[1], cols[2]), ("2", "1"), "{}", listen[0]);
    let dport = format!("( dport = :{port} )");
    let syn_sent = ss(&["-tan", "state", "syn-sent", &dport]);
    assert_eq!(
        syn_sent.len(),
        2,
        "two clients past the full queue: {syn_sent:?}"
    );
    let established = ss(&["-tan", "state", "established", &dport]);
    assert_eq!(established.len(), 2, "{established:?}");
    d.stop(Signal::SIGINT);
    wait_for("the clients to go", T, || {
        ss(&["-tan", "state", "syn-sent", &dport])
            .is_empty()
            .then_some(())
    });
}

/// The socket inodes `pid` holds, from its /proc/PID/fd links (`socket:[123]`).
fn socket_inodes(pid: i32) -> Vec<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|t| {
            t.to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn shared_accept_listener_is_held_by_every_worker() {
    subreaper();
    let mut d = Demo::start(&["shared-accept", "--workers", "3", "--connections", "3"]);
    let first = d.line_with("shared-accept demo: port", T);
    let port = port_of(&first);
    let inode = numbers_after(&first, "inode")[0] as u64;
    let workers = numbers_after(&first, "workers");
    assert_eq!(workers.len(), 3);
    // The kernel's inode of the LISTEN socket on this port is the one the demo names...
    let listen = ss(&["-tlne", &format!("( sport = :{port} )")]);
    assert!(
        listen.iter().any(|l| l.contains(&format!("ino:{inode} "))),
        "{listen:?}"
    );
    // ...and every process holds it: the demo and each worker.
    for pid in workers.iter().chain([&d.pid()]) {
        assert!(
            socket_inodes(*pid).contains(&inode),
            "pid {pid} does not hold socket:[{inode}]"
        );
    }
    for _ in 0..3 {
        let took = d.line_with("took the connection", T);
        let pid = numbers_after(&took, "(pid")[0];
        assert!(workers.contains(&pid), "{took}");
    }
    d.stop(Signal::SIGTERM);
    for pid in &workers {
        assert!(!exists(*pid), "worker {pid} outlived the demo");
    }
}

#[test]
fn select_limit_raises_the_limit_and_passes_fd_setsize_safely() {
    // Start it with the usual soft limit of 1024 so that it must raise it.
    let mut cmd = Command::new("prlimit");
    cmd.args([
        "--nofile=1024:4096",
        env!("CARGO_BIN_EXE_tcplab"),
        "demo",
        "select-limit",
    ]);
    let mut d = Demo::spawn(cmd);
    let first = d.line_with("select-limit demo: port", T);
    assert!(first.contains("soft 1088 hard 4096"), "{first}");
    d.line_with("raised the soft RLIMIT_NOFILE from 1024 to 1088", T);
    d.line_with("select() works", T);
    let refused = d.line_with("≥ FD_SETSIZE", T);
    let fd = numbers_after(&refused, "fd")[0];
    assert!(fd >= 1024, "{refused}");
    d.line_with("poll() on fd", T);
    let pid = d.pid();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        open_files.split_whitespace().nth(3),
        Some("1088"),
        "{open_files}"
    );
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    assert!(fds > 1024, "only {fds} descriptors open");
    // The descriptor past the limit is a real socket.
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
    assert!(link.to_string_lossy().starts_with("socket:["), "{link:?}");
    d.stop(Signal::SIGTERM);
}

#[test]
fn a_busy_port_is_one_clear_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for demo in [
        "time-wait",
        "close-wait",
        "backlog",
        "shared-accept",
        "select-limit",
    ] {
        let out = tcplab()
            .args(["demo", demo, "--port", &port, "--duration", "1s"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{demo} ran on a busy port");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{demo}: {err}");
        assert!(
            err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
            "{err}"
        );
    }
}
