//! HTTP/1.1 request heads: find where a head ends, enforce the size limits, parse it with
//! httparse and read the headers that decide framing and keep-alive. Pure: bytes in, a typed
//! result out; no I/O, no allocation.
//!
//! "Not yet" and "never" are kept apart: `Ok(None)` means the head is incomplete and more bytes
//! may complete it; `Err(HttpError)` means the request is invalid and gets a 4xx and a close.

use std::mem::MaybeUninit;

use super::conditional::Conditions;
use super::response::Status;

/// The limits a request head and body must respect; each has a flag.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest request line (method, target, version), without its CRLF.
    pub max_request_line: usize,
    /// Largest header block (every field line and the final empty line).
    pub max_header_size: usize,
    /// Most header fields.
    pub max_headers: usize,
    /// Largest request body, whatever its framing.
    pub max_body: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_line: 8 << 10,
            max_header_size: 16 << 10,
            max_headers: 100,
            max_body: 1 << 20,
        }
    }
}

/// Why a request is refused. Each maps to one status; every one of them closes the connection,
/// because after an invalid request the next request's first byte cannot be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("request line too long")]
    UriTooLong,
    #[error("request header fields too large")]
    HeadersTooLarge,
    #[error("request body too large")]
    PayloadTooLarge,
}

impl HttpError {
    pub fn status(self) -> Status {
        match self {
            HttpError::BadRequest(_) => Status::BadRequest,
            HttpError::UriTooLong => Status::UriTooLong,
            HttpError::HeadersTooLarge => Status::HeadersTooLarge,
            HttpError::PayloadTooLarge => Status::PayloadTooLarge,
        }
    }
}

/// A request, borrowed from the buffer it was parsed from (or from an owned copy).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: Method,
    pub method_name: &'a str,
    pub target: &'a str,
    pub minor_version: u8,
    pub keep_alive: bool,
    pub referer: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
    /// `Accept`, read only by `/metrics` (which exposition format).
    pub accept: Option<&'a [u8]>,
    /// Preconditions and Range, read only for static files.
    pub conditions: Conditions<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    /// Any other token: answered 405, its body still read so the connection stays in step.
    Other,
}

/// How the body that follows a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// A parsed request head, borrowing the bytes it came from.
#[derive(Debug, Clone, Copy)]
pub struct Head<'b> {
    pub request: Request<'b>,
    pub framing: Framing,
    pub expect_continue: bool,
    /// Bytes of the head, including the final empty line.
    pub len: usize,
}

/// Headers httparse fills without initialising them first; more than this go on the heap.
const STACK_HEADERS: usize = 128;

/// Whether the (perhaps incomplete or invalid) head in `buf` is a HEAD request: an answer
/// refusing it must then have no body either. Empty lines before it are skipped, as a
/// request line is found.
pub fn is_head_request(buf: &[u8]) -> bool {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n');
    start.is_some_and(|i| buf[i..].starts_with(b"HEAD "))
}

/// Parses the head at the start of `buf`. `Ok(None)`: incomplete, wait for more bytes.
pub fn parse_head<'b>(buf: &'b [u8], limits: &Limits) -> Result<Option<Head<'b>>, HttpError> {
    let Some(len) = head_end(buf, limits)? else {
        return Ok(None);
    };
    let head = &buf[..len];
    let mut stack: [MaybeUninit<httparse::Header<'b>>; STACK_HEADERS] =
        [const { MaybeUninit::uninit() }; STACK_HEADERS];
    let mut heap: Vec<MaybeUninit<httparse::Header<'b>>> = Vec::new();
    let slots: &mut [MaybeUninit<httparse::Header<'b>>] = if limits.max_headers <= STACK_HEADERS {
        &mut stack[..limits.max_headers]
    } else {
        heap.resize_with(limits.max_headers, MaybeUninit::uninit);
        &mut heap
    };
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(head, slots) {
        Ok(httparse::Status::Complete(n)) if n == len => {}
        Ok(_) => return Err(HttpError::BadRequest("malformed request head")),
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadersTooLarge),
        Err(httparse::Error::Version) => return Err(HttpError::BadRequest("not HTTP/1.x")),
        Err(httparse::Error::HeaderName | httparse::Error::HeaderValue) => {
            return Err(HttpError::BadRequest("malformed header field"))
        }
        Err(_) => return Err(HttpError::BadRequest("malformed request line")),
    }
    let (Some(method_name), Some(target), Some(minor_version)) =
        (req.method, req.path, req.version)
    else {
        return Err(HttpError::BadRequest("malformed request line"));
    };
    let method = match method_name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        _ => Method::Other,
    };

    let fields = Fields::read(req.headers)?;
    let (framing, keep_alive) = fields.judge(minor_version, limits)?;
    Ok(Some(Head {
        request: Request {
            method,
            method_name,
            target,
            minor_version,
            keep_alive,
            referer: fields.referer,
            user_agent: fields.user_agent,
            accept: fields.accept,
            conditions: fields.conditions,
        },
        framing,
        expect_continue: fields.expect_continue,
        len,
    }))
}

/// What the header fields of one head say, gathered in one pass ([`Fields::read`]) and then
/// judged together ([`Fields::judge`]).
#[derive(Default)]
struct Fields<'b> {
    content_length: Option<u64>,
    /// `Transfer-Encoding: chunked` (the only one accepted).
    chunked: bool,
    close: bool,
    keep_alive_token: bool,
    hosts: usize,
    expect_continue: bool,
    referer: Option<&'b [u8]>,
    user_agent: Option<&'b [u8]>,
    accept: Option<&'b [u8]>,
    conditions: Conditions<'b>,
}

impl<'b> Fields<'b> {
    /// Reads every field that matters; a repeated framing field or an unsupported transfer
    /// coding is refused here, at once.
    fn read(headers: &[httparse::Header<'b>]) -> Result<Fields<'b>, HttpError> {
        let mut f = Fields::default();
        for h in headers {
            let name = h.name.as_bytes();
            if name.eq_ignore_ascii_case(b"content-length") {
                if f.content_length.is_some() {
                    return Err(HttpError::BadRequest("duplicate Content-Length"));
                }
                f.content_length = Some(parse_content_length(h.value)?);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                if f.chunked {
                    return Err(HttpError::BadRequest("duplicate Transfer-Encoding"));
                }
                if !trim(h.value).eq_ignore_ascii_case(b"chunked") {
                    return Err(HttpError::BadRequest("unsupported Transfer-Encoding"));
                }
                f.chunked = true;
            } else if name.eq_ignore_ascii_case(b"connection") {
                for token in h.value.split(|&b| b == b',') {
                    let token = trim(token);
                    if token.eq_ignore_ascii_case(b"close") {
                        f.close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        f.keep_alive_token = true;
                    }
                }
            } else if name.eq_ignore_ascii_case(b"host") {
                f.hosts += 1;
            } else if name.eq_ignore_ascii_case(b"expect") {
                f.expect_continue = trim(h.value).eq_ignore_ascii_case(b"100-continue");
            } else if name.eq_ignore_ascii_case(b"referer") {
                f.referer = Some(h.value);
            } else if name.eq_ignore_ascii_case(b"user-agent") {
                f.user_agent = Some(h.value);
            } else if name.eq_ignore_ascii_case(b"accept") {
                f.accept = Some(h.value);
            } else if name.eq_ignore_ascii_case(b"if-match") {
                f.conditions.if_match.add(h.value);
            } else if name.eq_ignore_ascii_case(b"if-unmodified-since") {
                f.conditions.if_unmodified_since.add(h.value);
            } else if name.eq_ignore_ascii_case(b"if-none-match") {
                f.conditions.if_none_match.add(h.value);
            } else if name.eq_ignore_ascii_case(b"if-modified-since") {
                f.conditions.if_modified_since.add(h.value);
            } else if name.eq_ignore_ascii_case(b"range") {
                f.conditions.range.add(h.value);
            } else if name.eq_ignore_ascii_case(b"if-range") {
                f.conditions.if_range.add(h.value);
            }
        }
        Ok(f)
    }

    /// The body's framing and whether the connection stays open, by RFC 9112's rules for a
    /// request of HTTP/1.`minor_version`.
    fn judge(&self, minor_version: u8, limits: &Limits) -> Result<(Framing, bool), HttpError> {
        if self.content_length.is_some() && self.chunked {
            return Err(HttpError::BadRequest(
                "both Content-Length and Transfer-Encoding",
            ));
        }
        if self.hosts > 1 || (minor_version == 1 && self.hosts == 0) {
            return Err(HttpError::BadRequest("HTTP/1.1 needs exactly one Host"));
        }
        if self.chunked && minor_version == 0 {
            return Err(HttpError::BadRequest("Transfer-Encoding in HTTP/1.0"));
        }
        let framing = match (self.content_length, self.chunked) {
            (Some(n), _) if n > limits.max_body => return Err(HttpError::PayloadTooLarge),
            (Some(0), _) => Framing::None,
            (Some(n), _) => Framing::Length(n),
            (None, true) => Framing::Chunked,
            (None, false) => Framing::None,
        };
        let keep_alive = if minor_version >= 1 {
            !self.close
        } else {
            self.keep_alive_token && !self.close
        };
        Ok((framing, keep_alive))
    }
}

/// Finds the end of the head (just past the empty line), checking line endings and sizes on
/// the way, so that an oversized head is refused as soon as it is known to be oversized rather
/// than buffered without end. httparse alone would accept bare LF line endings.
fn head_end(buf: &[u8], limits: &Limits) -> Result<Option<usize>, HttpError> {
    // RFC 9112 2.2: a server SHOULD ignore empty lines before the request line.
    let mut start = 0;
    while buf[start..].starts_with(b"\r\n") {
        start += 2;
    }
    let rest = &buf[start..];
    let Some(nl) = find_lf(rest) else {
        // Still inside the request line (a lone CR at the end may yet be followed by LF).
        if rest.len() > limits.max_request_line + 1 {
            return Err(HttpError::UriTooLong);
        }
        return Ok(None);
    };
    if nl == 0 || rest[nl - 1] != b'\r' {
        return Err(HttpError::BadRequest("bare LF in request line"));
    }
    if nl - 1 > limits.max_request_line {
        return Err(HttpError::UriTooLong);
    }
    let fields_start = nl + 1;
    let mut pos = fields_start;
    loop {
        let Some(off) = find_lf(&rest[pos..]) else {
            if rest.len() - fields_start > limits.max_header_size {
                return Err(HttpError::HeadersTooLarge);
            }
            return Ok(None);
        };
        let lf = pos + off;
        if lf == pos || rest[lf - 1] != b'\r' {
            return Err(HttpError::BadRequest("bare LF in header"));
        }
        if lf + 1 - fields_start > limits.max_header_size {
            return Err(HttpError::HeadersTooLarge);
        }
        if lf == pos + 1 {
            return Ok(Some(start + lf + 1));
        }
        if matches!(rest.get(lf + 1), Some(b' ' | b'\t')) {
            return Err(HttpError::BadRequest("obsolete line folding"));
        }
        pos = lf + 1;
    }
}

fn find_lf(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

fn parse_content_length(v: &[u8]) -> Result<u64, HttpError> {
    let v = trim(v);
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return Err(HttpError::BadRequest("malformed Content-Length"));
    }
    Ok(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> Result<Option<Head<'_>>, HttpError> {
        parse_head(b, &Limits::default())
    }

    #[test]
    fn simple_get() {
        let b = b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\nrest";
        let h = parse(b).unwrap().unwrap();
        assert_eq!(h.request.method, Method::Get);
        assert_eq!(h.request.target, "/a?b=1");
        assert_eq!(h.request.minor_version, 1);
        assert!(h.request.keep_alive);
        assert_eq!(h.framing, Framing::None);
        assert_eq!(h.request.user_agent, Some(&b"t"[..]));
        assert_eq!(&b[h.len..], b"rest");
        assert!(h.request.conditions.range.is_absent());
    }

    #[test]
    fn conditional_headers_are_kept_and_repeats_noted() {
        use crate::server::conditional::Field;
        let b = b"GET / HTTP/1.1\r\nHost: x\r\nrange: bytes=0-1\r\nIf-None-Match: \"a\"\r\n\
                  IF-NONE-MATCH: \"b\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
                  if-match: *\r\nIf-Unmodified-Since: x\r\nIf-Unmodified-Since: y\r\n\r\n";
        let c = parse(b).unwrap().unwrap().request.conditions;
        assert_eq!(c.range, Field::One(b"bytes=0-1"));
        assert_eq!(c.if_none_match, Field::Repeated);
        assert_eq!(
            c.if_modified_since,
            Field::One(b"Sun, 06 Nov 1994 08:49:37 GMT")
        );
        assert!(c.if_range.is_absent());
        assert_eq!(c.if_match, Field::One(b"*"));
        assert_eq!(c.if_unmodified_since, Field::Repeated);
    }

    #[test]
    fn keep_alive_rules() {
        let h = parse(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert!(!h.unwrap().unwrap().request.keep_alive);
        let h = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!h.request.keep_alive);
        let h = parse(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(h.unwrap().unwrap().request.keep_alive);
        let h = parse(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n");
        assert!(!h.unwrap().unwrap().request.keep_alive);
    }

    #[test]
    fn every_split_point_is_incomplete_then_complete() {
        let b = b"\r\nPOST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n";
        for i in 0..b.len() {
            assert!(parse(&b[..i]).unwrap().is_none(), "complete at {i}");
        }
        let h = parse(b).unwrap().unwrap();
        assert_eq!(h.request.method, Method::Other);
        assert_eq!(h.framing, Framing::Length(5));
        assert_eq!(h.len, b.len());
    }

    #[test]
    fn framing_errors_are_400() {
        for bad in [
            &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
            b"GET / HTTP/1.1\nHost: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        ] {
            match parse(bad) {
                Err(HttpError::BadRequest(_)) => {}
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bad)),
            }
        }
    }

    #[test]
    fn limits() {
        let limits = Limits {
            max_request_line: 20,
            max_header_size: 40,
            max_headers: 2,
            max_body: 10,
        };
        let p = |b: &[u8]| parse_head(b, &limits).map(|h| h.map(|h| h.len));
        assert_eq!(p(&[b'G'; 22]), Err(HttpError::UriTooLong));
        assert_eq!(p(&[b'G'; 21]), Ok(None));
        assert_eq!(
            p(b"GET /aaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n"),
            Err(HttpError::UriTooLong)
        );
        assert_eq!(
            p(b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n"),
            Err(HttpError::HeadersTooLarge)
        );
        assert_eq!(
            p(b"GET / HTTP/1.1\r\nHost: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
            Err(HttpError::HeadersTooLarge)
        );
        assert_eq!(
            p(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n"),
            Err(HttpError::PayloadTooLarge)
        );
        assert!(p(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n").is_ok());
    }
}
