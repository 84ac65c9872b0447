//! The dashboard's feed: `trace::live::LiveTrace` in this process, against the real kernel.

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::wait_for;
use tcplab::model::{TcpState, TransitionSource};
use tcplab::trace::live::{LiveEvent, LiveTrace};

#[test]
fn live_trace_feeds_transitions_and_cleans_up_when_dropped() {
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

    let client = TcpStream::connect(server).unwrap();
    let caddr = client.local_addr().unwrap();
    let (mut accepted, _) = l.accept().unwrap();
    drop(client);
    accepted.read_to_end(&mut Vec::new()).unwrap();
    drop(accepted);
    let mut client_states = Vec::new();
    wait_for("the client's CLOSE", Duration::from_secs(10), || {
        for e in live.drain() {
            if let LiveEvent::Transition(t) = e {
                if t.local == caddr {
                    client_states.push(t.new);
                }
            }
        }
        client_states.contains(&TcpState::Close).then_some(())
    });
    assert_eq!(
        client_states,
        [
            TcpState::Established,
            TcpState::FinWait1,
            TcpState::FinWait2,
            TcpState::Close
        ]
    );
    drop(live);
    assert!(
        !dir.exists(),
        "{instance} removed when the LiveTrace is dropped"
    );
}
