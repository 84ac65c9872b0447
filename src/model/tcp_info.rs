//! Inside one TCP connection: the kernel's `struct tcp_info` (what `ss -ti` prints) and the
//! name of its congestion control, as sock_diag hands them out (INET_DIAG_INFO, INET_DIAG_CONG)
//! to any user, for every socket, without capturing a packet.
//!
//! Times are kept in the kernel's units (microseconds for rtt and rto, milliseconds for the
//! "last sent/received" ages), rates in bytes per second. Fields that newer kernels appended to
//! the struct are `Option`: None when this kernel's struct is too short to carry them.

use std::fmt;

/// The congestion-control algorithm's name (`cubic`, `bbr`, `reno`), at most 15 bytes as the
/// kernel's `TCP_CA_NAME_MAX` allows: kept inline so a scan of thousands of sockets does not
/// allocate a string per socket.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Congestion {
    bytes: [u8; 16],
    len: u8,
}

impl Congestion {
    /// The name as the kernel gives it (NUL-terminated or not); None when empty or not ASCII
    /// (the kernel only registers ASCII names).
    pub fn new(name: &[u8]) -> Option<Congestion> {
        let name = name.split(|&b| b == 0).next().unwrap_or_default();
        if name.is_empty() || name.len() > 16 || !name.iter().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        let mut bytes = [0; 16];
        bytes[..name.len()].copy_from_slice(name);
        Some(Congestion {
            bytes,
            len: name.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII graphic bytes are stored (checked in `new`).
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("?")
    }
}

impl fmt::Debug for Congestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for Congestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the sender's congestion control stands (`tcpi_ca_state`, `enum tcp_ca_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaState {
    /// Nothing wrong: the window grows.
    Open,
    /// Duplicate ACKs or SACKs seen: something may be lost or reordered.
    Disorder,
    /// The window was reduced for an ECN echo or a local congestion signal.
    Cwr,
    /// Fast retransmit: recovering lost segments.
    Recovery,
    /// A retransmission timeout: the window fell back to one segment.
    Loss,
}

impl CaState {
    pub fn from_kernel(code: u8) -> Option<CaState> {
        Some(match code {
            0 => CaState::Open,
            1 => CaState::Disorder,
            2 => CaState::Cwr,
            3 => CaState::Recovery,
            4 => CaState::Loss,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            CaState::Open => "open",
            CaState::Disorder => "disorder",
            CaState::Cwr => "cwr",
            CaState::Recovery => "recovery",
            CaState::Loss => "loss",
        }
    }
}

/// One socket's `tcp_info`. Names follow the kernel's `tcpi_` fields without the prefix.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TcpInfo {
    /// A listening socket: only `congestion` (what its connections will start with) applies;
    /// the kernel reuses `unacked` and `sacked` for the accept queue and backlog, which the
    /// socket's recv_q and send_q already show.
    pub listener: bool,
    pub congestion: Option<Congestion>,
    pub ca_state: Option<CaState>,
    /// Consecutive retransmission timeouts of the segment at the head of the queue.
    pub retransmits: u8,
    pub probes: u8,
    pub backoff: u8,
    /// The peer's ACK of a sending-rate-limited sample: delivery_rate is a lower bound.
    pub delivery_rate_app_limited: bool,
    pub rto_us: u32,
    pub ato_us: u32,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    /// Segments sent and not yet acknowledged.
    pub unacked: u32,
    pub sacked: u32,
    pub lost: u32,
    /// Segments retransmitted and not yet acknowledged (`retrans:A/B`'s A).
    pub retrans: u32,
    pub last_data_sent_ms: u32,
    pub last_ack_sent_ms: u32,
    pub last_data_recv_ms: u32,
    pub last_ack_recv_ms: u32,
    pub pmtu: u32,
    pub rcv_ssthresh: u32,
    /// Smoothed round-trip time; 0 until the first sample.
    pub rtt_us: u32,
    pub rttvar_us: u32,
    /// Slow-start threshold; `TCP_INFINITE_SSTHRESH` (0x7fffffff) until the first loss.
    pub snd_ssthresh: u32,
    pub snd_cwnd: u32,
    pub advmss: u32,
    pub reordering: u32,
    pub rcv_rtt_us: u32,
    pub rcv_space: u32,
    /// Every segment retransmitted over the connection's life (`retrans:A/B`'s B).
    pub total_retrans: u32,
    /// Bytes per second; `u64::MAX` when unlimited.
    pub pacing_rate: u64,
    pub max_pacing_rate: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub segs_out: u32,
    pub segs_in: u32,
    pub notsent_bytes: u32,
    pub min_rtt_us: u32,
    pub data_segs_in: u32,
    pub data_segs_out: u32,
    /// Bytes per second, from the last delivered sample.
    pub delivery_rate: u64,
    pub busy_time_us: Option<u64>,
    pub rwnd_limited_us: Option<u64>,
    pub sndbuf_limited_us: Option<u64>,
    pub delivered: Option<u32>,
    pub delivered_ce: Option<u32>,
    pub bytes_sent: Option<u64>,
    pub bytes_retrans: Option<u64>,
    pub dsack_dups: Option<u32>,
    pub reord_seen: Option<u32>,
    pub rcv_ooopack: Option<u32>,
    /// The peer's advertised receive window, in bytes.
    pub snd_wnd: Option<u32>,
    pub rcv_wnd: Option<u32>,
}

/// The few `tcp_info` fields the dashboard's rate columns, their sorts, the per-process rates
/// and a connection's graphs read, kept inline in every socket (`Socket::brief`): a scan for
/// them allocates nothing per socket, where the whole struct is boxed (~330 bytes a socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpBrief {
    /// A listening socket: none of the fields below apply (see `TcpInfo::listener`).
    pub listener: bool,
    /// Smoothed round-trip time; 0 until the first sample.
    pub rtt_us: u32,
    pub snd_cwnd: u32,
    /// Segments retransmitted and not yet acknowledged (`retrans:A/B`'s A).
    pub retrans: u32,
    /// Every segment retransmitted over the connection's life (`retrans:A/B`'s B).
    pub total_retrans: u32,
    pub bytes_acked: u64,
    pub bytes_received: u64,
}

impl TcpBrief {
    /// The smoothed rtt, None before the first sample.
    pub fn rtt_us(&self) -> Option<u32> {
        (self.rtt_us > 0).then_some(self.rtt_us)
    }
}

impl TcpInfo {
    /// Its fields that a [`TcpBrief`] keeps.
    pub fn brief(&self) -> TcpBrief {
        TcpBrief {
            listener: self.listener,
            rtt_us: self.rtt_us,
            snd_cwnd: self.snd_cwnd,
            retrans: self.retrans,
            total_retrans: self.total_retrans,
            bytes_acked: self.bytes_acked,
            bytes_received: self.bytes_received,
        }
    }
}

/// How many fields `TcpInfo::fields` lists (an array: no allocation per socket).
pub const FIELD_COUNT: usize = 48;

/// The kernel's "no threshold yet" slow-start threshold.
pub const INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

impl TcpInfo {
    /// The slow-start threshold, None before the first loss (ss prints none either).
    pub fn ssthresh(&self) -> Option<u32> {
        (self.snd_ssthresh < 0xffff).then_some(self.snd_ssthresh)
    }

    /// The smoothed rtt, None before the first sample (a listener, a connection in handshake).
    pub fn rtt_us(&self) -> Option<u32> {
        (self.rtt_us > 0).then_some(self.rtt_us)
    }

    /// The pacing rate, None when unlimited.
    pub fn pacing_rate(&self) -> Option<u64> {
        (self.pacing_rate != u64::MAX).then_some(self.pacing_rate)
    }
}

/// Microseconds as milliseconds, the unit `ss -ti` prints rtt in.
pub fn us_as_ms(us: u32) -> f64 {
    us as f64 / 1000.0
}

/// One field's value as the commands and the dashboard print it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    Count(u64),
    /// Milliseconds, from the kernel's microseconds.
    Millis(f64),
    /// Bytes per second.
    Rate(u64),
    Bytes(u64),
    Text(&'a str),
    Flag(bool),
    /// The kernel has no value (no sample yet, unlimited, or an older kernel's struct).
    Unknown,
}

impl fmt::Display for FieldValue<'_> {
    /// As a person reads it: `0.033ms`, `2.3MiB/s`, `1448`, `yes`; `-` when unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Count(n) | FieldValue::Bytes(n) => write!(f, "{n}"),
            FieldValue::Millis(ms) => write!(f, "{ms}ms"),
            FieldValue::Rate(n) => write!(f, "{}/s", crate::units::format_size(*n)),
            FieldValue::Text(t) => f.write_str(t),
            FieldValue::Flag(b) => f.write_str(if *b { "yes" } else { "no" }),
            FieldValue::Unknown => f.write_str("-"),
        }
    }
}

impl TcpInfo {
    /// Every field under its JSON name (`net --info --json`, docs/json.md), in the order
    /// `ss -ti` prints them; the one list the JSON, the text and the dashboard's detail view
    /// share.
    pub fn fields(&self) -> [(&'static str, FieldValue<'_>); FIELD_COUNT] {
        use FieldValue::*;
        let ms = |us: Option<u32>| us.map_or(Unknown, |us| Millis(us_as_ms(us)));
        let opt32 = |v: Option<u32>| v.map_or(Unknown, |v| Count(v as u64));
        let bytes = |v: Option<u64>| v.map_or(Unknown, Bytes);
        let nonzero = |us: u32| (us > 0).then_some(us);
        let mut fields = [
            (
                "congestion",
                self.congestion
                    .as_ref()
                    .map_or(Unknown, |c| Text(c.as_str())),
            ),
            (
                "ca_state",
                self.ca_state.map_or(Unknown, |s| Text(s.name())),
            ),
            ("rtt_ms", ms(self.rtt_us())),
            ("rttvar_ms", ms(self.rtt_us().map(|_| self.rttvar_us))),
            ("min_rtt_ms", ms(nonzero(self.min_rtt_us))),
            ("rto_ms", ms(nonzero(self.rto_us))),
            ("ato_ms", ms(nonzero(self.ato_us))),
            ("backoff", Count(self.backoff as u64)),
            ("retransmits", Count(self.retransmits as u64)),
            ("mss", Count(self.snd_mss as u64)),
            ("rcv_mss", Count(self.rcv_mss as u64)),
            ("advmss", Count(self.advmss as u64)),
            ("pmtu", Count(self.pmtu as u64)),
            ("cwnd", Count(self.snd_cwnd as u64)),
            ("ssthresh", opt32(self.ssthresh())),
            ("bytes_sent", bytes(self.bytes_sent)),
            ("bytes_retrans", bytes(self.bytes_retrans)),
            ("bytes_acked", Bytes(self.bytes_acked)),
            ("bytes_received", Bytes(self.bytes_received)),
            ("segs_out", Count(self.segs_out as u64)),
            ("segs_in", Count(self.segs_in as u64)),
            ("data_segs_out", Count(self.data_segs_out as u64)),
            ("data_segs_in", Count(self.data_segs_in as u64)),
            ("last_send_ms", Count(self.last_data_sent_ms as u64)),
            ("last_recv_ms", Count(self.last_data_recv_ms as u64)),
            ("last_ack_ms", Count(self.last_ack_recv_ms as u64)),
            ("pacing_rate", self.pacing_rate().map_or(Unknown, Rate)),
            ("delivery_rate", Rate(self.delivery_rate)),
            (
                "delivery_rate_app_limited",
                Flag(self.delivery_rate_app_limited),
            ),
            ("delivered", opt32(self.delivered)),
            (
                "busy_ms",
                self.busy_time_us.map_or(Unknown, |us| Count(us / 1000)),
            ),
            (
                "rwnd_limited_ms",
                self.rwnd_limited_us.map_or(Unknown, |us| Count(us / 1000)),
            ),
            (
                "sndbuf_limited_ms",
                self.sndbuf_limited_us
                    .map_or(Unknown, |us| Count(us / 1000)),
            ),
            ("unacked", Count(self.unacked as u64)),
            ("retrans", Count(self.retrans as u64)),
            ("total_retrans", Count(self.total_retrans as u64)),
            ("lost", Count(self.lost as u64)),
            ("sacked", Count(self.sacked as u64)),
            ("dsack_dups", opt32(self.dsack_dups)),
            ("reordering", Count(self.reordering as u64)),
            ("reord_seen", opt32(self.reord_seen)),
            ("rcv_rtt_ms", ms(nonzero(self.rcv_rtt_us))),
            ("rcv_space", Count(self.rcv_space as u64)),
            ("rcv_ssthresh", Count(self.rcv_ssthresh as u64)),
            ("rcv_ooopack", opt32(self.rcv_ooopack)),
            ("notsent_bytes", Bytes(self.notsent_bytes as u64)),
            ("snd_wnd", bytes(self.snd_wnd.map(u64::from))),
            ("rcv_wnd", bytes(self.rcv_wnd.map(u64::from))),
        ];
        if self.listener {
            for (name, value) in fields.iter_mut() {
                if *name != "congestion" {
                    *value = Unknown;
                }
            }
        }
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_say_none_where_the_kernel_has_no_value() {
        let info = TcpInfo {
            snd_ssthresh: INFINITE_SSTHRESH,
            pacing_rate: u64::MAX,
            ..TcpInfo::default()
        };
        let fields = info.fields();
        let get = |name: &str| fields.iter().find(|f| f.0 == name).unwrap().1;
        assert_eq!(get("rtt_ms"), FieldValue::Unknown);
        assert_eq!(get("rttvar_ms"), FieldValue::Unknown);
        assert_eq!(get("ssthresh"), FieldValue::Unknown);
        assert_eq!(get("pacing_rate"), FieldValue::Unknown);
        assert_eq!(get("bytes_sent"), FieldValue::Unknown);
        assert_eq!(get("cwnd"), FieldValue::Count(0));
        let measured = TcpInfo {
            rtt_us: 25,
            rttvar_us: 12,
            snd_ssthresh: 7,
            ..info
        };
        let fields = measured.fields();
        let get = |name: &str| fields.iter().find(|f| f.0 == name).unwrap().1;
        assert_eq!(get("rtt_ms"), FieldValue::Millis(0.025));
        assert_eq!(get("rttvar_ms"), FieldValue::Millis(0.012));
        assert_eq!(get("ssthresh"), FieldValue::Count(7));
    }

    #[test]
    fn a_listener_shows_its_congestion_control_only() {
        let info = TcpInfo {
            listener: true,
            congestion: Congestion::new(b"cubic"),
            snd_cwnd: 10,
            sacked: 128,
            ..TcpInfo::default()
        };
        let fields = info.fields();
        assert_eq!(fields.len(), TcpInfo::default().fields().len());
        for (name, value) in fields {
            match name {
                "congestion" => assert_eq!(value, FieldValue::Text("cubic")),
                _ => assert_eq!(value, FieldValue::Unknown, "{name}"),
            }
        }
    }

    #[test]
    fn congestion_names_are_kept_inline_and_checked() {
        assert_eq!(Congestion::new(b"bbr\0\0").unwrap().as_str(), "bbr");
        assert_eq!(
            Congestion::new(b"0123456789abcdef")
                .unwrap()
                .to_string()
                .len(),
            16
        );
        assert_eq!(Congestion::new(b"0123456789abcdefg"), None);
        assert_eq!(Congestion::new(b""), None);
        assert_eq!(Congestion::new(b"a b"), None);
    }
}
