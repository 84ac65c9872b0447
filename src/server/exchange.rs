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
use super::conditional::OwnedConditions;
use super::http::Request;
use super::http::{is_head_request, parse_head, Method};
use super::routes::{self, Answered, Deferred, Site};

/// Stop answering and let the caller write once this much output is waiting, so a client
/// that pipelines without reading cannot make the server buffer without bound.
pub const OUT_HIGH_WATER: usize = 256 << 10;

/// The state of a connection's exchange that must survive between reads.
#[derive(Debug, Default)]
pub struct Session {
    /// A request whose body is still arriving; it is answered once the body has passed.
    /// Boxed: every idle connection carries a Session, few carry a body.
    body: Option<Box<PendingBody>>,
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
                    let head_only = pending.request.method == Method::Head;
                    routes::refuse(e.status(), head_only, peer, site, out);
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
                let head_only = is_head_request(&input[pos..]);
                routes::refuse(e.status(), head_only, peer, site, out);
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
            session.body = Some(Box::new(PendingBody {
                decoder,
                request: OwnedRequest::from_head(&head.request),
            }));
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
    accept: Option<Vec<u8>>,
    conditions: OwnedConditions,
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
            accept: h.accept.map(<[u8]>::to_vec),
            conditions: OwnedConditions::from_conditions(&h.conditions),
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
            accept: self.accept.as_deref(),
            conditions: self.conditions.view(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::Config;
    use crate::server::date::Clock;
    use crate::server::stats::Scoreboard;
    use clap::Parser;
    use proptest::prelude::*;

    fn config() -> Config {
        let cli = crate::cli::Cli::parse_from(["tcplab", "serve", "--max-body", "64"]);
        let Some(crate::cli::Command::Serve(args)) = cli.command else {
            unreachable!()
        };
        Config::from_args(&args).unwrap()
    }

    /// Feeds `chunks` one after the other as a connection would (keeping unconsumed bytes),
    /// completing deferred answers at once; returns everything written and whether it closed.
    fn run(
        config: &Config,
        clock: &Clock,
        board: &Scoreboard,
        chunks: &[&[u8]],
    ) -> (Vec<u8>, bool) {
        let mut session = Session::default();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            loop {
                let mut site = Site {
                    config,
                    clock,
                    board,
                    access_log: None,
                    error_log: None,
                    draining: false,
                };
                let p = serve(&mut session, &buf, peer, &mut site, &mut out);
                buf.drain(..p.consumed);
                match p.next {
                    Next::NeedMore => break,
                    Next::Close => return (out, true),
                    Next::Flush => {}
                    Next::Defer(Deferred::Sleep(s)) => {
                        if !routes::finish_sleep(&s, clock, false, &mut out) {
                            return (out, true);
                        }
                    }
                    Next::Defer(Deferred::File { mut body, .. }) => {
                        while !body.fill(&mut out, 7).unwrap() {}
                    }
                }
            }
        }
        (out, false)
    }

    const STREAM: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\
        POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
        HEAD / HTTP/1.1\r\nHost: a\r\n\r\n\
        PUT /y HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n\
        GET /sleep?ms=0 HTTP/1.1\r\nHost: a\r\n\r\n\
        GET /nope HTTP/1.0\r\n\r\n";

    #[test]
    fn a_pipelined_stream_split_anywhere_gets_the_same_answers() {
        let (config, clock, board) = (config(), Clock::new(), Scoreboard::single());
        let whole = run(&config, &clock, &board, &[STREAM]);
        assert!(whole.1, "HTTP/1.0 without keep-alive closes");
        let text = String::from_utf8(whole.0.clone()).unwrap();
        let statuses: Vec<&str> = text.split("HTTP/1.1 ").skip(1).map(|r| &r[..3]).collect();
        assert_eq!(statuses, ["200", "405", "200", "405", "200", "404"]);
        for at in 0..STREAM.len() {
            let split = run(&config, &clock, &board, &[&STREAM[..at], &STREAM[at..]]);
            assert_eq!(split, whole, "split at {at}");
        }
        // And byte by byte.
        let bytes: Vec<&[u8]> = STREAM.chunks(1).collect();
        assert_eq!(run(&config, &clock, &board, &bytes), whole);
    }

    #[test]
    fn sixteen_pipelined_requests_are_answered_in_one_call() {
        // One call, one output buffer: the reactor writes it with one write.
        let (config, clock, board) = (config(), Clock::new(), Scoreboard::single());
        let input = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".repeat(16);
        let mut out = Vec::new();
        let mut site = Site {
            config: &config,
            clock: &clock,
            board: &board,
            access_log: None,
            error_log: None,
            draining: false,
        };
        let peer = "127.0.0.1".parse().unwrap();
        let p = serve(&mut Session::default(), &input, peer, &mut site, &mut out);
        assert_eq!((p.consumed, p.requests), (input.len(), 16));
        assert!(matches!(p.next, Next::NeedMore));
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 16);
        assert_eq!(text.matches("hello!world").count(), 16);
    }

    #[test]
    fn an_invalid_request_is_answered_once_and_closes() {
        let (config, clock, board) = (config(), Clock::new(), Scoreboard::single());
        let (out, closed) = run(
            &config,
            &clock,
            &board,
            &[b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\nHost: a\r\n\r\nGET / HTTP/1.1\r\n"],
        );
        assert!(closed);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        assert_eq!(text.matches("HTTP/1.1 ").count(), 2, "{text}");
        assert!(text.contains("HTTP/1.1 400 Bad Request"), "{text}");
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let (config, clock, board) = (config(), Clock::new(), Scoreboard::single());
            let _ = crate::server::http::parse_head(&input, &config.limits);
            let _ = run(&config, &clock, &board, &[&input]);
        }

        #[test]
        fn mutated_requests_never_panic(
            cut in 0..STREAM.len(),
            flips in proptest::collection::vec((0..STREAM.len(), any::<u8>()), 1..8),
        ) {
            let (config, clock, board) = (config(), Clock::new(), Scoreboard::single());
            let mut input = STREAM.to_vec();
            for (i, b) in flips {
                input[i] = b;
            }
            let _ = run(&config, &clock, &board, &[&input[..cut], &input[cut..]]);
        }
    }
}
