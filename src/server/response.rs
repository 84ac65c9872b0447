//! Encoding responses by appending to a caller's buffer, which the reactor reuses for every
//! response of a read: pipelined responses end up side by side and leave in one write.
//! No allocation and no `format!` on this path.

use super::conditional::Validators;
use super::date::http_date_of;

/// The statuses this server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    PartialContent,
    MovedPermanently,
    NotModified,
    BadRequest,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    PreconditionFailed,
    RangeNotSatisfiable,
    RequestTimeout,
    PayloadTooLarge,
    UriTooLong,
    HeadersTooLarge,
    InternalError,
    ServiceUnavailable,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::PartialContent => 206,
            Status::MovedPermanently => 301,
            Status::NotModified => 304,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::PreconditionFailed => 412,
            Status::RangeNotSatisfiable => 416,
            Status::RequestTimeout => 408,
            Status::PayloadTooLarge => 413,
            Status::UriTooLong => 414,
            Status::HeadersTooLarge => 431,
            Status::InternalError => 500,
            Status::ServiceUnavailable => 503,
        }
    }

    fn line(self) -> &'static [u8] {
        match self {
            Status::Ok => b"HTTP/1.1 200 OK\r\n",
            Status::PartialContent => b"HTTP/1.1 206 Partial Content\r\n",
            Status::MovedPermanently => b"HTTP/1.1 301 Moved Permanently\r\n",
            Status::NotModified => b"HTTP/1.1 304 Not Modified\r\n",
            Status::BadRequest => b"HTTP/1.1 400 Bad Request\r\n",
            Status::Forbidden => b"HTTP/1.1 403 Forbidden\r\n",
            Status::NotFound => b"HTTP/1.1 404 Not Found\r\n",
            Status::MethodNotAllowed => b"HTTP/1.1 405 Method Not Allowed\r\n",
            Status::PreconditionFailed => b"HTTP/1.1 412 Precondition Failed\r\n",
            Status::RangeNotSatisfiable => b"HTTP/1.1 416 Range Not Satisfiable\r\n",
            Status::RequestTimeout => b"HTTP/1.1 408 Request Timeout\r\n",
            Status::PayloadTooLarge => b"HTTP/1.1 413 Content Too Large\r\n",
            Status::UriTooLong => b"HTTP/1.1 414 URI Too Long\r\n",
            Status::HeadersTooLarge => b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
            Status::InternalError => b"HTTP/1.1 500 Internal Server Error\r\n",
            Status::ServiceUnavailable => b"HTTP/1.1 503 Service Unavailable\r\n",
        }
    }

    /// The body of the small text page sent with an error status.
    pub fn page(self) -> &'static [u8] {
        match self {
            Status::Ok => b"ok\n",
            Status::PartialContent => b"206 partial content\n",
            Status::MovedPermanently => b"301 moved permanently\n",
            Status::NotModified => b"",
            Status::BadRequest => b"400 bad request\n",
            Status::Forbidden => b"403 forbidden\n",
            Status::NotFound => b"404 not found\n",
            Status::MethodNotAllowed => b"405 method not allowed: use GET or HEAD\n",
            Status::PreconditionFailed => b"412 precondition failed\n",
            Status::RangeNotSatisfiable => b"416 range not satisfiable\n",
            Status::RequestTimeout => b"408 request timeout\n",
            Status::PayloadTooLarge => b"413 request body too large\n",
            Status::UriTooLong => b"414 request line too long\n",
            Status::HeadersTooLarge => b"431 request header fields too large\n",
            Status::InternalError => b"500 internal server error\n",
            Status::ServiceUnavailable => b"503 service unavailable\n",
        }
    }
}

/// Everything about a response except its body.
#[derive(Debug, Clone, Copy)]
pub struct ResponseHead<'a> {
    pub status: Status,
    pub content_type: &'a str,
    pub content_length: u64,
    pub keep_alive: bool,
    /// The request was HTTP/1.0: keep-alive must then be said explicitly.
    pub http10: bool,
    /// Extra header lines, each without its CRLF (e.g. `Allow: GET, HEAD`).
    pub extra: &'a [&'a str],
    /// For an answer about a static file: its validators and range.
    pub file: Option<FileHeaders>,
}

impl ResponseHead<'static> {
    /// A plain-text answer with no extra headers and no length yet: the start of every answer
    /// that is not a static file (pages, errors, `/status`, `/metrics`).
    pub fn text(status: Status, keep_alive: bool, http10: bool) -> ResponseHead<'static> {
        ResponseHead {
            status,
            content_type: "text/plain",
            content_length: 0,
            keep_alive,
            http10,
            extra: &[],
            file: None,
        }
    }
}

/// The headers of an answer about a static file.
#[derive(Debug, Clone, Copy)]
pub struct FileHeaders {
    pub validators: Validators,
    pub range: ContentRange,
}

/// What `Content-Range` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentRange {
    /// A whole file (or a 304): no Content-Range.
    Whole,
    /// `bytes first-last/size`, with 206.
    Bytes { first: u64, last: u64 },
    /// `bytes */size`, with 416.
    Unsatisfied,
}

/// Appends the status line and headers, through the empty line.
pub fn write_head(out: &mut Vec<u8>, head: &ResponseHead<'_>, date: &[u8]) {
    out.extend_from_slice(head.status.line());
    out.extend_from_slice(b"Server: tcplab\r\nDate: ");
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n");
    // A 304 has no content, and its type and length would describe the one not sent.
    if head.status != Status::NotModified {
        out.extend_from_slice(b"Content-Type: ");
        out.extend_from_slice(head.content_type.as_bytes());
        out.extend_from_slice(b"\r\nContent-Length: ");
        push_decimal(out, head.content_length);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(file) = &head.file {
        write_file_headers(out, head.status, file);
    }
    for line in head.extra {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !head.keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if head.http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Validators on the answers that carry or stand for the file (200, 206, 304); ranges on
/// 200 (`Accept-Ranges`), 206 and 416 (`Content-Range`).
fn write_file_headers(out: &mut Vec<u8>, status: Status, file: &FileHeaders) {
    let v = &file.validators;
    if matches!(
        status,
        Status::Ok | Status::PartialContent | Status::NotModified
    ) {
        out.extend_from_slice(b"ETag: ");
        out.extend_from_slice(v.etag().as_bytes());
        out.extend_from_slice(b"\r\nLast-Modified: ");
        out.extend_from_slice(&http_date_of(v.last_modified));
        out.extend_from_slice(b"\r\n");
    }
    if matches!(status, Status::Ok | Status::PartialContent) {
        out.extend_from_slice(b"Accept-Ranges: bytes\r\n");
    }
    match file.range {
        ContentRange::Whole => {}
        ContentRange::Bytes { first, last } => {
            out.extend_from_slice(b"Content-Range: bytes ");
            push_decimal(out, first);
            out.push(b'-');
            push_decimal(out, last);
            out.push(b'/');
            push_decimal(out, v.size);
            out.extend_from_slice(b"\r\n");
        }
        ContentRange::Unsatisfied => {
            out.extend_from_slice(b"Content-Range: bytes */");
            push_decimal(out, v.size);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Appends a whole response with an in-memory body (omitted for HEAD); returns the body bytes
/// sent, for the access log.
pub fn write_full(
    out: &mut Vec<u8>,
    head: &ResponseHead<'_>,
    body: &[u8],
    head_only: bool,
    date: &[u8],
) -> u64 {
    write_head(out, head, date);
    if head_only {
        0
    } else {
        out.extend_from_slice(body);
        body.len() as u64
    }
}

/// Appends `n` in decimal without going through `fmt`.
pub fn push_decimal(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(crate::units::decimal(n, &mut [0u8; 20]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_response() {
        let mut out = Vec::new();
        let head = ResponseHead {
            status: Status::MethodNotAllowed,
            content_type: "text/plain",
            content_length: 3,
            keep_alive: true,
            http10: true,
            extra: &["Allow: GET, HEAD"],
            file: None,
        };
        let sent = write_full(
            &mut out,
            &head,
            b"abc",
            false,
            b"Fri, 27 Nov 2026 10:00:00 GMT",
        );
        assert_eq!(sent, 3);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 405 Method Not Allowed\r\nServer: tcplab\r\n\
             Date: Fri, 27 Nov 2026 10:00:00 GMT\r\nContent-Type: text/plain\r\n\
             Content-Length: 3\r\nAllow: GET, HEAD\r\nConnection: keep-alive\r\n\r\nabc"
        );
    }

    #[test]
    fn encodes_file_answers() {
        let validators = Validators::new(1_795_770_913, 1000, 1_795_774_513);
        let date = b"Fri, 27 Nov 2026 10:15:13 GMT";
        let head = |status, range| ResponseHead {
            status,
            content_type: "text/plain",
            content_length: 2,
            keep_alive: true,
            http10: false,
            extra: &[],
            file: Some(FileHeaders { validators, range }),
        };
        let text = |h: ResponseHead<'_>| {
            let mut out = Vec::new();
            write_head(&mut out, &h, date);
            String::from_utf8(out).unwrap()
        };
        let validated =
            "ETag: \"6b094a21-3e8\"\r\nLast-Modified: Fri, 27 Nov 2026 09:15:13 GMT\r\n";
        assert_eq!(
            text(head(
                Status::PartialContent,
                ContentRange::Bytes { first: 5, last: 6 }
            )),
            format!(
                "HTTP/1.1 206 Partial Content\r\nServer: tcplab\r\nDate: Fri, 27 Nov 2026 \
                 10:15:13 GMT\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n{validated}\
                 Accept-Ranges: bytes\r\nContent-Range: bytes 5-6/1000\r\n\r\n"
            )
        );
        assert_eq!(
            text(head(Status::NotModified, ContentRange::Whole)),
            format!(
                "HTTP/1.1 304 Not Modified\r\nServer: tcplab\r\nDate: Fri, 27 Nov 2026 \
                 10:15:13 GMT\r\n{validated}\r\n"
            )
        );
        let unsatisfied = text(head(Status::RangeNotSatisfiable, ContentRange::Unsatisfied));
        assert!(unsatisfied.ends_with("Content-Length: 2\r\nContent-Range: bytes */1000\r\n\r\n"));
    }

    #[test]
    fn decimals() {
        for n in [0u64, 7, 10, 1234567890, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }
}
