//! Reads that requests share: the catch-up of the correlation step before a read
//! ([`caught_up`]), and aggregate reads. A dashboard asks for latency, rates and message types of the same
//! window at once, and each would read every round trip of the window; instead, requests for
//! the same window that arrive together share one catch-up of the correlation step and one
//! read. A request only joins a read whose catch-up starts after it arrived, so it still sees
//! every batch acknowledged before it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;

use super::error::ApiError;
use crate::model::{RoundTripPoint, RoundTripQuery};
use crate::store::{Reader, Scope, Store, StoreError};

/// The longest a request waits for the correlation step to catch up.
const CATCH_UP: Duration = Duration::from_secs(2);
/// How long a read waits for other requests of the same window before it starts.
const GATHER: Duration = Duration::from_millis(10);

type Key = (Scope, i64, i64, Option<String>);
type Points = Result<Arc<Vec<RoundTripPoint>>, String>;

/// Reads gathering requests, by scope, window and message type.
#[derive(Default)]
pub struct SharedReads {
    gathering: Mutex<HashMap<Key, Arc<OnceCell<Points>>>>,
}

impl SharedReads {
    /// The round-trip points of `query` ([`Reader::round_trip_points`]), after the correlation
    /// step caught up, read once for all requests of the same scope and window gathered
    /// meanwhile.
    pub(super) async fn points(
        &self,
        store: &Store,
        reader: &Reader<'_>,
        query: RoundTripQuery,
    ) -> Result<Arc<Vec<RoundTripPoint>>, ApiError> {
        let key: Key = (
            reader.scope().clone(),
            query.start_ns,
            query.end_ns,
            query.message_type.clone(),
        );
        let cell = Arc::clone(
            self.gathering
                .lock()
                .map_err(|_| StoreError::Task("shared reads poisoned".into()))?
                .entry(key.clone())
                .or_default(),
        );
        let points = cell
            .get_or_init(|| async {
                tokio::time::sleep(GATHER).await;
                // Requests arriving from now on start a read of their own.
                if let Ok(mut gathering) = self.gathering.lock()
                    && gathering.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell))
                {
                    gathering.remove(&key);
                }
                let read = async {
                    caught_up(store).await;
                    Ok::<_, ApiError>(Arc::new(reader.round_trip_points(&query).await?))
                };
                read.await.map_err(|e| e.to_string())
            })
            .await;
        points
            .clone()
            .map_err(|e| ApiError::Store(StoreError::Task(e)))
    }
}

/// Lets the store's correlation step catch up with what was stored before this request, for at
/// most [`CATCH_UP`]; after that, or when the step fails (it is logged), the answer holds what
/// the step has derived so far rather than failing.
pub(super) async fn caught_up(store: &Store) {
    match store.derive(CATCH_UP).await {
        Ok(true) => {}
        Ok(false) => tracing::debug!("correlation step behind; answering with what it derived"),
        Err(e) => {
            tracing::warn!(error = %e, "correlation step failed; answering with what it derived")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{one_exchange, store_spans, temp_store};

    fn everything() -> RoundTripQuery {
        RoundTripQuery {
            start_ns: i64::MIN,
            end_ns: i64::MAX,
            limit: 100,
            ..RoundTripQuery::default()
        }
    }

    #[tokio::test]
    async fn requests_arriving_together_share_a_read_and_later_ones_see_new_data() {
        let (_dir, store, _) = temp_store(100).await;
        store_spans(&store, one_exchange(0)).await;
        let reads = SharedReads::default();
        let reader = store.reader(Scope::default());
        let (a, b) = tokio::join!(
            reads.points(&store, &reader, everything()),
            reads.points(&store, &reader, everything())
        );
        let (a, b) = (a.expect("reads"), b.expect("reads"));
        assert!(Arc::ptr_eq(&a, &b), "one read for both");
        assert_eq!(a.len(), 1);

        let mut later = one_exchange(0);
        for span in &mut later {
            span.trace_id = hex::encode([2u8; 16]);
        }
        store_spans(&store, later).await;
        let c = reads
            .points(&store, &reader, everything())
            .await
            .expect("reads");
        assert_eq!(c.len(), 2, "a request after an acknowledged batch sees it");
    }
}
