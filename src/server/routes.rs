//! What the server answers: `/` (the tutorial's `hello!world`), `/status` (JSON counters of
//! every worker), `/metrics` (the same counters for Prometheus), `/sleep?ms=N` (an answer after N ms, from a timer in the caller's loop) and,
//! with `--root`, static files. GET and HEAD only; anything else gets 405 and `Allow`.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::config::{Config, MAX_SLEEP};
use super::date::Clock;
use super::file_answer::{self, Found};
use super::http::{Method, Request};
use super::logs::{AccessRecord, LogSink};
use super::response::{write_full, ResponseHead, Status};
use super::static_files::{self, FileBody, Lookup};
use super::stats::{Scoreboard, StatusDoc};
use crate::kernel::beneath::Beneath;

pub const HELLO: &[u8] = b"hello!world";

/// What the server around the HTTP layer lends it for one batch of requests.
pub struct Site<'a> {
    pub config: &'a Config,
    pub clock: &'a Clock,
    pub board: &'a Scoreboard,
    pub access_log: Option<&'a mut LogSink>,
    pub error_log: Option<&'a mut LogSink>,
    /// A graceful stop is under way: every answer closes its connection.
    pub draining: bool,
}

/// A response that cannot be written at once; the caller's loop completes it.
#[derive(Debug)]
pub enum Deferred {
    /// Answer `/sleep` after `duration`: the caller arms a timer, then calls [`finish_sleep`].
    Sleep(Sleep),
    /// Headers are written; the caller streams the body with [`FileBody::fill`].
    File { body: FileBody, keep_alive: bool },
}

#[derive(Debug, Clone, Copy)]
pub struct Sleep {
    pub duration: Duration,
    pub keep_alive: bool,
    pub head_only: bool,
    pub http10: bool,
}

/// How answering one request ended.
#[derive(Debug)]
pub enum Answered {
    /// The whole response is in `out`.
    Done {
        keep_alive: bool,
    },
    Deferred(Deferred),
}

/// Writes the answer to `req` into `out` (or defers it), and logs it.
pub fn respond(
    req: &Request<'_>,
    peer: IpAddr,
    site: &mut Site<'_>,
    out: &mut Vec<u8>,
) -> Answered {
    // Counted first, so that `/status` includes the request asking for it.
    site.board.own().add_requests(1);
    let keep_alive = req.keep_alive && !site.draining;
    let head_only = req.method == Method::Head;
    let mut head = ResponseHead::text(Status::Ok, keep_alive, req.minor_version == 0);
    let date = site.clock.http_date();
    let config: &Config = site.config;
    let (path, query) = match origin_form(req.target).split_once('?') {
        Some((p, q)) => (p, q),
        None => (origin_form(req.target), ""),
    };
    let (sent, answered) = if req.method == Method::Other {
        head.status = Status::MethodNotAllowed;
        head.extra = &["Allow: GET, HEAD"];
        error_page(out, &mut head, false, date)
    } else if path == "/sleep" {
        match sleep_of(query, &head, head_only) {
            Some(sleep) => {
                let sent = if head_only {
                    0
                } else {
                    sleep_body(&sleep).len() as u64
                };
                log(site, peer, req, Status::Ok, sent);
                return Answered::Deferred(Deferred::Sleep(sleep));
            }
            None => {
                head.status = Status::BadRequest;
                error_page(out, &mut head, head_only, date)
            }
        }
    } else if let Some((content_type, body)) = page(path, req, site) {
        head.content_type = content_type;
        head.content_length = body.len() as u64;
        let sent = write_full(out, &head, &body, head_only, date);
        (sent, Answered::Done { keep_alive })
    } else if let Some(root) = config.root.as_deref() {
        static_answer(root, path, req, site, &mut head, date, out)
    } else {
        head.status = Status::NotFound;
        error_page(out, &mut head, head_only, date)
    };
    log(site, peer, req, head.status, sent);
    answered
}

/// The server's own pages: `/` (without `--root`), `/status` and `/metrics`, as (content
/// type, body); None for any other path.
fn page(
    path: &str,
    req: &Request<'_>,
    site: &Site<'_>,
) -> Option<(&'static str, Cow<'static, [u8]>)> {
    match path {
        "/" if site.config.root.is_none() => Some(("text/plain", Cow::Borrowed(HELLO))),
        "/status" => {
            let doc = StatusDoc::collect(site.board, site.config);
            let mut body = serde_json::to_vec_pretty(&doc).unwrap_or_default();
            body.push(b'\n');
            Some(("application/json", Cow::Owned(body)))
        }
        "/metrics" => {
            let format = crate::metrics::exposition::Format::negotiate(req.accept);
            let body = super::metrics::page(site.board, site.config, format);
            Some((format.content_type(), Cow::Owned(body.into_bytes())))
        }
        _ => None,
    }
}

/// `/sleep?ms=N`: how long to wait and how to answer then; None without a number of ms.
fn sleep_of(query: &str, head: &ResponseHead<'_>, head_only: bool) -> Option<Sleep> {
    let ms = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("ms="))
        .and_then(|v| v.parse::<u64>().ok())?;
    Some(Sleep {
        duration: Duration::from_millis(ms).min(MAX_SLEEP),
        keep_alive: head.keep_alive,
        head_only,
        http10: head.http10,
    })
}

/// A path under `--root`: the file (whole, partial or not modified), a redirect to add a
/// directory's slash, or the error that stands for what the lookup found. Sets `head.status`
/// to what was answered.
fn static_answer(
    root: &Beneath,
    path: &str,
    req: &Request<'_>,
    site: &mut Site<'_>,
    head: &mut ResponseHead<'static>,
    date: &[u8],
    out: &mut Vec<u8>,
) -> (u64, Answered) {
    let head_only = req.method == Method::Head;
    let found = static_files::lookup(root, path);
    if !matches!(found, Lookup::Failed(_)) {
        OPEN_TROUBLE.store(false, Ordering::Relaxed);
    }
    match found {
        Lookup::File {
            body,
            content_type,
            modified,
        } => {
            let found = Found {
                body,
                content_type,
                modified,
            };
            let now = site.clock.unix_seconds();
            let (status, sent, answered) = file_answer::answer(req, found, *head, now, date, out);
            head.status = status;
            (sent, answered)
        }
        Lookup::AddSlash(to) => {
            head.status = Status::MovedPermanently;
            let location = format!("Location: {to}");
            let extra = [location.as_str()];
            let mut with_location = ResponseHead {
                extra: &extra,
                ..*head
            };
            error_page(out, &mut with_location, head_only, date)
        }
        Lookup::NotFound => {
            head.status = Status::NotFound;
            error_page(out, head, head_only, date)
        }
        Lookup::Forbidden => {
            head.status = Status::Forbidden;
            error_page(out, head, head_only, date)
        }
        Lookup::BadPath => {
            head.status = Status::BadRequest;
            head.keep_alive = false;
            error_page(out, head, head_only, date)
        }
        Lookup::Failed(e) => {
            head.status = open_failed(site, &e);
            if head.status == Status::ServiceUnavailable {
                head.extra = &["Retry-After: 1"];
            }
            error_page(out, head, head_only, date)
        }
    }
}

/// `http://host:port/a?b` → `/a?b`: servers must accept the absolute form (RFC 9112 3.2.2).
fn origin_form(target: &str) -> &str {
    if target.starts_with('/') {
        return target;
    }
    let starts = |p: &str| {
        target
            .as_bytes()
            .get(..p.len())
            .is_some_and(|t| t.eq_ignore_ascii_case(p.as_bytes()))
    };
    let rest = if starts("http://") {
        &target[7..]
    } else if starts("https://") {
        &target[8..]
    } else {
        return target;
    };
    rest.find('/').map_or("/", |i| &rest[i..])
}

/// Set while static files cannot be opened (see [`open_failed`]); cleared by the next lookup
/// that gets an answer from the kernel. One per process: each worker has its own.
static OPEN_TROUBLE: AtomicBool = AtomicBool::new(false);

/// The status for a file the server could not open, `e` saying why: 503 for a shortage
/// that passes (descriptors, memory), 500 for anything else. Logged once per episode, so
/// that a worker out of descriptors does not also fill the disk.
fn open_failed(site: &mut Site<'_>, e: &std::io::Error) -> Status {
    let status = open_failed_status(e);
    if !OPEN_TROUBLE.swap(true, Ordering::Relaxed) {
        if let Some(log) = site.error_log.as_deref_mut() {
            log.error(
                site.clock,
                format_args!(
                    "cannot open static files: {e}; answering {} until they open again",
                    status.code()
                ),
            );
        }
    }
    status
}

fn open_failed_status(e: &std::io::Error) -> Status {
    let transient = matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::EAGAIN | libc::ENOBUFS)
    );
    if transient {
        Status::ServiceUnavailable
    } else {
        Status::InternalError
    }
}

/// Writes `head.status`'s small text page; returns the body bytes sent and how it ended.
fn error_page(
    out: &mut Vec<u8>,
    head: &mut ResponseHead<'_>,
    head_only: bool,
    date: &[u8],
) -> (u64, Answered) {
    let page = head.status.page();
    head.content_type = "text/plain";
    head.content_length = page.len() as u64;
    let sent = write_full(out, head, page, head_only, date);
    (
        sent,
        Answered::Done {
            keep_alive: head.keep_alive,
        },
    )
}

/// Answers a request that could not be parsed (or whose body broke a rule), then the
/// connection closes. `head_only`: it was (or began as) a HEAD, which gets no body whatever
/// the status.
pub fn refuse(
    status: Status,
    head_only: bool,
    peer: IpAddr,
    site: &mut Site<'_>,
    out: &mut Vec<u8>,
) {
    site.board.own().add_requests(1);
    site.board.own().answered(status.code());
    let mut head = ResponseHead::text(status, false, false);
    let (sent, _) = error_page(out, &mut head, head_only, site.clock.http_date());
    if let Some(log) = site.access_log.as_deref_mut() {
        log.access(
            site.clock,
            &AccessRecord {
                peer,
                request: None,
                status: status.code(),
                body_bytes: sent,
            },
        );
    }
}

fn sleep_body(s: &Sleep) -> String {
    format!("slept {} ms\n", s.duration.as_millis())
}

/// Writes the answer of a `/sleep` whose time has come.
pub fn finish_sleep(s: &Sleep, clock: &Clock, draining: bool, out: &mut Vec<u8>) -> bool {
    let body = sleep_body(s);
    let keep_alive = s.keep_alive && !draining;
    let head = ResponseHead {
        content_length: body.len() as u64,
        ..ResponseHead::text(Status::Ok, keep_alive, s.http10)
    };
    write_full(out, &head, body.as_bytes(), s.head_only, clock.http_date());
    keep_alive
}

/// Counts the response by its status class and writes the access log line.
fn log(site: &mut Site<'_>, peer: IpAddr, req: &Request<'_>, status: Status, sent: u64) {
    site.board.own().answered(status.code());
    if let Some(log) = site.access_log.as_deref_mut() {
        log.access(
            site.clock,
            &AccessRecord {
                peer,
                request: Some(req),
                status: status.code(),
                body_bytes: sent,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shortage that passes is 503 (sent with Retry-After), any other failure to open, such
    /// as a disk's EIO, 500; neither is a 404 that a cache would keep.
    #[test]
    fn a_file_that_cannot_be_opened_is_503_or_500() {
        let status = |errno| open_failed_status(&std::io::Error::from_raw_os_error(errno));
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOMEM, libc::EAGAIN] {
            assert_eq!(status(errno), Status::ServiceUnavailable, "{errno}");
        }
        for errno in [libc::EIO, libc::EOVERFLOW, libc::ESTALE, libc::EBADF] {
            assert_eq!(status(errno), Status::InternalError, "{errno}");
        }
    }
}
