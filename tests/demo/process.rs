//! The process demos (fork, orphan, daemon, signal): what each prints is checked against the
//! kernel's own view (/proc read raw, `ps`), and after each nothing of it remains.

use testkit::demo;

use std::time::Duration;

use demo::{exists, numbers_after, ps, state_ppid, Demo};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use testkit::{subreaper, wait_for};

const T: Duration = Duration::from_secs(10);

fn signal(pid: i32, sig: Signal) {
    kill(Pid::from_raw(pid), sig).unwrap();
}

#[test]
fn fork_parent_reaps_child_and_reports_its_status() {
    subreaper();
    let mut d = Demo::start(&["fork"]);
    let first = d.line_with("fork demo: parent", T);
    let parent = numbers_after(&first, "parent")[0];
    let child = numbers_after(&first, "child")[0];
    assert_eq!(parent, d.pid());
    assert_eq!(state_ppid(child).map(|s| s.1), Some(parent));
    let child_line = d.line_with("child:  fork() returned 0", T);
    assert!(
        child_line.contains(&format!("pid {child}  ppid {parent} ")),
        "{child_line}"
    );
    // The child is killed from outside; the parent's waitpid must say so.
    signal(child, Signal::SIGKILL);
    let reaped = d.line_with("waitpid() returned", T);
    assert!(
        reaped.contains(&format!("returned {child}: killed by SIGKILL")),
        "{reaped}"
    );
    let status = d.running.wait_exit(T);
    assert!(status.success());
    assert!(!exists(child));
}

#[test]
fn fork_child_exit_status_comes_through_waitpid() {
    subreaper();
    let mut d = Demo::start(&["fork"]);
    let first = d.line_with("fork demo: parent", T);
    let child = numbers_after(&first, "child")[0];
    d.line_with("child:  fork() returned 0", T);
    d.stop(Signal::SIGTERM);
    assert!(!exists(child));
    let out = d.rest(T);
    assert!(
        out.contains(&format!("returned {child}: exited with status 7")),
        "{out}"
    );
}

#[test]
fn orphan_is_adopted_by_the_demo_and_reaped() {
    subreaper();
    let mut d = Demo::start(&["orphan"]);
    let first = d.line_with("orphan demo: parent", T);
    let parent = numbers_after(&first, "parent")[0];
    let child = numbers_after(&first, "child")[0];
    let before = d.line_with("ppid before:", T);
    assert_eq!(numbers_after(&before, "ppid before:"), [parent]);
    let after = d.line_with("ppid after:", T);
    assert_eq!(numbers_after(&after, "ppid after: "), [d.pid()], "{after}");
    // The kernel agrees: the child's parent is now the demo, and the old parent is reaped.
    assert_eq!(state_ppid(child).map(|s| s.1), Some(d.pid()));
    wait_for("the exited parent to be reaped by the demo", T, || {
        (!exists(parent)).then_some(())
    });
    d.stop(Signal::SIGINT);
    assert!(!exists(child), "the orphan outlived the demo");
}

#[test]
fn daemon_has_its_own_session_and_no_tty_and_stops_with_kill() {
    subreaper();
    let mut d = Demo::start(&["daemon"]);
    let line = d.line_with("daemon demo: daemon", T);
    let daemon = numbers_after(&line, "daemon demo: daemon")[0];
    let st = testkit::server_procs::stat(daemon).expect("the daemon is in /proc");
    let (ppid, pgid, sid, tty_nr) = (st.ppid, st.pgid, st.sid, st.tty_nr);
    let my_sid = nix::unistd::getsid(None).unwrap().as_raw();
    assert_ne!(sid, my_sid, "the daemon is still in the test's session");
    assert_ne!(sid, daemon, "the daemon must not be a session leader");
    assert_eq!(
        pgid, sid,
        "its group is the session the middle process created"
    );
    assert_eq!(tty_nr, 0, "the daemon has a controlling tty");
    assert_eq!(ppid, d.pid(), "adopted by the demo (a subreaper)");
    assert_eq!(ps(daemon, "tty").as_deref(), Some("?"));
    // The session leader that made the session has exited and been reaped. Its exit is what
    // lets the daemon go on (it waits to be adopted), so the daemon's line can come before the
    // supervisor has reaped it: the supervisor says when it has.
    d.line_with(&format!("supervisor: reaped {sid} "), T);
    assert!(
        !exists(sid),
        "the intermediate session leader {sid} is left"
    );
    // Each step's printed ids: step 3 is the session leader with sid == pid.
    let out = d.seen.join("\n");
    let step3 = out.lines().find(|l| l.contains("step 3 setsid()")).unwrap();
    assert!(
        step3.contains(&format!("pid {sid}  ")) && step3.contains(&format!("sid {sid}  tty ?")),
        "{step3}"
    );
    // `kill PID` stops the daemon; the demo reaps it and ends on its own.
    signal(daemon, Signal::SIGTERM);
    let status = d.running.wait_exit(T);
    assert!(status.success());
    assert!(!exists(daemon));
}

#[test]
fn daemon_demo_stopped_takes_its_daemon_along() {
    subreaper();
    let mut d = Demo::start(&["daemon"]);
    let line = d.line_with("daemon demo: daemon", T);
    let daemon = numbers_after(&line, "daemon demo: daemon")[0];
    d.stop(Signal::SIGTERM);
    assert!(!exists(daemon), "the daemon outlived the demo");
}

/// The five hex masks of /proc/PID/status, read raw.
fn proc_masks(pid: i32) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    ["SigBlk", "SigIgn", "SigCgt", "SigPnd", "ShdPnd"]
        .iter()
        .map(|f| {
            let line = text
                .lines()
                .find(|l| l.starts_with(&format!("{f}:")))
                .unwrap();
            let hex = line.split_whitespace().nth(1).unwrap();
            (f.to_string(), u64::from_str_radix(hex, 16).unwrap())
        })
        .collect()
}

fn bit(signo: i32) -> u64 {
    1 << (signo - 1)
}

#[test]
fn signal_masks_in_proc_match_what_the_demo_says() {
    subreaper();
    let mut d = Demo::start(&["signal"]);
    let pid = d.pid();
    d.line_with("ShdPnd", T);
    let kernel = proc_masks(pid);
    for (field, value) in &kernel {
        let printed = d
            .seen
            .iter()
            .find(|l| l.trim_start().starts_with(field.as_str()))
            .unwrap();
        let hex = printed.split_whitespace().nth(1).unwrap();
        assert_eq!(u64::from_str_radix(hex, 16).unwrap(), *value, "{printed}");
    }
    let get = |f: &str| kernel.iter().find(|(n, _)| n == f).unwrap().1;
    assert_ne!(get("SigBlk") & bit(libc::SIGQUIT), 0, "QUIT not blocked");
    assert_ne!(get("SigIgn") & bit(libc::SIGPIPE), 0, "PIPE not ignored");
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
        assert_ne!(get("SigCgt") & bit(sig), 0, "signal {sig} not caught");
    }
    // A caught signal is received and printed; the process lives on.
    signal(pid, Signal::SIGUSR1);
    d.line_with("received SIGUSR1 (10)", T);
    signal(pid, Signal::SIGHUP);
    d.line_with("received SIGHUP (1)", T);
    // A blocked one stays pending in the kernel and does nothing else.
    signal(pid, Signal::SIGQUIT);
    wait_for("QUIT pending in /proc", T, || {
        let m = proc_masks(pid);
        let pending = m[3].1 | m[4].1;
        (pending & bit(libc::SIGQUIT) != 0).then_some(())
    });
    assert!(
        d.running.child.try_wait().unwrap().is_none(),
        "QUIT killed it"
    );
    d.stop(Signal::SIGTERM);
    assert!(d.rest(T).contains("received SIGTERM: exiting"));
}

/// The daemon demo's daemon is a daemon to `tcplab ps` and to the dashboard alike.
#[test]
fn daemon_demo_daemon_is_marked_by_ps_and_the_dashboard() {
    subreaper();
    let mut d = Demo::start(&["daemon"]);
    let line = d.line_with("daemon demo: daemon", T);
    let daemon = numbers_after(&line, "daemon demo: daemon")[0];
    assert_eq!(testkit::ps_mark(daemon).as_deref(), Some("daemon"));
    let app = testkit::dashboard::live_app();
    let marks = testkit::dashboard::marks_of(&app, daemon).expect("the daemon is listed");
    assert!(marks.contains('D'), "dashboard marks {marks:?}");
    d.stop(Signal::SIGTERM);
}
