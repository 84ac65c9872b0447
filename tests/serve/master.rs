//! The master and its workers, as the kernel shows them: stop and graceful stop (a request in
//! flight completes), reload under load without one failed request, a SIGKILLed worker
//! respawned, TTIN/TTOU, and a SIGKILLed master leaving no worker behind. Each test reaps what
//! it started, by pid, and checks /proc that nothing is left.

use testkit::server_procs as procs;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use testkit::{serve, subreaper, tcplab};

/// The models that run a master with workers.
const MASTER_MODELS: [&str; 3] = ["reactor", "prefork", "uring"];

fn start(model: &str, workers: usize, extra: &[&str]) -> (testkit::Running, std::net::SocketAddr) {
    subreaper();
    let n = workers.to_string();
    let mut args = vec!["--model", model, "--workers", &n];
    args.extend_from_slice(extra);
    serve(&args)
}

#[test]
fn term_stops_now_and_quit_lets_a_request_in_flight_finish() {
    for model in MASTER_MODELS {
        let (mut server, addr) = start(model, 2, &[]);
        let workers = procs::wait_workers(server.pid(), 2);
        let slow = std::thread::spawn(move || procs::get(addr, "/sleep?ms=1500"));
        // The request is in flight once a worker counts it.
        testkit::wait_for(
            "the /sleep request to arrive",
            Duration::from_secs(5),
            || {
                let (_, body) = procs::get(addr, "/status").ok()?;
                let doc: serde_json::Value = serde_json::from_str(&body).ok()?;
                (doc["requests"].as_u64()? >= 1 && doc["connections_open"].as_u64()? >= 2)
                    .then_some(())
            },
        );
        let asked = Instant::now();
        server.signal(Signal::SIGQUIT);
        let answer = slow.join().unwrap().expect("the request in flight was cut");
        assert_eq!(answer.0, 200, "{model}: {answer:?}");
        assert!(answer.1.starts_with("slept 1500 ms"), "{answer:?}");
        let status = server.wait_exit(Duration::from_secs(15));
        assert!(status.success(), "{model}: graceful stop exited {status:?}");
        assert!(asked.elapsed() < Duration::from_secs(10));
        for w in workers {
            procs::assert_gone(w);
        }

        let (mut server, addr) = start(model, 2, &[]);
        let workers = procs::wait_workers(server.pid(), 2);
        assert_eq!(procs::get(addr, "/").unwrap().0, 200);
        server.signal(Signal::SIGTERM);
        assert!(server.wait_exit(Duration::from_secs(10)).success());
        for w in workers {
            procs::assert_gone(w);
        }
    }
}

#[test]
fn reload_under_load_fails_no_request_and_brings_new_workers() {
    for model in MASTER_MODELS {
        let dir = tempfile::tempdir().unwrap();
        let pf = dir.path().join("s.pid");
        let (mut server, addr) = start(model, 2, &["--pid-file", pf.to_str().unwrap()]);
        let old = procs::wait_workers(server.pid(), 2);
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let load: Vec<_> = (0..4)
            .map(|_| {
                let (stop, ok) = (stop.clone(), ok.clone());
                std::thread::spawn(move || {
                    let mut failures = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        match procs::get(addr, "/") {
                            Ok((200, body)) if body == "hello!world" => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            other => failures.push(format!("{other:?}")),
                        }
                    }
                    failures
                })
            })
            .collect();
        testkit::wait_for("load to flow", Duration::from_secs(5), || {
            (ok.load(Ordering::Relaxed) > 50).then_some(())
        });
        let out = tcplab()
            .args(["reload", "--pid-file", pf.to_str().unwrap()])
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The old workers drain and exit; the new ones serve.
        let new = testkit::wait_for("old workers to go", Duration::from_secs(10), || {
            let now = procs::workers(server.pid());
            (now.len() == 2 && now.iter().all(|p| !old.contains(p))).then_some(now)
        });
        for p in &new {
            assert!(
                report.contains(&p.to_string()),
                "{p} not reported:\n{report}"
            );
        }
        let before = ok.load(Ordering::Relaxed);
        testkit::wait_for("load on the new workers", Duration::from_secs(5), || {
            (ok.load(Ordering::Relaxed) > before + 50).then_some(())
        });
        stop.store(true, Ordering::Relaxed);
        let failures: Vec<String> = load.into_iter().flat_map(|t| t.join().unwrap()).collect();
        assert!(
            failures.is_empty(),
            "{model}: {} failed: {:?}",
            failures.len(),
            &failures[..failures.len().min(5)]
        );
        for p in old {
            procs::assert_gone(p);
        }
        server.signal(Signal::SIGTERM);
        assert!(server.wait_exit(Duration::from_secs(10)).success());
        assert!(!pf.exists());
    }
}

/// A keep-alive client that sends its next request as soon as the last answer is read, as
/// wrk does; it reconnects after `Connection: close` (and after a failure, which it counts).
struct BackToBack {
    addr: std::net::SocketAddr,
    ok: Arc<AtomicU64>,
    told_to_close: Arc<AtomicU64>,
}

impl BackToBack {
    fn run(&self, stop: &AtomicBool) -> Vec<String> {
        use std::io::Write;
        let mut failures = Vec::new();
        let mut c = testkit::http::Client::connect(self.addr);
        while !stop.load(Ordering::Relaxed) {
            let answer = c
                .stream
                .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                .ok()
                .and_then(|()| c.try_response(false));
            match answer {
                Some(r) if r.status == 200 && r.body == b"hello!world" => {
                    self.ok.fetch_add(1, Ordering::Relaxed);
                    if r.header("connection") == Some("close") {
                        self.told_to_close.fetch_add(1, Ordering::Relaxed);
                        c = testkit::http::Client::connect(self.addr);
                    }
                }
                other => {
                    failures.push(format!("{other:?}"));
                    c = testkit::http::Client::connect(self.addr);
                }
            }
        }
        failures
    }
}

#[test]
fn reload_loses_no_request_of_keep_alive_clients_sending_back_to_back() {
    // prefork serves one connection per worker at a time: as many clients as workers.
    for (model, clients) in [("reactor", 8), ("prefork", 2), ("uring", 8)] {
        let dir = tempfile::tempdir().unwrap();
        let pf = dir.path().join("s.pid");
        let (mut server, addr) = start(model, 2, &["--pid-file", pf.to_str().unwrap()]);
        let old = procs::wait_workers(server.pid(), 2);
        let stop = Arc::new(AtomicBool::new(false));
        let client = Arc::new(BackToBack {
            addr,
            ok: Arc::new(AtomicU64::new(0)),
            told_to_close: Arc::new(AtomicU64::new(0)),
        });
        let load: Vec<_> = (0..clients)
            .map(|_| {
                let (stop, client) = (stop.clone(), client.clone());
                std::thread::spawn(move || client.run(&stop))
            })
            .collect();
        testkit::wait_for("load to flow", Duration::from_secs(5), || {
            (client.ok.load(Ordering::Relaxed) > 200).then_some(())
        });
        let out = tcplab()
            .args(["reload", "--pid-file", pf.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Every old worker retires: it answers each client once more, with Connection: close.
        testkit::wait_for("old workers to go", Duration::from_secs(10), || {
            let now = procs::workers(server.pid());
            (now.len() == 2 && now.iter().all(|p| !old.contains(p))).then_some(())
        });
        let before = client.ok.load(Ordering::Relaxed);
        testkit::wait_for("load on the new workers", Duration::from_secs(5), || {
            (client.ok.load(Ordering::Relaxed) > before + 200).then_some(())
        });
        stop.store(true, Ordering::Relaxed);
        let failures: Vec<String> = load.into_iter().flat_map(|t| t.join().unwrap()).collect();
        assert!(
            failures.is_empty(),
            "{model}: {} of {} requests failed: {:?}",
            failures.len(),
            client.ok.load(Ordering::Relaxed),
            &failures[..failures.len().min(5)]
        );
        assert!(client.told_to_close.load(Ordering::Relaxed) >= 1, "{model}");
        for p in old {
            procs::assert_gone(p);
        }
        server.signal(Signal::SIGTERM);
        assert!(server.wait_exit(Duration::from_secs(10)).success());
    }
}

#[test]
fn a_killed_worker_is_respawned_and_ttin_ttou_resize_the_pool() {
    for model in MASTER_MODELS {
        let (mut server, addr) = start(model, 2, &[]);
        let master = server.pid();
        let before = procs::wait_workers(master, 2);
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(before[0]), Signal::SIGKILL).unwrap();
        let after = testkit::wait_for("a replacement worker", Duration::from_secs(10), || {
            let now = procs::workers(master);
            (now.len() == 2 && !now.contains(&before[0])).then_some(now)
        });
        assert!(after.contains(&before[1]));
        procs::assert_gone(before[0]); // reaped by the master: not even a zombie
        for _ in 0..10 {
            assert_eq!(procs::get(addr, "/").unwrap().0, 200);
        }

        server.signal(Signal::SIGTTIN);
        let three = procs::wait_workers(master, 3);
        // One at a time: two identical signals sent before the first is read merge into one.
        server.signal(Signal::SIGTTOU);
        procs::wait_workers(master, 2);
        server.signal(Signal::SIGTTOU);
        let one = procs::wait_workers(master, 1);
        assert!(three.contains(&one[0]));
        // Never below one.
        server.signal(Signal::SIGTTOU);
        assert_eq!(procs::get(addr, "/").unwrap().0, 200);
        assert_eq!(procs::workers(master).len(), 1);
        server.signal(Signal::SIGTERM);
        assert!(server.wait_exit(Duration::from_secs(10)).success());
        for p in three {
            procs::assert_gone(p);
        }
    }
}

/// `kill -SEGV` kills like any crash (Rust's runtime once swallowed the first one): a worker
/// dies of it, leaving its core where the system keeps cores, and the master forks another;
/// the master itself dies of it too.
#[test]
fn a_sent_segv_kills_a_worker_and_the_master() {
    use std::os::unix::process::ExitStatusExt;
    // A core_pattern that is a plain file name puts the core in the process's directory
    // (a pipe to a collector, or another directory, keeps it elsewhere or not at all).
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let core_name = pattern
        .trim()
        .split('%')
        .next()
        .unwrap_or_default()
        .to_string();
    let cores_here = !pattern.starts_with('|') && !pattern.contains('/') && !core_name.is_empty();
    let root = nix::unistd::geteuid().is_root();
    for model in MASTER_MODELS {
        let cores = tempfile::tempdir().unwrap();
        let mut cmd = tcplab();
        cmd.current_dir(cores.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--model", model])
            .args(["--workers", "1"]);
        let (mut server, addr) = testkit::start_listening_command(cmd);
        let master = server.pid();
        let before = procs::wait_workers(master, 1);
        // The first worker may keep a core (in `cores`); the master, and the workers it forks
        // later (they inherit its limit), keep none.
        let worker_core = if root {
            "--core=unlimited:unlimited"
        } else {
            "--core=0:0"
        };
        for (pid, core) in [(master, "--core=0:0"), (before[0], worker_core)] {
            let st = std::process::Command::new("prlimit")
                .args(["--pid", &pid.to_string(), core])
                .status()
                .unwrap();
            assert!(st.success());
        }
        let segv = |pid: i32| {
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGSEGV).unwrap()
        };
        segv(before[0]);
        let after = testkit::wait_for("a replacement worker", Duration::from_secs(10), || {
            let now = procs::workers(master);
            (now.len() == 1 && now[0] != before[0]).then_some(now)
        });
        procs::assert_gone(before[0]);
        assert_eq!(procs::get(addr, "/").unwrap().0, 200);
        let said = procs::stderr_so_far(&mut server);
        assert!(said.contains("killed by SIGSEGV"), "{model}: {said}");
        if root && cores_here {
            assert!(
                said.contains("killed by SIGSEGV (core dumped)"),
                "{model}: {said}"
            );
            let kept = std::fs::read_dir(cores.path())
                .unwrap()
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with(&core_name));
            assert!(kept, "{model}: no core in {}", cores.path().display());
        }
        segv(master);
        let status = server.wait_exit(Duration::from_secs(10));
        assert_eq!(status.signal(), Some(libc::SIGSEGV), "{model}: {status:?}");
        // Its worker follows it (parent-death signal) and comes back to us to be reaped.
        procs::reap(after[0]);
    }
}

#[test]
fn a_sigkilled_master_leaves_no_worker_serving() {
    for model in MASTER_MODELS {
        let (mut server, addr) = start(model, 2, &[]);
        let workers = procs::wait_workers(server.pid(), 2);
        server.signal(Signal::SIGKILL);
        server.wait_exit(Duration::from_secs(5));
        // PR_SET_PDEATHSIG: the workers die with it; adopted by us, the subreaper, and reaped.
        for w in workers {
            procs::reap(w);
        }
        assert!(
            procs::get(addr, "/").is_err(),
            "something still answers on {addr}"
        );
    }
}

#[test]
fn a_reload_whose_fresh_workers_cannot_start_keeps_the_old_ones() {
    for model in MASTER_MODELS {
        let dir = tempfile::tempdir().unwrap();
        let pf = dir.path().join("s.pid");
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        let log = logs.join("access.log");
        let (mut server, addr) = start(
            model,
            2,
            &[
                "--pid-file",
                pf.to_str().unwrap(),
                "--access-log",
                log.to_str().unwrap(),
                "--shutdown-timeout",
                "1s",
            ],
        );
        let old = procs::wait_workers(server.pid(), 2);
        // Both have opened the log (forked is not yet set up): then they no longer need its path.
        testkit::wait_for(
            "the workers to open the log",
            Duration::from_secs(10),
            || {
                old.iter()
                    .all(|w| procs::holds_file(*w, &log))
                    .then_some(())
            },
        );
        // Fresh workers open the access log by its path: make that impossible.
        std::fs::remove_dir_all(&logs).unwrap();
        let reload = || {
            tcplab()
                .args(["reload", "--pid-file", pf.to_str().unwrap()])
                .output()
                .unwrap()
        };
        let out = reload();
        assert_eq!(out.status.code(), Some(1), "{model}");
        let err = String::from_utf8_lossy(&out.stderr);
        let now = procs::workers(server.pid());
        if now != old || !err.contains("kept its old workers") {
            panic!(
                "{model}: reload said {err:?}; workers {now:?}, were {old:?}; the server said:\n{}",
                procs::stderr_so_far(&mut server)
            );
        }
        assert_eq!(procs::get(addr, "/").unwrap().0, 200);
        // Once the path works again, so does a reload.
        std::fs::create_dir(&logs).unwrap();
        let out = reload();
        assert!(
            out.status.success(),
            "{model}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let new = procs::wait_workers(server.pid(), 2);
        assert!(
            new.iter().all(|p| !old.contains(p)),
            "{model}: {new:?} {old:?}"
        );
        server.signal(Signal::SIGTERM);
        assert!(server.wait_exit(Duration::from_secs(10)).success());
    }
}
