//! `/proc/PID/status`: `Key:\tvalue` lines. tcplab needs the real uid and the five signal masks.

use crate::model::{SignalMasks, SignalSet};

use super::{dec_u64, ParseError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Real uid (first of the four on the `Uid:` line).
    pub uid: u32,
    pub masks: SignalMasks,
}

/// Parses the content of /proc/PID/status; every one of Uid, SigPnd, ShdPnd, SigBlk, SigIgn,
/// SigCgt must be present.
pub fn parse_status(buf: &[u8]) -> Result<Status, ParseError> {
    let err = |d: &str| ParseError::new("/proc/PID/status", d);
    let mut uid = None;
    let mut found = 0u8;
    let mut masks = SignalMasks::default();
    for line in buf.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (key, value) = (&line[..colon], &line[colon + 1..]);
        let mask = |v: &[u8]| {
            std::str::from_utf8(v)
                .ok()
                .and_then(SignalSet::from_hex)
                .ok_or_else(|| err("bad signal mask"))
        };
        match key {
            b"Uid" => {
                let first = value
                    .split(|b| b.is_ascii_whitespace())
                    .find(|f| !f.is_empty())
                    .and_then(dec_u64)
                    .ok_or_else(|| err("bad Uid"))?;
                uid = Some(first as u32);
            }
            b"SigPnd" => (masks.pending, found) = (mask(value)?, found | 1),
            b"ShdPnd" => (masks.shared_pending, found) = (mask(value)?, found | 2),
            b"SigBlk" => (masks.blocked, found) = (mask(value)?, found | 4),
            b"SigIgn" => (masks.ignored, found) = (mask(value)?, found | 8),
            b"SigCgt" => (masks.caught, found) = (mask(value)?, found | 16),
            _ => {}
        }
    }
    let uid = uid.ok_or_else(|| err("no Uid line"))?;
    if found != 31 {
        return Err(err("a signal mask line is missing"));
    }
    Ok(Status { uid, masks })
}
