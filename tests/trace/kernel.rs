//! `tcplab trace` against the real kernel: real connections on a port of our own, in known
//! patterns, and the exact state sequences the kernel's tracepoint reports for both ends.
//! Needs root (CI runs as root; without it each test says so and skips); the unprivileged
//! fallback is tested with setpriv.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{ChildStdout, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use testkit::{tcplab, Running};

const INSTANCES: &str = "/sys/kernel/tracing/instances";
const WAIT: Duration = Duration::from_secs(10);

/// A running `tcplab trace` whose stdout lines arrive on a channel.
struct Tracer {
    run: Running,
    lines: Receiver<String>,
    ready: String,
}

fn start_tracer(args: &[&str]) -> Tracer {
    start_tracer_with(tcplab(), args)
}

fn start_tracer_with(mut cmd: std::process::Command, args: &[&str]) -> Tracer {
    let child = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tcplab trace");
    let mut run = Running {
        child,
        stderr: None,
    };
    let mut stderr = BufReader::new(run.child.stderr.take().unwrap());
    let mut ready = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).expect("read stderr") == 0 {
            panic!("tcplab trace exited before it was ready; stderr:\n{ready}");
        }
        ready.push_str(&line);
        if line.starts_with("tcplab trace: tracing via")
            || line.starts_with("tcplab trace: SAMPLED")
        {
            break;
        }
    }
    run.stderr = Some(stderr);
    let lines = lines_of(run.child.stdout.take().unwrap());
    Tracer { run, lines, ready }
}

fn lines_of(stdout: ChildStdout) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Tracer {
    /// Collects JSON objects until `done` holds for them, or panics at the deadline with what
    /// was seen.
    fn collect_until(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        let mut seen: Vec<Value> = Vec::new();
        while !done(&seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => seen.push(serde_json::from_str(&line).expect("a JSON line")),
                Err(_) => panic!("timed out; tracer printed:\n{seen:#?}"),
            }
        }
        seen
    }

    /// Stops it with `sig`, checks a clean exit and that its instance is gone.
    fn stop(mut self, sig: Signal) -> Vec<String> {
        let pid = self.run.pid();
        self.run.signal(sig);
        let status = self.run.wait_exit(WAIT);
        assert!(status.success(), "tracer exited with {status:?}");
        assert_no_instance(pid);
        self.lines.try_iter().collect()
    }

    fn require_kernel(&self) {
        assert!(
            self.ready.contains("tracing via kernel tracepoint"),
            "these tests need the tracepoint (run as root); tracer said:\n{}",
            self.ready
        );
    }
}

fn assert_no_instance(pid: i32) {
    let path = Path::new(INSTANCES).join(format!("tcplab-{pid}"));
    assert!(!path.exists(), "{} left behind", path.display());
}

/// The (old, new) pairs of the events whose local/remote satisfy `which`.
fn seq(events: &[Value], which: impl Fn(&str, &str) -> bool) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["source"] == "kernel")
        .filter(|e| which(e["local"].as_str().unwrap(), e["remote"].as_str().unwrap()))
        .map(|e| {
            format!(
                "{}>{}",
                e["old"].as_str().unwrap(),
                e["new"].as_str().unwrap()
            )
        })
        .collect()
}

/// The client's sequence: its portless CLOSE→SYN_SENT (the kernel picks the port later) and
/// everything with its address.
fn client_seq(events: &[Value], client: SocketAddr, server: SocketAddr) -> Vec<String> {
    let portless = format!("{}:0", client.ip());
    let (c, s) = (client.to_string(), server.to_string());
    seq(events, |l, r| r == s && (l == c || l == portless))
}

fn server_seq(events: &[Value], client: SocketAddr, server: SocketAddr) -> Vec<String> {
    let (c, s) = (client.to_string(), server.to_string());
    seq(events, |l, r| l == s && r == c)
}

fn closed(events: &[Value], local: SocketAddr, remote: SocketAddr) -> bool {
    let (l, r) = (local.to_string(), remote.to_string());
    events
        .iter()
        .any(|e| e["local"] == l.as_str() && e["remote"] == r.as_str() && e["new"] == "CLOSE")
}

fn listener() -> (TcpListener, SocketAddr, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let port = addr.port().to_string();
    (l, addr, port)
}

fn states(s: &str) -> Vec<String> {
    let names: Vec<&str> = s.split('>').collect();
    names
        .windows(2)
        .map(|w| format!("{}>{}", w[0], w[1]))
        .collect()
}

/// One connection on a fresh port with a kernel tracer watching it. The tests close the ends
/// in the order they are about by taking them out.
struct Traced {
    tracer: Tracer,
    _listener: TcpListener,
    client: Option<TcpStream>,
    accepted: Option<TcpStream>,
    caddr: SocketAddr,
    server: SocketAddr,
}

fn traced_connection() -> Traced {
    let (l, server, port) = listener();
    let tracer = start_tracer(&["trace", "--json", "--port", &port]);
    tracer.require_kernel();
    let client = TcpStream::connect(server).unwrap();
    let (accepted, _) = l.accept().unwrap();
    let caddr = client.local_addr().unwrap();
    Traced {
        tracer,
        _listener: l,
        client: Some(client),
        accepted: Some(accepted),
        caddr,
        server,
    }
}

impl Traced {
    /// The sampled line of the client's move into TIME_WAIT: among `seen`, or still to come.
    fn client_time_wait(&self, seen: &[Value]) -> Value {
        let c = self.caddr.to_string();
        let is_it = |e: &&Value| e["local"] == c.as_str() && e["new"] == "TIME_WAIT";
        if let Some(found) = seen.iter().find(is_it) {
            return found.clone();
        }
        let more = self.tracer.collect_until(|ev| ev.iter().any(|e| is_it(&e)));
        more.iter().find(is_it).unwrap().clone()
    }

    /// Waits until both ends reached CLOSE and checks each end's whole sequence.
    fn assert_lives(&self, client: &str, server: &str) -> Vec<Value> {
        let (c, s) = (self.caddr, self.server);
        let ev = self
            .tracer
            .collect_until(|ev| closed(ev, c, s) && closed(ev, s, c));
        assert_eq!(client_seq(&ev, c, s), states(client), "client; {ev:#?}");
        assert_eq!(server_seq(&ev, c, s), states(server), "server; {ev:#?}");
        ev
    }
}

#[test]
fn client_closes_first() {
    if testkit::skip_without(testkit::Need::Root) {
        return;
    }
    let mut t = traced_connection();
    let mut client = t.client.take().unwrap();
    client.write_all(b"hi").unwrap();
    drop(client);
    let mut accepted = t.accepted.take().unwrap();
    accepted.read_to_end(&mut Vec::new()).unwrap();
    drop(accepted);
    // The child socket is a clone of the listener: its life starts at LISTEN.
    let ev = t.assert_lives(
        "CLOSE>SYN_SENT>ESTABLISHED>FIN_WAIT1>FIN_WAIT2>CLOSE",
        "LISTEN>SYN_RECV>ESTABLISHED>CLOSE_WAIT>LAST_ACK>CLOSE",
    );
    // Owners: connect(2) and close(2) run in this process; the softirq steps are resolved
    // (before accept(2), to the listener's holder).
    let me = std::process::id() as i64;
    for e in &ev {
        assert_eq!(e["pid"].as_i64(), Some(me), "owner of {e}");
    }
    // The client's timewait socket, which the tracepoint cannot show, is found by sampling.
    let c = t.caddr.to_string();
    let tw = t.client_time_wait(&ev);
    assert_eq!(tw["old"], "FIN_WAIT2", "{tw}");
    assert_eq!(tw["source"], "sampled", "{tw}");
    assert!(tw["interval_ms"].as_u64().is_some(), "{tw}");
    let ss = std::process::Command::new("ss")
        .args(["-tan", "state", "time-wait", "src", &c])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ss.stdout).contains(&c),
        "ss shows the TIME_WAIT socket too"
    );
    // Time in the old state is known for every step after the socket's first.
    for e in ev
        .iter()
        .filter(|e| e["old"] != "CLOSE" && e["old"] != "LISTEN")
    {
        assert!(e["ms_in_old"].as_f64().is_some_and(|ms| ms >= 0.0), "{e}");
    }
    t.tracer.stop(Signal::SIGTERM);
}

#[test]
fn server_closes_first() {
    if testkit::skip_without(testkit::Need::Root) {
        return;
    }
    let mut t = traced_connection();
    drop(t.accepted.take());
    let mut client = t.client.take().unwrap();
    client.read_to_end(&mut Vec::new()).unwrap();
    drop(client);
    t.assert_lives(
        "CLOSE>SYN_SENT>ESTABLISHED>CLOSE_WAIT>LAST_ACK>CLOSE",
        "LISTEN>SYN_RECV>ESTABLISHED>FIN_WAIT1>FIN_WAIT2>CLOSE",
    );
    t.tracer.stop(Signal::SIGINT);
}

#[test]
fn reset_by_linger_zero() {
    if testkit::skip_without(testkit::Need::Root) {
        return;
    }
    let mut t = traced_connection();
    let client = t.client.take().unwrap();
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    nix::sys::socket::setsockopt(&client, nix::sys::socket::sockopt::Linger, &linger).unwrap();
    drop(client);
    let err = t
        .accepted
        .as_mut()
        .unwrap()
        .read(&mut [0u8; 8])
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    t.assert_lives(
        "CLOSE>SYN_SENT>ESTABLISHED>CLOSE",
        "LISTEN>SYN_RECV>ESTABLISHED>CLOSE",
    );
    t.tracer.stop(Signal::SIGTERM);
}

#[test]
fn refused_connection() {
    if testkit::skip_without(testkit::Need::Root) {
        return;
    }
    // A bound socket that does not listen keeps the port ours and answers SYN with RST.
    let (l, _, _) = listener();
    let addr = l.local_addr().unwrap();
    drop(l);
    let bound = bound_not_listening(addr);
    let port = addr.port().to_string();
    let t = start_tracer(&["trace", "--json", "--port", &port]);
    t.require_kernel();
    let err = TcpStream::connect(addr).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    let ev = t.collect_until(|ev| ev.iter().any(|e| e["new"] == "CLOSE"));
    let s = addr.to_string();
    assert_eq!(
        seq(&ev, |_, r| r == s),
        states("CLOSE>SYN_SENT>CLOSE"),
        "{ev:#?}"
    );
    // The failed socket had its port by then.
    assert_ne!(ev[1]["local"], "127.0.0.1:0");
    drop(bound);
    t.stop(Signal::SIGTERM);
}

/// A TCP socket bound to `addr` without listen(2).
fn bound_not_listening(addr: SocketAddr) -> std::os::fd::OwnedFd {
    use nix::sys::socket::{bind, socket, AddressFamily, SockFlag, SockType, SockaddrIn};
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    let SocketAddr::V4(v4) = addr else {
        unreachable!()
    };
    bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(v4)).unwrap();
    fd
}

#[test]
fn timeline_and_count_exit_by_themselves() {
    if testkit::skip_without(testkit::Need::Root) {
        return;
    }
    let (l, server, port) = listener();
    let t = start_tracer(&[
        "trace",
        "--json",
        "--timeline",
        "--count",
        "2",
        "--port",
        &port,
    ]);
    t.require_kernel();
    let mut client = TcpStream::connect(server).unwrap();
    let (accepted, _) = l.accept().unwrap();
    let caddr = client.local_addr().unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    drop(accepted);
    client.read_to_end(&mut Vec::new()).unwrap();
    drop(client);
    let ev = t.collect_until(|ev| ev.len() == 2);
    let mut run = t.run;
    let status = run.wait_exit(WAIT);
    assert!(status.success(), "{status:?}");
    assert_no_instance(run.pid());
    let life = |e: &Value| -> Vec<String> {
        e["states"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["state"].as_str().unwrap().to_string())
            .collect()
    };
    let client_life = ev.iter().find(|e| e["local"] == caddr.to_string().as_str());
    let server_life = ev
        .iter()
        .find(|e| e["local"] == server.to_string().as_str());
    assert_eq!(
        life(client_life.expect("client timeline")),
        [
            "CLOSE",
            "SYN_SENT",
            "ESTABLISHED",
            "FIN_WAIT1",
            "FIN_WAIT2",
            "CLOSE"
        ]
    );
    // The client's FIN came first, so the server closed passively.
    assert_eq!(
        life(server_life.expect("server timeline")),
        [
            "LISTEN",
            "SYN_RECV",
            "ESTABLISHED",
            "CLOSE_WAIT",
            "LAST_ACK",
            "CLOSE"
        ]
    );
    let synsent = &client_life.unwrap()["states"][1];
    assert!(synsent["ms"].as_f64().is_some(), "{synsent}");
}

#[test]
fn duration_ends_it_and_text_says_kernel() {
    if testkit::skip_without(testkit::Need::Root) {
        return;
    }
    let started = Instant::now();
    let t = start_tracer(&["trace", "--duration", "300ms", "--port", "9"]);
    t.require_kernel();
    let mut run = t.run;
    let status = run.wait_exit(WAIT);
    assert!(status.success());
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_no_instance(run.pid());
    let out: Vec<String> = t.lines.try_iter().collect();
    assert!(
        out[0].starts_with("# from the kernel tracepoint"),
        "{out:?}"
    );
}

#[test]
fn stale_instance_of_a_dead_run_is_removed() {
    if testkit::skip_without(testkit::Need::Root) {
        return;
    }
    // A pid that surely is dead: a child we started and reaped.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let stale = Path::new(INSTANCES).join(format!("tcplab-{pid}"));
    std::fs::create_dir(&stale).unwrap();
    let t = start_tracer(&["trace", "--port", "9"]);
    t.require_kernel();
    // Any tcplab start removes it (tests run in parallel: maybe another tracer of ours did,
    // then that one said so); what matters is that it is gone once a tracer is live.
    assert!(!stale.exists());
    t.stop(Signal::SIGINT);
}

/// A tcplab started in another pid namespace (a container sharing the host's tracefs) sees
/// no process with this tracer's pid: it must not take the live instance for a stale one.
#[test]
fn a_start_in_another_pid_namespace_leaves_a_live_tracer_alone() {
    if testkit::skip_without(testkit::Need::Root) {
        return;
    }
    let mut t = traced_connection();
    let pid = t.tracer.run.pid();
    let mut other = std::process::Command::new("unshare");
    other
        .args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"])
        .arg(testkit::bin())
        .args(["trace", "--duration", "100ms", "--port", "9"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let out = other.output().expect("unshare (util-linux)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        Path::new(INSTANCES).join(format!("tcplab-{pid}")).exists(),
        "the live tracer's instance was removed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Still tracing: the connection's close shows.
    drop(t.client.take());
    let mut accepted = t.accepted.take().unwrap();
    accepted.read_to_end(&mut Vec::new()).unwrap();
    drop(accepted);
    t.assert_lives(
        "CLOSE>SYN_SENT>ESTABLISHED>FIN_WAIT1>FIN_WAIT2>CLOSE",
        "LISTEN>SYN_RECV>ESTABLISHED>CLOSE_WAIT>LAST_ACK>CLOSE",
    );
    t.tracer.stop(Signal::SIGINT);
}

#[test]
fn bad_flags_are_one_line_errors() {
    let out = tcplab().args(["trace", "--count", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        "tcplab trace: invalid value '0' for '--count <COUNT>': 0 is too small: at least 1"
    );
    let out = tcplab()
        .args(["trace", "--port", "70000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("tcplab trace: invalid value '70000'"),
        "{err}"
    );
}

#[test]
fn unprivileged_user_gets_the_sampled_fallback() {
    if testkit::skip_without(testkit::Need::Root) {
        return;
    }
    let (l, server, port) = listener();
    // The checkout may sit where nobody cannot reach (/root): run a copy nobody can.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("tcplab");
    std::fs::copy(env!("CARGO_BIN_EXE_tcplab"), &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(&bin);
    let t = start_tracer_with(cmd, &["trace", "--json", "--port", &port]);
    assert!(t.ready.contains("SAMPLED every 20.0ms"), "{}", t.ready);
    assert!(t.ready.contains("states shorter than that are missed"));
    assert!(t.ready.contains("(run as root)"), "says why: {}", t.ready);
    let client = TcpStream::connect(server).unwrap();
    let (accepted, _) = l.accept().unwrap();
    let caddr = client.local_addr().unwrap();
    let c = caddr.to_string();
    // Held open until the sampler has seen it.
    t.collect_until(|ev| {
        ev.iter()
            .any(|e| e["local"] == c.as_str() && e["new"] == "ESTABLISHED")
    });
    drop(client);
    drop(accepted);
    // The active closer's TIME_WAIT, which the tracepoint never shows, is seen here.
    let ev = t.collect_until(|ev| {
        ev.iter()
            .any(|e| e["local"] == c.as_str() && e["new"] == "TIME_WAIT")
    });
    for e in &ev {
        assert_eq!(e["source"], "sampled", "{e}");
        assert_eq!(e["interval_ms"], 20, "{e}");
    }
    t.stop(Signal::SIGTERM);
}

#[test]
fn closing_when_the_fin_waits_behind_data() {
    if testkit::skip_without(testkit::Need::Root) {
        return;
    }
    // A simultaneous close on one end, made deterministic on loopback: the client's FIN waits
    // behind data the server's full receive buffer will not take, so the server's FIN reaches
    // a client that has closed but whose FIN is still unsent: FIN_WAIT1 → CLOSING.
    let mut t = traced_connection();
    let mut client = t.client.take().unwrap();
    client.set_nonblocking(true).unwrap();
    let chunk = vec![7u8; 64 * 1024];
    loop {
        match client.write(&chunk) {
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    client.shutdown(Shutdown::Write).unwrap();
    let mut accepted = t.accepted.take().unwrap();
    accepted.shutdown(Shutdown::Write).unwrap();
    accepted.read_to_end(&mut Vec::new()).unwrap();
    let ev = t.assert_lives(
        "CLOSE>SYN_SENT>ESTABLISHED>FIN_WAIT1>CLOSING>CLOSE",
        "LISTEN>SYN_RECV>ESTABLISHED>FIN_WAIT1>FIN_WAIT2>CLOSE",
    );
    // From CLOSING, too, the connection lives on in a timewait socket, found by sampling.
    let tw = t.client_time_wait(&ev);
    assert_eq!(
        (tw["old"].as_str(), tw["source"].as_str()),
        (Some("CLOSING"), Some("sampled"))
    );
    drop(client);
    t.tracer.stop(Signal::SIGTERM);
}
