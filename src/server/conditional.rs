//! Conditional requests on a static file (RFC 9110 §13): the file's validators (`ETag`,
//! `Last-Modified`) and which answer a request's preconditions and `Range` select: 412, 304,
//! 206, 416 or the whole file. Pure: header bytes, the file's size and mtime and the clock in;
//! a decision out. Writing the answer is [`super::file_answer`]'s.
//!
//! The order is RFC 9110 §13.2.2's: `If-Match` (strong comparison: a `W/` tag never matches;
//! `*` matches any file) and only without it `If-Unmodified-Since` (a file modified after the
//! date, at one-second resolution; an unparsable date ignored); either failing is 412. Then
//! `If-None-Match` (weak comparison; `*` matches any file), and only without it
//! `If-Modified-Since` (at one-second resolution, an unparsable date ignored); a match is 304.
//! Then `Range`, honoured only if `If-Range` is absent or matches (strong comparison for an
//! entity-tag; a date must equal `Last-Modified` exactly, and only counts when `Last-Modified`
//! is at least a second older than the response's `Date`).

use super::date::parse_http_date;
use super::entity_tag::{entity_tag, list_matches, Comparison, ETag};
use super::ranges::{parse_range, RangeRequest};

/// One request header this module reads, as the head carried it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Field<'a> {
    #[default]
    Absent,
    One(&'a [u8]),
    /// Sent on more than one line. An entity-tag list then matches nothing (`If-Match`: 412,
    /// the safe refusal; `If-None-Match`: the file is sent, which is always a correct answer;
    /// `If-Range`: the whole file), and a repeated date or `Range` is ignored like an
    /// unparsable one (RFC 9110 §13.1.3 and §13.1.4 ignore a list of dates).
    Repeated,
}

impl<'a> Field<'a> {
    /// Records one more line of this header.
    pub fn add(&mut self, value: &'a [u8]) {
        *self = match self {
            Field::Absent => Field::One(value),
            _ => Field::Repeated,
        };
    }

    pub fn is_absent(&self) -> bool {
        *self == Field::Absent
    }
}

/// The request headers that decide between 200, 206, 304, 412 and 416.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    pub if_match: Field<'a>,
    pub if_unmodified_since: Field<'a>,
    pub if_none_match: Field<'a>,
    pub if_modified_since: Field<'a>,
    pub range: Field<'a>,
    pub if_range: Field<'a>,
}

/// [`Conditions`] kept while a request's body arrives (its head's bytes are gone by then).
#[derive(Debug, Clone, Default)]
pub struct OwnedConditions([OwnedField; 6]);

#[derive(Debug, Clone, Default)]
enum OwnedField {
    #[default]
    Absent,
    One(Vec<u8>),
    Repeated,
}

impl OwnedConditions {
    pub fn from_conditions(c: &Conditions<'_>) -> OwnedConditions {
        let own = |f: Field<'_>| match f {
            Field::Absent => OwnedField::Absent,
            Field::One(v) => OwnedField::One(v.to_vec()),
            Field::Repeated => OwnedField::Repeated,
        };
        OwnedConditions([
            own(c.if_match),
            own(c.if_unmodified_since),
            own(c.if_none_match),
            own(c.if_modified_since),
            own(c.range),
            own(c.if_range),
        ])
    }

    pub fn view(&self) -> Conditions<'_> {
        fn view(f: &OwnedField) -> Field<'_> {
            match f {
                OwnedField::Absent => Field::Absent,
                OwnedField::One(v) => Field::One(v),
                OwnedField::Repeated => Field::Repeated,
            }
        }
        let [im, ius, inm, ims, range, if_range] = &self.0;
        Conditions {
            if_match: view(im),
            if_unmodified_since: view(ius),
            if_none_match: view(inm),
            if_modified_since: view(ims),
            range: view(range),
            if_range: view(if_range),
        }
    }
}

/// What a file is judged by: nginx's validators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validators {
    /// The file's mtime in whole seconds (0 for one before 1970): the ETag's first half.
    pub mtime: u64,
    pub size: u64,
    /// What `Last-Modified` says: the mtime, or the response's `Date` if the mtime is in the
    /// future (RFC 9110 §8.8.2.1).
    pub last_modified: u64,
    /// `Last-Modified` is at least a second older than `Date`, so a date can stand for this
    /// content (RFC 9110 §8.8.2.2: a file changed within the second could change again).
    pub date_is_strong: bool,
}

impl Validators {
    pub fn new(mtime: i64, size: u64, now: u64) -> Validators {
        let mtime = u64::try_from(mtime).unwrap_or(0);
        let last_modified = mtime.min(now);
        Validators {
            mtime,
            size,
            last_modified,
            date_is_strong: last_modified < now,
        }
    }

    /// `"<mtime hex>-<size hex>"`, as nginx writes it.
    pub fn etag(&self) -> ETag {
        ETag::nginx(self.mtime, self.size)
    }
}

/// What to answer a GET or HEAD for an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selected {
    Full,
    NotModified,
    PreconditionFailed,
    Partial { first: u64, last: u64 },
    Unsatisfiable,
}

/// Evaluates `c` against the file, in RFC 9110 §13.2.2's order; `now` is the `Date` sent.
pub fn select(c: &Conditions<'_>, v: &Validators, now: u64) -> Selected {
    let etag = v.etag();
    let precondition_holds = match c.if_match {
        Field::One(list) => list_matches(list, etag.as_bytes(), Comparison::Strong),
        Field::Repeated => false,
        Field::Absent => match c.if_unmodified_since {
            Field::One(date) => {
                parse_http_date(date, now).is_none_or(|d| v.last_modified as i64 <= d)
            }
            Field::Repeated | Field::Absent => true,
        },
    };
    if !precondition_holds {
        return Selected::PreconditionFailed;
    }
    match c.if_none_match {
        Field::One(list) if list_matches(list, etag.as_bytes(), Comparison::Weak) => {
            return Selected::NotModified
        }
        Field::One(_) | Field::Repeated => {}
        Field::Absent => {
            if let Field::One(date) = c.if_modified_since {
                if parse_http_date(date, now).is_some_and(|d| v.last_modified as i64 <= d) {
                    return Selected::NotModified;
                }
            }
        }
    }
    let Field::One(range) = c.range else {
        return Selected::Full;
    };
    let if_range_holds = match c.if_range {
        Field::Absent => true,
        Field::One(value) => if_range_matches(value, v, etag.as_bytes(), now),
        Field::Repeated => false,
    };
    if !if_range_holds {
        return Selected::Full;
    }
    match parse_range(range, v.size) {
        RangeRequest::Ignore => Selected::Full,
        RangeRequest::Unsatisfiable => Selected::Unsatisfiable,
        RangeRequest::Bytes { first, last } => Selected::Partial { first, last },
    }
}

/// `If-Range`: an entity-tag (strong comparison: a weak tag never matches) or an HTTP-date
/// (equal to a strong `Last-Modified`).
fn if_range_matches(value: &[u8], v: &Validators, etag: &[u8], now: u64) -> bool {
    let value = value.trim_ascii();
    if value.starts_with(b"\"") || value.starts_with(b"W/") {
        return match entity_tag(value) {
            Some((tag, rest)) => rest.trim_ascii().is_empty() && !tag.weak && tag.opaque == etag,
            None => false,
        };
    }
    v.date_is_strong && parse_http_date(value, now) == Some(v.last_modified as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fri, 27 Nov 2026 10:15:13 GMT
    const NOW: u64 = 1_795_774_513;
    /// An hour earlier.
    const MTIME: i64 = NOW as i64 - 3600;

    fn file() -> Validators {
        Validators::new(MTIME, 1000, NOW)
    }

    #[test]
    fn etags_in_nginx_style() {
        assert_eq!(file().etag().as_bytes(), b"\"6b094a21-3e8\"");
        assert_eq!(Validators::new(0, 0, NOW).etag().as_bytes(), b"\"0-0\"");
        assert_eq!(Validators::new(-5, 15, NOW).etag().as_bytes(), b"\"0-f\"");
        let max = Validators::new(i64::MAX, u64::MAX, NOW).etag();
        assert_eq!(max.as_bytes(), b"\"7fffffffffffffff-ffffffffffffffff\"");
        // A future mtime: Last-Modified says now, and a date cannot validate it yet.
        let future = Validators::new(NOW as i64 + 10, 1, NOW);
        assert_eq!((future.last_modified, future.date_is_strong), (NOW, false));
    }

    fn conditions<'a>(pairs: &[(&str, &'a str)]) -> Conditions<'a> {
        let mut c = Conditions::default();
        for (name, value) in pairs {
            let f = match *name {
                "im" => &mut c.if_match,
                "ius" => &mut c.if_unmodified_since,
                "inm" => &mut c.if_none_match,
                "ims" => &mut c.if_modified_since,
                "range" => &mut c.range,
                "if-range" => &mut c.if_range,
                _ => unreachable!(),
            };
            f.add(value.as_bytes());
        }
        c
    }

    fn sel(pairs: &[(&str, &str)]) -> Selected {
        select(&conditions(pairs), &file(), NOW)
    }

    const LM: &str = "Fri, 27 Nov 2026 09:15:13 GMT";
    const TAG: &str = r#""6b094a21-3e8""#;

    #[test]
    fn not_modified() {
        use Selected::*;
        assert_eq!(sel(&[]), Full);
        assert_eq!(sel(&[("inm", TAG)]), NotModified);
        assert_eq!(sel(&[("inm", "\"other\"")]), Full);
        assert_eq!(sel(&[("ims", LM)]), NotModified);
        assert_eq!(sel(&[("ims", "Fri, 27 Nov 2026 09:15:12 GMT")]), Full);
        assert_eq!(
            sel(&[("ims", "Fri, 27 Nov 2026 09:15:14 GMT")]),
            NotModified
        );
        assert_eq!(
            sel(&[("ims", "Friday, 27-Nov-26 09:15:13 GMT")]),
            NotModified
        );
        assert_eq!(sel(&[("ims", "Fri Nov 27 09:15:13 2026")]), NotModified);
        assert_eq!(sel(&[("ims", "garbage")]), Full);
        assert_eq!(sel(&[("ims", LM), ("ims", LM)]), Full);
        // If-None-Match takes precedence: a non-matching tag wins over a matching date.
        assert_eq!(sel(&[("inm", "\"other\""), ("ims", LM)]), Full);
        assert_eq!(
            sel(&[("inm", TAG), ("ims", "Thu, 01 Jan 1970 00:00:00 GMT")]),
            NotModified
        );
        assert_eq!(sel(&[("inm", TAG), ("inm", TAG)]), Full);
        // 304 beats Range.
        assert_eq!(sel(&[("inm", TAG), ("range", "bytes=0-1")]), NotModified);
    }

    #[test]
    fn preconditions_fail_with_412() {
        use Selected::*;
        assert_eq!(sel(&[("im", TAG)]), Full);
        assert_eq!(sel(&[("im", "*")]), Full);
        assert_eq!(sel(&[("im", r#""a", "6b094a21-3e8""#)]), Full);
        assert_eq!(sel(&[("im", r#"W/"6b094a21-3e8""#)]), PreconditionFailed);
        assert_eq!(sel(&[("im", "\"other\"")]), PreconditionFailed);
        assert_eq!(sel(&[("im", "")]), PreconditionFailed);
        assert_eq!(sel(&[("im", "garbage")]), PreconditionFailed);
        // Two lines: nothing matches, even where each line alone would.
        assert_eq!(sel(&[("im", TAG), ("im", TAG)]), PreconditionFailed);
        // If-Unmodified-Since, to the second: the date of Last-Modified or later holds.
        assert_eq!(sel(&[("ius", LM)]), Full);
        assert_eq!(sel(&[("ius", "Fri, 27 Nov 2026 09:15:14 GMT")]), Full);
        assert_eq!(sel(&[("ius", "Friday, 27-Nov-26 09:15:13 GMT")]), Full);
        assert_eq!(sel(&[("ius", "Fri Nov 27 09:15:13 2026")]), Full);
        assert_eq!(
            sel(&[("ius", "Fri, 27 Nov 2026 09:15:12 GMT")]),
            PreconditionFailed
        );
        assert_eq!(
            sel(&[("ius", "Thu, 01 Jan 1970 00:00:00 GMT")]),
            PreconditionFailed
        );
        // Unparsable, a list of dates, or on two lines: ignored.
        let old = "Fri, 27 Nov 2026 09:15:12 GMT";
        assert_eq!(sel(&[("ius", "garbage")]), Full);
        assert_eq!(sel(&[("ius", &format!("{old}, {old}"))]), Full);
        assert_eq!(sel(&[("ius", old), ("ius", old)]), Full);
        // A future mtime: Last-Modified (and so the comparison) says now.
        let future = Validators::new(NOW as i64 + 10, 1, NOW);
        let c = conditions(&[("ius", "Fri, 27 Nov 2026 10:15:13 GMT")]);
        assert_eq!(select(&c, &future, NOW), Full);
    }

    #[test]
    fn preconditions_in_rfc_order() {
        use Selected::*;
        let old = "Fri, 27 Nov 2026 09:15:12 GMT";
        // If-Match decides alone: a matching tag overrides a failing date, and the reverse.
        assert_eq!(sel(&[("im", TAG), ("ius", old)]), Full);
        assert_eq!(sel(&[("ius", old), ("im", TAG)]), Full);
        assert_eq!(sel(&[("im", "\"x\""), ("ius", LM)]), PreconditionFailed);
        // 412 comes before 304, 206 and 416.
        for later in [("inm", TAG), ("ims", LM), ("range", "bytes=0-1")] {
            assert_eq!(sel(&[("im", "\"x\""), later]), PreconditionFailed);
            assert_eq!(sel(&[("ius", old), later]), PreconditionFailed);
        }
        assert_eq!(
            sel(&[("im", "\"x\""), ("range", "bytes=5000-")]),
            PreconditionFailed
        );
        // Once they hold, the rest is evaluated as before.
        assert_eq!(sel(&[("im", TAG), ("inm", TAG)]), NotModified);
        assert_eq!(sel(&[("im", "*"), ("inm", "*")]), NotModified);
        assert_eq!(sel(&[("ius", LM), ("ims", LM)]), NotModified);
        assert_eq!(sel(&[("im", TAG), ("inm", "\"x\"")]), Full);
        assert_eq!(
            sel(&[("im", TAG), ("range", "bytes=0-1")]),
            Partial { first: 0, last: 1 }
        );
        assert_eq!(sel(&[("ius", LM), ("range", "bytes=1000-")]), Unsatisfiable);
    }

    #[test]
    fn ranges_and_if_range() {
        use Selected::*;
        let part = Partial { first: 0, last: 1 };
        assert_eq!(sel(&[("range", "bytes=0-1")]), part);
        assert_eq!(sel(&[("range", "bytes=1000-")]), Unsatisfiable);
        assert_eq!(sel(&[("range", "bytes=0-1,3-4")]), Full);
        assert_eq!(sel(&[("range", "bytes=0-1"), ("range", "bytes=0-1")]), Full);
        assert_eq!(sel(&[("range", "bytes=0-1"), ("if-range", TAG)]), part);
        assert_eq!(sel(&[("range", "bytes=0-1"), ("if-range", LM)]), part);
        for stale in [
            "\"other\"",
            r#"W/"6b094a21-3e8""#,
            r#""6b094a21-3e8", "x""#,
            "Fri, 27 Nov 2026 09:15:14 GMT",
            "Fri, 27 Nov 2026 09:15:12 GMT",
            "nonsense",
            "",
        ] {
            assert_eq!(
                sel(&[("range", "bytes=0-1"), ("if-range", stale)]),
                Full,
                "{stale}"
            );
        }
        // If-Range without Range changes nothing.
        assert_eq!(sel(&[("if-range", "\"other\"")]), Full);
        // A file modified this very second: its date is no validator for If-Range.
        let fresh = Validators::new(NOW as i64, 10, NOW);
        let c = conditions(&[
            ("range", "bytes=0-1"),
            ("if-range", "Fri, 27 Nov 2026 10:15:13 GMT"),
        ]);
        assert_eq!(select(&c, &fresh, NOW), Full);
        let c = conditions(&[("range", "bytes=0-1"), ("if-range", r#""6b095831-a""#)]);
        assert_eq!(select(&c, &fresh, NOW), part);
    }
}
