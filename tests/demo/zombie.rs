//! `tcplab demo zombie`: the zombies it names are real zombies of the parent it names (checked
//! in /proc and with ps), and after the demo nothing of it remains.

use testkit::demo;

use std::time::Duration;

use demo::{children_of, exists, numbers_after, ps, state_ppid, Demo};
use nix::sys::signal::Signal;
use testkit::{subreaper, tcplab};

const T: Duration = Duration::from_secs(10);

/// Starts the demo and checks its first line against the kernel; returns (demo, parent, zombies).
fn start_and_check(count: usize) -> (Demo, i32, Vec<i32>) {
    subreaper();
    let mut d = Demo::start(&["zombie", "--count", &count.to_string()]);
    let first = d.line_with("zombie demo: parent", T);
    assert_eq!(d.seen.len(), 1, "the parent/zombies line must come first");
    let parent = numbers_after(&first, "parent")[0];
    let zombies = numbers_after(&first, "zombies");
    assert_eq!(zombies.len(), count, "{first}");
    // The parent is the demo's child; every zombie is the parent's child, in state Z.
    assert_eq!(state_ppid(parent).map(|s| s.1), Some(d.pid()));
    for &z in &zombies {
        assert_eq!(state_ppid(z), Some(('Z', parent)), "zombie {z}");
        let stat = ps(z, "stat").expect("ps lists the zombie");
        assert!(stat.starts_with('Z'), "ps says {stat} for {z}");
    }
    let mut kids = children_of(parent);
    kids.sort();
    let mut want = zombies.clone();
    want.sort();
    assert_eq!(kids, want, "the parent's children are exactly the zombies");
    (d, parent, zombies)
}

#[test]
fn zombies_are_real_and_reaped_when_the_demo_stops() {
    let (mut d, parent, zombies) = start_and_check(3);
    d.stop(Signal::SIGTERM);
    // Reaped by the demo itself before it exited: gone from /proc at once, not left to us.
    for pid in zombies.iter().chain([&parent]) {
        assert!(!exists(*pid), "{pid} still in /proc after the demo exited");
    }
    let out = d.rest(T);
    let reaped = out.lines().find(|l| l.contains("reaped zombies")).unwrap();
    let mut said = numbers_after(reaped, "reaped zombies");
    said.sort();
    let mut want = zombies.clone();
    want.sort();
    assert_eq!(said, want, "{out}");
}

#[test]
fn killing_the_parent_gets_its_zombies_adopted_and_reaped() {
    let (mut d, parent, zombies) = start_and_check(2);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(parent), Signal::SIGKILL).unwrap();
    let status = d.running.wait_exit(T);
    assert!(status.success(), "{}", d.rest(T));
    for pid in zombies.iter().chain([&parent]) {
        assert!(!exists(*pid), "{pid} still in /proc");
    }
    assert!(d
        .rest(T)
        .contains(&format!("parent {parent} killed by SIGKILL")));
}

#[test]
fn duration_ends_the_demo_by_itself() {
    subreaper();
    let out = tcplab()
        .args(["demo", "zombie", "--count", "1", "--duration", "300ms"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let parent = numbers_after(text.lines().next().unwrap(), "parent")[0];
    assert!(!exists(parent), "{text}");
    assert!(text.contains("the end of --duration"), "{text}");
}

#[test]
fn bad_count_is_one_clear_line() {
    let out = tcplab()
        .args(["demo", "zombie", "--count", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--count"), "{err}");
}
