//! The wall clock as responses and logs write it, rendered at most once a second: the
//! `Date` header (IMF-fixdate) and the access log's `[27/Nov/2026:10:15:13 +0000]`.

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
}
