//! How a child ended, as `waitpid` reports it, in one vocabulary for everything that reaps: the
//! server's master, the dashboard and the demos (`exited with status 0`, `killed by SIGTERM`,
//! `killed by SIGSEGV (core dumped)`).

use std::fmt;

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;

use crate::model::signals::signal_name;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It called exit (or returned from main) with this status.
    Code(i32),
    /// A signal ended it; `core` when it dumped core.
    Killed { signal: Signal, core: bool },
}

impl Exit {
    /// The end a wait status reports; None for a child that only stopped or continued.
    pub fn of(status: &WaitStatus) -> Option<Exit> {
        match *status {
            WaitStatus::Exited(_, code) => Some(Exit::Code(code)),
            WaitStatus::Signaled(_, signal, core) => Some(Exit::Killed { signal, core }),
            _ => None,
        }
    }

    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exited with status {code}"),
            Exit::Killed { signal, core } => write!(
                f,
                "killed by SIG{}{}",
                signal_name(*signal as u32),
                if *core { " (core dumped)" } else { "" }
            ),
        }
    }
}

/// A wait status in words: the `Exit` it reports, or what else happened (stopped, continued).
pub fn describe(status: &WaitStatus) -> String {
    match Exit::of(status) {
        Some(exit) => exit.to_string(),
        None => format!("{status:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::unistd::Pid;

    #[test]
    fn in_words() {
        let pid = Pid::from_raw(7);
        let say = |s| Exit::of(&s).unwrap().to_string();
        assert_eq!(say(WaitStatus::Exited(pid, 0)), "exited with status 0");
        assert_eq!(
            say(WaitStatus::Signaled(pid, Signal::SIGTERM, false)),
            "killed by SIGTERM"
        );
        assert_eq!(
            say(WaitStatus::Signaled(pid, Signal::SIGSEGV, true)),
            "killed by SIGSEGV (core dumped)"
        );
        assert!(Exit::of(&WaitStatus::Stopped(pid, Signal::SIGSTOP)).is_none());
        assert!(Exit::Code(0).success() && !Exit::Code(7).success());
    }
}
