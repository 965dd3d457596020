//! PII scrubbing applied to every attribute before anything leaves the page.
//!
//! Hand-written matchers for e-mail addresses and bearer tokens keep the wasm free of a regex
//! engine; user-supplied patterns run through the browser's own `RegExp` (see `browser`).

use crate::text::{find, slice, tail};

/// Replacement for a whole attribute value whose key is on the deny-list.
pub const REDACTED: &str = "[REDACTED]";
/// Replacement for an e-mail address found inside a value.
pub const REDACTED_EMAIL: &str = "[REDACTED_EMAIL]";

/// What to scrub; built from [`crate::Config`].
#[derive(Clone, Debug)]
pub struct Scrubber {
    deny: Vec<String>,
    emails: bool,
    bearer: bool,
}

impl Scrubber {
    /// `deny` entries are matched case-insensitively as substrings of attribute keys.
    pub fn new(deny: &[String], emails: bool, bearer: bool) -> Self {
        Scrubber {
            deny: deny.iter().map(|d| d.to_ascii_lowercase()).collect(),
            emails,
            bearer,
        }
    }

    /// Whether the value of attribute `key` must be replaced entirely.
    pub fn denies_key(&self, key: &str) -> bool {
        if self.deny.is_empty() {
            return false;
        }
        self.deny.iter().any(|d| find(key, d, true).is_some())
    }

    /// Scrubs one attribute value; returns `None` when nothing had to change.
    pub fn scrub(&self, key: &str, value: &str) -> Option<String> {
        if self.denies_key(key) {
            return Some(REDACTED.to_owned());
        }
        let mut out: Option<String> = None;
        if self.bearer {
            out = redact_bearer(out.as_deref().unwrap_or(value)).or(out);
        }
        if self.emails {
            out = redact_emails(out.as_deref().unwrap_or(value)).or(out);
        }
        out
    }
}

/// Removes the query string and fragment from a URL (`https://a/b?token=x#y` -> `https://a/b`).
pub fn strip_query(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    crate::text::slice(url, 0, end)
}

fn is_local_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-')
}

/// Replaces `local@domain.tld` addresses with [`REDACTED_EMAIL`]; `None` if there were none.
pub fn redact_emails(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'@' {
            i += 1;
            continue;
        }
        let mut start = i;
        while start > copied && is_local_char(b[start - 1]) {
            start -= 1;
        }
        let mut end = i + 1;
        while end < b.len() && is_domain_char(b[end]) {
            end += 1;
        }
        // The domain must not end with a dot or hyphen (sentence punctuation is not part of it).
        while end > i + 1 && matches!(b[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let domain = slice(s, i + 1, end);
        let valid_domain = domain.rsplit_once('.').is_some_and(|(host, tld)| {
            !host.is_empty() && tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic())
        });
        if start < i && valid_domain {
            out.push_str(slice(s, copied, start));
            out.push_str(REDACTED_EMAIL);
            copied = end;
            i = end;
        } else {
            i += 1;
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(tail(s, copied));
    Some(out)
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// Shortest run of token characters treated as a credential, so prose like "the bearer of" stays.
const MIN_TOKEN_LEN: usize = 8;

/// Replaces the credential after `Bearer ` (any case) with [`REDACTED`]; `None` if there was none.
pub fn redact_bearer(s: &str) -> Option<String> {
    const WORD: &[u8] = b"bearer";
    let b = s.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    let mut changed = false;
    while i + WORD.len() < b.len() {
        let at_word_start = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if at_word_start && b[i..i + WORD.len()].eq_ignore_ascii_case(WORD) {
            let mut j = i + WORD.len();
            let spaces = j;
            while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                j += 1;
            }
            let token_start = j;
            while j < b.len() && is_token_char(b[j]) {
                j += 1;
            }
            if token_start > spaces && j - token_start >= MIN_TOKEN_LEN {
                out.push_str(slice(s, copied, token_start));
                out.push_str(REDACTED);
                copied = j;
                changed = true;
                i = j;
                continue;
            }
        }
        i += 1;
    }
    if !changed {
        return None;
    }
    out.push_str(tail(s, copied));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubber() -> Scrubber {
        Scrubber::new(&["password".into(), "Authorization".into()], true, true)
    }

    #[test]
    fn denied_keys_are_replaced_whole_case_insensitively() {
        let s = scrubber();
        assert_eq!(
            s.scrub("user.Password", "hunter2").as_deref(),
            Some(REDACTED)
        );
        assert_eq!(
            s.scrub("http.request.header.authorization", "x").as_deref(),
            Some(REDACTED)
        );
        assert_eq!(s.scrub("message.type", "chat"), None);
    }

    #[test]
    fn emails_inside_values_are_redacted() {
        assert_eq!(
            redact_emails("contact ada.l+x@example.co.uk, or bob@test.io.").as_deref(),
            Some("contact [REDACTED_EMAIL], or [REDACTED_EMAIL].")
        );
        assert_eq!(redact_emails("no at sign here"), None);
        assert_eq!(redact_emails("@handle and a@b"), None);
        assert_eq!(redact_emails("user@localhost"), None);
    }

    #[test]
    fn bearer_tokens_are_redacted_but_the_word_is_kept() {
        assert_eq!(
            redact_bearer("Authorization: Bearer eyJhbGciOi.J9x-y_z== end").as_deref(),
            Some("Authorization: Bearer [REDACTED] end")
        );
        assert_eq!(
            redact_bearer("bearer\tabcdefgh").as_deref(),
            Some("bearer\t[REDACTED]")
        );
        // Ordinary prose is left alone: credentials are at least MIN_TOKEN_LEN characters.
        assert_eq!(redact_bearer("the bearer of news"), None);
        assert_eq!(redact_bearer("cupbearer"), None);
        assert_eq!(redact_bearer("bearer"), None);
    }

    #[test]
    fn scrubber_applies_both_redactions() {
        let s = scrubber();
        assert_eq!(
            s.scrub("msg", "a@b.com sent Bearer t0k3n-abc").as_deref(),
            Some("[REDACTED_EMAIL] sent Bearer [REDACTED]")
        );
        let off = Scrubber::new(&[], false, false);
        assert_eq!(off.scrub("msg", "a@b.com sent Bearer t0k3n-abc"), None);
    }

    #[test]
    fn query_and_fragment_are_stripped() {
        assert_eq!(strip_query("wss://h/p?token=abc#f"), "wss://h/p");
        assert_eq!(strip_query("https://h/p#f"), "https://h/p");
        assert_eq!(strip_query("https://h/p"), "https://h/p");
    }
}
