//! Writing a command's output: a closed pipe (`tcplab ps | head`) ends the command quietly
//! and successfully, as it does for ps and ss, instead of an error; and how wide its lines
//! may be.

use std::io::{self, Write};
use std::process::ExitCode;

/// Writes `text` to stdout; a broken pipe is not an error.
pub fn print(text: &str) -> anyhow::Result<ExitCode> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(anyhow::anyhow!("cannot write to stdout: {e}")),
    }
}

/// Writes `bytes` to stdout as they are (a block of a longer output); Ok(false) once the reader
/// has gone away, so the caller can stop.
pub fn write(bytes: &[u8]) -> anyhow::Result<bool> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(anyhow::anyhow!("cannot write to stdout: {e}")),
    }
}

/// Writes one line and flushes at once (for streams like `trace`); Ok(false) once the reader
/// has gone away, so the caller can stop.
pub fn print_line(line: &str) -> anyhow::Result<bool> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(anyhow::anyhow!("cannot write to stdout: {e}")),
    }
}

/// How many columns a line of a table may take, as procps `ps` decides it: in a terminal, its
/// width (or `COLUMNS` when that is a number, as ps lets it override); piped or redirected, no
/// limit (None), so `tcplab ps | grep` sees whole command lines.
pub fn line_width() -> Option<usize> {
    let terminal = crate::kernel::tty::stdout_columns()?;
    let columns = std::env::var("COLUMNS").ok();
    Some(
        columns
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&c| c > 0)
            .unwrap_or(terminal),
    )
}
