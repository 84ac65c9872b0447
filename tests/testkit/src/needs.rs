//! Tests that need what a developer's machine may lack (root, tmux) skip without it, with one
//! line naming why, so `cargo test` as a normal user passes. Under `CI=true` nothing may skip:
//! CI runs as root with every tool installed, and a skip there fails the test.

use std::io::Write;
use std::process::{Command, Stdio};

/// What a test needs beyond a normal user on Linux.
#[derive(Clone, Copy, Debug)]
pub enum Need {
    /// Root: the kernel's tracepoint (tracefs), or `setpriv` to run as another user.
    Root,
    /// The `tmux` terminal multiplexer (`./scripts/test` installs it).
    Tmux,
}

impl Need {
    fn missing(self) -> Option<&'static str> {
        match self {
            Need::Root => (!nix::unistd::geteuid().is_root())
                .then_some("needs root (the kernel's tracepoint, or setpriv to another user)"),
            Need::Tmux => {
                let found = Command::new("tmux")
                    .arg("-V")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                (!found).then_some("needs tmux (./scripts/test installs it)")
            }
        }
    }
}

/// True when the calling test must skip because `need` is missing: it prints one line naming the
/// test and why. Under `CI=true` a missing need panics instead, so nothing skips there.
///
/// ```ignore
/// if testkit::skip_without(Need::Root) {
///     return;
/// }
/// ```
#[must_use]
pub fn skip_without(need: Need) -> bool {
    let Some(why) = need.missing() else {
        return false;
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test} {why}, and under CI=true nothing may skip");
    }
    // Straight to the stderr stream: the test harness captures eprintln! of passing tests.
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
    true
}
