//! Entity-tags (RFC 9110 §8.8.3): rendering this server's, reading them from requests, and
//! the strong and weak comparisons that `If-Match`, `If-None-Match` and `If-Range` make. Pure;
//! which header uses which comparison, and what a match means, is [`super::conditional`]'s.

/// Two quotes, a dash and two u64 in hex.
const ETAG_MAX: usize = 3 + 2 * 16;

/// A rendered entity-tag, quotes included; no allocation.
#[derive(Debug, Clone, Copy)]
pub struct ETag {
    bytes: [u8; ETAG_MAX],
    len: usize,
}

impl ETag {
    /// `"<mtime hex>-<size hex>"`.
    pub(super) fn nginx(mtime: u64, size: u64) -> ETag {
        let mut e = ETag {
            bytes: [0; ETAG_MAX],
            len: 0,
        };
        e.push(b'"');
        e.push_hex(mtime);
        e.push(b'-');
        e.push_hex(size);
        e.push(b'"');
        e
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push(&mut self, b: u8) {
        self.bytes[self.len] = b;
        self.len += 1;
    }

    fn push_hex(&mut self, n: u64) {
        let digits = (64 - n.leading_zeros()).div_ceil(4).max(1);
        for i in (0..digits).rev() {
            self.push(b"0123456789abcdef"[(n >> (4 * i) & 0xf) as usize]);
        }
    }
}

/// How two entity-tags are compared (RFC 9110 §8.8.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Comparison {
    /// Both tags strong and equal: `If-Match`, `If-Range`.
    Strong,
    /// Equal once a `W/` prefix is dropped: `If-None-Match`.
    Weak,
}

/// `If-Match` or `If-None-Match`: `*`, or a list of entity-tags, any of which matches `etag`
/// (always strong here) by `how`. A malformed list matches nothing.
pub(super) fn list_matches(list: &[u8], etag: &[u8], how: Comparison) -> bool {
    if list.trim_ascii() == b"*" {
        return true;
    }
    let mut matched = false;
    let mut rest = list;
    loop {
        rest = rest.trim_ascii_start();
        while let [b',', tail @ ..] = rest {
            rest = tail.trim_ascii_start();
        }
        if rest.is_empty() {
            return matched;
        }
        let Some((tag, tail)) = entity_tag(rest) else {
            return false;
        };
        matched |= tag.opaque == etag && !(tag.weak && how == Comparison::Strong);
        rest = tail.trim_ascii_start();
        if !(rest.is_empty() || rest[0] == b',') {
            return false;
        }
    }
}

pub(super) struct EntityTag<'a> {
    pub weak: bool,
    /// With its quotes.
    pub opaque: &'a [u8],
}

/// One entity-tag at the start of `b` (RFC 9110 §8.8.3), and what follows it.
pub(super) fn entity_tag(b: &[u8]) -> Option<(EntityTag<'_>, &[u8])> {
    let (weak, b) = match b.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, b),
    };
    if b.first() != Some(&b'"') {
        return None;
    }
    let close = 1 + b[1..].iter().position(|&c| c == b'"')?;
    // etagc: any visible byte but the quote, and obs-text.
    if !b[1..close]
        .iter()
        .all(|&c| c == 0x21 || (0x23..0x7f).contains(&c) || c >= 0x80)
    {
        return None;
    }
    Some((
        EntityTag {
            weak,
            opaque: &b[..=close],
        },
        &b[close + 1..],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each list against this server's tag: (list, weak match, strong match).
    #[test]
    fn tag_lists_compared_weakly_and_strongly() {
        let e = br#""6b094a21-3e8""#;
        for (list, weak, strong) in [
            (r#""6b094a21-3e8""#, true, true),
            (r#" "6b094a21-3e8" "#, true, true),
            (r#"W/"6b094a21-3e8""#, true, false),
            (r#""x", "6b094a21-3e8""#, true, true),
            (r#""x", W/"6b094a21-3e8""#, true, false),
            (r#""x",W/"6b094a21-3e8" , "y""#, true, false),
            (r#""x" ,  "6b094a21-3e8" , W/"y""#, true, true),
            (r#"W/"6b094a21-3e8", "6b094a21-3e8""#, true, true),
            (r#",, "6b094a21-3e8" ,,"#, true, true),
            ("*", true, true),
            (" * ", true, true),
            ("", false, false),
            ("**", false, false),
            (r#""6b094a21-3e9""#, false, false),
            (r#""6B094A21-3E8""#, false, false),
            ("6b094a21-3e8", false, false),
            (r#"w/"6b094a21-3e8""#, false, false),
            (r#""6b094a21-3e8" "x""#, false, false),
            (r#""6b094a21-3e8", x"#, false, false),
            (r#""6b094a21-3e8"#, false, false),
            (r#""6b 094a21-3e8""#, false, false),
            (r#"*, "6b094a21-3e8""#, false, false),
            (r#""6b094a21-3e8", *"#, false, false),
        ] {
            let l = list.as_bytes();
            assert_eq!(list_matches(l, e, Comparison::Weak), weak, "weak {list}");
            assert_eq!(
                list_matches(l, e, Comparison::Strong),
                strong,
                "strong {list}"
            );
        }
        let commas = format!("{}{}", ",".repeat(100_000), r#""6b094a21-3e8""#);
        let many = r#""x", "#.repeat(10_000);
        for how in [Comparison::Weak, Comparison::Strong] {
            assert!(list_matches(commas.as_bytes(), e, how));
            assert!(!list_matches(many.as_bytes(), e, how));
        }
    }
}
