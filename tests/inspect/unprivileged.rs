//! `tcplab net` and `tcplab ps` as an unprivileged user (`setpriv --reuid 65534`): no panic,
//! exit 0, and the owners of sockets held by another user's process are unknown (null), never
//! guessed as "nobody".

use std::net::TcpStream;
use std::process::Output;

use testkit::inspect::as_nobody;

use serde_json::Value;

fn json_ok(out: &Output) -> Vec<Value> {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("JSON")
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn net_as_nobody_marks_others_owners_unknown() {
    let listener = testkit::inspect::listener_on_a_quiet_port();
    let port = listener.local_addr().unwrap().port();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();

    let socks = json_ok(&as_nobody(&["net", "--json", "--port", &port.to_string()]));
    assert_eq!(socks.len(), 3, "{socks:?}");
    for s in &socks {
        if nix::unistd::geteuid().is_root() {
            assert!(s["owners"].is_null(), "owner of root's socket guessed: {s}");
        }
        assert!(s["inode"].as_u64().unwrap() > 0);
    }
    // Without owners it still lists the sockets, and the text table works too.
    let socks = json_ok(&as_nobody(&[
        "net",
        "--json",
        "--no-owners",
        "--port",
        &port.to_string(),
    ]));
    assert_eq!(socks.len(), 3, "{socks:?}");
    let table = as_nobody(&["net", "--port", &port.to_string()]);
    assert!(table.status.success());
    assert!(String::from_utf8_lossy(&table.stdout).contains(&format!("127.0.0.1:{port}")));
    drop((client, server, listener));
}

#[test]
fn ps_as_nobody_lists_this_process() {
    let procs = json_ok(&as_nobody(&["ps", "--json"]));
    let me = std::process::id() as i64;
    let mine = procs
        .iter()
        .find(|p| p["pid"] == me)
        .expect("this test process listed");
    assert_eq!(
        mine["uid"].as_u64(),
        Some(nix::unistd::getuid().as_raw() as u64)
    );
    let tree = as_nobody(&["ps", "--tree"]);
    assert!(tree.status.success());
    assert!(!String::from_utf8_lossy(&tree.stderr).contains("panicked"));
}
