//! The `ps` and `net` commands as a user meets them: a closed pipe, a bad flag value, the
//! per-state summary, filters.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

#[test]
fn closed_pipe_ends_quietly() {
    for args in [&["ps"][..], &["ps", "--tree"], &["ps", "--json"]] {
        // A one-page pipe, so the output cannot fit and the write must meet the hang-up.
        let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        nix::fcntl::fcntl(&read_end, nix::fcntl::FcntlArg::F_SETPIPE_SZ(4096)).unwrap();
        let mut child = testkit::tcplab()
            .args(args)
            .stdout(Stdio::from(write_end))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read one byte, then hang up, as `| head -c1` does.
        let mut out = std::fs::File::from(read_end);
        let mut byte = [0u8; 1];
        let _ = out.read(&mut byte);
        drop(out);
        let (status, err) = testkit::exit_and_stderr(
            &mut child,
            &format!("tcplab {args:?} after the hang-up"),
            Duration::from_secs(10),
        );
        assert!(status.success(), "{args:?}: {status:?} {err}");
        assert!(err.is_empty(), "{args:?} wrote to stderr: {err}");
    }
}

#[test]
fn unknown_state_is_one_clear_line() {
    let out = testkit::tcplab()
        .args(["net", "--state", "HALF_OPEN"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("unknown TCP state `HALF_OPEN`"), "{err}");
}

#[test]
fn filters_and_summary_agree_with_the_sockets_made() {
    let listener = testkit::inspect::listener_on_a_quiet_port();
    let addr = listener.local_addr().unwrap();
    let port = addr.port().to_string();
    let mut held = Vec::new();
    for _ in 0..4 {
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = listener.accept().unwrap();
        held.push((c, s));
    }
    let run = |args: &[&str]| -> Value {
        let out = testkit::tcplab().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let summary = run(&["net", "--summary", "--json", "--port", &port]);
    assert_eq!(summary["LISTEN"], 1);
    assert_eq!(summary["ESTABLISHED"], 8);
    assert_eq!(summary["TIME_WAIT"], 0);
    let listen = run(&["net", "--json", "--listen", "--port", &port]);
    assert_eq!(listen.as_array().unwrap().len(), 1);
    assert_eq!(listen[0]["local"], addr.to_string());
    let est = run(&["net", "--json", "--state", "established", "--port", &port]);
    assert_eq!(est.as_array().unwrap().len(), 8);
    assert!(est
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["owners"][0]["pid"] == std::process::id()));
    let text = testkit::tcplab()
        .args(["net", "--summary", "--port", &port])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().eq(["ESTABLISHED", "8"])),
        "{text}"
    );
    drop((held, listener));
}

/// `net --json` is formatted in blocks of 256 sockets on two threads and written in order:
/// with several blocks, every socket is there once, the array is valid JSON, and a reader
/// that hangs up half-way ends the command quietly.
#[test]
fn json_of_many_sockets_has_each_once_and_survives_a_hang_up() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let port = addr.port().to_string();
    let mut held = Vec::new();
    for _ in 0..300 {
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = listener.accept().unwrap();
        held.push((c, s));
    }
    let mut expected: Vec<String> = held
        .iter()
        .flat_map(|(c, s)| [c.local_addr().unwrap(), s.local_addr().unwrap()])
        .map(|a| a.to_string())
        .collect();
    expected.push(addr.to_string());
    expected.sort();
    for args in [&["net", "--json"][..], &["net", "--info", "--json"]] {
        let out = testkit::tcplab()
            .args(args)
            .args(["--port", &port])
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.starts_with("[\n{") && text.ends_with("}\n]\n"),
            "{args:?}"
        );
        let list: Value = serde_json::from_str(&text).unwrap();
        let mut locals: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["local"].as_str().unwrap().to_string())
            .collect();
        locals.sort();
        assert_eq!(locals, expected, "{args:?}");
    }

    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    nix::fcntl::fcntl(&read_end, nix::fcntl::FcntlArg::F_SETPIPE_SZ(4096)).unwrap();
    let mut child = testkit::tcplab()
        .args(["net", "--info", "--json", "--port", &port])
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::fs::File::from(read_end);
    let mut some = [0u8; 1000];
    let _ = out.read(&mut some);
    drop(out);
    let status = testkit::wait_for("exit after the hang-up", Duration::from_secs(10), || {
        child.try_wait().unwrap()
    });
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{status:?} {err}");
    assert!(err.is_empty(), "{err}");
    drop((held, listener));
}

/// `net`'s address columns are as wide as the addresses listed, as `ss` sizes them: an IPv4
/// listener's row keeps its REMOTE right after its LOCAL (they were 45 columns each, room for
/// the longest IPv6 address, so every row took about 170 columns).
#[test]
fn address_columns_fit_the_addresses_listed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let local = listener.local_addr().unwrap();
    let out = testkit::tcplab()
        .args(["net", "--listen", "--port", &local.port().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let row = lines
        .find(|l| l.contains(&local.to_string()))
        .unwrap_or_else(|| panic!("no row for {local}:\n{text}"));
    let at = row.find(&local.to_string()).unwrap();
    assert_eq!(header.find("LOCAL"), Some(at), "{text}");
    // REMOTE starts one column after the longer of the title and the address.
    let remote = at + local.to_string().len().max("LOCAL".len()) + 1;
    assert_eq!(header.find("REMOTE"), Some(remote), "{text}");
    assert_eq!(row.find("0.0.0.0:0"), Some(remote), "{text}");
}
