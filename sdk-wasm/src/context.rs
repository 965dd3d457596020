//! W3C Trace Context: trace and span ids and the `traceparent` header value.
//!
//! Pure logic, shared by WebSocket message injection, fetch propagation and the OTLP encoder.

use std::fmt;

use crate::text::slice;

/// A 16-byte trace id; never all zeros when valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id; never all zeros when valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    /// Lowercase hex, as OTLP JSON and `traceparent` want it.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Whether the id is valid (not all zeros).
    pub fn is_valid(&self) -> bool {
        self.0.iter().any(|b| *b != 0)
    }
}

impl SpanId {
    /// Lowercase hex, as OTLP JSON and `traceparent` want it.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Whether the id is valid (not all zeros).
    pub fn is_valid(&self) -> bool {
        self.0.iter().any(|b| *b != 0)
    }
}

/// The sampled flag of `trace-flags`.
pub const FLAG_SAMPLED: u8 = 0x01;

/// The parts of a `traceparent` value (version 00).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent {
    /// Trace the span belongs to.
    pub trace_id: TraceId,
    /// The span that is the parent of whatever continues this context.
    pub span_id: SpanId,
    /// `trace-flags`; bit 0 is "sampled".
    pub flags: u8,
}

impl TraceParent {
    /// Whether the sampled flag is set.
    pub fn sampled(&self) -> bool {
        self.flags & FLAG_SAMPLED != 0
    }

    /// Parses a `traceparent` value. Accepts future versions as the spec asks (reads the first four
    /// fields, ignores the rest) but rejects version `ff`, uppercase hex and all-zero ids.
    pub fn parse(value: &str) -> Option<TraceParent> {
        let value = value.trim();
        let bytes = value.as_bytes();
        // Non-ASCII input would make the byte slicing below split a character.
        if bytes.len() < 55 || !value.is_ascii() {
            return None;
        }
        let version = parse_hex::<1>(slice(value, 0, 2))?[0];
        if version == 0xff || (version == 0 && bytes.len() != 55) {
            return None;
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        if bytes.len() > 55 && bytes[55] != b'-' {
            return None;
        }
        let trace_id = TraceId(parse_hex::<16>(slice(value, 3, 35))?);
        let span_id = SpanId(parse_hex::<8>(slice(value, 36, 52))?);
        let flags = parse_hex::<1>(slice(value, 53, 55))?[0];
        if !trace_id.is_valid() || !span_id.is_valid() {
            return None;
        }
        Some(TraceParent {
            trace_id,
            span_id,
            flags,
        })
    }
}

impl TraceParent {
    /// The `traceparent` value, `00-<trace id>-<span id>-<flags>`, built without the formatting
    /// machinery (it is on every traced send).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(55);
        out.push_str("00-");
        hex_into(&mut out, &self.trace_id.0);
        out.push('-');
        hex_into(&mut out, &self.span_id.0);
        out.push('-');
        hex_into(&mut out, &[self.flags]);
        out
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// Lowercase hex encoding.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    hex_into(&mut out, bytes);
    out
}

/// Appends the lowercase hex of `bytes`.
pub fn hex_into(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
}

/// Decodes exactly `N` bytes of lowercase hex.
fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Source of ids: the browser fills it from `crypto.getRandomValues`, tests from fixed bytes.
///
/// Random bytes are drawn in blocks so that a traced `send` does not cross into JavaScript for
/// every id.
pub struct IdGenerator {
    pool: Vec<u8>,
    refill: Refill,
}

/// Fills a buffer with random bytes.
pub type Refill = Box<dyn FnMut(&mut [u8])>;

impl IdGenerator {
    /// Makes a generator that refills its pool with `refill`.
    pub fn new(refill: Refill) -> Self {
        IdGenerator {
            pool: Vec::new(),
            refill,
        }
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        loop {
            if self.pool.len() < N {
                let mut block = vec![0u8; 1024];
                (self.refill)(&mut block);
                self.pool.extend_from_slice(&block);
            }
            let mut out = [0u8; N];
            let start = self.pool.len() - N;
            out.copy_from_slice(&self.pool[start..]);
            self.pool.truncate(start);
            if out.iter().any(|b| *b != 0) {
                return out;
            }
        }
    }

    /// A new random trace id.
    pub fn trace_id(&mut self) -> TraceId {
        TraceId(self.take::<16>())
    }

    /// A new random span id.
    pub fn span_id(&mut self) -> SpanId {
        SpanId(self.take::<8>())
    }

    /// A random number in `[0, 1)` (used for retry jitter).
    pub fn unit(&mut self) -> f64 {
        let b = self.take::<4>();
        f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_and_formats_the_spec_example() {
        let tp = TraceParent::parse(EXAMPLE).expect("valid");
        assert_eq!(tp.trace_id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.span_id.to_hex(), "00f067aa0ba902b7");
        assert!(tp.sampled());
        assert_eq!(tp.to_string(), EXAMPLE);
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-é4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0é",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn accepts_future_versions_with_extra_fields() {
        let v = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-the-future-holds";
        let tp = TraceParent::parse(v).expect("future version");
        assert!(!tp.sampled());
        assert_eq!(tp.to_string()[..3], *"00-");
    }

    #[test]
    fn unsampled_flag_formats_as_00() {
        let tp = TraceParent {
            trace_id: TraceId([1; 16]),
            span_id: SpanId([2; 8]),
            flags: 0,
        };
        assert!(tp.to_string().ends_with("-00"));
    }

    #[test]
    fn generator_never_returns_zero_ids_and_draws_fresh_bytes() {
        let mut calls = 0u8;
        let mut g = IdGenerator::new(Box::new(move |buf: &mut [u8]| {
            calls = calls.wrapping_add(1);
            // The first block is all zeros: those ids must be skipped, not returned.
            for (i, b) in buf.iter_mut().enumerate() {
                *b = if calls == 1 {
                    0
                } else {
                    calls.wrapping_add(i as u8)
                };
            }
        }));
        let a = g.trace_id();
        let b = g.trace_id();
        assert!(a.is_valid() && b.is_valid());
        assert_ne!(a, b);
        let u = g.unit();
        assert!((0.0..1.0).contains(&u));
    }
}
