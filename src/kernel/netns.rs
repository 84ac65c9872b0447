//! Private network namespaces for a demo: two namespaces joined by a veth pair, the sending
//! side shaped by a `tbf` qdisc, made with `ip` and `tc` (iproute2) and removed again by
//! [`Lab`]'s `Drop`, so every way out of the demo (its end, a signal, an error, a panic) takes
//! them down. Only SIGKILL leaves them behind: `ip netns del tcplab-snd-PID` removes them.
//!
//! Threads enter a namespace with `setns(2)`; sockets keep the namespace they were made in.

use std::fs::File;
use std::process::{Command, Stdio};

use nix::sched::{setns, CloneFlags};

/// Why the lab could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// Namespaces, veth or the qdisc are missing or not allowed (not root): a usage problem.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Failed(#[from] CommandError),
}

/// An iproute2 command that could not be run, or that failed: the command and the first line
/// of what it said on stderr.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("`{command}`: {said}")]
    Failed { command: String, said: String },
}

/// How the sending side is shaped.
#[derive(Debug, Clone, Copy)]
pub struct Shaping {
    /// Bits per second.
    pub rate_bits: u64,
    /// The tbf queue (`limit`), bytes: packets beyond it are dropped.
    pub queue_bytes: u64,
}

/// Two namespaces, a veth pair between them, a tbf on the sender's end.
pub struct Lab {
    pub sender: String,
    pub receiver: String,
    pub sender_addr: std::net::Ipv4Addr,
    pub receiver_addr: std::net::Ipv4Addr,
    /// The namespaces this lab has made, deleted on drop.
    made: Vec<String>,
    /// The namespace the process started in, to come back to before cleaning up.
    original: File,
}

impl Lab {
    /// Builds the lab, named after this process.
    pub fn create(shaping: Shaping) -> Result<Lab, LabError> {
        let pid = std::process::id();
        let original = File::open("/proc/thread-self/ns/net").map_err(|e| {
            LabError::Unavailable(format!("cannot open this thread's namespace: {e}"))
        })?;
        let mut lab = Lab {
            sender: format!("tcplab-snd-{pid}"),
            receiver: format!("tcplab-rcv-{pid}"),
            sender_addr: [10, 203, 0, 1].into(),
            receiver_addr: [10, 203, 0, 2].into(),
            made: Vec::new(),
            original,
        };
        for name in [lab.sender.clone(), lab.receiver.clone()] {
            ip(&["netns", "add", &name]).map_err(|e| {
                LabError::Unavailable(format!(
                    "cannot create a network namespace (needs root and `ip` from iproute2): {e}"
                ))
            })?;
            lab.made.push(name);
        }
        // Interface names are at most 15 bytes: "tl" + pid + one letter fits.
        let (snd_dev, rcv_dev) = (format!("tl{pid}s"), format!("tl{pid}r"));
        ip(&[
            "-n",
            &lab.sender,
            "link",
            "add",
            &snd_dev,
            "type",
            "veth",
            "peer",
            "name",
            &rcv_dev,
            "netns",
            &lab.receiver,
        ])
        .map_err(|e| LabError::Unavailable(format!("cannot create a veth pair: {e}")))?;
        for (ns, dev, addr) in [
            (&lab.sender, &snd_dev, lab.sender_addr),
            (&lab.receiver, &rcv_dev, lab.receiver_addr),
        ] {
            let cidr = format!("{addr}/24");
            ip(&["-n", ns, "addr", "add", &cidr, "dev", dev]).map_err(LabError::Failed)?;
            ip(&["-n", ns, "link", "set", dev, "up"]).map_err(LabError::Failed)?;
            ip(&["-n", ns, "link", "set", "lo", "up"]).map_err(LabError::Failed)?;
        }
        let rate = format!("{}bit", shaping.rate_bits);
        let limit = format!("{}b", shaping.queue_bytes);
        run(
            "tc",
            &[
                "-n",
                &lab.sender,
                "qdisc",
                "add",
                "dev",
                &snd_dev,
                "root",
                "tbf",
                "rate",
                &rate,
                "burst",
                "16kb",
                "limit",
                &limit,
            ],
        )
        .map_err(|e| {
            LabError::Unavailable(format!(
                "cannot add a tbf qdisc (the kernel needs sch_tbf): {e}"
            ))
        })?;
        Ok(lab)
    }

    /// Moves the calling thread into the sender's namespace (sockets it makes from then on
    /// live there).
    pub fn enter_sender(&self) -> std::io::Result<()> {
        enter(&self.sender)
    }

    pub fn enter_receiver(&self) -> std::io::Result<()> {
        enter(&self.receiver)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Back where the process started, whichever namespace this thread entered.
        let _ = setns(&self.original, CloneFlags::CLONE_NEWNET);
        for name in self.made.drain(..).rev() {
            if let Err(e) = ip(&["netns", "del", &name]) {
                eprintln!("tcplab: cannot delete network namespace {name}: {e}");
            }
        }
    }
}

/// Moves the calling thread into the named namespace (`/run/netns/NAME`, made by `ip netns`).
fn enter(name: &str) -> std::io::Result<()> {
    let file = File::open(format!("/run/netns/{name}"))?;
    setns(&file, CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
}

fn ip(args: &[&str]) -> Result<(), CommandError> {
    run("ip", args)
}

/// Runs an iproute2 command; its first line of stderr is the error.
fn run(program: &str, args: &[&str]) -> Result<(), CommandError> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| CommandError::Spawn {
            program: program.to_string(),
            source,
        })?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(CommandError::Failed {
        command: format!("{program} {}", args.join(" ")),
        said: err.lines().next().unwrap_or("failed").trim().to_string(),
    })
}
