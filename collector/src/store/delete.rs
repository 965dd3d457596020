//! Deleting one user's or one browser session's data, for requests under data-protection law
//! (GDPR art. 17): whose data ([`Subject`]) and what went ([`Deleted`]). Each engine deletes
//! within one tenant, on every row that names the subject (`user.id` or `session.id` among a
//! span's or log record's attributes or resource attributes, a round trip's user or session)
//! and on every row of the traces those rows belong to: a backend span of a user's request is
//! that user's data too. Derived rows follow: the round trips of those traces, the clock
//! offsets of the sessions involved, and the rollups of the minutes they fell in.

use tracewire_semconv::attribute::{SESSION_ID, USER_ID};

/// Whose data to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// Everything of one `user.id`.
    User(String),
    /// Everything of one `session.id`.
    Session(String),
}

impl Subject {
    /// The attribute that names the subject on spans and log records.
    pub fn attribute(&self) -> &'static str {
        match self {
            Self::User(_) => USER_ID,
            Self::Session(_) => SESSION_ID,
        }
    }

    /// The user or session id.
    pub fn id(&self) -> &str {
        match self {
            Self::User(id) | Self::Session(id) => id,
        }
    }

    /// Whether `attributes` (key and value pairs) name the subject.
    pub(crate) fn named_in<'a>(
        &self,
        attributes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> bool {
        let key = self.attribute();
        attributes
            .into_iter()
            .any(|(k, v)| k == key && v == self.id())
    }
}

/// What a deletion removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Spans, stored and (ClickHouse) still spooled.
    pub spans: u64,
    /// Log records, stored and (ClickHouse) still spooled.
    pub logs: u64,
    /// Round trips derived from those spans.
    pub round_trips: u64,
    /// Clock offsets of the sessions involved.
    pub session_offsets: u64,
}

impl std::ops::AddAssign for Deleted {
    fn add_assign(&mut self, other: Self) {
        self.spans += other.spans;
        self.logs += other.logs;
        self.round_trips += other.round_trips;
        self.session_offsets += other.session_offsets;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_named_by_its_attribute_only() {
        let user = Subject::User("u-1".into());
        assert!(user.named_in([("a", "b"), ("user.id", "u-1")]));
        assert!(!user.named_in([("session.id", "u-1"), ("user.id", "u-10")]));
        assert!(Subject::Session("s".into()).named_in([("session.id", "s")]));
    }
}
