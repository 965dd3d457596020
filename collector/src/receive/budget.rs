//! The memory budget of ingest requests in flight ([`OtlpLimits::max_inflight`]). A request
//! reserves its body as it arrives, then its decompressed body and an estimate of what it
//! decodes into, and holds all of it until it is answered. Reserving never waits: what does not
//! fit is a retryable 503, what could never fit is a 413.
//!
//! Bodies being read may hold at most half of the budget between them ([`try_reserve_body`]),
//! so a burst of large bodies cannot take all of it and leave every one of them unable to
//! reserve its decoding: with the other half free of bodies, a request whose decoding needs
//! at most half of the budget is refused only while other requests are decoding, and those
//! give their memory back when answered. (The configuration already requires the budget to be
//! at least twice the body limit, so a body alone always fits in its half.)
//!
//! [`try_reserve_body`]: MemoryBudget::try_reserve_body
//! [`OtlpLimits::max_inflight`]: super::limits::OtlpLimits::max_inflight

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::IngestError;

/// Bytes per permit: the semaphore counts in KiB so that one reservation of up to 4 TiB fits
/// in its `u32` count.
const UNIT: u64 = 1024;

/// The shared budget. Cheap to clone.
#[derive(Clone, Debug)]
pub struct MemoryBudget {
    permits: Arc<Semaphore>,
    /// The share bodies being read may hold: half of `permits`, and one permit more so that
    /// rounding to whole permits never leaves a body of half the budget out.
    bodies: Arc<Semaphore>,
    units: u64,
}

/// Memory held by one request; given back when dropped.
#[derive(Debug, Default)]
pub struct Reservation {
    /// Of the whole budget.
    whole: Option<OwnedSemaphorePermit>,
    /// Of the bodies' share (held beside the same amount of `whole`).
    body: Option<OwnedSemaphorePermit>,
}

fn merge_permit(mine: &mut Option<OwnedSemaphorePermit>, theirs: Option<OwnedSemaphorePermit>) {
    match (mine, theirs) {
        (Some(mine), Some(theirs)) => mine.merge(theirs),
        (mine @ None, theirs) => *mine = theirs,
        (Some(_), None) => {}
    }
}

impl Reservation {
    /// Adds `other` to this reservation.
    pub fn merge(&mut self, other: Reservation) {
        merge_permit(&mut self.whole, other.whole);
        merge_permit(&mut self.body, other.body);
    }
}

impl MemoryBudget {
    /// A budget of `bytes` (at least one KiB).
    pub fn new(bytes: u64) -> Self {
        let units = (bytes / UNIT).clamp(1, Semaphore::MAX_PERMITS as u64);
        Self {
            permits: Arc::new(Semaphore::new(units as usize)),
            bodies: Arc::new(Semaphore::new((units / 2 + 1).min(units) as usize)),
            units,
        }
    }

    /// Reserves `bytes` now or fails: [`IngestError::Overloaded`] while other requests hold
    /// the budget, [`IngestError::OverBudget`] when `bytes` is more than the whole budget.
    pub fn try_reserve(&self, bytes: u64) -> Result<Reservation, IngestError> {
        let Some(count) = self.units_of(bytes)? else {
            return Ok(Reservation::default());
        };
        Ok(Reservation {
            whole: Some(acquire(&self.permits, count)?),
            body: None,
        })
    }

    /// Reserves `bytes` of a body being read, now or fails, as [`try_reserve`] does; bodies
    /// together hold at most half of the budget, so the answer is also
    /// [`IngestError::Overloaded`] while other bodies hold that half.
    ///
    /// [`try_reserve`]: MemoryBudget::try_reserve
    pub fn try_reserve_body(&self, bytes: u64) -> Result<Reservation, IngestError> {
        let Some(count) = self.units_of(bytes)? else {
            return Ok(Reservation::default());
        };
        let body = acquire(&self.bodies, count)?;
        Ok(Reservation {
            whole: Some(acquire(&self.permits, count)?),
            body: Some(body),
        })
    }

    /// The permits `bytes` takes (`None`: nothing to reserve).
    fn units_of(&self, bytes: u64) -> Result<Option<u32>, IngestError> {
        let units = bytes.div_ceil(UNIT);
        if units == 0 {
            return Ok(None);
        }
        let over = IngestError::OverBudget {
            needed: bytes,
            budget: self.units * UNIT,
        };
        if units > self.units {
            return Err(over);
        }
        u32::try_from(units).map(Some).map_err(|_| over)
    }

    /// Bytes not reserved at the moment.
    pub fn available(&self) -> u64 {
        self.permits.available_permits() as u64 * UNIT
    }
}

fn acquire(permits: &Arc<Semaphore>, count: u32) -> Result<OwnedSemaphorePermit, IngestError> {
    Arc::clone(permits)
        .try_acquire_many_owned(count)
        .map_err(|(TryAcquireError::NoPermits | TryAcquireError::Closed)| IngestError::Overloaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_hold_memory_until_dropped() {
        let budget = MemoryBudget::new(10 * UNIT);
        let mut first = budget.try_reserve(4 * UNIT).expect("fits");
        first.merge(budget.try_reserve(UNIT + 1).expect("fits"));
        assert_eq!(budget.available(), 4 * UNIT);
        assert!(matches!(
            budget.try_reserve(5 * UNIT),
            Err(IngestError::Overloaded)
        ));
        drop(first);
        assert_eq!(budget.available(), 10 * UNIT);
        assert!(budget.try_reserve(5 * UNIT).is_ok());
    }

    #[test]
    fn bodies_leave_half_of_the_budget_for_decoding() {
        // A burst of bodies: once they hold their share (half of the budget and a KiB), more
        // are refused, and what a request decodes into still fits; without the share the
        // bodies took everything and no request could go on.
        let budget = MemoryBudget::new(10 * UNIT);
        let bodies: Vec<Reservation> = (0..10)
            .map_while(|_| budget.try_reserve_body(2 * UNIT).ok())
            .collect();
        assert_eq!(bodies.len(), 3, "three bodies of 2 KiB in the 6 KiB share");
        assert!(matches!(
            budget.try_reserve_body(UNIT),
            Err(IngestError::Overloaded)
        ));
        let decoding = budget.try_reserve(4 * UNIT).expect("decoding fits");
        assert_eq!(budget.available(), 0);
        drop(bodies);
        assert_eq!(budget.available(), 6 * UNIT);
        assert!(
            budget.try_reserve_body(2 * UNIT).is_ok(),
            "the share is back"
        );
        drop(decoding);
    }

    #[test]
    fn more_than_the_whole_budget_never_fits() {
        let budget = MemoryBudget::new(10 * UNIT);
        assert!(matches!(
            budget.try_reserve(11 * UNIT),
            Err(IngestError::OverBudget { .. })
        ));
        assert!(matches!(
            budget.try_reserve(u64::MAX),
            Err(IngestError::OverBudget { .. })
        ));
        let mut none = budget.try_reserve(0).expect("nothing to reserve");
        none.merge(Reservation::default());
        assert_eq!(budget.available(), 10 * UNIT);
    }
}
