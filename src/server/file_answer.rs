//! The answer to a GET or HEAD for a file that exists: 200 with the whole file, 206 with one
//! range of it, 304 with only its validators, or 412 or 416 (see [`super::conditional`] for
//! which).
//! Headers go into `out` now; a body is left to the caller's loop to stream.

use super::conditional::{self, Selected, Validators};
use super::http::Method;
use super::http::Request;
use super::response::{write_full, write_head, ContentRange, FileHeaders, ResponseHead, Status};
use super::routes::{Answered, Deferred};
use super::static_files::FileBody;

/// The file, as [`super::static_files::lookup`] found it.
pub struct Found {
    pub body: FileBody,
    pub content_type: &'static str,
    pub modified: i64,
}

/// Writes the answer's head (and a 412's or 416's small page); returns its status, the body bytes it
/// will send (for the access log) and how it ends. `head` brings keep-alive and the version;
/// `now` is the second `date` renders.
pub fn answer(
    req: &Request<'_>,
    found: Found,
    head: ResponseHead<'_>,
    now: u64,
    date: &[u8],
    out: &mut Vec<u8>,
) -> (Status, u64, Answered) {
    let Found {
        mut body,
        content_type,
        modified,
    } = found;
    let head_only = req.method == Method::Head;
    let keep_alive = head.keep_alive;
    let validators = Validators::new(modified, body.len(), now);
    let mut head = ResponseHead {
        content_type,
        content_length: body.len(),
        file: Some(FileHeaders {
            validators,
            range: ContentRange::Whole,
        }),
        ..head
    };
    let done = Answered::Done { keep_alive };
    match conditional::select(&req.conditions, &validators, now) {
        Selected::Full => head.status = Status::Ok,
        Selected::NotModified => {
            head.status = Status::NotModified;
            head.content_length = 0;
            write_head(out, &head, date);
            return (head.status, 0, done);
        }
        Selected::PreconditionFailed => {
            // No validators: like nginx's 412, this is an error page, not the file's answer.
            let sent = write_page(out, head, Status::PreconditionFailed, None, head_only, date);
            return (Status::PreconditionFailed, sent, done);
        }
        Selected::Unsatisfiable => {
            let file = Some(FileHeaders {
                validators,
                range: ContentRange::Unsatisfied,
            });
            let status = Status::RangeNotSatisfiable;
            let sent = write_page(out, head, status, file, head_only, date);
            return (status, sent, done);
        }
        Selected::Partial { first, last } => {
            let len = last - first + 1;
            if body.narrow(first, len).is_err() {
                let status = Status::InternalError;
                let sent = write_page(out, head, status, None, head_only, date);
                return (status, sent, done);
            }
            head.status = Status::PartialContent;
            head.content_length = len;
            head.file = Some(FileHeaders {
                validators,
                range: ContentRange::Bytes { first, last },
            });
        }
    }
    write_head(out, &head, date);
    if head_only || body.is_empty() {
        return (head.status, 0, done);
    }
    let sent = body.len();
    (
        head.status,
        sent,
        Answered::Deferred(Deferred::File { body, keep_alive }),
    )
}

/// An error status's small text page in place of the file (no body for HEAD); returns the body
/// bytes sent.
fn write_page(
    out: &mut Vec<u8>,
    head: ResponseHead<'_>,
    status: Status,
    file: Option<FileHeaders>,
    head_only: bool,
    date: &[u8],
) -> u64 {
    let page = status.page();
    let head = ResponseHead {
        status,
        content_type: "text/plain",
        content_length: page.len() as u64,
        file,
        ..head
    };
    write_full(out, &head, page, head_only, date)
}
