//! Parsers for the kernel's text and binary formats. They take bytes, never paths, so tests
//! feed them captured fixtures and the scanners feed them reused buffers.
//!
//! A parser returns `ParseError` for text that is not in the kernel's format; the scanners treat
//! that like a process that vanished half-way (skip it) rather than guessing.

pub mod locks;
pub mod meters;
pub mod net_tcp;
pub mod netstat;
pub mod sock_diag;
pub mod stat;
pub mod status;
pub mod tcp_info;
pub mod trace_line;
pub mod trace_raw;

/// Text that does not have the shape the kernel gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {what}: {detail}")]
pub struct ParseError {
    pub what: &'static str,
    pub detail: String,
}

impl ParseError {
    pub(crate) fn new(what: &'static str, detail: impl Into<String>) -> ParseError {
        ParseError {
            what,
            detail: detail.into(),
        }
    }
}

/// Parses an ASCII decimal (optionally negative) integer from bytes without allocating.
pub(crate) fn dec_i64(s: &[u8]) -> Option<i64> {
    match s.strip_prefix(b"-") {
        Some(digits) => i64::try_from(dec_u64(digits)?).ok().map(|v| -v),
        None => i64::try_from(dec_u64(s)?).ok(),
    }
}

pub(crate) fn dec_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((b - b'0') as u64)?;
    }
    Some(v)
}

pub(crate) fn hex_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        let d = (b as char).to_digit(16)?;
        v = (v << 4) | d as u64;
    }
    Some(v)
}
