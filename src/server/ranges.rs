//! The `Range` request header (RFC 9110 §14.2), reduced to what this server serves: one byte
//! range of a file of known size. Pure: the header's bytes and the size in, a decision out.
//!
//! Anything that is not exactly one well-formed `bytes` range-spec is ignored, so the whole
//! file is sent with 200: another unit, a missing `=`, `5-2` (RFC 9110 calls a last-pos below
//! the first-pos invalid), signs, spaces inside a spec, and several ranges (`0-1,5-6`: nginx
//! answers those with multipart/byteranges; this server sends the whole file, which RFC 9110
//! allows). Empty list elements (`bytes=,,0-5,`) are skipped as the list syntax requires.
//! Numbers of any length are read, saturating: a first-pos past u64 is past every file.

use std::cmp::Ordering;

/// What to send for a request's `Range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// Send the whole file (no usable Range).
    Ignore,
    /// 416, with `Content-Range: bytes */size`.
    Unsatisfiable,
    /// 206 with these bytes, both ends included; always `first <= last < size`.
    Bytes { first: u64, last: u64 },
}

/// Reads a `Range` field value against a file of `size` bytes.
pub fn parse_range(value: &[u8], size: u64) -> RangeRequest {
    let Some(eq) = value.iter().position(|&b| b == b'=') else {
        return RangeRequest::Ignore;
    };
    let (unit, set) = (value[..eq].trim_ascii(), &value[eq + 1..]);
    if !unit.eq_ignore_ascii_case(b"bytes") {
        return RangeRequest::Ignore;
    }
    let mut specs = set
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return RangeRequest::Ignore; // none, or more than one
    };
    let Some(dash) = spec.iter().position(|&b| b == b'-') else {
        return RangeRequest::Ignore;
    };
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    if first.is_empty() {
        // A suffix: the last n bytes.
        let Some(n) = number(last) else {
            return RangeRequest::Ignore;
        };
        return match (n, size) {
            (0, _) => RangeRequest::Unsatisfiable,
            // RFC 9110 counts this satisfiable, but no byte range of an empty file exists.
            (_, 0) => RangeRequest::Ignore,
            _ => RangeRequest::Bytes {
                first: size - n.min(size),
                last: size - 1,
            },
        };
    }
    let Some(first_pos) = number(first) else {
        return RangeRequest::Ignore;
    };
    let last_pos = if last.is_empty() {
        u64::MAX
    } else {
        match number(last) {
            Some(_) if compare_decimal(last, first) == Ordering::Less => {
                return RangeRequest::Ignore
            }
            Some(n) => n,
            None => return RangeRequest::Ignore,
        }
    };
    if first_pos >= size {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Bytes {
        first: first_pos,
        last: last_pos.min(size - 1),
    }
}

/// 1*DIGIT, saturating at u64::MAX.
fn number(b: &[u8]) -> Option<u64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// Compares two digit strings by value, however long (saturated numbers cannot).
fn compare_decimal(a: &[u8], b: &[u8]) -> Ordering {
    let strip = |s: &[u8]| -> usize { s.iter().take_while(|&&d| d == b'0').count() };
    let (a, b) = (&a[strip(a)..], &b[strip(b)..]);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Optional whitespace (space and tab) around a list element.
fn trim_ows(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&c| c != b' ' && c != b'\t');
    let Some(start) = start else {
        return &[];
    };
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .unwrap_or(start);
    &b[start..=end]
}

#[cfg(test)]
mod tests {
    use super::RangeRequest::{Bytes, Ignore, Unsatisfiable};
    use super::*;
    use proptest::prelude::*;

    fn r(v: &str, size: u64) -> RangeRequest {
        parse_range(v.as_bytes(), size)
    }

    #[test]
    fn the_three_forms() {
        assert_eq!(r("bytes=0-0", 10), Bytes { first: 0, last: 0 });
        assert_eq!(r("bytes=2-5", 10), Bytes { first: 2, last: 5 });
        assert_eq!(r("bytes=2-50", 10), Bytes { first: 2, last: 9 });
        assert_eq!(r("bytes=9-", 10), Bytes { first: 9, last: 9 });
        assert_eq!(r("bytes=-3", 10), Bytes { first: 7, last: 9 });
        assert_eq!(r("bytes=-30", 10), Bytes { first: 0, last: 9 });
        assert_eq!(r("BYTES=1-1", 10), Bytes { first: 1, last: 1 });
        assert_eq!(r("bytes= 1-2 ", 10), Bytes { first: 1, last: 2 });
        assert_eq!(r("bytes=,, 1-2,\t,", 10), Bytes { first: 1, last: 2 });
        assert_eq!(r("bytes=007-0009", 10), Bytes { first: 7, last: 9 });
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(r("bytes=10-", 10), Unsatisfiable);
        assert_eq!(r("bytes=10-20", 10), Unsatisfiable);
        assert_eq!(r("bytes=-0", 10), Unsatisfiable);
        assert_eq!(r("bytes=-000", 10), Unsatisfiable);
        assert_eq!(r("bytes=0-", 0), Unsatisfiable);
        assert_eq!(r("bytes=-0", 0), Unsatisfiable);
        assert_eq!(r("bytes=18446744073709551616-", 10), Unsatisfiable);
        assert_eq!(
            r("bytes=99999999999999999999999-99999999999999999999999", 10),
            Unsatisfiable
        );
    }

    #[test]
    fn ignored() {
        for v in [
            "",
            "bytes",
            "bytes0-1",
            "bytes=",
            "bytes=,,,",
            "bytes=-",
            "bytes=5-2",
            "bytes=1-0",
            "bytes=100000000000000000000-99999999999999999999",
            "bytes=0-1,3-4",
            "bytes=0-1,0-1",
            "bytes=0 - 1",
            "bytes=+1-2",
            "bytes=1-+2",
            "bytes=-1-2",
            "bytes=--1",
            "bytes=0x1-2",
            "bytes=a-b",
            "bytes=1-2;x",
            "items=0-1",
            "bytes 0-1",
            "=0-1",
            "bytes=\u{661}-2",
        ] {
            assert_eq!(r(v, 10), Ignore, "{v:?}");
        }
        assert_eq!(r("bytes=-5", 0), Ignore, "no byte of an empty file");
        let commas = format!("bytes=0-1{}", ",".repeat(50_000));
        assert_eq!(r(&commas, 10), Bytes { first: 0, last: 1 });
        let many = format!("bytes={}", "0-1,".repeat(10_000));
        assert_eq!(r(&many, 10), Ignore);
    }

    #[test]
    fn huge_numbers_saturate() {
        let max = u64::MAX;
        assert_eq!(
            r(&format!("bytes=0-{max}"), max),
            Bytes {
                first: 0,
                last: max - 1
            }
        );
        assert_eq!(
            r("bytes=0-999999999999999999999999999", 10),
            Bytes { first: 0, last: 9 }
        );
        assert_eq!(
            r("bytes=-999999999999999999999999999", 10),
            Bytes { first: 0, last: 9 }
        );
        assert_eq!(
            r(&format!("bytes=-{max}"), max),
            Bytes {
                first: 0,
                last: max - 1
            }
        );
    }

    proptest! {
        #[test]
        fn any_value_gives_a_range_inside_the_file(
            value in proptest::collection::vec(
                prop_oneof![Just(b'0'), Just(b'9'), Just(b'-'), Just(b','), Just(b' '),
                            Just(b'='), any::<u8>()], 0..40),
            size in prop_oneof![Just(0u64), Just(1), 0..100u64, Just(u64::MAX)],
        ) {
            let mut v = b"bytes=".to_vec();
            v.extend_from_slice(&value);
            for input in [&v[..], &value[..]] {
                if let Bytes { first, last } = parse_range(input, size) {
                    prop_assert!(first <= last && last < size);
                }
            }
        }
    }
}
