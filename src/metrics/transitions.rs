//! TCP state transitions counted from the kernel's tracepoint, on a thread of their own: the
//! trace [`session`] (tracepoint only: no sampling fallback; counting only: no owner lookups
//! and nothing kept per socket; no TIME_WAIT follower, so nothing is scanned between scrapes)
//! feeding a counter per (from, to).
//! Dropping the [`Counter`] stops the thread and removes the tracefs instance.

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::anyhow;

use super::inspector::Transitions;
use crate::model::{TcpState, Transition, TransitionSource};
use crate::trace::conns::Timeline;
use crate::trace::session::{self, Flow, Options, Sink};

#[derive(Debug, Default)]
struct Counts {
    by_pair: BTreeMap<(TcpState, TcpState), u64>,
    lost: u64,
    /// The tracer stopped (an error reading the pipes): counts are no longer kept.
    failed: bool,
}

pub struct Counter {
    counts: Option<Arc<Mutex<Counts>>>,
    stop: Option<UnixStream>,
    thread: Option<JoinHandle<()>>,
}

/// How long starting the tracepoint may take before the exporter serves without it.
const START_TIMEOUT: Duration = Duration::from_secs(10);

impl Counter {
    /// Starts counting; Err says why the tracepoint cannot be used (not root, no tracefs),
    /// and then nothing runs.
    pub fn start() -> anyhow::Result<Counter> {
        let (stop_rx, stop_tx) = UnixStream::pair()?;
        let counts = Arc::new(Mutex::new(Counts::default()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let shared = counts.clone();
        let thread = std::thread::Builder::new()
            .name("tcplab-transitions".into())
            .spawn(move || {
                let opts = Options {
                    tracepoint_only: true,
                    count_only: true,
                    follow_time_wait: false,
                    ..Options::default()
                };
                let mut sink = CountingSink {
                    counts: shared.clone(),
                    ready: Some(ready_tx),
                };
                let result = session::run(&opts, stop_rx.as_fd(), &mut sink);
                if let Err(e) = result {
                    if let Some(tx) = sink.ready.take() {
                        let _ = tx.send(Err(e));
                    } else {
                        eprintln!("tcplab metrics: transitions no longer counted: {e:#}");
                    }
                }
                if let Ok(mut c) = shared.lock() {
                    c.failed = true;
                }
            })?;
        let mut counter = Counter {
            counts: Some(counts),
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(())) => Ok(counter),
            Ok(Err(why)) => Err(why),
            Err(_) => {
                counter.counts = None;
                Err(anyhow!("the tracepoint did not start in time"))
            }
        }
    }

    /// What to report now.
    pub fn read(&self) -> Transitions {
        let Some(counts) = &self.counts else {
            return Transitions::Unavailable;
        };
        match counts.lock() {
            Ok(c) if !c.failed => Transitions::Tracepoint {
                counts: c.by_pair.clone(),
                lost: c.lost,
            },
            _ => Transitions::Unavailable,
        }
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        // Closing our end makes the session's stop fd readable: it removes its instance.
        self.stop = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct CountingSink {
    counts: Arc<Mutex<Counts>>,
    ready: Option<mpsc::Sender<anyhow::Result<()>>>,
}

impl Sink for CountingSink {
    fn ready(&mut self, source: TransitionSource, _detail: &str) -> anyhow::Result<Flow> {
        if let Some(tx) = self.ready.take() {
            let ok = match source {
                TransitionSource::Tracepoint => Ok(()),
                TransitionSource::Sampled { .. } => Err(anyhow!("only sampling is possible")),
            };
            let stop = ok.is_err();
            let _ = tx.send(ok);
            if stop {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }

    fn transition(&mut self, t: &Transition, _: Option<&Timeline>) -> anyhow::Result<Flow> {
        if let Ok(mut c) = self.counts.lock() {
            *c.by_pair.entry((t.old, t.new)).or_insert(0) += 1;
        }
        Ok(Flow::Continue)
    }

    fn lost(&mut self, total: u64) {
        if let Ok(mut c) = self.counts.lock() {
            c.lost = total;
        }
    }

    fn notice(&mut self, text: &str) {
        eprintln!("tcplab metrics: {text}");
    }
}
