//! The reader: validates a text and lists the members of an object (or the items of an array) as
//! slices of the original text, without building a tree.

use std::borrow::Cow;

use crate::text::{slice, tail};

/// Deepest nesting accepted; deeper messages are treated as not-JSON (sent untouched).
const MAX_DEPTH: usize = 128;

/// One member of an object: its key (unescaped) and its value as raw JSON text.
#[derive(Debug, PartialEq)]
pub struct Member<'a> {
    /// The key, unescaped.
    pub key: Cow<'a, str>,
    /// The value, exactly as written.
    pub value: &'a str,
}

struct Reader<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader {
            text,
            b: text.as_bytes(),
            pos: 0,
        }
    }

    fn ws(&mut self) {
        while self.pos < self.b.len() && matches!(self.b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.b.get(self.pos) == Some(&c)).then(|| self.pos += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.b
            .get(self.pos..self.pos + word.len())
            .filter(|s| *s == word)?;
        self.pos += word.len();
        Some(())
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.pos < self.b.len() && self.b[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Option<()> {
        let _ = self.eat(b'-');
        match self.b.get(self.pos)? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.eat(b'.').is_some() && self.digits() == 0 {
            return None;
        }
        if matches!(self.b.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.b.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    /// Reads a string literal; returns its contents (between the quotes, still escaped) and
    /// whether it has escapes.
    fn string(&mut self) -> Option<(&'a str, bool)> {
        self.eat(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            match *self.b.get(self.pos)? {
                b'"' => {
                    let s = slice(self.text, start, self.pos);
                    self.pos += 1;
                    return Some((s, escaped));
                }
                b'\\' => {
                    escaped = true;
                    match *self.b.get(self.pos + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 2,
                        b'u' => {
                            let hex = self.b.get(self.pos + 2..self.pos + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.pos += 6;
                        }
                        _ => return None,
                    }
                }
                c if c < 0x20 => return None,
                _ => self.pos += 1,
            }
        }
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match *self.b.get(self.pos)? {
            b'{' => self.object(depth, |_, _| ()),
            b'[' => self.array(depth, |_| ()),
            b'"' => self.string().map(|_| ()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    fn array(&mut self, depth: usize, mut item: impl FnMut(&'a str)) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.ws();
            let start = self.pos;
            self.value(depth + 1)?;
            item(slice(self.text, start, self.pos));
            self.ws();
            if self.eat(b']').is_some() {
                return Some(());
            }
            self.eat(b',')?;
        }
    }

    fn object(
        &mut self,
        depth: usize,
        mut member: impl FnMut(Cow<'a, str>, &'a str),
    ) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            self.ws();
            let (key, escaped) = self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            let start = self.pos;
            self.value(depth + 1)?;
            let key = if escaped {
                Cow::Owned(unescape(key)?)
            } else {
                Cow::Borrowed(key)
            };
            member(key, slice(self.text, start, self.pos));
            self.ws();
            if self.eat(b'}').is_some() {
                return Some(());
            }
            self.eat(b',')?;
        }
    }
}

/// The members of `text` when it is exactly one valid JSON object (surrounding whitespace
/// allowed); `None` for anything else, including invalid JSON.
pub fn object_members(text: &str) -> Option<Vec<Member<'_>>> {
    let mut r = Reader::new(text);
    r.ws();
    let mut members = Vec::new();
    r.object(0, |key, value| members.push(Member { key, value }))?;
    r.ws();
    (r.pos == r.b.len()).then_some(members)
}

/// The items of `text` when it is exactly one valid JSON array, as raw JSON texts; `None` for
/// anything else.
pub fn array_items(text: &str) -> Option<Vec<&str>> {
    let mut r = Reader::new(text);
    r.ws();
    let mut items = Vec::new();
    r.array(0, |item| items.push(item))?;
    r.ws();
    (r.pos == r.b.len()).then_some(items)
}

/// Whether `text` is exactly one valid JSON value (surrounding whitespace allowed).
pub fn is_valid(text: &str) -> bool {
    let mut r = Reader::new(text);
    r.ws();
    if r.value(0).is_none() {
        return false;
    }
    r.ws();
    r.pos == r.b.len()
}

/// The text of a JSON string literal (`"..."`, quotes included), unescaped; `None` if `raw` is
/// not a string.
pub fn string_value(raw: &str) -> Option<Cow<'_, str>> {
    let mut r = Reader::new(raw);
    let (s, escaped) = r.string()?;
    if r.pos != raw.len() {
        return None;
    }
    if escaped {
        unescape(s).map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(s))
    }
}

fn hex4(b: &[u8]) -> Option<u32> {
    b.get(..4)?
        .iter()
        .try_fold(0, |n, c| char::from(*c).to_digit(16).map(|d| n << 4 | d))
}

/// Decodes the escapes of an already validated string body.
fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(slice(s, copied, i));
        let c = *b.get(i + 1)?;
        i += 2;
        match c {
            b'n' => out.push('\n'),
            b't' => out.push('\t'),
            b'r' => out.push('\r'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'u' => {
                let hi = hex4(b.get(i..)?)?;
                i += 4;
                let code = if (0xD800..0xDC00).contains(&hi)
                    && b.get(i) == Some(&b'\\')
                    && b.get(i + 1) == Some(&b'u')
                {
                    let lo = hex4(b.get(i + 2..)?)?;
                    if (0xDC00..0xE000).contains(&lo) {
                        i += 6;
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    } else {
                        hi
                    }
                } else {
                    hi
                };
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            other => out.push(char::from(other)),
        }
        copied = i;
    }
    out.push_str(tail(s, copied));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_serde_json_on_validity() {
        let cases = [
            "{}",
            " { } ",
            r#"{"a":1}"#,
            r#"{"a":[1,2,{"b":null}],"c":"x\"y"}"#,
            "[1, 2]",
            "\"s\"",
            "12",
            "-0.5e+3",
            "true",
            "null",
            "{",
            "}",
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            "[1,]",
            "01",
            "1.",
            "-",
            "1e",
            r#"{"a" 1}"#,
            r#"{'a':1}"#,
            "\"\\x\"",
            "\"\\u12\"",
            "\"tab\there\"",
            "{} {}",
            "",
            "   ",
            "nul",
            "[\"\\ud83d\\ude00\"]",
            r#"{"a":1}x"#,
            "[[[[]]]]",
        ];
        for c in cases {
            let ours = is_valid(c);
            let serde = serde_json::from_str::<serde::de::IgnoredAny>(c).is_ok();
            assert_eq!(ours, serde, "{c:?}");
        }
    }

    #[test]
    fn lists_top_level_members_as_raw_slices() {
        let m = object_members(
            r#" {"type": "chat", "n": 1.5, "nested": {"type": "inner"}, "esc\"key": [1]} "#,
        )
        .expect("object");
        assert_eq!(m.len(), 4);
        assert_eq!(
            m[0],
            Member {
                key: "type".into(),
                value: "\"chat\""
            }
        );
        assert_eq!(m[1].value, "1.5");
        assert_eq!(m[2].value, r#"{"type": "inner"}"#);
        assert_eq!(m[3].key, "esc\"key");
        assert_eq!(object_members("[1]"), None);
        assert_eq!(object_members(r#"{"a":1} trailing"#), None);
        assert_eq!(object_members("{}"), Some(vec![]));
    }

    #[test]
    fn lists_array_items_as_raw_slices() {
        assert_eq!(
            array_items(r#" ["a", 1, {"b": [2]}, []] "#),
            Some(vec!["\"a\"", "1", r#"{"b": [2]}"#, "[]"])
        );
        assert_eq!(array_items("[]"), Some(vec![]));
        assert_eq!(array_items("[1,]"), None);
        assert_eq!(array_items("{}"), None);
    }

    #[test]
    fn string_values_are_unescaped() {
        assert_eq!(string_value(r#""plain""#).as_deref(), Some("plain"));
        assert_eq!(
            string_value(r#""a\nb\u00e9\ud83d\ude00\/""#).as_deref(),
            Some("a\nbé😀/")
        );
        assert_eq!(string_value("12"), None);
        assert_eq!(string_value(r#""a" "#), None);
    }

    #[test]
    fn nesting_beyond_the_limit_is_not_json() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 2), "]".repeat(MAX_DEPTH + 2));
        assert!(!is_valid(&deep));
        let ok = format!("{}{}", "[".repeat(50), "]".repeat(50));
        assert!(is_valid(&ok));
    }
}
