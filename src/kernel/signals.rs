//! One process's signal masks as the kernel reports them in /proc/PID/status.

use anyhow::Context;

use super::parse::status::parse_status;
use crate::model::SignalMasks;

/// The blocked, ignored, caught and pending masks of `pid`.
pub fn masks(pid: i32) -> anyhow::Result<SignalMasks> {
    let path = format!("/proc/{pid}/status");
    let buf = std::fs::read(&path).with_context(|| format!("cannot read {path}"))?;
    Ok(parse_status(&buf)?.masks)
}
