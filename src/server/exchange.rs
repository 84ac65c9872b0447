//! The HTTP/1.1 exchange on one connection, apart from any socket: bytes in, response bytes
//! appended out. Every model (reactor, iterative, select, poll, prefork workers) drives it the
//! same way:
//!
//! 1. call [`serve`] with the bytes buffered so far; drop `progress.consumed` bytes from the
//!    front of the buffer (keep the rest: a partial request);
//! 2. write `out` (every pipelined answer of the batch is in it, in order);
//! 3. act on `progress.next`: read more, close, flush then call again, or complete a
//!    [`Deferred`] answer (a `/sleep` timer, a file body) before calling again.

use std::net::IpAddr;

use super::body::BodyDecoder;
use super::http::{parse_head, Method};
use super::routes::{self, Answered, Deferred, Request, Site};

/// Stop answering and let the caller write once this much output is waiting, so a client
/// that pipelines without reading cannot make the server buffer without bound.
pub const OUT_HIGH_WATER: usize = 256 << 10;

/// The state of a connection's exchange that must survive between reads.
#[derive(Debug, Default)]
pub struct Session {
    /// A request whose body is still arriving; it is answered once the body has passed.
    body: Option<PendingBody>,
}

#[derive(Debug)]
struct PendingBody {
    decoder: BodyDecoder,
    request: OwnedRequest,
}

impl Session {
    /// True between requests: nothing of a request has been received yet.
    pub fn is_idle(&self) -> bool {
        self.body.is_none()
    }
}

/// What to do after [`serve`].
#[derive(Debug)]
pub enum Next {
    /// Every complete request is answered; read more bytes.
    NeedMore,
    /// Write `out`, then close: the last answer said `Connection: close`.
    Close,
    /// `out` is past the high-water mark: write it, then call again with the rest.
    Flush,
    /// An answer waits on the caller; complete it, then call again with the rest.
    Defer(Deferred),
}

#[derive(Debug)]
pub struct Progress {
    /// Bytes of `input` used up; the caller keeps the rest for the next call.
    pub consumed: usize,
    /// Requests answered (or deferred) in this call.
    pub requests: u64,
    pub next: Next,
}

/// Answers every complete request at the start of `input`, in order, appending to `out`.
pub fn serve(
    session: &mut Session,
    input: &[u8],
    peer: IpAddr,
    site: &mut Site<'_>,
    out: &mut Vec<u8>,
) -> Progress {
    let mut pos = 0;
    let mut requests = 0;
    let done = |pos, requests, next| Progress {
        consumed: pos,
        requests,
        next,
    };
    loop {
        if let Some(pending) = &mut session.body {
            match pending
                .decoder
                .decode(&input[pos..], site.config.limits.max_body)
            {
                Err(e) => {
                    routes::refuse(e.status(), peer, site, out);
                    return done(input.len(), requests, Next::Close);
                }
                Ok(d) => {
                    pos += d.consumed;
                    if !d.done {
                        return done(pos, requests, Next::NeedMore);
                    }
                }
            }
            let pending = session.body.take().expect("checked above");
            requests += 1;
            match routes::respond(&pending.request.view(), peer, site, out) {
                Answered::Done { keep_alive: true } => continue,
                Answered::Done { keep_alive: false } => return done(pos, requests, Next::Close),
                Answered::Deferred(d) => return done(pos, requests, Next::Defer(d)),
            }
        }
        if pos == input.len() {
            return done(pos, requests, Next::NeedMore);
        }
        if out.len() >= OUT_HIGH_WATER {
            return done(pos, requests, Next::Flush);
        }
        let head = match parse_head(&input[pos..], &site.config.limits) {
            Ok(Some(head)) => head,
            Ok(None) => return done(pos, requests, Next::NeedMore),
            Err(e) => {
                routes::refuse(e.status(), peer, site, out);
                return done(input.len(), requests, Next::Close);
            }
        };
        pos += head.len;
        if let Some(decoder) = BodyDecoder::new(head.framing) {
            // The client waits for this before sending the body; an answer it would get
            // anyway (405) still needs the body read to stay in step.
            if head.expect_continue && pos == input.len() {
                out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
            session.body = Some(PendingBody {
                decoder,
                request: OwnedRequest::from_head(&head.request),
            });
            continue;
        }
        requests += 1;
        match routes::respond(&head.request, peer, site, out) {
            Answered::Done { keep_alive: true } => {}
            Answered::Done { keep_alive: false } => return done(pos, requests, Next::Close),
            Answered::Deferred(d) => return done(pos, requests, Next::Defer(d)),
        }
    }
}

/// A request kept while its body arrives (its head's bytes are gone by then). Only requests
/// with bodies pay for this copy.
#[derive(Debug)]
struct OwnedRequest {
    method: Method,
    method_name: String,
    target: String,
    minor_version: u8,
    keep_alive: bool,
    referer: Option<Vec<u8>>,
    user_agent: Option<Vec<u8>>,
}

impl OwnedRequest {
    fn from_head(h: &Request<'_>) -> OwnedRequest {
        OwnedRequest {
            method: h.method,
            method_name: h.method_name.to_owned(),
            target: h.target.to_owned(),
            minor_version: h.minor_version,
            keep_alive: h.keep_alive,
            referer: h.referer.map(<[u8]>::to_vec),
            user_agent: h.user_agent.map(<[u8]>::to_vec),
        }
    }

    fn view(&self) -> Request<'_> {
        Request {
            method: self.method,
            method_name: &self.method_name,
            target: &self.target,
            minor_version: self.minor_version,
            keep_alive: self.keep_alive,
            referer: self.referer.as_deref(),
            user_agent: self.user_agent.as_deref(),
        }
    }
}
