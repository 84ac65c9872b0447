//! `tcplab learn zombies` end to end in a real 80x24 terminal (tmux), in each language: `z`
//! makes the zombies, the parent the panel names is killed from outside (the step's command),
//! and the lesson ends in "done". The tmux server (a socket of its own) is killed whatever
//! happens.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(lang: &str, state: &std::path::Path) -> Tmux {
        testkit::subreaper();
        let tmux = Tmux {
            socket: format!("tcplab-learn-test-{}-{lang}", std::process::id()),
        };
        let cmd = format!(
            "env XDG_STATE_HOME={} {} learn zombies --lang {lang}",
            state.display(),
            testkit::bin().display()
        );
        let ok = tmux
            .cmd(&["new-session", "-d", "-x", "80", "-y", "24", &cmd])
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        tmux
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-L")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn screen(&self) -> String {
        let out = self
            .cmd(&["capture-pane", "-p", "-t", "0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_screen(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pid(&self) -> Option<i32> {
        let out = self
            .cmd(&["display", "-p", "-t", "0", "#{pid}"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let server = self.pid();
        let _ = self.cmd(&["kill-server"]).status();
        if let Some(pid) = server {
            testkit::reap_pid(pid, Duration::from_secs(5));
        }
    }
}

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
    let _one = crate::zombie_demos();
    let state = tempfile::tempdir().unwrap();
    let tmux = Tmux::start(lang, state.path());
    tmux.wait_screen("the first step", |s| s.contains(first));
    let out = tmux.cmd(&["send-keys", "-t", "0", "z"]).status().unwrap();
    assert!(out.success());
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
    tmux.cmd(&["send-keys", "-t", "0", "q"]).status().unwrap();
    // q ends the demo the dashboard started and the dashboard itself: the session goes.
    let deadline = Instant::now() + DEADLINE;
    while tmux
        .cmd(&["has-session"])
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(Instant::now() < deadline, "the dashboard did not quit");
        std::thread::sleep(Duration::from_millis(50));
    }
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
