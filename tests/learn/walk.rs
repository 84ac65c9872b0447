//! `tcplab learn LESSON` outside a terminal: the lesson, step by step, each ticked when the
//! kernel shows it; progress kept under XDG_STATE_HOME; `--reset`.

use std::time::Duration;

use nix::sys::signal::Signal;

use testkit::demo::{numbers_after, Demo};
use testkit::{subreaper, tcplab};

const T: Duration = Duration::from_secs(20);

fn list(state: &std::path::Path) -> String {
    let out = tcplab()
        .args(["learn", "list"])
        .env("XDG_STATE_HOME", state)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn zombies_row(state: &std::path::Path) -> String {
    list(state)
        .lines()
        .find(|l| l.contains("zombies"))
        .unwrap()
        .to_string()
}

#[test]
fn the_zombie_lesson_walked_through_in_each_language() {
    subreaper();
    let _one = crate::zombie_demos();
    for (lang, done) in [("en", "lesson 8: done"), ("zh", "第 8 课：完成")] {
        let state = tempfile::tempdir().unwrap();
        assert!(zombies_row(state.path()).contains("not started"));
        let mut cmd = tcplab();
        cmd.args(["learn", "zombies", "--lang", lang])
            .env("XDG_STATE_HOME", state.path());
        let mut learn = Demo::spawn(cmd);
        learn.line_with("tcplab demo zombie", T);
        let mut z = Demo::start(&["zombie"]);
        let parent = numbers_after(&z.line_with("zombie demo: parent", T), "parent")[0];
        let ticked = learn.line_with("✓", T);
        assert!(ticked.contains(&parent.to_string()), "{ticked}");
        // The next step names the parent the check found.
        learn.line_with(&format!("kill {parent}"), T);
        assert!(zombies_row(state.path()).contains("in progress"));
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(parent), Signal::SIGTERM).unwrap();
        learn.line_with(done, T);
        let status = learn.running.wait_exit(T);
        assert!(status.success());
        assert!(
            zombies_row(state.path()).contains("done"),
            "{}",
            list(state.path())
        );
        z.stop(Signal::SIGTERM);

        let mut cmd = tcplab();
        cmd.args(["learn", "zombies", "--reset", "--lang", lang])
            .env("XDG_STATE_HOME", state.path());
        let mut again = Demo::spawn(cmd);
        // Reset, it starts over at the first step.
        again.line_with("tcplab demo zombie", T);
        assert!(zombies_row(state.path()).contains("not started"));
        again.running.signal(Signal::SIGTERM);
        assert_eq!(again.running.wait_exit(T).code(), Some(130));
    }
}
