//! Signal sets as /proc/PID/status prints them (SigBlk, SigIgn, SigCgt, SigPnd, ShdPnd):
//! a hex mask where bit N-1 stands for signal N.

/// A set of signals; bit `n - 1` is signal `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignalSet(pub u64);

/// The five masks of /proc/PID/status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignalMasks {
    pub blocked: SignalSet,
    pub ignored: SignalSet,
    pub caught: SignalSet,
    pub pending: SignalSet,
    pub shared_pending: SignalSet,
}

/// Names of the standard signals on Linux x86-64/aarch64, index = number.
const NAMES: [&str; 32] = [
    "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// The name of signal `n` without `SIG`: `TERM`, `RTMIN+3`.
pub fn signal_name(n: u32) -> String {
    match n {
        1..=31 => NAMES[n as usize].to_string(),
        34 => "RTMIN".to_string(),
        35..=63 => format!("RTMIN+{}", n - 34),
        64 => "RTMAX".to_string(),
        _ => format!("SIG{n}"),
    }
}

impl SignalSet {
    /// Parses the hex mask of /proc/PID/status (`0000000000014002`).
    pub fn from_hex(s: &str) -> Option<SignalSet> {
        u64::from_str_radix(s.trim(), 16).ok().map(SignalSet)
    }

    pub fn contains(self, signo: u32) -> bool {
        (1..=64).contains(&signo) && self.0 & (1u64 << (signo - 1)) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Signal numbers in the set, ascending.
    pub fn numbers(self) -> impl Iterator<Item = u32> {
        (1..=64u32).filter(move |&n| self.contains(n))
    }

    /// Signal names in the set, ascending: `["INT", "TERM"]`.
    pub fn names(self) -> Vec<String> {
        self.numbers().map(signal_name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_proc_masks() {
        // SIGINT (2), SIGTERM (15), SIGCHLD (17)
        let set = SignalSet::from_hex("0000000000014002").unwrap();
        assert_eq!(set.names(), ["INT", "TERM", "CHLD"]);
        assert!(SignalSet::from_hex("zz").is_none());
        assert_eq!(SignalSet(1 << 33).names(), ["RTMIN"]);
    }
}
