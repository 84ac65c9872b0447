//! `tcplab trace`: live TCP state transitions, from the kernel's `sock:inet_sock_set_state`
//! tracepoint through a private tracefs instance, or sampled from the socket list when that is
//! not possible (and then said on every line).
//!
//! - [`session`]: one tracing session for any consumer (this command, the dashboard).
//! - [`live`]: a session on a thread, drained by the dashboard's tick.
//! - [`conns`]: per-socket memory: time in each state, owners, whole lives (timelines).
//! - [`sampled`]: the fallback that diffs socket lists.
//! - [`owners`]: who holds a socket, for transitions made in softirq.
//! - [`time_wait`]: TIME_WAIT, which the tracepoint cannot show, found by sampling.
//! - [`format`]: text and JSON output.

pub mod conns;
pub mod format;
pub mod live;
pub mod owners;
pub mod sampled;
pub mod session;
pub mod time_wait;

use std::os::fd::AsFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::cli::TraceArgs;
use crate::model::{Transition, TransitionSource};
use crate::output::print_line;
use conns::Timeline;
use session::{Flow, Options, Sink};

pub fn run(args: TraceArgs) -> anyhow::Result<ExitCode> {
    // Registered before the tracefs instance exists, so a signal always removes it.
    let stop_rx = crate::kernel::signals::stop_on_signals()?;
    let opts = Options {
        deadline: args.duration.map(|d| Instant::now() + d),
        ..Options::following(args.port)
    };
    let mut printer = Printer {
        json: args.json,
        timeline: args.timeline,
        left: args.count,
        source: TransitionSource::Tracepoint,
        pending: String::new(),
    };
    session::run(&opts, stop_rx.as_fd(), &mut printer)?;
    Ok(ExitCode::SUCCESS)
}

/// The command's sink: one line per transition (or per finished connection with
/// `--timeline`), until `--count` lines or stdout closes.
struct Printer {
    json: bool,
    timeline: bool,
    left: Option<u64>,
    source: TransitionSource,
    /// Lines not written yet: a batch goes out in one write, not one per transition.
    pending: String,
}

/// Write out buffered lines at least this often (bytes), even within one batch.
const FLUSH_AT: usize = 64 * 1024;

impl Sink for Printer {
    fn ready(&mut self, source: TransitionSource, detail: &str) -> anyhow::Result<Flow> {
        self.source = source;
        // The ready marker scripts and tests wait for, on stderr; on a terminal that shows
        // both streams the text header below says the same, once is enough.
        use std::io::IsTerminal;
        let header_shows_it =
            !self.json && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        match source {
            _ if header_shows_it => {}
            TransitionSource::Tracepoint => {
                eprintln!("tcplab trace: tracing via kernel tracepoint ({detail})")
            }
            TransitionSource::Sampled { interval } => eprintln!(
                "tcplab trace: SAMPLED every {} ({detail}): states shorter than that are missed",
                format::lasted(interval)
            ),
        }
        if self.json {
            return Ok(Flow::Continue);
        }
        Ok(
            match print_line(&format::text_header(source, detail, self.timeline))? {
                true => Flow::Continue,
                false => Flow::Stop,
            },
        )
    }

    fn transition(&mut self, t: &Transition, tl: Option<&Timeline>) -> anyhow::Result<Flow> {
        let line = match (self.timeline, tl) {
            (false, _) if self.json => format::json_line(t, self.source),
            (false, _) => format::text_line(t, self.source),
            (true, Some(tl)) if self.json => format::timeline_json(tl, self.source),
            (true, Some(tl)) => format::timeline_line(tl, self.source),
            (true, None) => return Ok(Flow::Continue),
        };
        self.emit(line)
    }

    fn sampled_transition(&mut self, t: &Transition, interval: Duration) -> anyhow::Result<Flow> {
        if self.timeline {
            return Ok(Flow::Continue);
        }
        let source = TransitionSource::Sampled { interval };
        self.emit(match self.json {
            true => format::json_line(t, source),
            false => format::text_line(t, source),
        })
    }

    fn flush(&mut self) -> anyhow::Result<Flow> {
        if self.pending.is_empty() {
            return Ok(Flow::Continue);
        }
        // One write for the whole batch: print_line adds back the last newline.
        let open = print_line(self.pending.trim_end_matches('\n'))?;
        self.pending.clear();
        Ok(if open { Flow::Continue } else { Flow::Stop })
    }

    fn notice(&mut self, text: &str) {
        eprintln!("tcplab trace: {text}");
    }

    fn lost(&mut self, total: u64) {
        eprintln!(
            "tcplab trace: the kernel's trace buffer overflowed: {} lost so far",
            crate::units::count(total, "transition", "transitions")
        );
    }
}

impl Printer {
    fn emit(&mut self, line: String) -> anyhow::Result<Flow> {
        self.pending.push_str(&line);
        self.pending.push('\n');
        if self.pending.len() >= FLUSH_AT && self.flush()? == Flow::Stop {
            return Ok(Flow::Stop);
        }
        if let Some(left) = self.left.as_mut() {
            *left -= 1;
            if *left == 0 {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }
}
