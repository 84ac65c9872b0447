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
