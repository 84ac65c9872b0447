//! The command line itself: every subcommand is there, help/man/completions agree, bad values
//! get one clear line and a non-zero exit.

use testkit::tcplab;

const SUBCOMMANDS: [&str; 12] = [
    "tui",
    "serve",
    "stop",
    "reload",
    "reopen",
    "status",
    "ps",
    "net",
    "trace",
    "demo",
    "completions",
    "man",
];

#[test]
fn help_lists_every_subcommand() {
    let out = tcplab().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for sub in SUBCOMMANDS {
        assert!(
            help.contains(&format!("  {sub} ")),
            "--help lacks {sub}:\n{help}"
        );
    }
}

#[test]
fn man_page_documents_every_subcommand() {
    let out = tcplab().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH tcplab"),
        "not roff:\n{page}"
    );
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!("TCPLAB {}", sub.to_uppercase())),
            "man lacks {sub}"
        );
    }
    assert!(
        page.contains("max\\-body"),
        "serve's options missing from man page"
    );
}

#[test]
fn completions_for_bash_name_the_subcommands() {
    let out = tcplab().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.contains("_tcplab"));
    for sub in SUBCOMMANDS {
        assert!(script.contains(sub), "completions lack {sub}");
    }
}

#[test]
fn bad_size_is_one_clear_line() {
    let out = tcplab()
        .args(["serve", "--max-body", "lots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("`lots` is not a size"), "{err}");
    assert!(!err.contains("panicked"));
}

/// Values out of range are usage errors, found by the command line itself before anything
/// starts: exit 2 and the flag with its bound, like every other bad flag.
#[test]
fn values_out_of_range_exit_2_naming_the_bound() {
    for (args, flag, bound) in [
        (&["trace", "--count", "0"][..], "--count", "at least 1"),
        (
            &["tui", "--interval", "10ms"],
            "--interval",
            "at least 50ms",
        ),
        (&["demo", "zombie", "--count", "0"], "--count", "at least 1"),
        (&["serve", "--workers", "0"], "--workers", "at least 1"),
        (
            &["serve", "--workers", "100000"],
            "--workers",
            "at most 256",
        ),
        (
            &["demo", "backlog", "--backlog", "5000"],
            "--backlog",
            "at most 4096",
        ),
        (
            &["serve", "--max-connections", "0"],
            "--max-connections",
            "at least 1",
        ),
    ] {
        let out = tcplab().args(args).output().unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with(&format!("tcplab {}: ", args[0])),
            "{args:?}: {err}"
        );
        assert!(err.contains(flag) && err.contains(bound), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// A failure that is not the command line's fault is one line with the command's name, exit 1.
#[test]
fn a_failure_is_one_line_naming_the_command() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = tcplab()
        .args(["serve", "--model", "iterative", "--listen", &addr])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("tcplab serve: cannot listen on"), "{err}");
}

/// `demo --help` (and the dashboard's demo menu, built from the same definitions) puts each
/// demo's name beside its description; a description that starts with the name again
/// ("fork  fork: a parent forks ...") spends a sixth of an 80-column menu on nothing.
#[test]
fn demo_descriptions_do_not_repeat_the_name() {
    let out = tcplab().args(["demo", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let mut seen = 0;
    for line in help.lines() {
        let mut words = line.split_whitespace();
        let (Some(name), Some(first)) = (words.next(), words.next()) else {
            continue;
        };
        if !line.starts_with("  ") || name == "help" || name.starts_with('-') {
            continue;
        }
        seen += 1;
        assert_ne!(first, format!("{name}:"), "{line}");
    }
    assert!(seen >= 10, "no demo listed in:\n{help}");
}
