//! The memory budget of ingest requests in flight ([`OtlpLimits::max_inflight`]). A request
//! reserves its body as it arrives, then its decompressed body and an estimate of what it
//! decodes into, and holds all of it until it is answered. Reserving never waits: what does not
//! fit is a retryable 503, what could never fit is a 413.
//!
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
    units: u64,
}

/// Memory held by one request; given back when dropped.
#[derive(Debug, Default)]
pub struct Reservation(Option<OwnedSemaphorePermit>);

impl Reservation {
    /// Adds `other` to this reservation.
    pub fn merge(&mut self, other: Reservation) {
        match (&mut self.0, other.0) {
            (Some(mine), Some(theirs)) => mine.merge(theirs),
            (mine @ None, theirs) => *mine = theirs,
            (Some(_), None) => {}
        }
    }
}

impl MemoryBudget {
    /// A budget of `bytes` (at least one KiB).
    pub fn new(bytes: u64) -> Self {
        let units = (bytes / UNIT).clamp(1, Semaphore::MAX_PERMITS as u64);
        Self {
            permits: Arc::new(Semaphore::new(units as usize)),
            units,
        }
    }

    /// Reserves `bytes` now or fails: [`IngestError::Overloaded`] while other requests hold
    /// the budget, [`IngestError::OverBudget`] when `bytes` is more than the whole budget.
    pub fn try_reserve(&self, bytes: u64) -> Result<Reservation, IngestError> {
        let units = bytes.div_ceil(UNIT);
        if units == 0 {
            return Ok(Reservation::default());
        }
        if units > self.units {
            return Err(IngestError::OverBudget {
                needed: bytes,
                budget: self.units * UNIT,
            });
        }
        let count = u32::try_from(units).map_err(|_| IngestError::OverBudget {
            needed: bytes,
            budget: self.units * UNIT,
        })?;
        match Arc::clone(&self.permits).try_acquire_many_owned(count) {
            Ok(permit) => Ok(Reservation(Some(permit))),
            Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => {
                Err(IngestError::Overloaded)
            }
        }
    }

    /// Bytes not reserved at the moment.
    pub fn available(&self) -> u64 {
        self.permits.available_permits() as u64 * UNIT
    }
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
