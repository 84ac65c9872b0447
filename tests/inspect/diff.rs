//! `tcplab net --json` and `tcplab ps --json` against `ss -tanpe` and `ps -eo ...` on a machine
//! state this test makes: a listener, established pairs, a TIME_WAIT, a CLOSE_WAIT, a forked
//! child sharing the listener, a zombie. Only what this test made is compared (others run tests
//! on this machine at the same time), field by field, owners included.

use testkit::ss;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(10);

/// One socket as ss prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SsSocket {
    state: String,
    local: String,
    remote: String,
    recv_q: u64,
    send_q: u64,
    inode: u64,
    uid: u64,
    /// (pid, fd, comm)
    owners: BTreeSet<(i64, i64, String)>,
}

fn ss_sockets(port: u16) -> Vec<SsSocket> {
    let port_of = |a: &str| a.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
    let mut socks: Vec<SsSocket> = ss::ss("-tanpe")
        .into_iter()
        .filter(|l| port_of(&l.local) == Some(port) || port_of(&l.remote) == Some(port))
        .map(|l| {
            let mut s = SsSocket {
                state: l.state,
                local: l.local,
                remote: l.remote,
                recv_q: l.recv_q,
                send_q: l.send_q,
                inode: 0,
                uid: 0,
                owners: BTreeSet::new(),
            };
            for tok in &l.extra {
                if let Some(v) = tok.strip_prefix("ino:") {
                    s.inode = v.parse().unwrap();
                } else if let Some(v) = tok.strip_prefix("uid:") {
                    s.uid = v.parse().unwrap();
                } else if let Some(users) = tok.strip_prefix("users:(") {
                    // users:(("comm",pid=1,fd=3),("comm",pid=2,fd=3))
                    for u in users.split("),(") {
                        let u = u.trim_matches(|c| c == '(' || c == ')');
                        let parts: Vec<&str> = u.split(',').collect();
                        let comm = parts[0].trim_matches('"').to_string();
                        let pid = parts[1].strip_prefix("pid=").unwrap().parse().unwrap();
                        let fd = parts[2].strip_prefix("fd=").unwrap().parse().unwrap();
                        s.owners.insert((pid, fd, comm));
                    }
                }
            }
            s
        })
        .collect();
    socks.sort();
    socks
}

fn tcplab_json(args: &[&str]) -> Vec<Value> {
    let out = testkit::tcplab().args(args).output().expect("run tcplab");
    assert!(
        out.status.success(),
        "tcplab {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("tcplab printed JSON")
        .as_array()
        .expect("a JSON array")
        .clone()
}

fn tcplab_sockets(port: u16) -> Vec<SsSocket> {
    let mut socks: Vec<SsSocket> = tcplab_json(&["net", "--json", "--port", &port.to_string()])
        .iter()
        .map(|v| SsSocket {
            state: v["state"].as_str().unwrap().to_string(),
            local: v["local"].as_str().unwrap().to_string(),
            remote: v["remote"].as_str().unwrap().to_string(),
            recv_q: v["recv_q"].as_u64().unwrap(),
            send_q: v["send_q"].as_u64().unwrap(),
            inode: v["inode"].as_u64().unwrap(),
            uid: v["uid"].as_u64().unwrap(),
            owners: v["owners"]
                .as_array()
                .expect("root sees every owner")
                .iter()
                .map(|o| {
                    (
                        o["pid"].as_i64().unwrap(),
                        o["fd"].as_i64().unwrap(),
                        o["comm"].as_str().unwrap().to_string(),
                    )
                })
                .collect(),
        })
        .collect();
    socks.sort();
    socks
}

/// A forked child that only waits to be killed; it holds every descriptor of this process.
fn fork_holder() -> Pid {
    // SAFETY: the child calls only async-signal-safe functions (pause, _exit) before it is
    // killed, so forking a multi-threaded test process is sound.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => loop {
            nix::unistd::pause();
        },
        ForkResult::Parent { child } => child,
    }
}

/// This test's view of one process from `tcplab ps --json`.
fn ours_after_daemon(pid: Pid) -> Value {
    tcplab_json(&["ps", "--json"])
        .into_iter()
        .find(|v| v["pid"] == pid.as_raw())
        .unwrap_or_else(|| panic!("tcplab ps lacks {pid}"))
}

/// A child that exits at once and is not reaped until the test says so: a zombie.
fn fork_zombie() -> Pid {
    // SAFETY: the child only calls _exit, which is async-signal-safe.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => unsafe { nix::libc::_exit(0) },
        ForkResult::Parent { child } => child,
    }
}

/// fork, setsid, fork again, first child exits: the grandchild, in a session whose leader is
/// gone and with no terminal, is re-parented to this test (a subreaper). Returns its pid.
fn fork_daemon() -> Pid {
    fork_twice(|| {})
}

/// What a job `cmd &` of a shell that exited looks like: the same, except that the grandchild
/// leads a process group of its own within the gone leader's session (job control).
fn fork_left_job() -> Pid {
    fork_twice(|| {
        let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    })
}

/// fork, setsid, fork again (the grandchild runs `grandchild`, which must be async-signal-safe,
/// then waits to be killed), first child exits. Returns the grandchild's pid.
fn fork_twice(grandchild: fn()) -> Pid {
    let (r, w) = nix::unistd::pipe().expect("pipe");
    // SAFETY: both children call only async-signal-safe functions (setsid, fork, write, pause,
    // _exit), so forking a multi-threaded test process is sound.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let _ = nix::unistd::setsid();
            match unsafe { fork() } {
                Ok(ForkResult::Child) => {
                    grandchild();
                    loop {
                        nix::unistd::pause();
                    }
                }
                Ok(ForkResult::Parent { child }) => {
                    let _ = nix::unistd::write(&w, &child.as_raw().to_ne_bytes());
                    unsafe { nix::libc::_exit(0) }
                }
                Err(_) => unsafe { nix::libc::_exit(1) },
            }
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut buf = [0u8; 4];
            let mut f = std::fs::File::from(r);
            std::io::Read::read_exact(&mut f, &mut buf).expect("daemon pid from the first child");
            waitpid(child, None).expect("reap the first child");
            Pid::from_raw(i32::from_ne_bytes(buf))
        }
    }
}

/// Kills and reaps the forked children when the test ends, pass or fail.
struct Children(Vec<Pid>);

impl Drop for Children {
    fn drop(&mut self) {
        for &pid in &self.0 {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
    }
}

#[test]
fn net_and_ps_agree_with_ss_and_ps() {
    testkit::subreaper();
    // Forked before any socket exists, so it holds none of them.
    let daemon = fork_daemon();
    let mut children = Children(vec![daemon]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let port = addr.port();

    // Three established pairs.
    let mut pairs = Vec::new();
    for _ in 0..3 {
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = listener.accept().unwrap();
        pairs.push((c, s));
    }
    // Unread bytes so the queues are not all zero.
    pairs[0].0.write_all(b"twelve bytes").unwrap();
    // TIME_WAIT: the client closes first, then the server.
    let tw_client = TcpStream::connect(addr).unwrap();
    let (tw_server, _) = listener.accept().unwrap();
    let tw_port = tw_client.local_addr().unwrap().port();
    drop(tw_client);
    drop(tw_server);
    // CLOSE_WAIT: the client closes, the server keeps its end.
    let cw_client = TcpStream::connect(addr).unwrap();
    let (cw_server, _) = listener.accept().unwrap();
    drop(cw_client);

    testkit::wait_for("TIME_WAIT and CLOSE_WAIT", DEADLINE, || {
        let ss = ss_sockets(port);
        let has = |st: &str| ss.iter().any(|s| s.state == st);
        let tw = ss
            .iter()
            .any(|s| s.state == "TIME_WAIT" && s.local.ends_with(&format!(":{tw_port}")));
        let settled = ss
            .iter()
            .all(|s| s.state != "FIN_WAIT1" && s.state != "LAST_ACK");
        (tw && has("CLOSE_WAIT") && settled && ss.iter().any(|s| s.recv_q == 12)).then_some(())
    });

    let holder = fork_holder();
    let zombie = fork_zombie();
    children.0.extend([holder, zombie]);
    let me = std::process::id() as i64;
    testkit::wait_for("the holder in ss and the zombie in ps", DEADLINE, || {
        let listen_owners = ss_sockets(port)
            .into_iter()
            .find(|s| s.state == "LISTEN")
            .map(|s| s.owners.len())
            .unwrap_or(0);
        let z = testkit::server_procs::stat(zombie.as_raw())?;
        (listen_owners == 2 && z.state == 'Z').then_some(())
    });

    // Sockets: the same set, field by field, owners included. Retry a few times in case a
    // timer-driven change (none expected) lands between the two reads.
    let (ours, theirs) = {
        let mut last = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let ours = tcplab_sockets(port);
            let theirs = ss_sockets(port);
            if ours == theirs {
                last = (ours, theirs);
                break;
            }
            last = (ours, theirs);
        }
        last
    };
    assert_eq!(ours, theirs, "tcplab net vs ss -tanpe");
    let states: BTreeSet<&str> = ours.iter().map(|s| s.state.as_str()).collect();
    for st in [
        "LISTEN",
        "ESTABLISHED",
        "TIME_WAIT",
        "CLOSE_WAIT",
        "FIN_WAIT2",
    ] {
        assert!(states.contains(st), "no {st} among {states:?}");
    }
    let listen = ours.iter().find(|s| s.state == "LISTEN").unwrap();
    let holders: BTreeSet<i64> = listen.owners.iter().map(|o| o.0).collect();
    assert_eq!(
        holders,
        BTreeSet::from([me, holder.as_raw() as i64]),
        "every holder listed"
    );

    // Processes: this test, the holder, the zombie.
    let mine = [me, holder.as_raw() as i64, zombie.as_raw() as i64];
    let ps_out = Command::new("ps")
        .args(["-eo", "pid=,ppid=,pgid=,sid=,tpgid=,stat=,tty="])
        .output()
        .unwrap();
    let mut ps: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&ps_out.stdout).lines() {
        let f: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        ps.insert(f[0].parse().unwrap(), f);
    }
    let ours: BTreeMap<i64, Value> = tcplab_json(&["ps", "--json"])
        .into_iter()
        .map(|v| (v["pid"].as_i64().unwrap(), v))
        .collect();
    for pid in mine {
        let theirs = ps.get(&pid).unwrap_or_else(|| panic!("ps lacks {pid}"));
        let v = ours
            .get(&pid)
            .unwrap_or_else(|| panic!("tcplab ps lacks {pid}"));
        for (i, key) in ["pid", "ppid", "pgid", "sid", "tpgid"].iter().enumerate() {
            assert_eq!(
                v[key].as_i64().unwrap().to_string(),
                theirs[i],
                "{key} of {pid}"
            );
        }
        // This test process runs and sleeps as its other test threads do, so its state may
        // change between the two reads; the holder (asleep) and the zombie cannot.
        if pid != me {
            assert_eq!(
                v["state"].as_str().unwrap(),
                &theirs[5][..1],
                "state of {pid}"
            );
        }
        let tty = v["tty"].as_str().unwrap_or("?");
        assert_eq!(tty, theirs[6], "tty of {pid}");
        assert_eq!(
            v["uid"].as_u64(),
            Some(nix::unistd::getuid().as_raw() as u64)
        );
    }
    assert_eq!(ours[&(zombie.as_raw() as i64)]["state"], "Z");
    assert_eq!(ours[&(zombie.as_raw() as i64)]["ppid"], me);
    assert_eq!(
        ours[&(zombie.as_raw() as i64)]["cmdline"],
        serde_json::json!([])
    );

    // The zombie shows in `--zombies` with its parent (this test) marked.
    let out = testkit::tcplab()
        .args(["ps", "--zombies"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let zline = text
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(&zombie.to_string()))
        .unwrap_or_else(|| panic!("zombie missing from ps --zombies:\n{text}"));
    assert!(zline.contains("zombie"), "{zline}");
    let pline = text
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(&me.to_string()))
        .expect("parent listed");
    assert!(pline.contains("unreaped="), "{pline}");

    // The double-forked daemon is marked, and the tree shows the holder under this test.
    let out = testkit::tcplab().args(["ps", "--tree"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line_of = |pid: i64| {
        text.lines()
            .position(|l| l.split_whitespace().nth(1) == Some(&pid.to_string()))
            .unwrap_or_else(|| panic!("{pid} missing from ps --tree:\n{text}"))
    };
    let lines: Vec<&str> = text.lines().collect();
    let dline = lines[line_of(daemon.as_raw() as i64)];
    assert!(dline.contains("daemon"), "{dline}");
    let (parent_at, holder_at) = (line_of(me), line_of(holder.as_raw() as i64));
    assert!(holder_at > parent_at, "child listed after its parent");
    assert!(
        lines[holder_at].contains("├─ ") || lines[holder_at].contains("└─ "),
        "{}",
        lines[holder_at]
    );
    let d = &ours_after_daemon(daemon);
    assert_eq!(d["ppid"], me);
    assert_ne!(
        d["sid"], d["pid"],
        "the second fork leaves it out of its session's lead"
    );
    assert!(d["tty"].is_null());

    drop(children);
    assert!(
        !std::path::Path::new(&format!("/proc/{zombie}")).exists(),
        "zombie reaped"
    );
    drop((pairs, cw_server, listener));
}

/// One definition of a daemon for `tcplab ps` and the dashboard: the double-forked process is
/// one in both; a job left by a shell that exited (its own group in the gone leader's session)
/// is one in neither.
#[test]
fn ps_and_the_dashboard_agree_on_daemons() {
    testkit::subreaper();
    let daemon = fork_daemon();
    let job = fork_left_job();
    let _children = Children(vec![daemon, job]);
    let (daemon, job) = (daemon.as_raw(), job.as_raw());
    assert_eq!(testkit::ps_mark(daemon).as_deref(), Some("daemon"));
    assert_eq!(testkit::ps_mark(job).as_deref(), Some("-"));
    let app = testkit::dashboard::live_app();
    let marks = |pid| testkit::dashboard::marks_of(&app, pid).expect("listed");
    assert!(marks(daemon).contains('D'), "{}", marks(daemon));
    assert!(!marks(job).contains('D'), "{}", marks(job));
    assert_eq!(marks(job), "G");
}
