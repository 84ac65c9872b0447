//! `tcplab serve`'s `/metrics`: counts by status class, what survives reloads and respawns,
//! the per-worker series, both formats.

use std::time::Duration;

use nix::sys::signal::Signal;

use testkit::server_procs as procs;
use testkit::{serve, wait_for};

use crate::scrape::{assert_promtool_accepts, get_with, scrape, Page};

const REQ_2XX: &str = "tcplab_serve_requests_total{class=\"2xx\"}";
const REQ_4XX: &str = "tcplab_serve_requests_total{class=\"4xx\"}";

fn wait_page(addr: std::net::SocketAddr, what: &str, ok: impl Fn(&Page) -> bool) -> Page {
    // A connection queued at a worker that is killed is reset: try again, as Prometheus would.
    wait_for(what, Duration::from_secs(15), || {
        let r = get_with(addr, "/metrics", "")?;
        let p = Page::parse(&r.text());
        (r.status == 200 && ok(&p)).then_some(p)
    })
}

#[test]
fn counts_survive_reloads_and_respawns() {
    for model in ["reactor", "prefork"] {
        let (server, addr) = serve(&["--model", model, "--workers", "2"]);
        let first = procs::wait_workers(server.pid(), 2);
        for _ in 0..10 {
            assert_eq!(procs::get(addr, "/").unwrap().0, 200);
        }
        assert_eq!(procs::get(addr, "/no-such-page").unwrap().0, 404);
        let before = scrape(addr);
        assert_promtool_accepts(&before.text);
        // The scrape itself is answered 2xx after the page was built: not in its own count.
        assert_eq!(before.value(REQ_2XX), 10.0, "{model}");
        assert_eq!(before.value(REQ_4XX), 1.0, "{model}");
        assert_eq!(before.value("tcplab_serve_workers"), 2.0);
        assert_eq!(before.value("tcplab_serve_reloads_total"), 0.0);
        assert_eq!(
            before.value(&format!("tcplab_serve_model_info{{model=\"{model}\"}}")),
            1.0
        );
        let per_worker: f64 = before
            .family("tcplab_serve_worker_requests_total")
            .iter()
            .filter(|(k, _)| k.contains("class=\"2xx\""))
            .map(|(_, v)| v)
            .sum();
        assert_eq!(per_worker, 10.0, "{}", before.text);
        let pids: Vec<i32> = before
            .family("tcplab_serve_worker_pid")
            .iter()
            .map(|(_, v)| *v as i32)
            .collect();
        let mut sorted = first.clone();
        sorted.sort();
        let mut seen = pids.clone();
        seen.sort();
        assert_eq!(seen, sorted, "worker pids");

        // Two reloads: the second generation takes the first one's slots, whose counts must
        // move into the totals rather than vanish.
        let mut old = first;
        for n in 1..=2 {
            server.signal(Signal::SIGHUP);
            let fresh = wait_for("fresh workers", Duration::from_secs(15), || {
                let w = procs::workers(server.pid());
                (w.len() == 2 && w.iter().all(|p| !old.contains(p))).then_some(w)
            });
            old = fresh;
            let p = wait_page(addr, "the reload counted", |p| {
                p.get("tcplab_serve_reloads_total") == Some(n as f64)
            });
            assert!(
                p.value(REQ_2XX) >= 10.0 + n as f64,
                "{model} reload {n}:\n{}",
                p.text
            );
        }
        // A worker killed: replaced, counted, and still nothing lost.
        let victim = old[0];
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(victim), Signal::SIGKILL).unwrap();
        let p = wait_page(addr, "the respawn counted", |p| {
            p.get("tcplab_serve_worker_respawns_total") == Some(1.0)
        });
        procs::wait_workers(server.pid(), 2);
        assert!(p.value(REQ_2XX) >= 12.0, "{}", p.text);
        assert_eq!(p.value(REQ_4XX), 1.0, "{}", p.text);
        drop(server);
    }
}

#[test]
fn openmetrics_when_asked_and_404_elsewhere() {
    let (_server, addr) = serve(&["--model", "reactor", "--workers", "1"]);
    let r = get_with(
        addr,
        "/metrics",
        "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let body = r.text();
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(
        body.contains("# TYPE tcplab_serve_requests counter\n"),
        "{body}"
    );
    let r = get_with(addr, "/metrics", "Accept: text/plain\r\n").unwrap();
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(!r.text().contains("# EOF"));
    assert_eq!(get_with(addr, "/metrics/", "").unwrap().status, 404);
}
