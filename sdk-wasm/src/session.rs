//! Session id lifetime: a new session after 15 minutes without activity or 4 hours in total.
//!
//! The browser layer keeps the state in `sessionStorage` (one session per tab, surviving
//! reloads); this module only decides.

use serde::{Deserialize, Serialize};

/// Inactivity after which a new session starts.
pub const IDLE_TIMEOUT_MS: f64 = 15.0 * 60.0 * 1000.0;
/// Longest a session lasts, however active.
pub const MAX_DURATION_MS: f64 = 4.0 * 60.0 * 60.0 * 1000.0;

/// What is stored in `sessionStorage`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: f64 = 60_000.0;

    fn fresh() -> String {
        "new".to_owned()
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
