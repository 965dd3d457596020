//! Carry-over of export requests the page could not send while it was closing: they are kept in
//! `localStorage` (bounded) and sent by the next page load of the same origin, instead of being
//! lost. The stored form is a JSON array of complete OTLP request bodies.

use serde::{Deserialize, Serialize};

/// Most UTF-8 bytes of request bodies kept for the next load (`localStorage` allows about 5 MB
/// per origin and is shared with the application).
pub const MAX_CARRY_BYTES: usize = 1 << 20;

/// One export request kept for later.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Carried {
    /// `/v1/traces` or `/v1/logs`.
    pub path: String,
    /// The OTLP JSON body.
    pub body: String,
    /// Items in the body, for the counters.
    pub items: u32,
}

/// Reads what a previous page stored; anything unreadable counts as nothing.
pub fn parse(stored: Option<&str>) -> Vec<Carried> {
    stored
        .and_then(|s| serde_json::from_str::<Vec<Carried>>(s).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.path == "/v1/traces" || c.path == "/v1/logs")
        .collect()
}

/// Adds `entry` to the stored list when the bodies stay within `max_bytes`; returns the new
/// stored text, or `None` when it does not fit (the caller counts the items as dropped).
pub fn append(stored: Option<&str>, entry: Carried, max_bytes: usize) -> Option<String> {
    let mut list = parse(stored);
    let used: usize = list.iter().map(|c| c.body.len()).sum();
    if used + entry.body.len() > max_bytes {
        return None;
    }
    list.push(entry);
    serde_json::to_string(&list).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: &str) -> Carried {
        Carried {
            path: "/v1/traces".into(),
            body: body.into(),
            items: 2,
        }
    }

    #[test]
    fn entries_accumulate_and_read_back_in_order() {
        let one = append(None, entry("a"), 100).expect("fits");
        let two = append(Some(&one), entry("b"), 100).expect("fits");
        assert_eq!(parse(Some(&two)), vec![entry("a"), entry("b")]);
    }

    #[test]
    fn the_byte_bound_holds() {
        let one = append(None, entry(&"x".repeat(60)), 100).expect("fits");
        assert_eq!(append(Some(&one), entry(&"y".repeat(50)), 100), None);
        assert!(append(Some(&one), entry(&"y".repeat(40)), 100).is_some());
    }

    #[test]
    fn garbage_and_foreign_paths_are_ignored() {
        assert!(parse(Some("not json")).is_empty());
        assert!(parse(None).is_empty());
        let other = r#"[{"path":"/elsewhere","body":"{}","items":1}]"#;
        assert!(parse(Some(other)).is_empty());
    }
}
