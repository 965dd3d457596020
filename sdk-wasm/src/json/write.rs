//! The writer: quoted strings with the escapes RFC 8259 requires, and numbers without the
//! formatting machinery (integers digit by digit; floats by the platform, see [`push_f64`]).

/// Appends `s` as a JSON string literal: quotes, and escapes for `"`, `\` and control characters
/// (everything else, non-ASCII included, is copied as is).
pub fn push_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let b = s.as_bytes();
    let mut copied = 0;
    for (i, &c) in b.iter().enumerate() {
        let escape = match c {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        // Escapes only replace ASCII bytes, so `i` is always a character boundary.
        out.push_str(crate::text::slice(s, copied, i));
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(c >> 4)]));
            out.push(char::from(HEX[usize::from(c & 0xf)]));
        } else {
            out.push_str(escape);
        }
        copied = i + 1;
    }
    out.push_str(crate::text::tail(s, copied));
    out.push('"');
}

/// `s` as a JSON string literal.
pub fn quoted(s: &str) -> String {
    let mut out = String::new();
    push_str(&mut out, s);
    out
}

/// Appends the decimal digits of `n`.
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.push(char::from(d));
    }
}

/// Appends `n` in decimal, with a minus sign when negative.
pub fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Appends a finite `f` as a JSON number in its shortest round-trip form (callers map NaN and the
/// infinities, which JSON cannot express). In the browser this is JavaScript's own
/// `String(number)`, which keeps the float printing code out of the wasm; elsewhere Rust's.
pub fn push_f64(out: &mut String, f: f64) {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        push_i64(out, f as i64);
        return;
    }
    #[cfg(target_arch = "wasm32")]
    out.push_str(&number_text(f));
    #[cfg(not(target_arch = "wasm32"))]
    out.push_str(&f.to_string());
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// `String(n)`: the shortest text that reads back as `n` (exponent form outside 1e-7..1e21).
    #[wasm_bindgen(js_name = String)]
    fn number_text(n: f64) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_like_serde_json() {
        for s in [
            "",
            "plain",
            "quote \" and backslash \\",
            "lines\nand\ttabs\r",
            "\u{0}\u{1}\u{8}\u{c}\u{1f}\u{7f}",
            "é, 😀 and </script>",
        ] {
            assert_eq!(quoted(s), serde_json::to_string(s).expect("json"), "{s:?}");
        }
    }

    #[test]
    fn integers_print_every_digit() {
        let mut out = String::new();
        for n in [0, 7, 10, 1_700_000_000_000_000_000, u64::MAX] {
            out.clear();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string());
        }
        for n in [i64::MIN, -1, 0, 42, i64::MAX] {
            out.clear();
            push_i64(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn floats_read_back_as_the_same_number() {
        let mut out = String::new();
        for f in [
            0.0,
            -0.0,
            0.5,
            1.25,
            -3.0,
            12.345_678_9,
            1e-7,
            1e300,
            0.1 + 0.2,
        ] {
            out.clear();
            push_f64(&mut out, f);
            let back: f64 = serde_json::from_str(&out).expect("a JSON number");
            assert_eq!(back, f, "{out}");
        }
        out.clear();
        push_f64(&mut out, 3.0);
        assert_eq!(out, "3");
    }
}
