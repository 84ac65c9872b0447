//! What a signal would do to a process, predicted from its /proc masks (SigIgn, SigCgt, SigBlk)
//! and the default actions of signal(7). The signal menu shows this before anything is sent.

use nix::sys::signal::Signal;

use crate::model::Process;

/// The default action of a signal when the process neither ignores nor catches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    Core,
    Stop,
    Continue,
    Ignore,
}

impl DefaultAction {
    pub fn of(sig: Signal) -> DefaultAction {
        use Signal::*;
        match sig {
            SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU
            | SIGXFSZ | SIGSYS => DefaultAction::Core,
            SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
            SIGCONT => DefaultAction::Continue,
            SIGCHLD | SIGURG | SIGWINCH => DefaultAction::Ignore,
            _ => DefaultAction::Terminate,
        }
    }

    fn words(self) -> &'static str {
        match self {
            DefaultAction::Terminate => "terminate",
            DefaultAction::Core => "terminate + core dump",
            DefaultAction::Stop => "stop (suspend)",
            DefaultAction::Continue => "continue if stopped",
            DefaultAction::Ignore => "ignore it (nothing happens)",
        }
    }
}

/// What the menu predicts for one signal on one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The process is a zombie: it is already dead; only its parent can reap it.
    Zombie {
        parent: i32,
    },
    /// KILL and STOP cannot be caught, blocked or ignored.
    Uncatchable(DefaultAction),
    Ignored,
    /// A handler runs; the program decides what happens.
    Caught {
        blocked: bool,
    },
    Default {
        action: DefaultAction,
        blocked: bool,
    },
    /// The masks could not be read (another user's process, not root).
    Unknown(DefaultAction),
    /// PID 1 gets only the signals it has a handler for.
    InitIgnores,
    /// Kernel threads ignore signals (with few exceptions).
    KernelThread,
}

impl Outcome {
    /// One line for the menu.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Zombie { parent } => {
                format!("nothing: a zombie is already dead; signal its parent {parent}")
            }
            Outcome::Uncatchable(a) => format!("{} (cannot be caught or ignored)", a.words()),
            Outcome::Ignored => "ignored (SIG_IGN): nothing happens".to_string(),
            Outcome::Caught { blocked: false } => {
                "caught by a handler: the program decides".to_string()
            }
            Outcome::Caught { blocked: true } => {
                "blocked, then caught by a handler once unblocked".to_string()
            }
            Outcome::Default {
                action,
                blocked: false,
            } => format!("default: {}", action.words()),
            Outcome::Default {
                action,
                blocked: true,
            } => format!("blocked: pending until unblocked, then {}", action.words()),
            Outcome::Unknown(a) => format!("masks unreadable; default would {}", a.words()),
            Outcome::InitIgnores => "nothing: PID 1 has no handler for it".to_string(),
            Outcome::KernelThread => "nothing: kernel threads ignore signals".to_string(),
        }
    }

    /// Whether the menu asks for confirmation: the process may end or stop.
    pub fn is_destructive(&self) -> bool {
        match self {
            Outcome::Uncatchable(a) | Outcome::Unknown(a) => {
                matches!(
                    a,
                    DefaultAction::Terminate | DefaultAction::Core | DefaultAction::Stop
                )
            }
            Outcome::Default { action, .. } => matches!(
                action,
                DefaultAction::Terminate | DefaultAction::Core | DefaultAction::Stop
            ),
            // A handler often exits (servers stop on TERM); ask.
            Outcome::Caught { .. } => true,
            _ => false,
        }
    }
}

/// Predicts what `sig` does to `p`.
pub fn predict(p: &Process, sig: Signal) -> Outcome {
    let action = DefaultAction::of(sig);
    if p.is_zombie() {
        return Outcome::Zombie { parent: p.ppid };
    }
    if p.is_kernel_thread() {
        return Outcome::KernelThread;
    }
    let n = sig as u32;
    let masks = p.masks;
    if p.pid == 1 {
        let caught = masks.is_some_and(|m| m.caught.contains(n));
        return if caught {
            Outcome::Caught { blocked: false }
        } else {
            Outcome::InitIgnores
        };
    }
    if matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
        return Outcome::Uncatchable(action);
    }
    let Some(m) = masks else {
        return Outcome::Unknown(action);
    };
    let blocked = m.blocked.contains(n);
    if m.ignored.contains(n) {
        Outcome::Ignored
    } else if m.caught.contains(n) {
        Outcome::Caught { blocked }
    } else {
        Outcome::Default { action, blocked }
    }
}

/// The signals the menu offers, most used first, then the rest by number.
pub fn menu_signals() -> Vec<Signal> {
    use Signal::*;
    let first = [
        SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGKILL, SIGSTOP, SIGCONT, SIGUSR1, SIGUSR2, SIGCHLD,
    ];
    let mut all: Vec<Signal> = first.to_vec();
    all.extend(Signal::iterator().filter(|s| !first.contains(s)));
    all
}

/// `TERM` for SIGTERM.
pub fn short_name(sig: Signal) -> &'static str {
    sig.as_str().trim_start_matches("SIG")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SignalMasks, SignalSet};
    use crate::tui::fake;

    #[test]
    fn masks_decide_the_prediction() {
        let mut p = fake::process(500, 1, "server");
        p.masks = Some(SignalMasks {
            ignored: SignalSet(1 << (Signal::SIGHUP as u32 - 1)),
            caught: SignalSet(1 << (Signal::SIGTERM as u32 - 1)),
            blocked: SignalSet(1 << (Signal::SIGUSR1 as u32 - 1)),
            ..Default::default()
        });
        assert_eq!(predict(&p, Signal::SIGHUP), Outcome::Ignored);
        assert_eq!(
            predict(&p, Signal::SIGTERM),
            Outcome::Caught { blocked: false }
        );
        assert_eq!(
            predict(&p, Signal::SIGUSR1),
            Outcome::Default {
                action: DefaultAction::Terminate,
                blocked: true
            }
        );
        assert_eq!(
            predict(&p, Signal::SIGQUIT),
            Outcome::Default {
                action: DefaultAction::Core,
                blocked: false
            }
        );
        assert_eq!(
            predict(&p, Signal::SIGKILL),
            Outcome::Uncatchable(DefaultAction::Terminate)
        );
        assert!(!predict(&p, Signal::SIGHUP).is_destructive());
        assert!(predict(&p, Signal::SIGKILL).is_destructive());
        assert!(!predict(&p, Signal::SIGCHLD).is_destructive());
    }

    #[test]
    fn kill_does_nothing_to_a_zombie() {
        let mut z = fake::process(601, 600, "worker");
        z.state = crate::model::ProcState::Zombie;
        let o = predict(&z, Signal::SIGKILL);
        assert_eq!(o, Outcome::Zombie { parent: 600 });
        assert!(o.describe().contains("signal its parent 600"));
        assert!(!o.is_destructive());
    }

    /// Each way an ignoring default is put reads as a sentence, and says "ignore" once.
    #[test]
    fn an_ignoring_default_is_said_once() {
        let ignore = DefaultAction::Ignore;
        for o in [
            Outcome::Default {
                action: ignore,
                blocked: false,
            },
            Outcome::Default {
                action: ignore,
                blocked: true,
            },
            Outcome::Unknown(ignore),
        ] {
            let text = o.describe();
            assert_eq!(text.matches("ignore").count(), 1, "{text}");
            assert!(!text.contains("nothing ("), "{text}");
        }
        assert_eq!(
            Outcome::Default {
                action: ignore,
                blocked: false
            }
            .describe(),
            "default: ignore it (nothing happens)"
        );
    }

    #[test]
    fn menu_offers_every_signal_once() {
        let sigs = menu_signals();
        assert_eq!(sigs[0], Signal::SIGTERM);
        assert_eq!(sigs.len(), Signal::iterator().count());
    }
}
