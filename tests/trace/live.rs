//! Tracing in this process, against the real kernel: the dashboard's feed
//! (`trace::live::LiveTrace`) and a session reading the text pipe, the fallback of the binary
//! per-CPU pipes.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use tcplab::model::{TcpState, Transition, TransitionSource};
use tcplab::trace::conns::Timeline;
use tcplab::trace::live::{LiveEvent, LiveTrace};
use tcplab::trace::session::{self, Flow, Options, Sink};
use testkit::wait_for;

/// One connection to `l` that the client closes first; returns the client's address.
fn client_closes_first(l: &TcpListener) -> std::net::SocketAddr {
    let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let caddr = client.local_addr().unwrap();
    let (mut accepted, _) = l.accept().unwrap();
    drop(client);
    accepted.read_to_end(&mut Vec::new()).unwrap();
    caddr
}

#[test]
fn live_trace_feeds_transitions_and_cleans_up_when_dropped() {
    if testkit::skip_without(testkit::Need::Root) {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = l.local_addr().unwrap();
    let mut live = LiveTrace::start(Some(server.port())).unwrap();
    let mut seen = Vec::new();
    let detail = wait_for("ready", Duration::from_secs(10), || {
        live.drain().into_iter().find_map(|e| match e {
            LiveEvent::Ready { source, detail } => Some((source, detail)),
            other => {
                seen.push(other);
                None
            }
        })
    });
    assert_eq!(
        detail.0,
        TransitionSource::Tracepoint,
        "needs root: {detail:?}"
    );
    let instance = detail.1.strip_prefix("instance ").unwrap();
    let instance = instance.split(',').next().unwrap().to_string();
    let dir = std::path::Path::new("/sys/kernel/tracing/instances").join(&instance);
    assert!(dir.is_dir(), "{instance} is live");

    let caddr = client_closes_first(&l);
    let mut client_states = Vec::new();
    // The client closed first: after the kernel's FIN_WAIT2 -> CLOSE (the full socket handed
    // to a timewait one), the edge into TIME_WAIT, found by sampling as `tcplab trace` does.
    wait_for("the client's TIME_WAIT", Duration::from_secs(10), || {
        for e in live.drain() {
            if let LiveEvent::Transition(t) = e {
                if t.local == caddr {
                    client_states.push((t.old, t.new));
                }
            }
        }
        client_states
            .iter()
            .any(|(_, new)| *new == TcpState::TimeWait)
            .then_some(())
    });
    use TcpState::*;
    assert_eq!(
        client_states,
        [
            (SynSent, Established),
            (Established, FinWait1),
            (FinWait1, FinWait2),
            (FinWait2, Close),
            (FinWait2, TimeWait)
        ]
    );
    drop(live);
    assert!(
        !dir.exists(),
        "{instance} removed when the LiveTrace is dropped"
    );
}

/// A sink that hands everything to the test.
struct Collect(std::sync::mpsc::Sender<Result<Transition, String>>);

impl Sink for Collect {
    fn ready(&mut self, _: TransitionSource, detail: &str) -> anyhow::Result<Flow> {
        let _ = self.0.send(Err(detail.to_string()));
        Ok(Flow::Continue)
    }
    fn transition(&mut self, t: &Transition, _: Option<&Timeline>) -> anyhow::Result<Flow> {
        let _ = self.0.send(Ok(t.clone()));
        Ok(Flow::Continue)
    }
    fn lost(&mut self, _: u64) {}
    fn notice(&mut self, _: &str) {}
}

#[test]
fn the_text_pipe_fallback_reports_the_same_lives() {
    if testkit::skip_without(testkit::Need::Root) {
        return;
    }
    use std::os::fd::AsFd;
    use TcpState::*;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = l.local_addr().unwrap();
    let (stop_rx, stop_tx) = std::os::unix::net::UnixStream::pair().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let opts = Options {
        port: Some(server.port()),
        pipes: tcplab::kernel::tracefs::Pipes::Text,
        ..Options::default()
    };
    let tracer = std::thread::spawn(move || {
        session::run(&opts, stop_rx.as_fd(), &mut Collect(tx)).map_err(|e| e.to_string())
    });
    let detail = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap_err();
    assert!(detail.ends_with(", text pipe"), "{detail}");

    let caddr = client_closes_first(&l);
    let (mut of_client, mut of_server) = (Vec::new(), Vec::new());
    while of_client.last() != Some(&Close) || of_server.last() != Some(&Close) {
        let t = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        if t.local == caddr {
            of_client.push(t.new);
        } else if t.local == server && t.remote == caddr {
            of_server.push(t.new);
        }
    }
    assert_eq!(of_client, [Established, FinWait1, FinWait2, Close]);
    assert_eq!(of_server, [SynRecv, Established, CloseWait, LastAck, Close]);
    drop(stop_tx);
    assert_eq!(tracer.join().unwrap(), Ok(()));
    let name = detail
        .trim_start_matches("instance ")
        .split(',')
        .next()
        .unwrap();
    let dir = std::path::Path::new("/sys/kernel/tracing/instances").join(name);
    assert!(!dir.exists(), "{name} removed");
}

/// Connections made from threads that are gone by the time the events are read: each is the
/// process's (the kernel recorded the thread's process at event time), with the thread's id
/// kept as `tid`.
#[test]
fn transitions_of_exited_threads_name_their_process() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = l.local_addr().unwrap();
    let mut live = LiveTrace::start(Some(server.port())).unwrap();
    wait_for("ready", Duration::from_secs(10), || {
        live.drain()
            .into_iter()
            .any(|e| matches!(e, LiveEvent::Ready { .. }))
            .then_some(())
    });
    let accepting = std::thread::spawn(move || {
        for _ in 0..20 {
            let (mut s, _) = l.accept().unwrap();
            s.read_to_end(&mut Vec::new()).unwrap();
        }
    });
    let mut clients = Vec::new();
    let mut tids = Vec::new();
    for _ in 0..20 {
        let (addr, tid) = std::thread::spawn(move || {
            let c = TcpStream::connect(server).unwrap();
            (c.local_addr().unwrap(), nix::unistd::gettid().as_raw())
        })
        .join()
        .unwrap();
        clients.push(addr);
        tids.push(tid);
    }
    accepting.join().unwrap();
    let pid = std::process::id() as i32;
    let mut closes = Vec::new();
    wait_for("every client's close", Duration::from_secs(10), || {
        for e in live.drain() {
            if let LiveEvent::Transition(t) = e {
                if t.new == TcpState::FinWait1 && clients.contains(&t.local) {
                    closes.push((t.pid, t.tid));
                }
            }
        }
        (closes.len() == clients.len()).then_some(())
    });
    for (got_pid, got_tid) in closes {
        assert_eq!(got_pid, Some(pid), "the process, not a thread");
        let tid = got_tid.expect("the thread id is kept");
        assert!(
            tids.contains(&tid),
            "{tid} is one of the client threads {tids:?}"
        );
    }
}
