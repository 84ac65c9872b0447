//! The command line. The doc comments here are the help text, the man page and the shell
//! completions (`tcplab man`, `tcplab completions`), so they are written for users.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::server::models::Model;
use crate::server::worker_table::MAX_WORKERS;
use crate::units::{
    parse_count, parse_duration, parse_duration_within, parse_size, parse_size_within, UnitError,
};

/// The dashboard's shortest refresh interval: below it, reading every process and socket is
/// most of what the machine does.
pub const MIN_INTERVAL: Duration = Duration::from_millis(50);

fn refresh_interval(s: &str) -> Result<Duration, UnitError> {
    parse_duration_within(s, MIN_INTERVAL, Duration::MAX)
}

/// A command line that parses but asks for what cannot be (an unknown TCP state): `lib::run`
/// prints it as `tcplab <command>: why` and exits 2, like the errors clap finds itself.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// See the TCP state machine and the Unix process lifecycle on a real kernel.
///
/// A live dashboard of processes (pid, ppid, pgid, sid, zombies) and TCP sockets (state, queues,
/// owners), live state transitions from the kernel, a real HTTP/1.1 server, and one demo per
/// lesson of the classic "build a web server" tutorial.
#[derive(Debug, Parser)]
#[command(name = "tcplab", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Live dashboard: processes, sockets, the TCP state machine, a server (the default in a terminal)
    Tui(TuiArgs),
    /// Run the HTTP/1.1 server (an epoll reactor by default)
    Serve(ServeArgs),
    /// Stop a running server: TERM, or QUIT with --graceful; waits until it is gone
    Stop(StopArgs),
    /// Reload a running server (HUP): fresh workers start, old ones drain; a one-process model
    /// reopens its logs in place
    Reload(ControlArgs),
    /// Make a running server reopen its log files (USR1), e.g. after logrotate
    Reopen(ControlArgs),
    /// Show a running server's master and workers
    Status(ControlArgs),
    /// List processes with pid, ppid, pgid, sid, tty, tpgid, state (like `ps -axj`)
    Ps(PsArgs),
    /// List TCP sockets with state, queues, timers and every owning process (like `ss -tanp`)
    Net(NetArgs),
    /// Print TCP state transitions live, from the kernel's tracepoint
    Trace(TraceArgs),
    /// Prometheus exporter of the inspector's view: sockets, accept queues, zombies, transitions
    Metrics(MetricsArgs),
    /// Run one lesson of the tutorial as a live demo
    Demo(DemoArgs),
    /// Walk through the tutorial's lessons, each step checked against the live kernel
    Learn(LearnArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Print the man page (roff)
    Man,
}

/// The subcommand a command line names (its first word that is not a flag), if it names one.
pub fn typed_command(mut args: impl Iterator<Item = std::ffi::OsString>) -> Option<String> {
    use clap::CommandFactory;
    let word = args.find(|a| !a.to_string_lossy().starts_with('-'))?;
    let word = word.to_string_lossy();
    Cli::command()
        .get_subcommands()
        .any(|c| c.get_name() == word)
        .then(|| word.into_owned())
}

/// clap's report of a rejected command line as one line: its message and its tips, without
/// the usage and the pointer to --help that follow.
pub fn one_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let mut paragraphs = text.split("\n\n");
    let first = paragraphs.next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let mut line = first.split_whitespace().collect::<Vec<_>>().join(" ");
    for tip in paragraphs.filter(|p| p.trim_start().starts_with("tip:")) {
        line.push_str("; ");
        line.push_str(&tip.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    line
}

impl Command {
    /// The subcommand as typed, for the `tcplab <command>:` prefix of its messages.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Tui(_) => "tui",
            Command::Serve(_) => "serve",
            Command::Stop(_) => "stop",
            Command::Reload(_) => "reload",
            Command::Reopen(_) => "reopen",
            Command::Status(_) => "status",
            Command::Ps(_) => "ps",
            Command::Net(_) => "net",
            Command::Trace(_) => "trace",
            Command::Metrics(_) => "metrics",
            Command::Demo(_) => "demo",
            Command::Learn(_) => "learn",
            Command::Completions(_) => "completions",
            Command::Man => "man",
        }
    }
}

#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Refresh interval, e.g. 500ms, 2s; at least 50ms
    #[arg(long, value_parser = refresh_interval, default_value = "1s")]
    pub interval: Duration,
}

impl Default for TuiArgs {
    fn default() -> Self {
        TuiArgs {
            interval: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Server design
    #[arg(long, value_enum, default_value_t = Model::Reactor)]
    pub model: Model,
    /// Worker processes, 1 to 256 (default: the number of CPUs)
    #[arg(long, value_parser = parse_count::<usize, 1, { MAX_WORKERS as u64 }>)]
    pub workers: Option<usize>,
    /// Address to listen on; port 0 picks a free port (the ready line tells which)
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve static files from this directory and nothing outside it (symlinks that lead out
    /// of it are 404; relative ones that stay inside are followed)
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Detach: fork, setsid, fork again, chdir /, stdio to /dev/null
    #[arg(long)]
    pub daemon: bool,
    /// Pid file (default: /run/tcplab.pid as root, else $XDG_RUNTIME_DIR or /tmp)
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Access log in the combined format; `-` for stderr (off by default)
    #[arg(long)]
    pub access_log: Option<PathBuf>,
    /// Error log (default: stderr)
    #[arg(long)]
    pub error_log: Option<PathBuf>,
    /// Largest request body accepted, e.g. 1MiB
    #[arg(long, value_parser = parse_size, default_value = "1MiB")]
    pub max_body: u64,
    /// Longest request line accepted
    #[arg(long, value_parser = parse_size, default_value = "8KiB")]
    pub max_request_line: u64,
    /// Largest header block accepted
    #[arg(long, value_parser = parse_size, default_value = "16KiB")]
    pub max_header_size: u64,
    /// Most header fields accepted
    #[arg(long, value_parser = parse_count::<usize, 1, { u64::MAX }>, default_value_t = 100)]
    pub max_headers: usize,
    /// Most connections open at once per process; past it, stop accepting until one closes
    #[arg(long, value_parser = parse_count::<usize, 1, { u64::MAX }>, default_value_t = 10_000)]
    pub max_connections: usize,
    /// Time a client has to send a whole request head (slowloris protection)
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub header_timeout: Duration,
    /// Time an idle keep-alive connection is kept open
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub keepalive_timeout: Duration,
    /// On a graceful stop (QUIT), force the exit after this long
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub shutdown_timeout: Duration,
    /// Each worker listens on a socket of its own (SO_REUSEPORT) instead of sharing the master's:
    /// the design tcplab measured and rejected (docs/serve.md); kept for the benchmark
    #[arg(long, hide = true)]
    pub reuseport: bool,
}

#[derive(Debug, Args)]
pub struct ControlArgs {
    /// Pid file of the server
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Send QUIT: finish requests in flight, then exit
    #[arg(long)]
    pub graceful: bool,
    #[command(flatten)]
    pub control: ControlArgs,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show the process tree
    #[arg(long)]
    pub tree: bool,
    /// Only zombies and their parents
    #[arg(long)]
    pub zombies: bool,
    /// JSON output (schema: docs/json.md)
    #[arg(long)]
    pub json: bool,
    /// Whole command lines in a terminal too, never cut at its edge (like `ps -ww`)
    #[arg(short = 'w', long)]
    pub wide: bool,
}

#[derive(Debug, Args)]
pub struct NetArgs {
    /// Only sockets in this state (kernel name, e.g. TIME_WAIT); repeatable
    #[arg(long = "state", value_name = "S")]
    pub states: Vec<String>,
    /// Only sockets with this local or remote port
    #[arg(long)]
    pub port: Option<u16>,
    /// Only listening sockets
    #[arg(long)]
    pub listen: bool,
    /// Print the count of sockets per state
    #[arg(long)]
    pub summary: bool,
    /// Do not look up owning processes (faster)
    #[arg(long)]
    pub no_owners: bool,
    /// JSON output (schema: docs/json.md)
    #[arg(long)]
    pub json: bool,
    /// Inside each connection, like `ss -ti`: rtt, cwnd, ssthresh, mss, retransmits, bytes,
    /// segments, delivery and pacing rate, congestion control (the kernel's tcp_info)
    #[arg(long, conflicts_with = "summary")]
    pub info: bool,
    /// Throughput: sample the kernel's byte counters twice and print bytes per second sent and
    /// received, per socket (sockets present in both samples only)
    #[arg(long, conflicts_with_all = ["summary", "info"])]
    pub rate: bool,
    /// With --rate: time between the two samples, 10ms to 1h
    #[arg(long, value_parser = parse_rate_interval, default_value = "1s", requires = "rate")]
    pub interval: Duration,
    /// With --rate: one line per owning process (a socket held by several processes counts
    /// in full for each of them, and the SHARED column says how many)
    #[arg(long, requires = "rate", conflicts_with = "no_owners")]
    pub by_process: bool,
}

/// `net --rate --interval`: long enough to measure, short enough to wait for.
fn parse_rate_interval(s: &str) -> Result<Duration, UnitError> {
    parse_duration_within(s, Duration::from_millis(10), Duration::from_secs(3600))
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Address to answer scrapes on (GET /metrics)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9814")]
    pub listen: std::net::SocketAddr,
    /// Break sockets down by state for this local port; repeatable (default: every listening port)
    #[arg(long = "port", value_name = "P")]
    pub ports: Vec<u16>,
    /// Break down at most this many ports; the ones with the most sockets are kept
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub max_ports: usize,
    /// List at most this many parents of zombies; the ones with the most are kept
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_parents: usize,
    /// Do not count transitions from the kernel tracepoint, even as root
    #[arg(long)]
    pub no_transitions: bool,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Only transitions with this local or remote port
    #[arg(long)]
    pub port: Option<u16>,
    /// One JSON object per line (schema: docs/json.md)
    #[arg(long)]
    pub json: bool,
    /// Exit after this many lines: transitions, or finished connections with --timeline
    #[arg(long, value_parser = parse_count::<u64, 1, { u64::MAX }>)]
    pub count: Option<u64>,
    /// Exit after this long, e.g. 10s
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// One line per finished connection: its whole life
    #[arg(long)]
    pub timeline: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(subcommand)]
    pub demo: Demo,
}

#[derive(Debug, Args, Clone, Default)]
pub struct DemoCommon {
    /// Stop after this long (default: until Ctrl+C)
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
}

/// What every network demo takes.
#[derive(Debug, Args, Clone, Default)]
pub struct NetDemo {
    /// Port on 127.0.0.1 to listen on; 0 picks a free one (the first line tells which)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    #[command(flatten)]
    pub common: DemoCommon,
}

/// The side of a connection that closes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Closer {
    /// The client closes first: TIME_WAIT on the client's ephemeral port
    #[default]
    Client,
    /// The server closes first: TIME_WAIT on the server's own port
    Server,
}

#[derive(Debug, Subcommand)]
pub enum Demo {
    /// A parent forks a child, both print their ids, the parent reaps the child
    Fork(DemoCommon),
    /// Children exit and their parent never reaps them
    Zombie {
        /// Number of zombie children, 1 to 1000
        #[arg(long, value_parser = parse_count::<usize, 1, 1000>, default_value_t = 3)]
        count: usize,
        #[command(flatten)]
        common: DemoCommon,
    },
    /// A child outlives its parent and is adopted
    Orphan(DemoCommon),
    /// Becoming a daemon: umask, fork, setsid, fork, printing the ids after each step
    Daemon(DemoCommon),
    /// Handlers installed, one signal ignored, one blocked; see the /proc masks
    Signal(DemoCommon),
    /// An active close that leaves a TIME_WAIT socket
    ///
    /// Prints each state of the teardown as the kernel reports it, then the TIME_WAIT socket's
    /// remaining time until it expires.
    TimeWait {
        /// Which side closes first (the active closer) and so holds TIME_WAIT
        #[arg(long, value_enum, default_value_t = Closer::Client)]
        closer: Closer,
        #[command(flatten)]
        net: NetDemo,
    },
    /// The peer closes, the application never does
    ///
    /// The classic leak: CLOSE_WAIT stays until the application calls close(), here when the
    /// demo ends.
    CloseWait {
        /// Connections left in CLOSE_WAIT, 1 to 10000
        #[arg(long, value_parser = parse_count::<usize, 1, 10_000>, default_value_t = 3)]
        count: usize,
        #[command(flatten)]
        net: NetDemo,
    },
    /// A listener that never accepts; the accept queue fills
    ///
    /// Linux queues backlog + 1 finished handshakes; then it drops SYNs and later clients sit
    /// in SYN_SENT, retransmitting.
    Backlog {
        /// The listen() backlog, at most 4096; Linux queues backlog + 1 connections
        #[arg(long, value_parser = parse_count::<u32, 0, 4096>, default_value_t = 1)]
        backlog: u32,
        /// Connections the client attempts, one every 200ms; 1 to 1000
        #[arg(long, value_parser = parse_count::<usize, 1, 1000>, default_value_t = 6)]
        clients: usize,
        #[command(flatten)]
        net: NetDemo,
    },
    /// Forked children blocking in accept on one listener
    SharedAccept {
        /// Children blocking in accept, 1 to 64
        #[arg(long, value_parser = parse_count::<usize, 1, 64>, default_value_t = 3)]
        workers: usize,
        /// Connections the demo makes itself, one every 300ms, to show who takes each
        #[arg(long, default_value_t = 6)]
        connections: usize,
        #[command(flatten)]
        net: NetDemo,
    },
    /// What happens at FD_SETSIZE descriptors
    ///
    /// Shown safely: no descriptor past FD_SETSIZE ever goes to select(); the soft
    /// RLIMIT_NOFILE is raised (up to the hard limit) only if needed.
    SelectLimit(NetDemo),
    /// A sender and a receiver in two network namespaces over a shaped link
    ///
    /// A veth pair joins two private network namespaces; the sender's end is shaped by a tbf
    /// qdisc (a rate and a short queue), so the queue drops packets: watch the congestion
    /// window grow in slow start, fall at each loss and recover, and the retransmissions add
    /// up. Needs root (namespaces, tc); removes its namespaces on every exit.
    Congestion(CongestionDemo),
}

#[derive(Debug, Args, Clone)]
pub struct CongestionDemo {
    /// Rate of the shaped link, in Mbit/s
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub rate_mbit: u32,
    /// The qdisc's queue: packets beyond it are dropped (2KiB to 16MiB)
    #[arg(long, value_parser = parse_queue, default_value = "30KiB")]
    pub queue: u64,
    /// The sender stops after this long and the connection stays open, its counters still
    /// (default: it sends until the demo stops)
    #[arg(long, value_parser = parse_duration)]
    pub send: Option<Duration>,
    /// Congestion control for the connection, e.g. cubic, reno, bbr (default: the kernel's)
    #[arg(long)]
    pub congestion: Option<String>,
    #[command(flatten)]
    pub common: DemoCommon,
}

fn parse_queue(s: &str) -> Result<u64, UnitError> {
    parse_size_within(s, 2048, 16 << 20)
}

/// A lesson's options go with a lesson, never with `list` or `check` (run checks that in
/// `learn::run`). clap's `args_conflicts_with_subcommands` is not used: once any option was
/// given it reads `list` as the name of a lesson, so `learn --lang zh list` failed with "no
/// lesson `list`".
#[derive(Debug, Args)]
pub struct LearnArgs {
    #[command(subcommand)]
    pub command: Option<LearnCommand>,
    /// The lesson to open: its number or name (default: the first not done)
    pub lesson: Option<String>,
    /// Language of the lessons (default: from LC_ALL, LC_MESSAGES or LANG; zh_* is Chinese)
    #[arg(long, value_enum, global = true)]
    pub lang: Option<crate::learn::lang::Lang>,
    /// Forget the progress (of LESSON if one is named, else of every lesson) first
    #[arg(long)]
    pub reset: bool,
    /// Port the lessons' commands use (default: one that is free now)
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// How often the checks look at the kernel (default: 500ms)
    #[arg(long, value_parser = parse_duration)]
    pub interval: Option<Duration>,
}

#[derive(Debug, Subcommand)]
pub enum LearnCommand {
    /// Grade an exercise: run its check against the program listening on --port; exit 0 when it
    /// holds, 1 (with what was seen) when not
    Check(LearnCheckArgs),
    /// List the lessons and how far you got in each
    List,
}

#[derive(Debug, Args)]
pub struct LearnCheckArgs {
    /// The exercise
    #[arg(value_enum)]
    pub exercise: crate::learn::exercise::Exercise,
    /// The port the program under test listens on
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell
    pub shell: clap_complete::Shell,
}
