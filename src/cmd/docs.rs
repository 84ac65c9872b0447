//! `tcplab completions SHELL` and `tcplab man`, generated from the same clap definitions as
//! `--help`, so the three never drift apart.

use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "tcplab", &mut buf);
    crate::output::print(&String::from_utf8_lossy(&buf))
}

pub fn man() -> anyhow::Result<ExitCode> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut buf)?;
    let mut page = String::from_utf8_lossy(&buf).into_owned();
    // One page documents every subcommand's options, the way git's and cargo's pages do.
    for sub in Cli::command().get_subcommands() {
        page.push_str(&subcommand_section(sub, "tcplab"));
    }
    crate::output::print(&page)
}

fn subcommand_section(cmd: &clap::Command, parent: &str) -> String {
    let name = format!("{parent} {}", cmd.get_name());
    let mut s = format!(".SH \"{}\"\n", roff_escape(&name.to_uppercase()));
    if let Some(about) = cmd.get_about() {
        s.push_str(&format!("{}\n", roff_escape(&about.to_string())));
    }
    for arg in cmd.get_arguments() {
        if arg.is_hide_set() || arg.get_id() == "help" || arg.get_id() == "version" {
            continue;
        }
        let long = arg.get_long().map(|l| roff_escape(&format!("--{l}")));
        let mut flag = match (arg.get_short(), long) {
            (Some(c), Some(l)) => format!("\\fB\\-{c}\\fR, \\fB{l}\\fR"),
            (None, Some(l)) => format!("\\fB{l}\\fR"),
            (Some(c), None) => format!("\\fB\\-{c}\\fR"),
            (None, None) => format!("\\fI{}\\fR", arg.get_id().as_str().to_uppercase()),
        };
        if arg.get_action().takes_values() && arg.get_long().is_some() {
            let value = arg
                .get_value_names()
                .and_then(|v| v.first().map(|n| n.to_string()))
                .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
            flag.push_str(&format!(" \\fI{}\\fR", roff_escape(&value)));
        }
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        let default = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        let default = if default.is_empty() {
            String::new()
        } else {
            format!(" [default: {}]", default.join(", "))
        };
        s.push_str(&format!(".TP\n{flag}\n{}{}\n", roff_escape(&help), default));
    }
    for sub in cmd.get_subcommands() {
        s.push_str(&subcommand_section(sub, &name));
    }
    s
}

fn roff_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('-', "\\-")
}
