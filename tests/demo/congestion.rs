//! `tcplab demo congestion` (root): real retransmissions over its shaped veth pair, counted the
//! same by `tcplab net --info` and `ss -ti` inside the sender's namespace; the namespaces are
//! gone after every way out (the end, SIGTERM, SIGINT mid-transfer); without root it says why
//! and exits 2.

use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::demo::Demo;
use testkit::inspect::as_nobody;
use testkit::ss::{info_pair, parse_info, still};
use testkit::{skip_without, Need};

const STARTUP: Duration = Duration::from_secs(20);

fn namespaces() -> String {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// `name` is listed in `ip netns list` (`NAME` or `NAME (id: N)` per line), as a whole name:
/// `tcplab-snd-6` is not `tcplab-snd-61`, another demo's of this binary.
fn listed(list: &str, name: &str) -> bool {
    list.lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

/// The demo's two namespaces; deleted at the end of a failed test (the demo, killed, could
/// not), checked gone at the end of a passing one.
struct Names(Vec<String>);

impl Names {
    /// From the demo's first line: `... in netns tcplab-snd-PID, ... in netns tcplab-rcv-PID; ...`
    fn of(first_line: &str) -> Names {
        let names: Vec<String> = first_line
            .split("in netns ")
            .skip(1)
            .map(|rest| rest.split([',', ';']).next().unwrap().to_string())
            .collect();
        assert_eq!(names.len(), 2, "{first_line}");
        let list = namespaces();
        for n in &names {
            assert!(listed(&list, n), "{n} not in `ip netns list`: {list}");
        }
        Names(names)
    }

    fn assert_gone(&self) {
        let list = namespaces();
        for n in &self.0 {
            assert!(!listed(&list, n), "{n} left behind: {list}");
        }
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for n in &self.0 {
                let _ = Command::new("ip").args(["netns", "del", n]).output();
            }
        }
    }
}

fn in_netns(ns: &str, program: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, program])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} in {ns}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn retransmissions_agree_with_ss_in_the_namespace_and_the_namespaces_go() {
    if skip_without(Need::Root) {
        return;
    }
    let mut demo = Demo::start(&["congestion", "--send", "2s", "--duration", "90s"]);
    let names = Names::of(&demo.line_with("congestion demo: pid", STARTUP));
    demo.line_with("sender stopped", STARTUP);
    let sender_ns = names.0[0].clone();
    let bin = testkit::bin();
    let bin = bin.to_str().unwrap();
    // The connection is idle now; compare once ss reads the same before and after ours.
    let deadline = Instant::now() + STARTUP;
    loop {
        let before = parse_info(&in_netns(&sender_ns, "ss", &["-tinH"]));
        let ours: Value = serde_json::from_str(&in_netns(
            &sender_ns,
            bin,
            &["net", "--info", "--json", "--state", "established"],
        ))
        .unwrap();
        let after = parse_info(&in_netns(&sender_ns, "ss", &["-tinH"]));
        let (key, (_, info)) = before
            .iter()
            .find(|(k, _)| k.1.starts_with("10.203.0.2:"))
            .unwrap_or_else(|| panic!("no connection to the receiver in {before:?}"));
        let mine = ours
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["local"] == key.0.as_str() && s["remote"] == key.1.as_str())
            .unwrap_or_else(|| panic!("{key:?} not in net --info: {ours}"));
        let moved = after.get(key).map(|a| still(&a.1)) != Some(still(info));
        if moved && Instant::now() < deadline {
            continue;
        }
        assert!(!moved, "the connection never went still: {info:?}");
        let (retrans, total) = info_pair(info, "retrans");
        assert!(
            total > 0.0,
            "no retransmissions through the tbf queue: {info:?}"
        );
        assert_eq!(mine["info"]["retrans"].as_f64(), Some(retrans), "{mine}");
        assert_eq!(
            mine["info"]["total_retrans"].as_f64(),
            Some(total),
            "{mine}"
        );
        let bytes_retrans: f64 = info["bytes_retrans"].parse().unwrap();
        assert_eq!(mine["info"]["bytes_retrans"].as_f64(), Some(bytes_retrans));
        break;
    }
    demo.stop(Signal::SIGTERM);
    assert!(demo
        .rest(Duration::from_secs(5))
        .contains("namespaces removed"));
    names.assert_gone();
}

#[test]
fn sigint_mid_transfer_removes_the_namespaces() {
    if skip_without(Need::Root) {
        return;
    }
    let mut demo = Demo::start(&["congestion", "--congestion", "cubic"]);
    let first = demo.line_with("congestion demo: pid", STARTUP);
    assert!(first.contains("congestion control cubic"), "{first}");
    let names = Names::of(&first);
    // A row of the sender's progress: it is sending. The row starts with the time it was
    // taken (`0.5s` on a quiet machine, `0.6s` or later on a busy one), never a fixed one.
    demo.line_where("a progress row", is_progress_row, STARTUP);
    demo.stop(Signal::SIGINT);
    names.assert_gone();
}

/// A row of the demo's table: `  0.6s     20       14     9.66      0/5 ...`.
fn is_progress_row(line: &str) -> bool {
    line.split_whitespace()
        .next()
        .and_then(|t| t.strip_suffix('s'))
        .is_some_and(|t| t.parse::<f64>().is_ok())
}

#[test]
fn an_unknown_congestion_control_is_a_usage_error_and_leaves_nothing() {
    if skip_without(Need::Root) {
        return;
    }
    let out = testkit::tcplab()
        .args([
            "demo",
            "congestion",
            "--congestion",
            "no-such-cc",
            "--duration",
            "5s",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no congestion control `no-such-cc`"), "{err}");
    // Its namespaces (named after its pid) were made and removed again: none of the form
    // tcplab-*-<a pid that no longer runs> may stay. Other demos of this binary may run, so
    // only namespaces whose pid is gone count.
    for line in namespaces().lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name.rsplit('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if name.starts_with("tcplab-") {
            assert!(
                std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "{name} left behind by a process that is gone"
            );
        }
    }
}

#[test]
fn without_root_it_says_why_and_exits_2() {
    let out = as_nobody(&["demo", "congestion", "--duration", "5s"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("needs root"), "{err}");
}
