//! Reading an exposition page back: series by name and labels, and `promtool check metrics`.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use testkit::http::{Client, Response};

/// Every sample of a page: `name{labels}` exactly as written, to its value.
#[derive(Debug, Clone)]
pub struct Page {
    pub text: String,
    pub samples: BTreeMap<String, f64>,
}

impl Page {
    pub fn parse(text: &str) -> Page {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                Some((series.to_string(), value.parse().ok()?))
            })
            .collect();
        Page {
            text: text.to_string(),
            samples,
        }
    }

    /// The value of one series, e.g. `tcplab_serve_requests_total{class="2xx"}`.
    pub fn get(&self, series: &str) -> Option<f64> {
        self.samples.get(series).copied()
    }

    pub fn value(&self, series: &str) -> f64 {
        self.get(series)
            .unwrap_or_else(|| panic!("no series {series} in:\n{}", self.text))
    }

    /// Series of the family `name` (with labels).
    pub fn family(&self, name: &str) -> Vec<(&str, f64)> {
        let prefix = format!("{name}{{");
        self.samples
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (k.as_str(), *v))
            .collect()
    }
}

/// One GET with extra header lines (each ending in CRLF); None when the connection closes
/// before a whole answer.
pub fn get_with(addr: SocketAddr, path: &str, extra: &str) -> Option<Response> {
    let mut c = Client::connect(addr);
    c.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n").as_bytes());
    c.try_response(false)
}

/// Scrapes `/metrics`, asserting a 200.
pub fn scrape(addr: SocketAddr) -> Page {
    let r = get_with(addr, "/metrics", "").expect("an answer to the scrape");
    assert_eq!(r.status, 200, "{}", r.text());
    Page::parse(&r.text())
}

/// `promtool` from Debian's `prometheus` package; `./scripts/test` installs it.
pub fn promtool() -> Command {
    let found = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "promtool is missing: run ./scripts/test (it installs Debian's prometheus package)"
    );
    Command::new("promtool")
}

/// `promtool check metrics` on a page: what it printed, or a panic with it.
pub fn assert_promtool_accepts(page: &str) {
    let mut child = promtool()
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // promtool exits 0 when the page parses; lint findings (names, units) are printed and
    // make it exit 3. Either way nothing may be printed for our pages.
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {:?}\n{said}\n--- page ---\n{page}",
        out.status
    );
}
