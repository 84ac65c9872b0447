//! `tcplab metrics`: answers `GET /metrics` with what [`Collector`] reads at that moment.
//!
//! Requests are parsed by the server's own parser ([`parse_head`], with its limits) and
//! answered by its encoder. Each connection gets a thread, up to [`MAX_CONNECTIONS`]; past
//! that a connection hears 503 and is closed. A request head must arrive within
//! [`HEAD_TIMEOUT`] and an idle keep-alive connection is closed after [`IDLE_TIMEOUT`], so slow
//! or silent clients cannot hold the slots. Scrapes that arrive while one is being read share
//! the next read rather than queue a read each.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::collect::{Collector, Limits};
use super::exposition::Format;
use super::inspector::Scrape;
use super::transitions::Counter;
use crate::cli::MetricsArgs;
use crate::server::date::Clock;
use crate::server::http::{self, parse_head, Framing, Method};
use crate::server::response::{write_full, ResponseHead, Status};

/// Connections served at once; Prometheus uses one or two per target.
pub const MAX_CONNECTIONS: usize = 64;
/// From a request's first byte to its complete head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// A keep-alive connection with no request for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Handler threads need little stack: the page is built on the heap.
const THREAD_STACK: usize = 256 << 10;

pub fn run(args: MetricsArgs) -> anyhow::Result<ExitCode> {
    let listener = crate::server::bind(args.listen)?;
    let addr = listener.local_addr()?;
    // The accept loop stops on INT/TERM/HUP, and the tracer then removes its tracefs instance.
    let stop_rx = crate::kernel::signals::stop_on_signals()?;
    let transitions = match args.no_transitions {
        true => None,
        false => match Counter::start() {
            Ok(c) => Some(c),
            Err(why) => {
                eprintln!("tcplab metrics: transitions are not counted: {why:#}");
                None
            }
        },
    };
    let source = match transitions {
        Some(_) => "tracepoint",
        None => "none",
    };
    let limits = Limits {
        ports: args.ports,
        max_ports: args.max_ports,
        max_parents: args.max_parents,
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            collector: Collector::new(limits, transitions),
            last: None,
        }),
        active: AtomicUsize::new(0),
    });
    eprintln!(
        "{} (GET /metrics; transitions: {source}, pid {})",
        crate::server::ready::listening("metrics", addr),
        std::process::id()
    );
    accept_loop(&listener, stop_rx.as_fd(), &shared)?;
    // Stops the tracer (and removes its instance) before exit; handler threads in flight end
    // with the process.
    drop(shared.lock().collector.take_transitions());
    Ok(ExitCode::SUCCESS)
}

struct Shared {
    state: Mutex<State>,
    active: AtomicUsize,
}

struct State {
    collector: Collector,
    /// The last read and when it started: a scrape that arrived before that start may use it.
    last: Option<(Instant, Arc<Scrape>)>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another handler leaves the scanners' buffers, nothing half-done.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A read of the machine that started after `asked`: the one in progress or a new one.
    fn scrape(&self, asked: Instant) -> anyhow::Result<Arc<Scrape>> {
        let mut state = self.lock();
        if let Some((started, scrape)) = &state.last {
            if *started >= asked {
                return Ok(scrape.clone());
            }
        }
        let started = Instant::now();
        let scrape = Arc::new(state.collector.scrape()?);
        state.last = Some((started, scrape.clone()));
        Ok(scrape)
    }
}

fn accept_loop(
    listener: &TcpListener,
    stop: std::os::fd::BorrowedFd,
    shared: &Arc<Shared>,
) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    loop {
        let mut fds = [
            PollFd::new(stop, PollFlags::POLLIN),
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        if fds[0].any().unwrap_or(false) {
            return Ok(());
        }
        loop {
            let stream = match listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // Out of descriptors or a connection reset before accept: not fatal.
                Err(e) => {
                    eprintln!("tcplab metrics: accept: {e}");
                    break;
                }
            };
            let _ = stream.set_nonblocking(false);
            if shared.active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                shared.active.fetch_sub(1, Ordering::AcqRel);
                refuse_busy(stream);
                continue;
            }
            let mine = shared.clone();
            let spawned = std::thread::Builder::new()
                .name("tcplab-scrape".into())
                .stack_size(THREAD_STACK)
                .spawn(move || {
                    serve_connection(stream, &mine);
                    mine.active.fetch_sub(1, Ordering::AcqRel);
                });
            if let Err(e) = spawned {
                shared.active.fetch_sub(1, Ordering::AcqRel);
                eprintln!("tcplab metrics: cannot start a thread: {e}");
            }
        }
    }
}

/// Too many connections: a 503 written without waiting, then close.
fn refuse_busy(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(true);
    let mut out = Vec::new();
    let clock = Clock::new();
    let head = ResponseHead {
        content_length: Status::ServiceUnavailable.page().len() as u64,
        extra: &["Retry-After: 1"],
        ..ResponseHead::text(Status::ServiceUnavailable, false, false)
    };
    write_full(
        &mut out,
        &head,
        Status::ServiceUnavailable.page(),
        false,
        clock.http_date(),
    );
    let _ = stream.write(&out);
}

/// Requests in, answers out, until the client closes, errs, idles or sends something invalid.
fn serve_connection(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let limits = http::Limits {
        max_body: 0,
        ..http::Limits::default()
    };
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut out: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut clock = Clock::new();
    // When the current request's first byte came (None: waiting between requests).
    let mut head_started: Option<Instant> = None;
    loop {
        match parse_head(&buf, &limits) {
            Ok(Some(head)) => {
                clock.tick();
                out.clear();
                let asked = Instant::now();
                let has_body = head.framing != Framing::None;
                let keep_alive =
                    answer(&head.request, shared, asked, &clock, &mut out) && !has_body;
                if stream.write_all(&out).is_err() || !keep_alive {
                    return;
                }
                buf.drain(..head.len);
                head_started = (!buf.is_empty()).then(Instant::now);
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                clock.tick();
                out.clear();
                let status = e.status();
                let head = ResponseHead {
                    content_length: status.page().len() as u64,
                    ..ResponseHead::text(status, false, false)
                };
                write_full(&mut out, &head, status.page(), false, clock.http_date());
                let _ = stream.write_all(&out);
                return;
            }
        }
        let wait = match head_started {
            Some(t) => HEAD_TIMEOUT.saturating_sub(t.elapsed()),
            None => IDLE_TIMEOUT,
        };
        if wait.is_zero() || stream.set_read_timeout(Some(wait)).is_err() {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                head_started.get_or_insert_with(Instant::now);
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

/// Writes the answer to one request into `out`; returns whether the connection stays open.
fn answer(
    req: &crate::server::http::Request<'_>,
    shared: &Shared,
    asked: Instant,
    clock: &Clock,
    out: &mut Vec<u8>,
) -> bool {
    let keep_alive = req.keep_alive;
    let head_only = req.method == Method::Head;
    let path = req.target.split('?').next().unwrap_or_default();
    let mut head = ResponseHead::text(Status::Ok, keep_alive, req.minor_version == 0);
    let page: std::borrow::Cow<'static, [u8]> = if req.method == Method::Other {
        head.status = Status::MethodNotAllowed;
        head.extra = &["Allow: GET, HEAD"];
        head.status.page().into()
    } else if path == "/metrics" {
        let format = Format::negotiate(req.accept);
        match shared.scrape(asked) {
            Ok(scrape) => {
                head.content_type = format.content_type();
                scrape.exposition().encode(format).into_bytes().into()
            }
            Err(e) => {
                eprintln!("tcplab metrics: scrape failed: {e:#}");
                head.status = Status::InternalError;
                head.status.page().into()
            }
        }
    } else if path == "/" {
        b"tcplab metrics: Prometheus metrics are at /metrics\n"[..].into()
    } else {
        head.status = Status::NotFound;
        head.status.page().into()
    };
    head.content_length = page.len() as u64;
    write_full(out, &head, &page, head_only, clock.http_date());
    keep_alive
}
