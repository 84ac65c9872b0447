//! The header's meters, as htop's: CPU (user and system time between the last two readings of
//! `/proc/stat`) and memory (from `/proc/meminfo`), both read by `kernel::host` and brought in
//! by `Event::Host`. Drawing is `render/meters.rs`.

use super::app::App;
use super::event::HostInfo;
use crate::kernel::host::CpuTimes;

/// The machine's CPU use between two readings, as fractions of all its time (0..=1).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuShare {
    pub user: f64,
    pub system: f64,
}

impl CpuShare {
    pub fn busy(&self) -> f64 {
        self.user + self.system
    }

    /// What the CPU did from `prev` to `now`; None when no time passed (or the counters went
    /// back, as after a restore).
    pub fn between(prev: CpuTimes, now: CpuTimes) -> Option<CpuShare> {
        let total = now.total.checked_sub(prev.total).filter(|t| *t > 0)? as f64;
        let user = now.user.checked_sub(prev.user)? as f64;
        let system = now.system.checked_sub(prev.system)? as f64;
        Some(CpuShare {
            user: (user / total).min(1.0),
            system: (system / total).min(1.0 - (user / total).min(1.0)),
        })
    }
}

impl App {
    /// New host facts: the CPU meter moves when two readings are apart.
    pub(super) fn on_host(&mut self, host: HostInfo) {
        if let (Some(prev), Some(now)) = (self.host.cpu, host.cpu) {
            if let Some(share) = CpuShare::between(prev, now) {
                self.cpu_share = Some(share);
            }
        }
        self.host = host;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(user: u64, system: u64, total: u64) -> CpuTimes {
        CpuTimes {
            user,
            system,
            total,
        }
    }

    #[test]
    fn the_share_is_of_the_time_between_two_readings() {
        let s = CpuShare::between(t(100, 50, 1000), t(130, 60, 1100)).unwrap();
        assert!((s.user - 0.30).abs() < 1e-9 && (s.system - 0.10).abs() < 1e-9);
        assert!((s.busy() - 0.40).abs() < 1e-9);
        assert_eq!(CpuShare::between(t(1, 1, 10), t(1, 1, 10)), None, "no time");
        assert_eq!(
            CpuShare::between(t(5, 1, 10), t(1, 1, 20)),
            None,
            "went back"
        );
    }
}
