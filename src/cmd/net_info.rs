//! `tcplab net --info`: each connection's `tcp_info` as one line of text under its row (like
//! `ss -ti`) or as the `info` object of its JSON (schema in docs/json.md). Both walk
//! `TcpInfo::fields`, so the two can never name a field differently.

use crate::model::tcp_info::{FieldValue, TcpInfo};

use super::net::{push_json_string, push_u64};

/// The `info` object, appended to `out`.
pub fn push_json(out: &mut String, info: &TcpInfo) {
    out.push('{');
    for (i, (name, value)) in info.fields().into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        match value {
            FieldValue::Count(n) | FieldValue::Rate(n) | FieldValue::Bytes(n) => push_u64(out, n),
            FieldValue::Millis(ms) => push_millis(out, ms),
            FieldValue::Text(t) => push_json_string(out, t),
            FieldValue::Flag(b) => out.push_str(if b { "true" } else { "false" }),
            FieldValue::Unknown => out.push_str("null"),
        }
    }
    out.push('}');
}

/// Milliseconds that came from whole microseconds, as serde_json and `{}` print the f64
/// (shortest form: `0.033`, `1.5`, `204`), without the float formatting machinery.
fn push_millis(out: &mut String, ms: f64) {
    let us = (ms * 1000.0).round() as u64;
    push_u64(out, us / 1000);
    let frac = us % 1000;
    if frac > 0 {
        let digits = [frac / 100, frac / 10 % 10, frac % 10];
        let used = if frac % 100 == 0 {
            1
        } else if frac % 10 == 0 {
            2
        } else {
            3
        };
        out.push('.');
        for d in &digits[..used] {
            out.push((b'0' + *d as u8) as char);
        }
    }
}

/// One line: `bbr open rtt_ms:0.033/0.018 cwnd:10 ...`; fields the kernel has no value for,
/// counters at zero and flags not set are left out, as `ss -ti` does.
pub fn text(info: &TcpInfo) -> String {
    let mut out = String::with_capacity(400);
    let fields = info.fields();
    let mut rttvar = None;
    for (name, value) in &fields {
        if *name == "rttvar_ms" {
            rttvar = Some(*value);
        }
    }
    for (name, value) in fields {
        let shown = match value {
            FieldValue::Text(t) => t.to_string(),
            FieldValue::Flag(true) => name.to_string(),
            FieldValue::Flag(false) | FieldValue::Unknown => continue,
            FieldValue::Count(0) | FieldValue::Bytes(0) if !always_shown(name) => continue,
            FieldValue::Count(_) | FieldValue::Bytes(_) | FieldValue::Rate(_) => {
                format!("{name}:{value}")
            }
            // rtt and its variation together, as ss prints them.
            FieldValue::Millis(ms) if name == "rtt_ms" => match rttvar {
                Some(FieldValue::Millis(var)) => format!("rtt:{ms}/{var}ms"),
                _ => format!("rtt:{ms}ms"),
            },
            FieldValue::Millis(_) if name == "rttvar_ms" => continue,
            FieldValue::Millis(_) => format!("{}:{value}", name.trim_end_matches("_ms")),
        };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&shown);
    }
    out
}

/// Fields worth a zero: the window and the retransmission counts are what a reader looks for.
fn always_shown(name: &str) -> bool {
    matches!(name, "cwnd" | "retrans" | "total_retrans")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tcp_info::{CaState, Congestion, INFINITE_SSTHRESH};

    fn info() -> TcpInfo {
        TcpInfo {
            congestion: Congestion::new(b"bbr"),
            ca_state: Some(CaState::Open),
            rtt_us: 33,
            rttvar_us: 18,
            snd_cwnd: 10,
            snd_ssthresh: INFINITE_SSTHRESH,
            pacing_rate: u64::MAX,
            bytes_acked: 6,
            delivery_rate: 2 << 20,
            snd_wnd: Some(65536),
            ..TcpInfo::default()
        }
    }

    #[test]
    fn json_has_every_field_and_null_where_unknown() {
        let mut out = String::new();
        push_json(&mut out, &info());
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v.as_object().unwrap().len(), info().fields().len());
        assert_eq!(v["congestion"], "bbr");
        assert_eq!(v["ca_state"], "open");
        assert_eq!(v["rtt_ms"], 0.033);
        assert_eq!(v["rttvar_ms"], 0.018);
        assert_eq!(v["cwnd"], 10);
        assert!(v["ssthresh"].is_null());
        assert!(v["pacing_rate"].is_null());
        assert!(v["bytes_sent"].is_null());
        assert_eq!(v["bytes_acked"], 6);
        assert_eq!(v["delivery_rate"], 2 << 20);
        assert_eq!(v["delivery_rate_app_limited"], false);
        assert_eq!(v["snd_wnd"], 65536);
    }

    #[test]
    fn millis_print_as_the_float_would() {
        for us in [
            0u32,
            1,
            10,
            33,
            100,
            999,
            1000,
            1500,
            1050,
            204_000,
            7_882,
            123_456_789,
        ] {
            let ms = crate::model::tcp_info::us_as_ms(us);
            let mut out = String::new();
            push_millis(&mut out, ms);
            assert_eq!(out, format!("{ms}"), "{us}us");
            let json = serde_json::to_string(&ms).unwrap();
            assert_eq!(out, json.trim_end_matches(".0"), "{us}us");
        }
    }

    #[test]
    fn text_reads_like_ss() {
        let line = text(&info());
        assert!(
            line.starts_with("bbr open rtt:0.033/0.018ms cwnd:10 bytes_acked:6"),
            "{line}"
        );
        assert!(line.contains("delivery_rate:2.0MiB/s"), "{line}");
        assert!(line.contains("retrans:0 total_retrans:0"), "{line}");
        assert!(!line.contains("ssthresh"), "{line}");
        assert!(!line.contains("pacing"), "{line}");
    }
}
