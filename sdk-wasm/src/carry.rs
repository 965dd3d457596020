//! Carry-over of export requests the page could not send while it was closing: they are kept in
//! `localStorage` (bounded) and sent by the next page load of the same origin, instead of being
//! lost. The stored form is a JSON array of complete OTLP request bodies.

use crate::json;

/// Most UTF-8 bytes of request bodies kept for the next load (`localStorage` allows about 5 MB
/// per origin and is shared with the application).
pub const MAX_CARRY_BYTES: usize = 1 << 20;

/// One export request kept for later.
#[derive(Clone, Debug, PartialEq)]
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
        .and_then(json::array_items)
        .unwrap_or_default()
        .into_iter()
        .filter_map(read_entry)
        .filter(|c| c.path == "/v1/traces" || c.path == "/v1/logs")
        .collect()
}

fn read_entry(raw: &str) -> Option<Carried> {
    let members = json::object_members(raw)?;
    let field = |key: &str| members.iter().find(|m| m.key == key).map(|m| m.value);
    Some(Carried {
        path: json::string_value(field("path")?)?.into_owned(),
        body: json::string_value(field("body")?)?.into_owned(),
        items: u32::try_from(json::u64_value(field("items")?)?).ok()?,
    })
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
    let mut out = String::with_capacity(used * 11 / 10 + 64 * list.len());
    out.push('[');
    for (i, c) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"path\":");
        json::push_str(&mut out, &c.path);
        out.push_str(",\"body\":");
        json::push_str(&mut out, &c.body);
        out.push_str(",\"items\":");
        json::push_u64(&mut out, u64::from(c.items));
        out.push('}');
    }
    out.push(']');
    Some(out)
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
    fn bodies_with_escapes_read_back_unchanged() {
        let body = "{\"name\":\"line\\nbreak\", \"tab\":\"\t\", \"é\":\"😀\"}";
        let stored = append(None, entry(body), 1000).expect("fits");
        assert_eq!(parse(Some(&stored)), vec![entry(body)]);
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
        // What earlier versions stored (the same JSON, written by serde) reads back.
        let earlier = r#"[{"path":"/v1/logs","body":"{\"a\":\"\u00e9\"}","items":3}]"#;
        assert_eq!(
            parse(Some(earlier)),
            vec![Carried {
                path: "/v1/logs".into(),
                body: "{\"a\":\"é\"}".into(),
                items: 3
            }]
        );
    }
}
