//! How `tcplab trace` writes transitions and timelines: text columns like bcc's tcpstates, or
//! one JSON object per line (the schema is in docs/json.md). Pure: values in, strings out.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use crate::text::printable;

use super::conns::{Step, Timeline};
use crate::model::{Transition, TransitionSource};

/// The first line of text output: where transitions come from, then the column names.
pub fn text_header(source: TransitionSource, detail: &str, timeline: bool) -> String {
    let from = match source {
        TransitionSource::Tracepoint => format!("# from the kernel tracepoint ({detail})"),
        TransitionSource::Sampled { interval } => format!(
            "# SAMPLED every {} ({detail}): states shorter than that are missed",
            lasted(interval)
        ),
    };
    let columns = if timeline {
        "LOCAL -> REMOTE  PID/COMM  LIFE (each state with how long it lasted)"
    } else {
        "TIME(UTC)       PID     COMM            LOCAL                  REMOTE                 OLD → NEW                    MS_IN_OLD"
    };
    format!("{from}\n{columns}")
}

fn sampled_mark(source: TransitionSource) -> &'static str {
    match source {
        TransitionSource::Tracepoint => "",
        TransitionSource::Sampled { .. } => "  (sampled)",
    }
}

pub fn text_line(t: &Transition, source: TransitionSource) -> String {
    let states = format!("{} → {}", t.old, t.new);
    format!(
        "{:<15} {:<7} {:<15} {:<22} {:<22} {:<28} {}{}",
        time_of_day(t.ts),
        t.pid.map_or("-".to_string(), |p| p.to_string()),
        printable(t.comm.as_deref().unwrap_or("-")),
        t.local.to_string(),
        t.remote.to_string(),
        states,
        t.in_old
            .map_or("-".to_string(), |d| format!("{:.3}", ms(d))),
        sampled_mark(source),
    )
}

pub fn timeline_line(tl: &Timeline, source: TransitionSource) -> String {
    format!(
        "{} -> {}  {}/{}  {}{}",
        tl.local,
        tl.remote,
        tl.pid.map_or("-".to_string(), |p| p.to_string()),
        printable(tl.comm.as_deref().unwrap_or("-")),
        life(&tl.steps, true),
        sampled_mark(source),
    )
}

/// A life as `CLOSE→SYN_SENT 0.050ms→ESTABLISHED 12.3s→…`: each state with how long it
/// lasted. With `ended`, the last state is where the socket ended and has no length; else
/// it is the state the socket is still in.
pub fn life(steps: &[Step], ended: bool) -> String {
    let mut out = String::new();
    for (i, step) in steps.iter().enumerate() {
        if i > 0 {
            out.push('→');
        }
        out.push_str(step.state.kernel_name());
        let last = i + 1 == steps.len();
        match step.lasted {
            Some(d) if !(last && ended) => out.push_str(&format!(" {}", lasted(d))),
            None if i > 0 && !last => out.push_str(" ?"),
            _ => {}
        }
    }
    out
}

fn source_fields(source: TransitionSource, obj: &mut serde_json::Map<String, Value>) {
    match source {
        TransitionSource::Tracepoint => {
            obj.insert("source".into(), json!("kernel"));
        }
        TransitionSource::Sampled { interval } => {
            obj.insert("source".into(), json!("sampled"));
            obj.insert("interval_ms".into(), json!(interval.as_millis() as u64));
        }
    }
}

/// Written by hand rather than through `serde_json::Value`: at 100,000 transitions a second
/// the allocations show. Only `comm` can hold characters that need escaping.
pub fn json_line(t: &Transition, source: TransitionSource) -> String {
    let ms_in_old = t.in_old.map_or("null".to_string(), |d| ms(d).to_string());
    let pid = t.pid.map_or("null".to_string(), |p| p.to_string());
    let comm = t
        .comm
        .as_ref()
        .map_or("null".to_string(), |c| json!(c).to_string());
    let tid = t.tid.map_or("null".to_string(), |p| p.to_string());
    let source = match source {
        TransitionSource::Tracepoint => r#""source":"kernel""#.to_string(),
        TransitionSource::Sampled { interval } => format!(
            r#""source":"sampled","interval_ms":{}"#,
            interval.as_millis()
        ),
    };
    format!(
        r#"{{"ts":"{}","local":"{}","remote":"{}","old":"{}","new":"{}","ms_in_old":{ms_in_old},"pid":{pid},"tid":{tid},"comm":{comm},{source}}}"#,
        rfc3339(t.ts),
        t.local,
        t.remote,
        t.old,
        t.new,
    )
}

pub fn timeline_json(tl: &Timeline, source: TransitionSource) -> String {
    let states: Vec<Value> = tl
        .steps
        .iter()
        .map(|s| json!({"state": s.state, "ms": s.lasted.map(ms)}))
        .collect();
    let mut v = json!({
        "started": rfc3339(tl.started),
        "local": tl.local.to_string(),
        "remote": tl.remote.to_string(),
        "pid": tl.pid,
        "comm": tl.comm,
        "states": states,
    });
    if let Value::Object(obj) = &mut v {
        source_fields(source, obj);
    }
    v.to_string()
}

/// Milliseconds, to the microsecond.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// A state's length as a person reads it: `0.050ms`, `3.21ms`, `123.4ms`, `12.3s`, `2m05s`.
pub fn lasted(d: Duration) -> String {
    let m = d.as_secs_f64() * 1e3;
    if m < 1.0 {
        format!("{m:.3}ms")
    } else if m < 10.0 {
        format!("{m:.2}ms")
    } else if m < 1000.0 {
        format!("{m:.1}ms")
    } else if m < 60_000.0 {
        format!("{:.1}s", m / 1e3)
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

fn rfc3339(ts: SystemTime) -> String {
    humantime::format_rfc3339_micros(ts).to_string()
}

/// `HH:MM:SS.micros` in UTC.
fn time_of_day(ts: SystemTime) -> String {
    let d = ts
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let s = d.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        d.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TcpState;

    fn transition() -> Transition {
        Transition {
            ts: SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456),
            local: "127.0.0.1:5555".parse().unwrap(),
            remote: "[::1]:80".parse().unwrap(),
            old: TcpState::SynSent,
            new: TcpState::Established,
            in_old: Some(Duration::from_micros(331)),
            pid: Some(42),
            comm: Some("curl".into()),
            tid: None,
        }
    }

    #[test]
    fn json_has_the_documented_fields() {
        let v: Value =
            serde_json::from_str(&json_line(&transition(), TransitionSource::Tracepoint)).unwrap();
        assert_eq!(v["ts"], "2023-11-14T22:13:20.123456Z");
        assert_eq!(v["local"], "127.0.0.1:5555");
        assert_eq!(v["remote"], "[::1]:80");
        assert_eq!(v["old"], "SYN_SENT");
        assert_eq!(v["new"], "ESTABLISHED");
        assert_eq!(v["ms_in_old"], 0.331);
        assert_eq!(v["pid"], 42);
        assert_eq!(v["comm"], "curl");
        assert_eq!(v["source"], "kernel");
        let mut t = transition();
        t.pid = None;
        t.comm = None;
        t.in_old = None;
        let sampled = TransitionSource::Sampled {
            interval: Duration::from_millis(20),
        };
        let v: Value = serde_json::from_str(&json_line(&t, sampled)).unwrap();
        assert!(v["pid"].is_null() && v["comm"].is_null() && v["ms_in_old"].is_null());
        assert_eq!(
            (v["source"].as_str(), v["interval_ms"].as_u64()),
            (Some("sampled"), Some(20))
        );
    }

    #[test]
    fn text_line_and_sampled_mark() {
        let line = text_line(&transition(), TransitionSource::Tracepoint);
        assert!(line.starts_with("22:13:20.123456 42      curl "), "{line}");
        assert!(line.contains("SYN_SENT → ESTABLISHED"), "{line}");
        assert!(line.ends_with(" 0.331"), "{line}");
        let sampled = TransitionSource::Sampled {
            interval: Duration::from_millis(20),
        };
        assert!(text_line(&transition(), sampled).ends_with("(sampled)"));
        let header = text_header(sampled, "/proc/net/tcp", false);
        assert!(
            header.starts_with("# SAMPLED every 20.0ms (/proc/net/tcp)"),
            "{header}"
        );
        assert!(
            header.contains("states shorter than that are missed"),
            "{header}"
        );
    }

    #[test]
    fn timeline_reads_like_the_issue() {
        use TcpState::*;
        let step = |state, us: Option<u64>| Step {
            state,
            lasted: us.map(Duration::from_micros),
        };
        let tl = Timeline {
            started: SystemTime::UNIX_EPOCH,
            local: "127.0.0.1:5555".parse().unwrap(),
            remote: "127.0.0.1:80".parse().unwrap(),
            pid: None,
            comm: None,
            steps: vec![
                step(Close, None),
                step(SynSent, Some(50)),
                step(Established, Some(12_300_000)),
                step(FinWait1, None),
                step(Close, None),
            ],
        };
        assert_eq!(
            timeline_line(&tl, TransitionSource::Tracepoint),
            "127.0.0.1:5555 -> 127.0.0.1:80  -/-  CLOSE→SYN_SENT 0.050ms→ESTABLISHED 12.3s→FIN_WAIT1 ?→CLOSE"
        );
        let v: Value =
            serde_json::from_str(&timeline_json(&tl, TransitionSource::Tracepoint)).unwrap();
        assert_eq!(v["states"][1]["state"], "SYN_SENT");
        assert_eq!(v["states"][1]["ms"], 0.05);
        assert!(v["states"][0]["ms"].is_null());
    }

    #[test]
    fn lasted_scales() {
        assert_eq!(lasted(Duration::from_micros(50)), "0.050ms");
        assert_eq!(lasted(Duration::from_micros(3210)), "3.21ms");
        assert_eq!(lasted(Duration::from_millis(123)), "123.0ms");
        assert_eq!(lasted(Duration::from_secs(125)), "2m05s");
    }
}
