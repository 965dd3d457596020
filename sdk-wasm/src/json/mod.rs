//! Small JSON reading and writing for everything the SDK parses or produces: WebSocket messages
//! on the hot path, the configuration's JSON form, OTLP bodies, the stored session and carry-over.
//!
//! No tree and no generic serialiser: the reader hands out slices of the original text, the writer
//! appends to a `String`. That keeps a traced `send` cheap (no allocation per value) and keeps a
//! JSON library and the formatting machinery out of the wasm.

mod read;
mod write;

pub use read::{Member, array_items, is_valid, object_members, string_value};
pub use write::{push_f64, push_i64, push_str, push_u64, quoted};

/// The integer a raw JSON number stands for, when it is a plain non-negative integer (no sign,
/// fraction or exponent) that fits in a `u64`.
pub fn u64_value(raw: &str) -> Option<u64> {
    if raw.is_empty() || !raw.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_integers_are_read_and_anything_else_is_not() {
        assert_eq!(u64_value("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(u64_value("0"), Some(0));
        for raw in ["", "-1", "1.5", "1e3", "\"1\"", "99999999999999999999"] {
            assert_eq!(u64_value(raw), None, "{raw}");
        }
    }
}
