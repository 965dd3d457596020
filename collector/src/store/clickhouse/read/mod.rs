//! Reads, straight from ClickHouse with the store's client: spans ([`traces`]), log records
//! ([`logs`]), log search ([`log_search`]), the correlation step's round trips and session
//! offsets ([`round_trips`]), rollups added up by the engine ([`rollups`]), span metrics
//! ([`calls`]) and metric points ([`metrics`]). Each read takes the tenant of its
//! [`Scope`](crate::store::Scope) and filters by it.

mod calls;
mod log_search;
mod logs;
mod metrics;
mod rollups;
mod round_trips;
mod traces;

pub(super) use calls::{dependencies, has_service, operations};
pub(super) use log_search::{counts as log_counts, search as search_logs};
pub(super) use logs::{events, session_logs};
pub(super) use metrics::{metric_catalog, metric_points};
pub(super) use rollups::{covers, read as rollups};
pub(super) use round_trips::{round_trip_points, round_trips, session_offset};
pub(super) use traces::{search, services, session_spans, spans_of_traces, trace};

use clickhouse::RowRead;
use clickhouse::query::Query;

use super::error::ClickHouseError;

/// The records of the rows `R` that `query` answers. Rows are read one at a time and made
/// into records as they come, so rows that borrow (SpanRow, LogRow) need no owned copy.
async fn records<R, T>(query: Query) -> Result<Vec<T>, ClickHouseError>
where
    R: RowRead,
    T: for<'a> From<R::Value<'a>>,
{
    let mut cursor = query.fetch::<R>()?;
    let mut records = Vec::new();
    while let Some(row) = cursor.next().await? {
        records.push(T::from(row));
    }
    Ok(records)
}

/// The SQL of every read, for [`super::query_statements`].
#[cfg(feature = "testing")]
pub(super) fn statements() -> Vec<String> {
    use traces::{SEARCH_FILTERS, TRACE_WINDOW_SQL};
    vec![
        TRACE_WINDOW_SQL.to_owned(),
        traces::trace_spans_sql(),
        traces::services_sql(),
        traces::search_sql(&SEARCH_FILTERS.concat()),
        round_trips::round_trips_sql(&round_trips::ROUND_TRIP_FILTERS.concat()),
        round_trips::SESSION_OFFSETS_SQL.to_owned(),
        traces::spans_of_traces_sql(),
        traces::session_spans_sql(),
        logs::session_logs_sql(),
        logs::events_sql(),
        rollups::rollups_sql(round_trips::MESSAGE_TYPE_FILTER),
        calls::operations_sql(calls::SERVICE_FILTER),
        calls::dependencies_sql(),
        calls::HAS_SERVICE_SQL.to_owned(),
    ]
    .into_iter()
    .chain(metrics::statements())
    .collect()
}
