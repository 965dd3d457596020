//! String helpers that cannot panic. `&s[a..b]` on a `str` carries a panic path that formats the
//! offending text (and pulls the Unicode tables for it into the wasm), and `str::find(&str)`
//! brings the generic two-way substring searcher; the SDK's own scanners know their offsets are
//! character boundaries and search short needles, so these are all they need.

/// `&s[from..to]`, or `""` when that is not a range of character boundaries inside `s`.
pub fn slice(s: &str, from: usize, to: usize) -> &str {
    s.get(from..to).unwrap_or_default()
}

/// `&s[from..]`, or `""` when `from` is not a character boundary inside `s`.
pub fn tail(s: &str, from: usize) -> &str {
    s.get(from..).unwrap_or_default()
}

/// Byte offset of the first occurrence of `needle` in `haystack`, comparing ASCII letters
/// without case when `ignore_case`.
pub fn find(haystack: &str, needle: &str, ignore_case: bool) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return Some(0);
    }
    h.windows(n.len()).position(|w| {
        if ignore_case {
            w.eq_ignore_ascii_case(n)
        } else {
            w == n
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_outside_boundaries_are_empty_instead_of_panicking() {
        assert_eq!(slice("héllo", 0, 1), "h");
        assert_eq!(slice("héllo", 0, 2), "");
        assert_eq!(slice("abc", 2, 9), "");
        assert_eq!(tail("abc", 1), "bc");
        assert_eq!(tail("abc", 4), "");
    }

    #[test]
    fn finds_substrings_with_and_without_case() {
        assert_eq!(find("wss://h/p", "://", false), Some(3));
        assert_eq!(find("X-Api-KEY", "api_key", true), None);
        assert_eq!(find("user.PassWord", "password", true), Some(5));
        assert_eq!(find("user.PassWord", "password", false), None);
        assert_eq!(find("short", "longer needle", true), None);
        assert_eq!(find("", "", false), Some(0));
    }
}
