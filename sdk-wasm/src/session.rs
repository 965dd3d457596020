//! Session id lifetime: a new session after 15 minutes without activity or 4 hours in total.
//!
//! The browser layer keeps the state in `sessionStorage` (one session per tab, surviving
//! reloads); this module only decides.

use crate::json;

/// Inactivity after which a new session starts.
pub const IDLE_TIMEOUT_MS: f64 = 15.0 * 60.0 * 1000.0;
/// Longest a session lasts, however active.
pub const MAX_DURATION_MS: f64 = 4.0 * 60.0 * 60.0 * 1000.0;

/// What is stored in `sessionStorage` (as `{"id":"…","started_ms":…,"last_ms":…}`).
#[derive(Clone, Debug, PartialEq)]
pub struct SessionState {
    /// The id put on every span and log as `session.id`.
    pub id: String,
    /// When the session started (ms since the Unix epoch).
    pub started_ms: f64,
    /// Last recorded activity (ms since the Unix epoch).
    pub last_ms: f64,
}

impl SessionState {
    /// Whether the session is still usable at `now_ms`.
    pub fn is_live(&self, now_ms: f64) -> bool {
        now_ms - self.last_ms < IDLE_TIMEOUT_MS
            && now_ms - self.started_ms < MAX_DURATION_MS
            && now_ms >= self.started_ms
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(96);
        out.push_str("{\"id\":");
        json::push_str(&mut out, &self.id);
        out.push_str(",\"started_ms\":");
        json::push_f64(&mut out, self.started_ms);
        out.push_str(",\"last_ms\":");
        json::push_f64(&mut out, self.last_ms);
        out.push('}');
        out
    }

    /// Reads the stored form; `None` when it is anything else (a new session starts then).
    pub fn decode(stored: &str) -> Option<SessionState> {
        let members = json::object_members(stored)?;
        let field = |key: &str| members.iter().find(|m| m.key == key).map(|m| m.value);
        Some(SessionState {
            id: json::string_value(field("id")?)?.into_owned(),
            started_ms: millis(field("started_ms")?)?,
            last_ms: millis(field("last_ms")?)?,
        })
    }

    /// Returns the session to use at `now_ms`: the stored one with its activity refreshed, or a
    /// fresh one with `new_id` when it expired. The bool says whether a new session started.
    pub fn touch(
        stored: Option<SessionState>,
        now_ms: f64,
        new_id: impl FnOnce() -> String,
    ) -> (SessionState, bool) {
        match stored {
            Some(mut s) if s.is_live(now_ms) => {
                s.last_ms = now_ms;
                (s, false)
            }
            _ => (
                SessionState {
                    id: new_id(),
                    started_ms: now_ms,
                    last_ms: now_ms,
                },
                true,
            ),
        }
    }
}

/// Milliseconds written as a plain number (an integer, or with a fraction, as earlier versions
/// stored them); the fraction is dropped.
fn millis(raw: &str) -> Option<f64> {
    let (int, frac) = raw.split_once('.').unwrap_or((raw, "0"));
    if frac.is_empty() || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    json::u64_value(int).map(|ms| ms as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: f64 = 60_000.0;

    fn fresh() -> String {
        "new".to_owned()
    }

    #[test]
    fn the_stored_form_reads_back() {
        let s = SessionState {
            id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            started_ms: 1_700_000_000_000.0,
            last_ms: 1_700_000_123_456.0,
        };
        assert_eq!(SessionState::decode(&s.encode()), Some(s.clone()));
        // What earlier versions stored (floats with a fraction) still reads.
        let old = r#"{"id":"abc","started_ms":1700000000000.0,"last_ms":1700000000001.0}"#;
        assert_eq!(
            SessionState::decode(old).map(|s| (s.id, s.last_ms)),
            Some(("abc".into(), 1_700_000_000_001.0))
        );
        for bad in [
            "",
            "{}",
            "[1]",
            r#"{"id":1,"started_ms":1,"last_ms":1}"#,
            r#"{"id":"a","started_ms":-1,"last_ms":1}"#,
        ] {
            assert_eq!(SessionState::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn no_stored_session_starts_one() {
        let (s, started) = SessionState::touch(None, 1000.0, fresh);
        assert!(started);
        assert_eq!(s.id, "new");
        assert_eq!(s.started_ms, 1000.0);
    }

    #[test]
    fn activity_within_fifteen_minutes_keeps_the_session() {
        let (s, _) = SessionState::touch(None, 0.0, || "a".into());
        let (s, started) = SessionState::touch(Some(s), 14.0 * MIN, fresh);
        assert!(!started);
        assert_eq!(s.id, "a");
        // Activity moved forward, so another 14 minutes later it is still alive.
        let (s, started) = SessionState::touch(Some(s), 28.0 * MIN, fresh);
        assert!(!started);
        assert_eq!(s.id, "a");
    }

    #[test]
    fn fifteen_idle_minutes_start_a_new_session() {
        let (s, _) = SessionState::touch(None, 0.0, || "a".into());
        let (s, started) = SessionState::touch(Some(s), 15.0 * MIN, fresh);
        assert!(started);
        assert_eq!(s.id, "new");
    }

    #[test]
    fn four_hours_end_even_an_active_session() {
        let (mut s, _) = SessionState::touch(None, 0.0, || "a".into());
        let mut t = 0.0;
        while t < 239.0 * MIN {
            t += 10.0 * MIN;
            let (next, started) = SessionState::touch(Some(s), t.min(239.0 * MIN), fresh);
            assert!(!started, "at {t}");
            s = next;
        }
        let (s, started) = SessionState::touch(Some(s), 240.0 * MIN, fresh);
        assert!(started);
        assert_eq!(s.id, "new");
    }

    #[test]
    fn a_clock_that_went_backwards_starts_a_new_session() {
        let (s, _) = SessionState::touch(None, 10.0 * MIN, || "a".into());
        let (_, started) = SessionState::touch(Some(s), 5.0 * MIN, fresh);
        assert!(started);
    }
}
