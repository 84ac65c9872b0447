//! Host facts for the dashboard header: name, uptime, load averages, CPU times and memory.

use std::time::Duration;

pub use super::parse::meters::{CpuTimes, Memory};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Host {
    pub hostname: String,
    pub uptime: Duration,
    pub load: [f64; 3],
    /// The machine's CPU time since boot; two readings make the CPU meter.
    pub cpu: Option<CpuTimes>,
    pub memory: Option<Memory>,
}

/// Parses /proc/loadavg (`0.12 0.10 0.05 1/123 4567`).
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(|w| w.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// Parses /proc/uptime (`12345.67 23456.78`).
pub fn parse_uptime(text: &str) -> Option<Duration> {
    let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_secs_f64(secs.max(0.0)))
}

/// The machine's uptime (`/proc/uptime`).
pub fn uptime() -> Option<Duration> {
    parse_uptime(&std::fs::read_to_string("/proc/uptime").ok()?)
}

/// Reads what it can; a missing piece stays empty rather than failing the refresh.
pub fn read() -> Host {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| parse_loadavg(&t))
        .unwrap_or_default();
    let uptime = uptime().unwrap_or_default();
    let cpu = std::fs::read("/proc/stat")
        .ok()
        .and_then(|t| super::parse::meters::cpu_times(&t));
    let memory = std::fs::read("/proc/meminfo")
        .ok()
        .and_then(|t| super::parse::meters::memory(&t));
    Host {
        hostname,
        uptime,
        load,
        cpu,
        memory,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_text() {
        assert_eq!(
            parse_loadavg("0.12 0.10 0.05 1/123 4567\n"),
            Some([0.12, 0.10, 0.05])
        );
        assert_eq!(parse_loadavg("garbage"), None);
        assert_eq!(
            parse_uptime("12.5 40.0\n"),
            Some(Duration::from_millis(12_500))
        );
        assert_eq!(parse_uptime(""), None);
    }
}
