//! Transitions for the dashboard: a [`session`](super::session) on its own thread, feeding a
//! channel that the dashboard's tick drains without blocking. Dropping the [`LiveTrace`] stops
//! the thread and removes the tracefs instance. Nothing here writes to the terminal: notices
//! travel through the channel too.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::conns::Timeline;
use super::session::{self, Flow, Options, Sink};
use crate::model::{Transition, TransitionSource};

/// Transitions waiting for the dashboard at most; past that they are counted as dropped (a
/// stalled dashboard must not stall the tracer and make the kernel drop events instead).
const QUEUE: usize = 20_000;

/// What the tracer thread reports.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    /// Tracing is live, from this source; `detail` names the instance or why it is sampled.
    Ready {
        source: TransitionSource,
        detail: String,
    },
    Transition(Transition),
    /// Transitions lost so far: by the kernel (buffer overflow) or because the dashboard fell
    /// behind the queue.
    Lost(u64),
    /// Something worth a line in the status bar (a stale instance removed, an odd line).
    Notice(String),
    /// Tracing stopped on an error.
    Failed(String),
}

pub struct LiveTrace {
    events: Option<Receiver<LiveEvent>>,
    /// Dropping it makes the thread's stop fd readable (EOF).
    stop: Option<UnixStream>,
    thread: Option<JoinHandle<()>>,
}

impl LiveTrace {
    /// Starts tracing `port` (all TCP when None) on a new thread.
    pub fn start(port: Option<u16>) -> std::io::Result<LiveTrace> {
        let (stop_rx, stop_tx) = UnixStream::pair()?;
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("tcplab-trace".into())
            .spawn(move || {
                let opts = Options::following(port);
                let mut sink = ChannelSink {
                    tx: tx.clone(),
                    kernel_lost: 0,
                    queue_lost: 0,
                    untold: false,
                };
                if let Err(e) = session::run(&opts, stop_rx.as_fd(), &mut sink) {
                    let _ = tx.send(LiveEvent::Failed(format!("{e:#}")));
                }
            })?;
        Ok(LiveTrace {
            events: Some(rx),
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Everything reported since the last call; never blocks.
    pub fn drain(&mut self) -> Vec<LiveEvent> {
        self.events
            .as_ref()
            .map(|rx| rx.try_iter().collect())
            .unwrap_or_default()
    }
}

impl Drop for LiveTrace {
    fn drop(&mut self) {
        // Receiver first, so a send in progress fails instead of waiting; then the stop fd.
        self.events = None;
        self.stop = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct ChannelSink {
    tx: SyncSender<LiveEvent>,
    kernel_lost: u64,
    queue_lost: u64,
    /// A loss not yet told because the queue was full; told with the next send that fits.
    untold: bool,
}

impl ChannelSink {
    fn send(&mut self, ev: LiveEvent) -> Flow {
        if self.untold {
            let total = self.kernel_lost + self.queue_lost;
            self.untold = self.tx.try_send(LiveEvent::Lost(total)).is_err();
        }
        match self.tx.try_send(ev) {
            Ok(()) => Flow::Continue,
            Err(TrySendError::Full(_)) => {
                self.queue_lost += 1;
                self.untold = true;
                Flow::Continue
            }
            Err(TrySendError::Disconnected(_)) => Flow::Stop,
        }
    }
}

impl Sink for ChannelSink {
    fn ready(&mut self, source: TransitionSource, detail: &str) -> anyhow::Result<Flow> {
        Ok(self.send(LiveEvent::Ready {
            source,
            detail: detail.to_string(),
        }))
    }

    fn transition(&mut self, t: &Transition, _: Option<&Timeline>) -> anyhow::Result<Flow> {
        Ok(self.send(LiveEvent::Transition(t.clone())))
    }

    /// TIME_WAIT, found by sampling: the dashboard shows it as `trace` does.
    fn sampled_transition(&mut self, t: &Transition, _: Duration) -> anyhow::Result<Flow> {
        Ok(self.send(LiveEvent::Transition(t.clone())))
    }

    fn lost(&mut self, total: u64) {
        self.kernel_lost = total;
        self.send(LiveEvent::Lost(self.kernel_lost + self.queue_lost));
    }

    fn notice(&mut self, text: &str) {
        self.send(LiveEvent::Notice(text.to_string()));
    }
}
