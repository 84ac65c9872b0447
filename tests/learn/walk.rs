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
    let _one = crate::one_demo_at_a_time();
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

/// Without the tracepoint (an unprivileged user), the handshake step is ticked by the sampled
/// alternative and says so: never a plain tick.
#[test]
fn the_handshake_as_nobody_is_sampled_and_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let state = tempfile::tempdir().unwrap();
    std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    // Step 1 (a server of one's own) is done already: this user's listener is not nobody's.
    let dir = state.path().join("tcplab");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(
        dir.join("learn.json"),
        r#"{"lessons": {"handshake": {"done": ["serve"]}}}"#,
    )
    .unwrap();
    std::fs::set_permissions(
        dir.join("learn.json"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let mut cmd = if nix::unistd::geteuid().is_root() {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(testkit::bin());
        c
    } else {
        tcplab()
    };
    cmd.args(["learn", "handshake", "--port", &port])
        .env("XDG_STATE_HOME", state.path());
    let mut learn = Demo::spawn(cmd);
    let how = learn.line_with("transitions:", T);
    assert!(how.contains("sampled every 20ms"), "{how}");
    learn.line_with("step 2/2", T);
    // A connection that lives long enough to be sampled.
    let _c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let _s = l.accept().unwrap();
    let ticked = learn.line_with("✓", T);
    assert!(ticked.contains("sampled every"), "{ticked}");
    assert!(ticked.contains("ESTABLISHED on both ends"), "{ticked}");
    learn.line_with("lesson 2: done", T);
    assert!(learn.running.wait_exit(T).success());
}

/// The lesson's options belong to a lesson. `--lang` works on either side of `list`; the others
/// given with `list` are refused in one line rather than read as a lesson named `list` (clap's
/// args-conflict setting did that: "no lesson `list`").
#[test]
fn list_takes_lang_anywhere_and_refuses_a_lessons_options() {
    let state = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = tcplab()
            .args(args)
            .env("XDG_STATE_HOME", state.path())
            .output()
            .unwrap();
        // Every case ends before a lesson would start, so stdin is never read.
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            err,
        )
    };
    for args in [
        &["learn", "--lang", "zh", "list"][..],
        &["learn", "list", "--lang", "zh"],
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(
            out.contains("第") || out.contains("未开始"),
            "{args:?}: {out}"
        );
    }
    for (args, named) in [
        (&["learn", "--reset", "list"][..], "--reset"),
        (&["learn", "--port", "5000", "list"], "--port"),
        (&["learn", "--interval", "1s", "list"], "--interval"),
        (&["learn", "3", "list"], "`tcplab learn 3`"),
        (
            &["learn", "--reset", "check", "daemon", "--port", "1"],
            "--reset",
        ),
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("tcplab learn: "), "{args:?}: {err}");
        assert!(err.contains(named), "{args:?}: {err}");
        assert!(!err.contains("no lesson `list`"), "{args:?}: {err}");
    }
    let (code, _, err) = run(&["learn", "no-such-lesson"]);
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("tcplab learn: no lesson `no-such-lesson`"),
        "{err}"
    );
    // Nothing was reset or started: the progress file was never written.
    assert!(!state.path().join("tcplab/learn.json").exists());
}
