//! The state machine of one alert: inactive → pending (the condition holds, for less than the
//! rule's `for`) → firing → resolved (it stopped holding), and back to pending or firing when
//! it holds again. Pure: the engine reads the previous record, steps it, and notifies on the
//! transitions into firing and from firing into resolved.

use crate::store::{AlertRecord, AlertState};

/// What one evaluation does to one alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The state before.
    pub from: AlertState,
    /// The state after.
    pub to: AlertState,
    /// Since when the condition holds without a break.
    pub active_since_ns: Option<i64>,
}

impl Step {
    /// Whether the state changed.
    pub fn changed(&self) -> bool {
        self.from != self.to
    }

    /// Whether receivers are told: on firing, and on resolving a firing alert.
    pub fn notifies(&self) -> bool {
        self.changed() && matches!(self.to, AlertState::Firing | AlertState::Resolved)
    }
}

/// The next state of an alert whose previous record is `previous`, given whether its
/// condition holds at `now_ns` and the rule's `for_ns`.
pub fn step(previous: Option<&AlertRecord>, holds: bool, now_ns: i64, for_ns: i64) -> Step {
    let from = previous.map_or(AlertState::Inactive, |p| p.state);
    let since = previous.and_then(|p| p.active_since_ns);
    match (from, holds) {
        (AlertState::Inactive | AlertState::Resolved, true) => Step {
            from,
            to: if for_ns <= 0 {
                AlertState::Firing
            } else {
                AlertState::Pending
            },
            active_since_ns: Some(now_ns),
        },
        (AlertState::Pending, true) => {
            let since = since.unwrap_or(now_ns);
            Step {
                from,
                to: if now_ns - since >= for_ns {
                    AlertState::Firing
                } else {
                    AlertState::Pending
                },
                active_since_ns: Some(since),
            }
        }
        (AlertState::Firing, true) => Step {
            from,
            to: AlertState::Firing,
            active_since_ns: since.or(Some(now_ns)),
        },
        (AlertState::Pending, false) => Step {
            from,
            to: AlertState::Inactive,
            active_since_ns: None,
        },
        (AlertState::Firing, false) => Step {
            from,
            to: AlertState::Resolved,
            active_since_ns: None,
        },
        (AlertState::Inactive | AlertState::Resolved, false) => Step {
            from,
            to: from,
            active_since_ns: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(state: AlertState, active_since_ns: Option<i64>) -> AlertRecord {
        AlertRecord {
            rule: "r".into(),
            key: String::new(),
            slot_ns: 0,
            state,
            since_ns: 0,
            active_since_ns,
            value: None,
            labels: Default::default(),
            summary: String::new(),
            trace_id: None,
            session_id: None,
        }
    }

    #[test]
    fn an_alert_goes_pending_then_fires_after_for_and_resolves() {
        let s = step(None, true, 100, 50);
        assert_eq!((s.to, s.active_since_ns), (AlertState::Pending, Some(100)));
        assert!(!s.notifies());
        let pending = record(AlertState::Pending, Some(100));
        assert_eq!(step(Some(&pending), true, 140, 50).to, AlertState::Pending);
        let s = step(Some(&pending), true, 150, 50);
        assert_eq!(s.to, AlertState::Firing);
        assert!(s.notifies());
        let firing = record(AlertState::Firing, Some(100));
        assert!(!step(Some(&firing), true, 200, 50).notifies());
        let s = step(Some(&firing), false, 250, 50);
        assert_eq!(s.to, AlertState::Resolved);
        assert!(s.notifies());
        assert_eq!(
            step(Some(&pending), false, 160, 50).to,
            AlertState::Inactive
        );
        let resolved = record(AlertState::Resolved, None);
        assert!(!step(Some(&resolved), false, 300, 50).changed());
    }

    #[test]
    fn without_for_an_alert_fires_at_once() {
        let s = step(None, true, 100, 0);
        assert_eq!(s.to, AlertState::Firing);
        assert!(s.notifies());
    }
}
