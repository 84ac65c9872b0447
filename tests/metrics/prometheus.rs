//! End to end with a real Prometheus (Debian's `prometheus`, installed by `./scripts/test`):
//! it scrapes `tcplab metrics` and a `tcplab serve` every second from a temporary config and
//! storage directory, with the example alert rules loaded, while this test makes known
//! states; its HTTP API must come to show them, both pages must have been read as
//! OpenMetrics, the queries the README suggests must run and answer, and the example
//! accept-queue alert must trip. Everything started is stopped at the end, whatever happens
//! (each process is a `Running`, stopped on drop).

use std::net::{SocketAddr, TcpListener};
use std::process::Stdio;
use std::time::Duration;

use testkit::server_procs as procs;
use testkit::{serve, wait_for, Running};

use crate::exporter::{
    exporter, fill_accept_queue, small_backlog_listener, time_waits, zombie_parent,
};
use crate::scrape::promtool;

/// A port free a moment ago: Prometheus's --web.listen-address cannot take port 0.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn rules_file() -> String {
    format!(
        "{}/assets/prometheus/tcplab-alerts.yml",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn start_prometheus(
    dir: &std::path::Path,
    targets: &[(&str, SocketAddr)],
) -> (Running, SocketAddr) {
    // Make sure the binary is there (promtool and prometheus ship together).
    drop(promtool());
    let jobs: String = targets
        .iter()
        .map(|(job, addr)| {
            format!("  - job_name: {job}\n    static_configs:\n      - targets: ['{addr}']\n")
        })
        .collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  scrape_timeout: 1s\n\
rule_files:\n  - '{}'\nscrape_configs:\n{jobs}",
        rules_file()
    );
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = std::process::Command::new("prometheus")
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn prometheus");
    (
        Running {
            child,
            stderr: None,
        },
        addr,
    )
}

/// GET on Prometheus's API with curl (its answers may be chunked or compressed); None
/// while it is not up.
fn api(prometheus: SocketAddr, path_and_query: &str) -> Option<serde_json::Value> {
    let out = std::process::Command::new("curl")
        .args(["-sf", "--max-time", "5", "--compressed"])
        .arg(format!("http://{prometheus}{path_and_query}"))
        .stderr(Stdio::null())
        .output()
        .expect("curl (./scripts/test installs it)");
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// The series an instant query returns; None when Prometheus refuses it (a query that does
/// not parse is a 400) or is not up.
fn query_series(prometheus: SocketAddr, promql: &str) -> Option<Vec<serde_json::Value>> {
    let doc = api(
        prometheus,
        &format!("/api/v1/query?query={}", encode(promql)),
    )?;
    if doc["status"] != "success" {
        return None;
    }
    doc["data"]["result"].as_array().cloned()
}

/// The value of an instant query's single series; None while there is none.
fn query(prometheus: SocketAddr, promql: &str) -> Option<f64> {
    let result = query_series(prometheus, promql)?;
    if result.len() != 1 {
        return None;
    }
    result[0]["value"][1].as_str()?.parse().ok()
}

/// The queries of the README's `promql` block, each with the comment above it.
fn documented_queries() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let block = doc
        .split("```promql\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a promql block in README.md");
    let mut queries = Vec::new();
    let mut comment = String::new();
    for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.strip_prefix('#') {
            Some(c) => comment = c.trim().to_string(),
            None => queries.push((comment.clone(), line.to_string())),
        }
    }
    queries
}

/// Percent-encoding for a query string value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn prometheus_sees_the_states_we_make() {
    let (_exporter, metrics_addr) = exporter(&[]);
    let (server, serve_addr) = serve(&["--workers", "2"]);
    procs::wait_workers(server.pid(), 2);
    let dir = tempfile::tempdir().unwrap();
    let (_prometheus, prom) = start_prometheus(
        dir.path(),
        &[
            ("tcplab_metrics", metrics_addr),
            ("tcplab_serve", serve_addr),
        ],
    );

    let queue = small_backlog_listener(2);
    let _waiting = fill_accept_queue(&queue, 2);
    // Exactly 50 on its port: none left there by earlier connections with the same number.
    let tw = testkit::inspect::listener_on_a_quiet_port();
    time_waits(&tw, 50);
    let parent = zombie_parent(3);
    for _ in 0..100 {
        assert_eq!(procs::get(serve_addr, "/not-here").unwrap().0, 404);
    }

    let q = queue.local_addr().unwrap();
    let tw_port = tw.local_addr().unwrap().port();
    // Each series is read as its last value over the past minute, so that one scrape that
    // overran its 1 s timeout on a loaded machine (a missed sample, and `up` 0 for a moment)
    // does not hide what earlier scrapes already brought in.
    let expect = |promql: String, want: f64| {
        wait_for(
            &format!("Prometheus to show {promql} = {want}"),
            Duration::from_secs(60),
            || (query(prom, &promql) == Some(want)).then_some(()),
        );
    };
    expect("max_over_time(up{job=\"tcplab_metrics\"}[1m])".into(), 1.0);
    expect("max_over_time(up{job=\"tcplab_serve\"}[1m])".into(), 1.0);
    expect(
        format!("last_over_time(tcplab_tcp_listen_queue{{listen=\"{q}\"}}[1m])"),
        3.0,
    );
    expect(
        format!("last_over_time(tcplab_tcp_listen_backlog{{listen=\"{q}\"}}[1m])"),
        2.0,
    );
    expect(
        format!(
            "last_over_time(tcplab_tcp_port_sockets{{port=\"{tw_port}\",state=\"TIME_WAIT\"}}[1m])"
        ),
        50.0,
    );
    expect(
        format!(
            "last_over_time(tcplab_zombie_parent_unreaped{{pid=\"{}\",comm=\"sleep\"}}[1m])",
            parent.pid()
        ),
        3.0,
    );
    expect(
        "last_over_time(tcplab_serve_requests_total{job=\"tcplab_serve\",class=\"4xx\"}[1m])"
            .into(),
        100.0,
    );
    expect(
        "sum(last_over_time(tcplab_serve_worker_requests_total{class=\"4xx\"}[1m]))".into(),
        100.0,
    );
    expect("last_over_time(tcplab_serve_workers[1m])".into(), 2.0);
    let source = match nix::unistd::geteuid().is_root() {
        true => "tracepoint",
        false => "none",
    };
    expect(
        format!("last_over_time(tcplab_tcp_transitions_source{{source=\"{source}\"}}[1m])"),
        1.0,
    );
    // Prometheus asked both for OpenMetrics and read them with its own parser of that
    // format: only there is `tcplab_build` an info metric (the classic text format has no
    // such type and would make it a gauge named tcplab_build_info).
    for job in ["tcplab_metrics", "tcplab_serve"] {
        let path = format!(
            "/api/v1/targets/metadata?metric=tcplab_build&match_target={}",
            encode(&format!("{{job=\"{job}\"}}"))
        );
        let meta = api(prom, &path).expect("the metadata API");
        assert_eq!(meta["data"][0]["type"], "info", "{job}: {meta}");
    }
    // The documented queries parse and, on what this test made, answer.
    let queries = documented_queries();
    assert!(queries.len() >= 5, "{queries:?}");
    for (what, promql) in &queries {
        assert!(
            query_series(prom, promql).is_some(),
            "Prometheus refused the documented query {promql}"
        );
        // What the answer must hold: a zombie waits a minute before it shows, and transitions
        // are counted only as root; the rest answer once there are two samples.
        let wanted = if promql.contains("tcplab_tcp_listen_queue") {
            Some(q.to_string())
        } else if promql.contains("tcplab_serve_requests_total") {
            Some("\"4xx\"".to_string())
        } else if promql.contains("zombie")
            || (promql.contains("transitions") && source != "tracepoint")
        {
            None
        } else {
            Some(String::new())
        };
        let Some(needle) = wanted else { continue };
        wait_for(
            &format!("{what}: {promql} to answer with {needle}"),
            Duration::from_secs(30),
            || {
                let series = query_series(prom, promql)?;
                series
                    .iter()
                    .any(|s| s["metric"].to_string().contains(&needle))
                    .then_some(())
            },
        );
    }
    // The example rules loaded and are evaluated: the full accept queue trips one.
    let rules = api(prom, "/api/v1/rules").expect("the rules API");
    let loaded = rules["data"]["groups"][0]["rules"]
        .as_array()
        .map_or(0, |r| r.len());
    assert_eq!(loaded, 6, "{rules}");
    wait_for(
        "the accept-queue alert for the full listener",
        Duration::from_secs(30),
        || {
            let alerts = api(prom, "/api/v1/alerts")?;
            alerts["data"]["alerts"]
                .as_array()?
                .iter()
                .any(|a| {
                    a["labels"]["alertname"] == "TcplabAcceptQueueNearlyFull"
                        && a["labels"]["listen"] == q.to_string().as_str()
                })
                .then_some(())
        },
    );
}

#[test]
fn promtool_accepts_the_example_rules() {
    let out = promtool()
        .args(["check", "rules", &rules_file()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
