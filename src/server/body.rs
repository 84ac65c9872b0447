//! Request bodies: walk past a Content-Length or chunked body, byte-exact and within
//! `--max-body`, so that the next request on the connection starts where it really starts.
//! No route here uses a body, so its bytes are counted and dropped, never buffered.

use super::http::{Framing, HttpError};

/// Longest chunk-size line (size and extensions) accepted, and longest trailer section.
const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 << 10;

/// Where a body decoder stands; `decode` may stop anywhere and resume with the next bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyDecoder {
    Length { remaining: u64 },
    Chunked { state: Chunk, total: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// Before the first hex digit of a chunk size.
    SizeStart,
    Size {
        size: u64,
        line: usize,
    },
    Extension {
        size: u64,
        line: usize,
    },
    SizeLf {
        size: u64,
    },
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart {
        seen: usize,
    },
    TrailerLine {
        seen: usize,
    },
    TrailerLf {
        seen: usize,
    },
    FinalLf,
}

/// Progress through some bytes of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    pub consumed: usize,
    pub done: bool,
}

impl BodyDecoder {
    /// A decoder for the body a head announced, or None when there is no body.
    pub fn new(framing: Framing) -> Option<BodyDecoder> {
        match framing {
            Framing::None => None,
            Framing::Length(n) => Some(BodyDecoder::Length { remaining: n }),
            Framing::Chunked => Some(BodyDecoder::Chunked {
                state: Chunk::SizeStart,
                total: 0,
            }),
        }
    }

    /// Consumes body bytes from the start of `input`; stops at the body's end.
    pub fn decode(&mut self, input: &[u8], max_body: u64) -> Result<Decoded, HttpError> {
        match self {
            BodyDecoder::Length { remaining } => {
                let n = (*remaining).min(input.len() as u64);
                *remaining -= n;
                Ok(Decoded {
                    consumed: n as usize,
                    done: *remaining == 0,
                })
            }
            BodyDecoder::Chunked { state, total } => decode_chunked(state, total, input, max_body),
        }
    }
}

fn decode_chunked(
    state: &mut Chunk,
    total: &mut u64,
    input: &[u8],
    max_body: u64,
) -> Result<Decoded, HttpError> {
    let bad = HttpError::BadRequest;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        *state = match *state {
            Chunk::SizeStart => match hex(b) {
                Some(d) => Chunk::Size {
                    size: u64::from(d),
                    line: 1,
                },
                None => return Err(bad("bad chunk size")),
            },
            Chunk::Size { size, line } => {
                if line > MAX_CHUNK_LINE {
                    return Err(bad("chunk size line too long"));
                }
                match (hex(b), b) {
                    (Some(d), _) => {
                        if size >> 60 != 0 {
                            return Err(HttpError::PayloadTooLarge);
                        }
                        Chunk::Size {
                            size: size << 4 | u64::from(d),
                            line: line + 1,
                        }
                    }
                    (None, b';') => Chunk::Extension {
                        size,
                        line: line + 1,
                    },
                    (None, b'\r') => Chunk::SizeLf { size },
                    _ => return Err(bad("bad chunk size")),
                }
            }
            Chunk::Extension { size, line } => match b {
                _ if line > MAX_CHUNK_LINE => return Err(bad("chunk extension too long")),
                b'\r' => Chunk::SizeLf { size },
                b'\n' => return Err(bad("bare LF in chunk size line")),
                _ => Chunk::Extension {
                    size,
                    line: line + 1,
                },
            },
            Chunk::SizeLf { size } => {
                if b != b'\n' {
                    return Err(bad("CR without LF in chunk size line"));
                }
                if size > max_body.saturating_sub(*total) {
                    return Err(HttpError::PayloadTooLarge);
                }
                *total += size;
                if size == 0 {
                    Chunk::TrailerStart { seen: 0 }
                } else {
                    Chunk::Data { remaining: size }
                }
            }
            Chunk::Data { remaining } => {
                // Skip the whole run of data at once, not byte by byte.
                let n = remaining.min((input.len() - i) as u64);
                i += n as usize;
                let left = remaining - n;
                *state = if left == 0 {
                    Chunk::DataCr
                } else {
                    Chunk::Data { remaining: left }
                };
                continue;
            }
            Chunk::DataCr => match b {
                b'\r' => Chunk::DataLf,
                _ => return Err(bad("chunk data longer than its size")),
            },
            Chunk::DataLf => match b {
                b'\n' => Chunk::SizeStart,
                _ => return Err(bad("CR without LF after chunk data")),
            },
            Chunk::TrailerStart { seen } => match b {
                b'\r' => Chunk::FinalLf,
                b'\n' => return Err(bad("bare LF in trailers")),
                _ => Chunk::TrailerLine { seen: seen + 1 },
            },
            Chunk::TrailerLine { seen } => match b {
                _ if seen > MAX_TRAILERS => return Err(HttpError::HeadersTooLarge),
                b'\r' => Chunk::TrailerLf { seen: seen + 1 },
                b'\n' => return Err(bad("bare LF in trailers")),
                _ => Chunk::TrailerLine { seen: seen + 1 },
            },
            Chunk::TrailerLf { seen } => match b {
                b'\n' => Chunk::TrailerStart { seen: seen + 1 },
                _ => return Err(bad("CR without LF in trailers")),
            },
            Chunk::FinalLf => match b {
                b'\n' => {
                    return Ok(Decoded {
                        consumed: i + 1,
                        done: true,
                    })
                }
                _ => return Err(bad("CR without LF after trailers")),
            },
        };
        i += 1;
    }
    Ok(Decoded {
        consumed: input.len(),
        done: false,
    })
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` split at `at`, returns (consumed in total, done).
    fn feed_split(input: &[u8], at: usize, max: u64) -> Result<(usize, bool), HttpError> {
        let mut d = BodyDecoder::new(Framing::Chunked).unwrap();
        let a = d.decode(&input[..at], max)?;
        if a.done {
            return Ok((a.consumed, true));
        }
        assert_eq!(a.consumed, at);
        let b = d.decode(&input[at..], max)?;
        Ok((at + b.consumed, b.done))
    }

    #[test]
    fn chunked_at_every_split_point() {
        let body = b"5;name=v\r\nhello\r\nC\r\n world again\r\n0\r\nX-T: 1\r\n\r\nGET /next";
        let end = body.len() - b"GET /next".len();
        for at in 0..=body.len() {
            assert_eq!(feed_split(body, at, 100), Ok((end, true)), "split at {at}");
        }
    }

    #[test]
    fn chunked_errors() {
        let cases: [(&[u8], HttpError); 6] = [
            (b"x\r\n", HttpError::BadRequest("bad chunk size")),
            (b"5\nhello", HttpError::BadRequest("bad chunk size")),
            (
                b"5\r\nhelloX",
                HttpError::BadRequest("chunk data longer than its size"),
            ),
            (b"ffffffffffffffffff\r\n", HttpError::PayloadTooLarge),
            (b"65\r\n", HttpError::PayloadTooLarge),
            (b"0\r\nX\n", HttpError::BadRequest("bare LF in trailers")),
        ];
        for (input, want) in cases {
            let mut d = BodyDecoder::new(Framing::Chunked).unwrap();
            assert_eq!(d.decode(input, 100), Err(want), "{input:?}");
        }
    }

    #[test]
    fn chunked_total_counts_against_the_limit() {
        let mut d = BodyDecoder::new(Framing::Chunked).unwrap();
        let r = d.decode(b"6\r\nabcdef\r\n5\r\nabcde\r\n", 10);
        assert_eq!(r, Err(HttpError::PayloadTooLarge));
    }

    #[test]
    fn content_length() {
        let mut d = BodyDecoder::new(Framing::Length(5)).unwrap();
        assert_eq!(
            d.decode(b"abc", 10),
            Ok(Decoded {
                consumed: 3,
                done: false
            })
        );
        assert_eq!(
            d.decode(b"deGET", 10),
            Ok(Decoded {
                consumed: 2,
                done: true
            })
        );
        assert!(BodyDecoder::new(Framing::None).is_none());
    }
}
