//! Tokens of a log body: maximal runs of ASCII letters and digits and non-ASCII characters.
//! Every other ASCII character separates them, as in SQLite FTS5's `ascii` tokenizer and in
//! ClickHouse's `hasToken` and `tokenbf_v1` index.

/// Whether `c` separates tokens.
pub(crate) fn is_separator(c: char) -> bool {
    c.is_ascii() && !c.is_ascii_alphanumeric()
}

/// The tokens of `text`, as written (case kept), in order.
pub fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_separator).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_punctuation_and_spaces_separate_and_everything_else_joins() {
        let found: Vec<&str> = tokens("GET /api/agents?id=7 user_id: Über—straße\t«x»").collect();
        assert_eq!(
            found,
            [
                "GET",
                "api",
                "agents",
                "id",
                "7",
                "user",
                "id",
                "Über—straße",
                "«x»"
            ]
        );
        assert_eq!(tokens(" .,; ").count(), 0);
    }
}
