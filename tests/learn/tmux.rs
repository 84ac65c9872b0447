//! `tcplab learn zombies` end to end in a real 80x24 terminal (tmux), in each language: `z`
//! makes the zombies, the parent the panel names is killed from outside (the step's command),
//! and the lesson ends in "done". The tmux server (a socket of its own) is killed whatever
//! happens.

use testkit::tmux::Tmux;

/// The pid in `kill PID` on the screen.
fn parent_on(screen: &str) -> Option<i32> {
    let at = screen.find("kill ")?;
    screen[at + 5..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

fn walk(lang: &str, first: &str, made: &str, done: &str) {
    let _one = crate::one_demo_at_a_time();
    let state = tempfile::tempdir().unwrap();
    let cmd = format!(
        "env XDG_STATE_HOME={} {} learn zombies --lang {lang}",
        state.path().display(),
        testkit::bin().display()
    );
    let tmux = Tmux::start("learn", (80, 24), &cmd);
    tmux.wait_screen("the first step", |s| s.contains(first));
    tmux.send(&["z"]);
    // The pid the panel names is the zombie demo's negligent parent (a screen caught half
    // drawn could show another number: that one is never signalled).
    let is_parent = |pid: i32| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.windows(12).any(|w| w == b"demo\0zombie\0"))
    };
    let screen = tmux.wait_screen("the zombies seen", |s| {
        s.contains(made) && parent_on(s).is_some_and(is_parent)
    });
    let parent = parent_on(&screen).unwrap();
    // The step's command, run "in another terminal".
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(parent),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let screen = tmux.wait_screen("the lesson done", |s| s.contains(done));
    assert!(screen.contains("done"), "{screen}");
    assert!(screen.lines().count() <= 24);
    tmux.send(&["q"]);
    // q ends the demo the dashboard started and the dashboard itself: the session goes.
    tmux.wait_session_gone("the dashboard to quit");
    let progress = std::fs::read_to_string(state.path().join("tcplab/learn.json")).unwrap();
    assert!(progress.contains("\"reap\""), "{progress}");
}

#[test]
fn the_zombie_lesson_in_english_at_80x24() {
    walk("en", "Make three zombies", "✓ 3 zombies", "Lesson 8 done.");
}

#[test]
fn the_zombie_lesson_in_chinese_at_80x24() {
    walk(
        "zh",
        "制造三个僵尸进程",
        "✓ 3 个僵尸进程",
        "第 8 课完成（done）",
    );
}
