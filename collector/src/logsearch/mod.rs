//! Log search: the `q` syntax of `GET /api/logs` ([`TextQuery::parse`]), the tokens it matches
//! ([`tokens`]) and the reference matcher ([`TextQuery::matches`]) that the live tail uses and
//! that each store's translation must agree with; the filters around it ([`LogFilter`],
//! [`LogQuery`], [`LogCountQuery`]) and paging ([`cursor`]).
//!
//! The syntax, for people (the README repeats it):
//! - `timeout agent` — every word must occur in the body as a whole token, ignoring ASCII case;
//! - `"connection reset"` — the words occur one right after the other;
//! - `time*` — some token starts with `time`;
//! - `-healthz`, `-"GET /healthz"`, `-debug*` — records that match are left out.
//!
//! A token is a run of ASCII letters and digits and non-ASCII characters; every other ASCII
//! character separates tokens. So a word with punctuation inside (`user-id`, `/api/agents`)
//! is the phrase of its tokens. Case is folded for ASCII letters only, so `Error` finds
//! `ERROR` but `é` does not find `É`. These are the rules of SQLite's FTS5 `ascii` tokenizer and
//! of ClickHouse's `hasToken`, which is why both stores answer alike.

pub mod cursor;
mod filter;
mod parse;
mod tokens;

use std::fmt;

pub use cursor::{CursorError, LogCursor, LogPage};
pub use filter::{Level, LogCount, LogCountQuery, LogFilter, LogQuery};
pub use parse::{MAX_QUERY_CHARS, MAX_TERMS, QueryError};
pub use tokens::tokens;

/// One term of a query: tokens that must occur one after the other in the body, the last one
/// possibly only as a prefix; or, when `exclude` is set, must not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Leave out records that match the term.
    pub exclude: bool,
    /// The term's tokens, ASCII-lowercased, never empty.
    pub tokens: Vec<String>,
    /// The last token matches any token that starts with it.
    pub prefix: bool,
}

impl Term {
    /// A single whole word (not a phrase, not a prefix).
    pub fn is_word(&self) -> bool {
        self.tokens.len() == 1 && !self.prefix
    }

    /// Whether the body's tokens contain this term's tokens in a row (ignoring `exclude`).
    fn found_in(&self, body: &[&str]) -> bool {
        let n = self.tokens.len();
        if body.len() < n {
            return false;
        }
        let last = n - 1;
        body.windows(n).any(|window| {
            window
                .iter()
                .zip(&self.tokens)
                .enumerate()
                .all(|(i, (have, want))| {
                    if i == last && self.prefix {
                        have.len() >= want.len()
                            && have.as_bytes()[..want.len()].eq_ignore_ascii_case(want.as_bytes())
                    } else {
                        have.eq_ignore_ascii_case(want)
                    }
                })
        })
    }
}

/// A parsed `q`: every term must hold. Build one with [`TextQuery::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    terms: Vec<Term>,
}

impl TextQuery {
    /// Parses `q`; `None` for a query with no terms (empty or only spaces). A malformed query
    /// is an error that says what is wrong and at which character.
    pub fn parse(q: &str) -> Result<Option<Self>, QueryError> {
        let terms = parse::terms(q)?;
        Ok((!terms.is_empty()).then_some(Self { terms }))
    }

    /// The terms, in the order written.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// The terms that must match.
    pub fn required(&self) -> impl Iterator<Item = &Term> {
        self.terms.iter().filter(|t| !t.exclude)
    }

    /// The terms that must not match.
    pub fn excluded(&self) -> impl Iterator<Item = &Term> {
        self.terms.iter().filter(|t| t.exclude)
    }

    /// Whether a record with this body matches: the reference every store agrees with.
    pub fn matches(&self, body: &str) -> bool {
        let body: Vec<&str> = tokens(body).collect();
        self.terms.iter().all(|t| t.found_in(&body) != t.exclude)
    }
}

/// The query in canonical form: each term as a quoted phrase of its tokens. Parsing it gives
/// the same query back.
impl fmt::Display for TextQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.terms.iter().enumerate() {
            let space = if i == 0 { "" } else { " " };
            let minus = if term.exclude { "-" } else { "" };
            let star = if term.prefix { "*" } else { "" };
            write!(f, "{space}{minus}\"{}\"{star}", term.tokens.join(" "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> TextQuery {
        TextQuery::parse(text).expect("valid").expect("has terms")
    }

    #[test]
    fn words_must_all_occur_as_whole_tokens_in_any_ascii_case() {
        let query = q("timeout AGENT");
        assert!(query.matches("Agent coder: TIMEOUT after 5s"));
        assert!(!query.matches("agent coder: timeouts after 5s"));
        assert!(!query.matches("timeout only"));
        assert!(q("5s").matches("timeout after 5s."));
        assert!(q("user_id").matches("user id"), "underscore separates");
    }

    #[test]
    fn non_ascii_characters_are_part_of_tokens_and_keep_their_case() {
        assert!(q("straße").matches("Über straße"));
        assert!(!q("über").matches("Über straße"));
        assert!(q("École").matches("ÉCOLE"), "only the ASCII letters fold");
        assert!(!q("a").matches("a—b"), "an em dash joins a token");
    }

    #[test]
    fn phrases_need_their_words_in_a_row() {
        let query = q(r#""connection reset""#);
        assert!(query.matches("error: Connection  reset, by peer"));
        assert!(query.matches("connection-reset"));
        assert!(!query.matches("reset connection"));
        assert!(!query.matches("connection was reset"));
        assert!(q("/api/agents").matches("GET /api/agents 200"));
        assert!(!q("/api/agents").matches("agents api"));
    }

    #[test]
    fn prefixes_match_the_start_of_a_token() {
        assert!(q("time*").matches("Timeouts happen"));
        assert!(!q("time*").matches("overtime"));
        assert!(q(r#""GET /api/ag"*"#).matches("get /API/agents"));
        assert!(!q(r#""GET /api/ag"*"#).matches("get /api/x/agents"));
        assert!(q("straß*").matches("straße"));
    }

    #[test]
    fn excluded_terms_leave_records_out() {
        let query = q("GET -healthz");
        assert!(query.matches("GET /api/agents"));
        assert!(!query.matches("GET /healthz"));
        assert!(q("-debug*").matches("info line"));
        assert!(!q("-debug*").matches("Debugging line"));
        assert!(!q(r#"-"a b""#).matches("x a b y"));
        assert!(q(r#"-"a b""#).matches("b a"));
    }

    #[test]
    fn the_canonical_form_parses_back_to_the_same_query() {
        let query = q(r#"Timeout "a  b" -x* user-id -"GET /x"* straße"#);
        assert_eq!(
            query.to_string(),
            r#""timeout" "a b" -"x"* "user id" -"get x"* "straße""#
        );
        assert_eq!(q(&query.to_string()), query);
    }

    #[test]
    fn empty_queries_have_no_terms() {
        assert_eq!(TextQuery::parse("").expect("valid"), None);
        assert_eq!(TextQuery::parse("   ").expect("valid"), None);
    }
}
