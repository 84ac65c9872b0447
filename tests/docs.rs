//! The documentation's relative links resolve: every `[text](path)` in README.md, docs/*.md and
//! bench/README.md names a file or directory of the repository (web links are not followed);
//! the documents `--help` points at hold what it says they hold.

use std::path::{Path, PathBuf};

/// The targets of the inline links in `text`, in order (without a title).
fn link_targets(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else { break };
        // `[t](path "title")`: the path is the first word.
        out.push(after[..end].split_whitespace().next().unwrap_or(""));
        rest = &after[end..];
    }
    out
}

fn documents(root: &Path) -> Vec<PathBuf> {
    let mut docs = vec![root.join("README.md"), root.join("bench/README.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    more.sort();
    docs.extend(more);
    docs
}

#[test]
fn relative_links_resolve() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut broken = Vec::new();
    let mut checked = 0;
    for doc in documents(root) {
        let text = std::fs::read_to_string(&doc).unwrap_or_else(|e| panic!("{doc:?}: {e}"));
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") || target.starts_with('#') {
                continue;
            }
            let path = target.split('#').next().unwrap_or(target);
            checked += 1;
            if !doc.parent().unwrap().join(path).exists() {
                broken.push(format!("{}: {target}", doc.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links that lead nowhere:\n{}",
        broken.join("\n")
    );
    assert!(
        checked >= 10,
        "only {checked} relative links found: is the parser right?"
    );
}

#[test]
fn the_link_reader_finds_inline_links() {
    let text = "see [a](docs/a.md) and ![b](assets/b.svg \"t\"), [c](https://x/y) (plain)";
    assert_eq!(
        link_targets(text),
        ["docs/a.md", "assets/b.svg", "https://x/y"]
    );
}

/// `--json` in `ps`, `net` and `trace --help` says where its schema is, and that place has it:
/// the schemas live in docs/json.md (the help once sent readers to the README, which has none).
#[test]
fn json_help_names_the_document_with_the_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for cmd in ["ps", "net", "trace"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tcplab"))
            .args([cmd, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with("--json"))
            .unwrap_or_else(|| panic!("no --json in `{cmd} --help`:\n{help}"));
        let doc = line
            .split_whitespace()
            .find_map(|w| {
                let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '/' && c != '.');
                w.ends_with(".md").then_some(w)
            })
            .unwrap_or_else(|| panic!("`{cmd} --help` names no document: {line}"));
        let text = std::fs::read_to_string(root.join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
        assert!(
            text.contains(&format!("`tcplab {cmd} --json")),
            "{doc} has no schema for `tcplab {cmd} --json`"
        );
    }
}
