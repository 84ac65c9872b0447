//! Refreshes on their own thread, so a scan that takes seconds (a hundred thousand sockets, a
//! busy machine) never holds up a key: the loop asks for a refresh and goes on reading keys;
//! the snapshot arrives as an event when it is ready. One scan at a time; a request made
//! during a scan is kept (the newest wins) and starts when that scan is done.

use std::sync::mpsc::{self, Receiver, Sender};

use super::traffic::ConnKey;
use crate::kernel::live::LiveSource;
use crate::kernel::sockets::ScanDetail;
use crate::model::{Snapshot, SnapshotSource};

/// What the screen needs from a refresh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Want {
    /// Socket owners (every process's descriptors): only while a view shows them.
    pub owners: bool,
    /// Each socket's `tcp_info`, as the brief the rate columns read: only while rates or a
    /// connection are on screen.
    pub info: bool,
    /// The connection whose detail view is open: its whole `tcp_info` (with the congestion
    /// control's name) is asked for by its ends, one lookup a refresh, where asking it of
    /// every socket in the dump cost a boxed struct per socket and the names' fill.
    pub follow: Option<ConnKey>,
}

/// A source of snapshots that can be told what the screen needs.
pub trait RefreshSource: SnapshotSource + Send + 'static {
    fn want(&mut self, _want: Want) {}
}

impl RefreshSource for LiveSource {
    fn want(&mut self, want: Want) {
        self.set_owner_lookup(want.owners);
        self.set_socket_detail(if want.info {
            ScanDetail::Brief
        } else {
            ScanDetail::Basic
        });
        self.set_followed(want.follow);
    }
}

impl RefreshSource for super::fake::FakeSource {}

/// What the refresh thread is asked to do.
enum Job {
    Refresh(Want),
    /// Free a snapshot the screen is done with: at tens of thousands of sockets that took
    /// half of the main loop's time for a refresh; here it also gives the memory back to the
    /// arena the next scan allocates from.
    Free(Snapshot),
}

pub struct Scanner {
    requests: Sender<Job>,
    results: Receiver<anyhow::Result<Snapshot>>,
    in_flight: bool,
    queued: Option<Want>,
    last: Want,
}

impl Scanner {
    /// Starts the thread that owns `source`. It ends when the `Scanner` is dropped (after the
    /// scan in progress, if any).
    pub fn start(mut source: impl RefreshSource) -> std::io::Result<Scanner> {
        let (req_tx, req_rx) = mpsc::channel::<Job>();
        let (res_tx, res_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("tcplab-refresh".into())
            .spawn(move || {
                for job in req_rx {
                    let want = match job {
                        Job::Refresh(want) => want,
                        Job::Free(snapshot) => {
                            drop(snapshot);
                            continue;
                        }
                    };
                    source.want(want);
                    let result = source.snapshot();
                    if res_tx.send(result).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Scanner {
            requests: req_tx,
            results: res_rx,
            in_flight: false,
            queued: None,
            last: Want::default(),
        })
    }

    /// Asks for a refresh; while one is running, it is queued (one at most, the newest).
    pub fn request(&mut self, want: Want) {
        self.last = want;
        if self.in_flight {
            self.queued = Some(want);
        } else {
            self.in_flight = self.requests.send(Job::Refresh(want)).is_ok();
        }
    }

    /// Hands back a snapshot the screen no longer shows, to be freed on the refresh thread
    /// (here, when the thread is gone).
    pub fn retire(&self, snapshot: Snapshot) {
        let _ = self.requests.send(Job::Free(snapshot));
    }

    /// A refresh with what the last request wanted.
    pub fn request_again(&mut self) {
        self.request(self.last);
    }

    /// Whether a refresh is running now.
    pub fn busy(&self) -> bool {
        self.in_flight
    }

    /// The refreshes finished since the last call; never blocks.
    pub fn finished(&mut self) -> Vec<anyhow::Result<Snapshot>> {
        let done: Vec<_> = self.results.try_iter().collect();
        if !done.is_empty() {
            self.in_flight = false;
            if let Some(want) = self.queued.take() {
                self.request(want);
            }
        }
        done
    }
}
