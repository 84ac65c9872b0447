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

/// A socket that becomes readable when INT, TERM or HUP arrives: the handler only writes a
/// byte to it, and a command's poll loop sees it and stops cleanly (removing what it set up,
/// such as a tracefs instance). Register before setting anything up.
pub fn stop_on_signals() -> std::io::Result<std::os::unix::net::UnixStream> {
    let (stop_rx, stop_tx) = std::os::unix::net::UnixStream::pair()?;
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::low_level::pipe::register(sig, stop_tx.try_clone()?)?;
    }
    Ok(stop_rx)
}
