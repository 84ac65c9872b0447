//! Durations (`500ms`, `6s`, `2m`), sizes (`16KiB`, `1MiB`) and counts (`1 worker`, `2 workers`)
//! as every command writes them.

use std::fmt;
use std::time::Duration;

/// A value on the command line that is not what its flag takes. The message names the value and
/// what to write instead; clap puts the flag in front of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("`{0}` is not a duration: write e.g. 500ms, 6s or 2m")]
    NotADuration(String),
    #[error("`{0}` is not a size: write e.g. 4096, 16KiB or 1MiB")]
    NotASize(String),
    #[error("`{0}` is not a whole number")]
    NotANumber(String),
    #[error("{given} is too small: at least {least}")]
    TooSmall { given: String, least: String },
    #[error("{given} is too large: at most {most}")]
    TooLarge { given: String, most: String },
}

/// Parses `500ms`, `6s`, `2m`, `1h` (and combinations humantime accepts, like `1m30s`).
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    humantime::parse_duration(s.trim()).map_err(|_| UnitError::NotADuration(s.to_string()))
}

/// Parses a duration within `least..=most` (`Duration::MAX`: no upper bound).
pub fn parse_duration_within(
    s: &str,
    least: Duration,
    most: Duration,
) -> Result<Duration, UnitError> {
    let d = parse_duration(s)?;
    if d < least {
        return Err(UnitError::TooSmall {
            given: s.trim().to_string(),
            least: format_duration(least),
        });
    }
    if d > most {
        return Err(UnitError::TooLarge {
            given: s.trim().to_string(),
            most: format_duration(most),
        });
    }
    Ok(d)
}

/// Parses `4096`, `16KiB`, `1MiB`, `2GiB` (also `16K`, `1M`, `16KB` as binary units).
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || UnitError::NotASize(s.to_string());
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// Parses a size within `least..=most` bytes.
pub fn parse_size_within(s: &str, least: u64, most: u64) -> Result<u64, UnitError> {
    let n = parse_size(s)?;
    if n < least {
        return Err(UnitError::TooSmall {
            given: s.trim().to_string(),
            least: format_size(least),
        });
    }
    if n > most {
        return Err(UnitError::TooLarge {
            given: s.trim().to_string(),
            most: format_size(most),
        });
    }
    Ok(n)
}

/// Parses a whole number in `LEAST..=MOST`, as the count flags take (`--count`, `--workers`):
/// `value_parser = parse_count::<usize, 1, 1000>`.
pub fn parse_count<T: TryFrom<u64>, const LEAST: u64, const MOST: u64>(
    s: &str,
) -> Result<T, UnitError> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| UnitError::NotANumber(s.to_string()))?;
    if n < LEAST {
        return Err(UnitError::TooSmall {
            given: n.to_string(),
            least: LEAST.to_string(),
        });
    }
    if n > MOST {
        return Err(UnitError::TooLarge {
            given: n.to_string(),
            most: MOST.to_string(),
        });
    }
    T::try_from(n).map_err(|_| UnitError::TooLarge {
        given: n.to_string(),
        most: MOST.to_string(),
    })
}

/// Renders a duration the way the commands accept it back: `850ms`, `12.3s`, `2m05s`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// Renders a byte count with a binary unit: `512B`, `16.0KiB`, `1.5MiB`.
pub fn format_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut v = n as f64 / 1024.0;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1}{}", UNITS[i])
}

/// A count and its noun in the right number: `1 worker`, `0 workers`, `2 processes`.
pub fn count<N: Copy + fmt::Display + PartialEq + From<u8>>(n: N, one: &str, many: &str) -> String {
    format!("{n} {}", noun(n, one, many))
}

/// The noun alone, in the number `n` asks for: `worker 42` or `workers 42 43` before a list.
pub fn noun<'a, N: PartialEq + From<u8>>(n: N, one: &'a str, many: &'a str) -> &'a str {
    if n == N::from(1) {
        one
    } else {
        many
    }
}

/// The decimal digits of `n`, written into `buf` from its start without the `fmt` machinery
/// (hot paths: HTTP Content-Length, `net --json` at tens of thousands of sockets): the length
/// from a table of powers of ten, then two digits per division.
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let len = POWERS_OF_TEN.iter().take_while(|&&p| n >= p).count().max(1);
    let mut i = len;
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        buf[..2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        buf[0] = b'0' + n as u8;
    }
    &buf[..len]
}

/// 1, 10, 100, ... 10^19: `n` has as many digits as the powers it reaches (at least one).
const POWERS_OF_TEN: [u64; 20] = {
    let mut powers = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        powers[i] = powers[i - 1] * 10;
        i += 1;
    }
    powers
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_the_singular_for_one_only() {
        assert_eq!(count(1, "worker", "workers"), "1 worker");
        assert_eq!(count(0, "worker", "workers"), "0 workers");
        assert_eq!(count(2, "process", "processes"), "2 processes");
        assert_eq!(noun(1, "worker", "workers"), "worker");
        assert_eq!(noun(3, "worker", "workers"), "workers");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("6s"), Ok(Duration::from_secs(6)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16KiB"), Ok(16 * 1024));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("1.5MiB").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999GiB").is_err());
    }

    #[test]
    fn bounded() {
        assert_eq!(parse_count::<usize, 1, 1000>("3"), Ok(3));
        assert_eq!(
            parse_count::<usize, 1, 1000>("0").unwrap_err().to_string(),
            "0 is too small: at least 1"
        );
        assert_eq!(
            parse_count::<u64, 1, 10>("11").unwrap_err().to_string(),
            "11 is too large: at most 10"
        );
        assert!(parse_count::<u8, 0, 1000>("300").is_err());
        assert!(parse_count::<u64, 1, 10>("-1").is_err());
        let (least, most) = (Duration::from_millis(50), Duration::from_secs(3600));
        assert_eq!(
            parse_duration_within("10ms", least, most)
                .unwrap_err()
                .to_string(),
            "10ms is too small: at least 50ms"
        );
        assert_eq!(
            parse_duration_within("2h", least, most)
                .unwrap_err()
                .to_string(),
            "2h is too large: at most 60m00s"
        );
        assert_eq!(
            parse_duration_within("1s", least, Duration::MAX),
            Ok(Duration::from_secs(1))
        );
    }

    #[test]
    fn decimals() {
        let mut buf = [0u8; 20];
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(1024, &mut buf), b"1024");
        assert_eq!(decimal(u64::MAX, &mut buf), b"18446744073709551615");
        let powers = (1..20).flat_map(|e| {
            let p = 10u64.pow(e);
            [p - 1, p, p + 1]
        });
        for n in (0..100_000).chain(powers).chain([u64::MAX / 7, 1 << 40]) {
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes(), "{n}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2m05s");
        assert_eq!(format_size(512), "512B");
        assert_eq!(format_size(1536 * 1024), "1.5MiB");
    }
}
