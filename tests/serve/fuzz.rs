//! Mutation fuzz of requests, kept as a regression suite (bounded: a fixed seed, a few hundred
//! requests, a few seconds): valid requests with bytes flipped, inserted, deleted, repeated
//! and cut, sent on fresh connections and between valid requests on kept-alive ones. Whatever
//! arrives, the answer is a clean sequence of HTTP/1.1 responses and a close, the valid
//! requests before a mutated one are answered as usual, and no worker dies.

use testkit::http;

use super::serve;
use http::exchange;
use testkit::server_procs as procs;

const SEEDS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /index.html?x=1 HTTP/1.1\r\nHost: t\r\nUser-Agent: fuzz\r\nRange: bytes=1-3\r\nIf-None-Match: \"x\"\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    b"PUT /y HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n",
    b"GET /status HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    b"GET /docs HTTP/1.0\r\nConnection: keep-alive\r\nIf-Modified-Since: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n",
];

/// The request sent before and after a mutated one on a kept-alive connection.
const PROBE: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n";

/// xorshift64*: a fixed seed gives the same requests on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\0",
    b"\r",
    b"\n",
    b"\r\n",
    b"\r\n\r\n",
    b" ",
    b"\t",
    b":",
    b",",
    b";",
    b"\"",
    b"%",
    b"/",
    b"\x7f",
    b"\xff",
    b"0",
    b"9",
    b"-",
    b"+",
    b"\x0b",
    b"..",
    b"%00",
    b"chunked",
];

/// One to four mutations of a seed.
fn mutate(rng: &mut Rng) -> Vec<u8> {
    let mut r = SEEDS[rng.below(SEEDS.len())].to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(r.len() + 1);
        match rng.below(7) {
            0 if at < r.len() => r[at] ^= 1 << rng.below(8),
            1 if at < r.len() => r[at] = INTERESTING[rng.below(INTERESTING.len())][0],
            2 => {
                let s = INTERESTING[rng.below(INTERESTING.len())];
                r.splice(at..at, s.iter().copied());
            }
            3 => {
                let end = (at + 1 + rng.below(16)).min(r.len());
                r.drain(at.min(end)..end);
            }
            4 => {
                let end = (at + 1 + rng.below(32)).min(r.len());
                let copy = r[at.min(end)..end].to_vec();
                r.splice(at..at, copy);
            }
            5 => r.truncate(at),
            _ => {
                let b = if at < r.len() { r[at] } else { b'a' };
                let n = 100 + rng.below(20_000);
                r.splice(at..at, std::iter::repeat_n(b, n));
            }
        }
    }
    r
}

/// Splits `raw` into (status, body) responses; None if it is not a clean sequence of them.
/// (No seed is a HEAD, so every response but 1xx and 304 has the body its length says.)
fn responses(raw: &[u8]) -> Option<Vec<(u16, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let end = rest.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = std::str::from_utf8(&rest[..end]).ok()?;
        let status: u16 = head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
        let len: usize = match head.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_string)
        }) {
            Some(v) => v.trim().parse().ok()?,
            None if status == 100 || status == 304 => 0,
            None => return None,
        };
        let body = rest.get(end..end + len)?;
        out.push((status, body.to_vec()));
        rest = &rest[end + len..];
    }
    Some(out)
}

#[test]
fn mutated_requests_get_clean_answers_and_no_worker_dies() {
    let top = tempfile::tempdir().unwrap();
    std::fs::create_dir(top.path().join("docs")).unwrap();
    std::fs::write(top.path().join("index.html"), "index\n").unwrap();
    let (server, addr) = serve(&["--root", top.path().to_str().unwrap(), "--workers", "2"]);
    let workers = procs::wait_workers(server.pid(), 2);
    let mut rng = Rng(0x7c9_1ab5_3e11_d00d);
    // Fresh connections: one mutated request each.
    for i in 0..600 {
        let req = mutate(&mut rng);
        let raw = exchange(addr, &req);
        let parsed = responses(&raw);
        assert!(
            parsed.is_some(),
            "fresh {i}: {:?} answered {:?}",
            String::from_utf8_lossy(&req),
            String::from_utf8_lossy(&raw)
        );
    }
    // Kept-alive connections: a valid request, a mutated one, a valid one, in one write.
    for i in 0..200 {
        let req = mutate(&mut rng);
        let raw = exchange(addr, &[PROBE, &req, PROBE].concat());
        let parsed = responses(&raw).unwrap_or_else(|| {
            panic!(
                "kept-alive {i}: {:?} answered {:?}",
                String::from_utf8_lossy(&req),
                String::from_utf8_lossy(&raw)
            )
        });
        assert_eq!(
            parsed.first(),
            Some(&(200, b"index\n".to_vec())),
            "kept-alive {i}: the request before {:?}",
            String::from_utf8_lossy(&req)
        );
        assert!(
            parsed.len() <= 5,
            "kept-alive {i}: {} answers",
            parsed.len()
        );
    }
    assert_eq!(procs::workers(server.pid()), workers, "a worker died");
    assert_eq!(http::get(addr, "/index.html").text(), "index\n");
}
