//! `/proc/stat`'s CPU times and `/proc/meminfo`'s memory, for the dashboard's meters.

/// The whole machine's CPU time since boot, in clock ticks (the first line of `/proc/stat`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// user + nice (guest time is already part of user).
    pub user: u64,
    /// system + irq + softirq + steal.
    pub system: u64,
    /// Everything, idle and iowait included.
    pub total: u64,
}

/// Memory in bytes (`/proc/meminfo`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub total: u64,
    /// What programs could still get without swapping (MemAvailable).
    pub available: u64,
    pub swap_total: u64,
    pub swap_free: u64,
}

impl Memory {
    pub fn used(&self) -> u64 {
        self.total.saturating_sub(self.available)
    }

    pub fn swap_used(&self) -> u64 {
        self.swap_total.saturating_sub(self.swap_free)
    }
}

/// The `cpu ` line of `/proc/stat`: `cpu  user nice system idle iowait irq softirq steal ...`.
pub fn cpu_times(stat: &[u8]) -> Option<CpuTimes> {
    let text = std::str::from_utf8(stat).ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    if f.len() < 4 {
        return None;
    }
    let user = at(0).saturating_add(at(1));
    let system = at(2)
        .saturating_add(at(5))
        .saturating_add(at(6))
        .saturating_add(at(7));
    let idle = at(3).saturating_add(at(4));
    Some(CpuTimes {
        user,
        system,
        total: user.saturating_add(system).saturating_add(idle),
    })
}

/// MemTotal, MemAvailable, SwapTotal and SwapFree of `/proc/meminfo` (kB there, bytes here).
pub fn memory(meminfo: &[u8]) -> Option<Memory> {
    let text = std::str::from_utf8(meminfo).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.split(':').next() == Some(name))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        kb.checked_mul(1024)
    };
    Some(Memory {
        total: field("MemTotal")?,
        available: field("MemAvailable")?,
        swap_total: field("SwapTotal").unwrap_or(0),
        swap_free: field("SwapFree").unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_machines_cpu_line() {
        let stat = b"cpu  100 20 30 400 50 6 7 8 9 10\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 1\n";
        assert_eq!(
            cpu_times(stat),
            Some(CpuTimes {
                user: 120,
                system: 51,
                total: 621
            })
        );
        assert_eq!(cpu_times(b"cpu0 1 2 3 4\n"), None);
        assert_eq!(cpu_times(b"cpu  1 x 3 4\n"), None);
        assert_eq!(cpu_times(b"cpu  1 2\n"), None);
    }

    #[test]
    fn reads_memory_in_bytes() {
        let info = b"MemTotal:       1000 kB\nMemFree: 10 kB\nMemAvailable:    250 kB\nSwapTotal: 100 kB\nSwapFree: 40 kB\n";
        let m = memory(info).unwrap();
        assert_eq!((m.total, m.available), (1_024_000, 256_000));
        assert_eq!((m.used(), m.swap_used()), (768_000, 61_440));
        assert_eq!(memory(b"MemTotal: 1 kB\n"), None, "no MemAvailable");
        assert_eq!(
            memory(b"MemTotal: 18446744073709551615 kB\nMemAvailable: 1 kB\n"),
            None
        );
    }
}
