//! The grammar of `q`: terms separated by whitespace; a term is an optional `-` then a phrase
//! in double quotes or a word, either ending in an optional `*`. Errors name the character
//! (counted from 1) where the query goes wrong.

use super::Term;
use super::tokens::tokens;

/// The longest `q` accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 1_000;
/// The most terms a `q` may have.
pub const MAX_TERMS: usize = 20;

/// Why a `q` is not accepted; its message says where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A `"` opens a phrase that never closes.
    #[error("the quote at character {0} opens a phrase that is never closed; add the closing \"")]
    UnclosedQuote(usize),
    /// A `"` inside a word.
    #[error("the quote at character {0} is inside a word; put a space before a phrase")]
    QuoteInWord(usize),
    /// Something follows a phrase's closing quote without a space.
    #[error("character {0} follows the phrase's closing quote; put a space after a phrase")]
    AfterPhrase(usize),
    /// A `*` that does not end a word or phrase.
    #[error("the * at character {0} may only end a word or phrase, as in time* or \"GET /api\"*")]
    Star(usize),
    /// A `-` with nothing after it.
    #[error("the - at character {0} must be followed by a word or phrase to leave out")]
    LoneMinus(usize),
    /// A term without letters or digits.
    #[error("{term} at character {at} has no letters or digits to search for")]
    NoTokens {
        /// The term as written.
        term: String,
        /// Where it starts.
        at: usize,
    },
    /// The query is too long.
    #[error("the query has {0} characters; at most {MAX_QUERY_CHARS} are accepted")]
    TooLong(usize),
    /// The query has too many terms.
    #[error("the term at character {0} is one too many; at most {MAX_TERMS} terms are accepted")]
    TooManyTerms(usize),
}

/// The terms of `q`, in order.
pub(super) fn terms(q: &str) -> Result<Vec<Term>, QueryError> {
    let chars: Vec<char> = q.chars().collect();
    if chars.len() > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong(chars.len()));
    }
    let mut terms = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if terms.len() == MAX_TERMS {
            return Err(QueryError::TooManyTerms(start + 1));
        }
        let exclude = chars[i] == '-';
        if exclude {
            i += 1;
            if i == chars.len() || chars[i].is_whitespace() {
                return Err(QueryError::LoneMinus(start + 1));
            }
        }
        let (text, prefix, end) = if chars[i] == '"' {
            phrase(&chars, i)?
        } else {
            word(&chars, i)?
        };
        let tokens: Vec<String> = tokens(&text).map(str::to_ascii_lowercase).collect();
        if tokens.is_empty() {
            return Err(QueryError::NoTokens {
                term: format!("'{}'", chars[start..end].iter().collect::<String>()),
                at: start + 1,
            });
        }
        terms.push(Term {
            exclude,
            tokens,
            prefix,
        });
        i = end;
    }
    Ok(terms)
}

/// A phrase whose opening quote is at `open`: its text, whether a `*` follows, and where the
/// term ends.
fn phrase(chars: &[char], open: usize) -> Result<(String, bool, usize), QueryError> {
    let close = chars[open + 1..]
        .iter()
        .position(|&c| c == '"')
        .map(|p| open + 1 + p)
        .ok_or(QueryError::UnclosedQuote(open + 1))?;
    let text: String = chars[open + 1..close].iter().collect();
    let mut end = close + 1;
    let prefix = chars.get(end) == Some(&'*');
    if prefix {
        end += 1;
    }
    match chars.get(end) {
        Some(c) if !c.is_whitespace() => Err(if *c == '*' {
            QueryError::Star(end + 1)
        } else {
            QueryError::AfterPhrase(end + 1)
        }),
        _ => Ok((text, prefix, end)),
    }
}

/// A word starting at `from`: its text, whether it ends in `*`, and where it ends.
fn word(chars: &[char], from: usize) -> Result<(String, bool, usize), QueryError> {
    let end = chars[from..]
        .iter()
        .position(|c| c.is_whitespace())
        .map_or(chars.len(), |p| from + p);
    let mut text = String::new();
    let mut prefix = false;
    for (at, &c) in chars.iter().enumerate().take(end).skip(from) {
        match c {
            '"' => return Err(QueryError::QuoteInWord(at + 1)),
            '*' if at + 1 == end => prefix = true,
            '*' => return Err(QueryError::Star(at + 1)),
            c => text.push(c),
        }
    }
    // `user-*` would be a prefix of nothing: the `*` must end a token.
    if prefix && text.chars().last().is_some_and(super::tokens::is_separator) {
        return Err(QueryError::Star(end));
    }
    Ok((text, prefix, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(exclude: bool, tokens: &[&str], prefix: bool) -> Term {
        Term {
            exclude,
            tokens: tokens.iter().map(|t| (*t).to_owned()).collect(),
            prefix,
        }
    }

    #[test]
    fn words_phrases_prefixes_and_exclusions() {
        let parsed =
            terms(r#"Timeout "connection  RESET" time* -healthz -"GET /x"* user-id"#).expect("ok");
        assert_eq!(
            parsed,
            [
                term(false, &["timeout"], false),
                term(false, &["connection", "reset"], false),
                term(false, &["time"], true),
                term(true, &["healthz"], false),
                term(true, &["get", "x"], true),
                term(false, &["user", "id"], false),
            ]
        );
    }

    #[test]
    fn malformed_queries_say_where() {
        let cases: [(&str, QueryError); 9] = [
            (r#"ok "never closed"#, QueryError::UnclosedQuote(4)),
            (r#"fo"o"#, QueryError::QuoteInWord(3)),
            (r#""a b"c"#, QueryError::AfterPhrase(6)),
            ("ti*me", QueryError::Star(3)),
            ("**", QueryError::Star(1)),
            (r#""a"**"#, QueryError::Star(5)),
            ("ok - x", QueryError::LoneMinus(4)),
            ("user-*", QueryError::Star(6)),
            (
                "ok !!! x",
                QueryError::NoTokens {
                    term: "'!!!'".into(),
                    at: 4,
                },
            ),
        ];
        for (q, expected) in cases {
            assert_eq!(terms(q).expect_err(q), expected, "{q}");
        }
        assert_eq!(terms("ok -").expect_err("minus"), QueryError::LoneMinus(4));
        assert!(matches!(
            terms(r#""""#).expect_err("empty phrase"),
            QueryError::NoTokens { at: 1, .. }
        ));
        assert!(
            QueryError::UnclosedQuote(4)
                .to_string()
                .contains("character 4")
        );
    }

    #[test]
    fn limits_on_length_and_terms() {
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        assert_eq!(
            terms(&long).expect_err("long"),
            QueryError::TooLong(MAX_QUERY_CHARS + 1)
        );
        let many = vec!["w"; MAX_TERMS + 1].join(" ");
        assert_eq!(
            terms(&many).expect_err("many"),
            QueryError::TooManyTerms(MAX_TERMS * 2 + 1)
        );
        assert_eq!(
            terms(&vec!["w"; MAX_TERMS].join(" ")).expect("ok").len(),
            MAX_TERMS
        );
    }
}
