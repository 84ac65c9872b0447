//! `struct tcp_info` (linux/tcp.h) and the congestion name, from the attributes that follow a
//! sock_diag `inet_diag_msg` when the request asked for INET_DIAG_INFO and INET_DIAG_CONG.
//!
//! The kernel copies as much of its struct as it has; newer kernels append fields. Everything
//! up to `tcpi_delivery_rate` (168 bytes, Linux 4.9) is required; later fields are read when
//! present.

use crate::model::tcp_info::{CaState, Congestion, TcpBrief, TcpInfo};

/// `INET_DIAG_INFO`: the attribute that carries `struct tcp_info`.
pub const INET_DIAG_INFO: u16 = 2;
/// `INET_DIAG_CONG`: the congestion-control name, NUL-terminated.
pub const INET_DIAG_CONG: u16 = 4;
/// The request's `idiag_ext` bit asking for `tcp_info` alone (bit `attribute - 1`).
pub const EXT_INFO: u8 = 1 << (INET_DIAG_INFO - 1);
/// The request's `idiag_ext` bits asking for both.
pub const EXT_INFO_AND_CONG: u8 = (1 << (INET_DIAG_INFO - 1)) | (1 << (INET_DIAG_CONG - 1));

/// `tcpi_state` of a listening socket.
const TCP_LISTEN: u8 = 10;

/// The shortest struct this parser accepts: through `tcpi_delivery_rate`.
const REQUIRED_LEN: usize = 168;

/// Reads the attributes after a 72-byte `inet_diag_msg`; None when the kernel sent no
/// `tcp_info` (TIME_WAIT and SYN_RECV sockets, which are not full sockets) or one too short.
pub fn parse_attributes(attrs: &[u8]) -> Option<TcpInfo> {
    let mut info = None;
    let mut congestion = None;
    for (kind, payload) in attributes(attrs) {
        match kind {
            INET_DIAG_INFO => info = parse_tcp_info(payload),
            INET_DIAG_CONG => congestion = Congestion::new(payload),
            _ => {}
        }
    }
    let mut info = info?;
    info.congestion = congestion;
    Some(info)
}

/// The same attributes read for the [`TcpBrief`] alone: what `parse_attributes(..).brief()`
/// gives, without reading the rest of the struct. None in the same cases.
pub fn parse_brief(attrs: &[u8]) -> Option<TcpBrief> {
    let (_, b) = attributes(attrs)
        .filter(|&(kind, _)| kind == INET_DIAG_INFO)
        .last()?;
    if b.len() < REQUIRED_LEN {
        return None;
    }
    let u32_at = |off: usize| u32_at(b, off);
    let u64_at = |off: usize| u64_at(b, off);
    Some(TcpBrief {
        listener: b[0] == TCP_LISTEN,
        retrans: u32_at(36),
        rtt_us: u32_at(68),
        snd_cwnd: u32_at(80),
        total_retrans: u32_at(100),
        bytes_acked: u64_at(120),
        bytes_received: u64_at(128),
    })
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(bytes)
}

/// Each netlink attribute as (type without its flag bits, payload), until the first malformed.
fn attributes(attrs: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut off = 0;
    std::iter::from_fn(move || {
        if off + 4 > attrs.len() {
            return None;
        }
        let len = u16::from_ne_bytes([attrs[off], attrs[off + 1]]) as usize;
        // The top two bits of the type are flags (nested, byte order).
        let kind = u16::from_ne_bytes([attrs[off + 2], attrs[off + 3]]) & 0x3fff;
        if len < 4 || off + len > attrs.len() {
            return None;
        }
        let payload = &attrs[off + 4..off + len];
        off += (len + 3) & !3;
        Some((kind, payload))
    })
}

/// One `struct tcp_info` as the kernel copied it.
pub fn parse_tcp_info(b: &[u8]) -> Option<TcpInfo> {
    if b.len() < REQUIRED_LEN {
        return None;
    }
    let u32_at = |off: usize| u32_at(b, off);
    let u64_at = |off: usize| u64_at(b, off);
    let opt32 = |off: usize| (off + 4 <= b.len()).then(|| u32_at(off));
    let opt64 = |off: usize| (off + 8 <= b.len()).then(|| u64_at(off));
    Some(TcpInfo {
        listener: b[0] == TCP_LISTEN,
        congestion: None,
        ca_state: CaState::from_kernel(b[1]),
        retransmits: b[2],
        probes: b[3],
        backoff: b[4],
        delivery_rate_app_limited: b[7] & 1 != 0,
        rto_us: u32_at(8),
        ato_us: u32_at(12),
        snd_mss: u32_at(16),
        rcv_mss: u32_at(20),
        unacked: u32_at(24),
        sacked: u32_at(28),
        lost: u32_at(32),
        retrans: u32_at(36),
        // 40: tcpi_fackets, always 0 since Linux 4.15.
        last_data_sent_ms: u32_at(44),
        last_ack_sent_ms: u32_at(48),
        last_data_recv_ms: u32_at(52),
        last_ack_recv_ms: u32_at(56),
        pmtu: u32_at(60),
        rcv_ssthresh: u32_at(64),
        rtt_us: u32_at(68),
        rttvar_us: u32_at(72),
        snd_ssthresh: u32_at(76),
        snd_cwnd: u32_at(80),
        advmss: u32_at(84),
        reordering: u32_at(88),
        rcv_rtt_us: u32_at(92),
        rcv_space: u32_at(96),
        total_retrans: u32_at(100),
        pacing_rate: u64_at(104),
        max_pacing_rate: u64_at(112),
        bytes_acked: u64_at(120),
        bytes_received: u64_at(128),
        segs_out: u32_at(136),
        segs_in: u32_at(140),
        notsent_bytes: u32_at(144),
        min_rtt_us: u32_at(148),
        data_segs_in: u32_at(152),
        data_segs_out: u32_at(156),
        delivery_rate: u64_at(160),
        busy_time_us: opt64(168),
        rwnd_limited_us: opt64(176),
        sndbuf_limited_us: opt64(184),
        delivered: opt32(192),
        delivered_ce: opt32(196),
        bytes_sent: opt64(200),
        bytes_retrans: opt64(208),
        dsack_dups: opt32(216),
        reord_seen: opt32(220),
        rcv_ooopack: opt32(224),
        snd_wnd: opt32(228),
        rcv_wnd: opt32(232),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(payload);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out
    }

    fn info_bytes(len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len.max(168)];
        b[1] = 3; // recovery
        b[2] = 1;
        b[7] = 1;
        b[68..72].copy_from_slice(&25u32.to_ne_bytes()); // rtt
        b[80..84].copy_from_slice(&10u32.to_ne_bytes()); // cwnd
        b[100..104].copy_from_slice(&7u32.to_ne_bytes()); // total_retrans
        b[120..128].copy_from_slice(&(1u64 << 40).to_ne_bytes()); // bytes_acked
        if len >= 232 {
            b[228..232].copy_from_slice(&65535u32.to_ne_bytes()); // snd_wnd
        }
        b.truncate(len);
        b
    }

    #[test]
    fn reads_info_and_congestion_among_other_attributes() {
        let mut attrs = attr(8, &[0]); // INET_DIAG_SHUTDOWN, which every full socket carries
        attrs.extend(attr(INET_DIAG_CONG, b"cubic\0"));
        attrs.extend(attr(INET_DIAG_INFO, &info_bytes(248)));
        let info = parse_attributes(&attrs).unwrap();
        assert_eq!(info.congestion.unwrap().as_str(), "cubic");
        assert_eq!(info.ca_state, Some(CaState::Recovery));
        assert_eq!(
            (info.rtt_us, info.snd_cwnd, info.total_retrans),
            (25, 10, 7)
        );
        assert_eq!(info.bytes_acked, 1 << 40);
        assert!(info.delivery_rate_app_limited);
        assert_eq!(info.snd_wnd, Some(65535));
        assert_eq!(info.rcv_wnd, Some(0));
    }

    #[test]
    fn an_older_kernels_shorter_struct_leaves_the_new_fields_unknown() {
        let info = parse_attributes(&attr(INET_DIAG_INFO, &info_bytes(192))).unwrap();
        assert_eq!(info.busy_time_us, Some(0));
        assert_eq!(
            (info.delivered, info.bytes_sent, info.snd_wnd),
            (None, None, None)
        );
        assert_eq!(info.congestion, None);
        // Shorter than delivery_rate: not trusted at all.
        assert_eq!(
            parse_attributes(&attr(INET_DIAG_INFO, &info_bytes(104))),
            None
        );
    }

    /// The brief reads the same offsets as the whole struct: for a struct whose every byte
    /// differs, and for each case the whole parser refuses.
    #[test]
    fn the_brief_is_the_whole_structs_brief() {
        let mut bytes: Vec<u8> = (0..248u32).map(|i| (i * 7 + 3) as u8).collect();
        for listener in [false, true] {
            bytes[0] = if listener { 10 } else { 1 };
            let mut attrs = attr(8, &[0]);
            attrs.extend(attr(INET_DIAG_CONG, b"cubic\0"));
            attrs.extend(attr(INET_DIAG_INFO, &bytes));
            let whole = parse_attributes(&attrs).unwrap();
            let brief = parse_brief(&attrs).unwrap();
            assert_eq!(brief, whole.brief());
            assert_eq!(brief.listener, listener);
            assert_ne!(brief.bytes_acked, brief.bytes_received);
        }
        for refused in [
            attr(INET_DIAG_INFO, &info_bytes(104)),
            attr(INET_DIAG_CONG, b"bbr\0"),
            vec![0xff, 0xff, 2, 0, 1, 2],
            Vec::new(),
        ] {
            assert_eq!(parse_attributes(&refused), None);
            assert_eq!(parse_brief(&refused), None);
        }
    }

    #[test]
    fn no_info_attribute_or_garbage_gives_none() {
        assert_eq!(parse_attributes(&attr(INET_DIAG_CONG, b"bbr\0")), None);
        assert_eq!(parse_attributes(&[]), None);
        assert_eq!(parse_attributes(&[0xff, 0xff, 2, 0, 1, 2]), None);
        assert_eq!(parse_attributes(&[3, 0, 2, 0]), None);
        // A name that is not printable ASCII is dropped, the info kept.
        let mut attrs = attr(INET_DIAG_CONG, b"\x1b[31m\0");
        attrs.extend(attr(INET_DIAG_INFO, &info_bytes(168)));
        assert_eq!(parse_attributes(&attrs).unwrap().congestion, None);
    }
}
