//! The wall clock as responses and logs write it, rendered at most once a second: the
//! `Date` header (IMF-fixdate) and the access log's `[27/Nov/2026:10:15:13 +0000]`. Also any
//! other instant as an HTTP-date (`Last-Modified`), and HTTP-dates read back from requests
//! (`If-Modified-Since`, `If-Range`) in all three forms RFC 9110 §5.6.7 says a recipient must
//! accept.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Cached renderings of the current second, refreshed by `tick` once per loop iteration.
#[derive(Debug, Clone)]
pub struct Clock {
    /// Monotonic time of the last tick, for timeouts; read this instead of calling now().
    pub now: Instant,
    second: u64,
    http: [u8; 29],
    log: [u8; 26],
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    pub fn new() -> Clock {
        let mut c = Clock {
            now: Instant::now(),
            second: u64::MAX,
            http: [b' '; 29],
            log: [b' '; 26],
        };
        c.tick();
        c
    }

    /// Reads the clocks; re-renders the strings only when the second has changed.
    pub fn tick(&mut self) {
        self.now = Instant::now();
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if secs != self.second {
            self.second = secs;
            let t = Civil::from_unix(secs);
            self.http = t.http_date();
            self.log = t.log_date();
        }
    }

    /// `Fri, 27 Nov 2026 10:15:13 GMT`
    pub fn http_date(&self) -> &[u8] {
        &self.http
    }

    /// `27/Nov/2026:10:15:13 +0000`
    pub fn log_date(&self) -> &[u8] {
        &self.log
    }

    pub fn unix_seconds(&self) -> u64 {
        self.second
    }
}

/// `secs` since the epoch as an IMF-fixdate (`Fri, 27 Nov 2026 10:15:13 GMT`).
pub fn http_date_of(secs: u64) -> [u8; 29] {
    Civil::from_unix(secs).http_date()
}

/// Seconds since the epoch (negative before 1970) of an HTTP-date: IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37
/// GMT`) or asctime's (`Sun Nov  6 08:49:37 1994`). None for anything else, including a date
/// that does not exist (30 Feb). The day name must be a day name but is not checked against
/// the date, as nginx does not. `now` places RFC 850's two-digit year (RFC 9110: a year more
/// than 50 years ahead is the last one in the past with those digits).
pub fn parse_http_date(value: &[u8], now: u64) -> Option<i64> {
    let v = value.trim_ascii();
    let (date, time, year) = if let Some(comma) = v.iter().position(|&b| b == b',') {
        let (day_name, rest) = (&v[..comma], &v[comma + 1..]);
        let rest = rest.strip_prefix(b" ")?;
        let rest = rest.strip_suffix(b" GMT")?;
        if DAYS.iter().any(|d| d.as_slice() == day_name) {
            // IMF-fixdate: `06 Nov 1994 08:49:37`
            if rest.len() != 20 || rest[2] != b' ' || rest[6] != b' ' || rest[11] != b' ' {
                return None;
            }
            let day = digits(&rest[0..2])?;
            let year = digits(&rest[7..11])? as i64;
            ((day, month(&rest[3..6])?), &rest[12..], year)
        } else if LONG_DAYS.iter().any(|d| d.as_bytes() == day_name) {
            // RFC 850: `06-Nov-94 08:49:37`
            if rest.len() != 18 || rest[2] != b'-' || rest[6] != b'-' || rest[9] != b' ' {
                return None;
            }
            let day = digits(&rest[0..2])?;
            let yy = digits(&rest[7..9])? as i64;
            let this_year = Civil::from_unix(now).year as i64;
            let mut year = this_year - this_year % 100 + yy;
            if year > this_year + 50 {
                year -= 100;
            }
            ((day, month(&rest[3..6])?), &rest[10..], year)
        } else {
            return None;
        }
    } else {
        // asctime: `Sun Nov  6 08:49:37 1994`
        if v.len() != 24 || v[3] != b' ' || v[7] != b' ' || v[10] != b' ' || v[19] != b' ' {
            return None;
        }
        if !DAYS.iter().any(|d| d.as_slice() == &v[..3]) {
            return None;
        }
        let day = match v[8] {
            b' ' => digits(&v[9..10])?,
            _ => digits(&v[8..10])?,
        };
        (
            (day, month(&v[4..7])?),
            &v[11..19],
            digits(&v[20..24])? as i64,
        )
    };
    let ((day, month), (hour, minute, second)) = (date, clock_time(time)?);
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + (hour * 3600 + minute * 60 + second) as i64)
}

const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// All ASCII digits (no sign, no space) as a number; the callers pass at most four.
fn digits(b: &[u8]) -> Option<u64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
}

/// `Nov` → 11.
fn month(b: &[u8]) -> Option<u64> {
    MONTHS
        .iter()
        .position(|m| m.as_slice() == b)
        .map(|i| i as u64 + 1)
}

/// `08:49:37`; 60 seconds is a leap second, which the grammar allows.
fn clock_time(b: &[u8]) -> Option<(u64, u64, u64)> {
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, s) = (digits(&b[0..2])?, digits(&b[3..5])?, digits(&b[6..8])?);
    (h < 24 && m < 60 && s <= 60).then_some((h, m, s))
}

fn days_in_month(year: i64, month: u64) -> u64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u64, day: u64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A UTC calendar time.
struct Civil {
    year: u64,
    month: usize,
    day: u64,
    weekday: usize,
    hour: u64,
    minute: u64,
    second: u64,
}

impl Civil {
    fn from_unix(secs: u64) -> Civil {
        let days = secs / 86_400;
        let rem = secs % 86_400;
        // Howard Hinnant's civil_from_days, for days since 1970-01-01 (non-negative here).
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + u64::from(month <= 2);
        Civil {
            year,
            month: month as usize - 1,
            day,
            weekday: (days % 7) as usize,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
        }
    }

    fn http_date(&self) -> [u8; 29] {
        let mut b = *b"Thu, 01 Jan 1970 00:00:00 GMT";
        b[..3].copy_from_slice(DAYS[self.weekday]);
        two(&mut b[5..7], self.day);
        b[8..11].copy_from_slice(MONTHS[self.month]);
        four(&mut b[12..16], self.year);
        two(&mut b[17..19], self.hour);
        two(&mut b[20..22], self.minute);
        two(&mut b[23..25], self.second);
        b
    }

    fn log_date(&self) -> [u8; 26] {
        let mut b = *b"01/Jan/1970:00:00:00 +0000";
        two(&mut b[0..2], self.day);
        b[3..6].copy_from_slice(MONTHS[self.month]);
        four(&mut b[7..11], self.year);
        two(&mut b[12..14], self.hour);
        two(&mut b[15..17], self.minute);
        two(&mut b[18..20], self.second);
        b
    }
}

fn two(dst: &mut [u8], n: u64) {
    dst[0] = b'0' + (n / 10 % 10) as u8;
    dst[1] = b'0' + (n % 10) as u8;
}

fn four(dst: &mut [u8], n: u64) {
    two(&mut dst[0..2], n / 100);
    two(&mut dst[2..4], n % 100);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_known_instants() {
        let t = Civil::from_unix(0);
        assert_eq!(&t.http_date(), b"Thu, 01 Jan 1970 00:00:00 GMT");
        // 2026-11-27 10:15:13 UTC was a Friday.
        let t = Civil::from_unix(1_795_774_513);
        assert_eq!(&t.http_date(), b"Fri, 27 Nov 2026 10:15:13 GMT");
        assert_eq!(&t.log_date(), b"27/Nov/2026:10:15:13 +0000");
        // A leap day.
        let t = Civil::from_unix(951_782_400);
        assert_eq!(&t.http_date(), b"Tue, 29 Feb 2000 00:00:00 GMT");
    }

    const NOW: u64 = 1_795_774_513; // 2026-11-27

    #[test]
    fn parses_the_three_forms_of_http_date() {
        let p = |s: &str| parse_http_date(s.as_bytes(), NOW);
        // RFC 9110's own example, in each form.
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            " Sun, 06 Nov 1994 08:49:37 GMT ",
        ] {
            assert_eq!(p(s), Some(784_111_777), "{s}");
        }
        assert_eq!(p("Fri, 27 Nov 2026 10:15:13 GMT"), Some(NOW as i64));
        assert_eq!(p("Fri Nov 27 10:15:13 2026"), Some(NOW as i64));
        assert_eq!(p("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(p("Wed, 31 Dec 1969 23:59:59 GMT"), Some(-1));
        assert_eq!(p("Tue, 29 Feb 2000 00:00:00 GMT"), Some(951_782_400));
        // Two-digit years: up to 50 years ahead of 2026 stay ahead, beyond that go back.
        assert_eq!(p("Friday, 27-Nov-26 10:15:13 GMT"), Some(NOW as i64));
        assert_eq!(
            p("Thursday, 01-Jan-70 00:00:00 GMT"),
            p("Thu, 01 Jan 2070 00:00:00 GMT")
        );
        assert_eq!(
            p("Saturday, 01-Jan-77 00:00:00 GMT"),
            p("Sat, 01 Jan 1977 00:00:00 GMT")
        );
        // Round trip through the renderer.
        for secs in [0, 86_399, 951_868_799, NOW, 4_102_444_800] {
            assert_eq!(parse_http_date(&http_date_of(secs), NOW), Some(secs as i64));
        }
    }

    #[test]
    fn rejects_what_is_not_an_http_date() {
        for s in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "sun, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 29 Feb 1900 08:49:37 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1994 08:49:61 GMT",
            "Sun, 06 Nov +994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
            "Sun,, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06-Nov-94 08:49:37 GMT",
            "Sunday, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun Nov 6 08:49:37 1994",
            "Sun Nov  6 08:49:37 94",
            "1994-11-06T08:49:37Z",
            "784111777",
            "Sun, 06 Nov 1994 08:49:37 GMT\u{e9}",
        ] {
            assert_eq!(parse_http_date(s.as_bytes(), NOW), None, "{s:?}");
        }
        // asctime with a two-digit day is fine; trailing space is trimmed.
        assert!(parse_http_date(b"Sun Nov 06 08:49:37 1994 ", NOW).is_some());
    }
}
