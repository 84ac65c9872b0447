//! `tcplab net --info`: each connection's `tcp_info` as one line of text under its row (like
//! `ss -ti`) or as the `info` object of its JSON (schema in docs/json.md). Both walk
//! `TcpInfo::fields`, so the two can never name a field differently.

use std::sync::OnceLock;

use crate::model::tcp_info::{FieldValue, TcpInfo, FIELD_COUNT};

use super::net::{push_json_string, push_u64};

/// The `info` object, appended to `out`.
pub fn push_json(out: &mut Vec<u8>, info: &TcpInfo) {
    out.push(b'{');
    for ((_, value), key) in info.fields().into_iter().zip(json_keys()) {
        key.push(out);
        match value {
            FieldValue::Count(n) | FieldValue::Rate(n) | FieldValue::Bytes(n) => push_u64(out, n),
            FieldValue::Millis(ms) => push_millis(out, ms),
            FieldValue::Text(t) => push_json_string(out, t),
            FieldValue::Flag(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
            FieldValue::Unknown => out.extend_from_slice(b"null"),
        }
    }
    out.push(b'}');
}

/// One member's `"name":` (with the comma before it but for the first), padded to a fixed size
/// so that appending it is a fixed-size copy (see `push_u64`).
struct JsonKey {
    bytes: [u8; 32],
    len: usize,
}

impl JsonKey {
    fn push(&self, out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(&self.bytes);
        out.truncate(at + self.len);
    }
}

/// The keys of `TcpInfo::fields`, in its order, made once from the names it gives (the same
/// for every `TcpInfo`).
fn json_keys() -> &'static [JsonKey; FIELD_COUNT] {
    static KEYS: OnceLock<[JsonKey; FIELD_COUNT]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let info = TcpInfo::default();
        let fields = info.fields();
        std::array::from_fn(|i| {
            let comma = if i == 0 { "" } else { "," };
            let key = format!("{comma}\"{}\":", fields[i].0);
            let mut bytes = [0; 32];
            // Names are short identifiers; a longer one is a bug the tests catch.
            let len = key.len().min(bytes.len());
            bytes[..len].copy_from_slice(&key.as_bytes()[..len]);
            JsonKey { bytes, len }
        })
    })
}

/// Milliseconds that came from whole microseconds, as serde_json and `{}` print the f64
/// (shortest form: `0.033`, `1.5`, `204`), without the float formatting machinery.
fn push_millis(out: &mut Vec<u8>, ms: f64) {
    let us = (ms * 1000.0).round() as u64;
    push_u64(out, us / 1000);
    let frac = us % 1000;
    if frac > 0 {
        let used = if frac % 100 == 0 {
            1
        } else if frac % 10 == 0 {
            2
        } else {
            3
        };
        let digits = [
            b'.',
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let at = out.len();
        out.extend_from_slice(&digits);
        out.truncate(at + 1 + used);
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
        let mut out = Vec::new();
        push_json(&mut out, &info());
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
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

    /// Every member as serde_json writes the value `fields` gives, for infos with small, large
    /// and unknown values and a listener's.
    #[test]
    fn json_members_match_serde_json() {
        let big = TcpInfo {
            rtt_us: 123_456_789,
            rttvar_us: 1_050,
            min_rtt_us: 1,
            bytes_acked: u64::MAX - 1,
            bytes_received: 10_000_000_000,
            pacing_rate: 12_345,
            snd_ssthresh: 9,
            bytes_sent: Some(0),
            busy_time_us: Some(999_999),
            snd_wnd: Some(u32::MAX),
            ..info()
        };
        let listener = TcpInfo {
            listener: true,
            ..info()
        };
        for info in [info(), big, listener, TcpInfo::default()] {
            let mut out = Vec::new();
            push_json(&mut out, &info);
            let expected: serde_json::Map<String, serde_json::Value> = info
                .fields()
                .into_iter()
                .map(|(name, value)| {
                    let value = match value {
                        FieldValue::Count(n) | FieldValue::Rate(n) | FieldValue::Bytes(n) => {
                            n.into()
                        }
                        FieldValue::Millis(ms) => ms.into(),
                        FieldValue::Text(t) => t.into(),
                        FieldValue::Flag(b) => b.into(),
                        FieldValue::Unknown => serde_json::Value::Null,
                    };
                    (name.to_string(), value)
                })
                .collect();
            let got: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(got, serde_json::Value::Object(expected), "{info:?}");
            // Members in the order `fields` lists them.
            let text = String::from_utf8(out).unwrap();
            let mut at = 0;
            for (name, _) in info.fields() {
                let key = format!("\"{name}\":");
                at += text[at..]
                    .find(&key)
                    .unwrap_or_else(|| panic!("{name} out of order"));
            }
        }
        assert!(json_keys().iter().all(|k| k.len < k.bytes.len()));
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
            let mut out = Vec::new();
            push_millis(&mut out, ms);
            let out = String::from_utf8(out).unwrap();
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
