//! Reading: the reads every engine answers ([`Reads`], the contract), and the one door through
//! which the query API reaches them ([`Store::reader`](super::Store::reader)), a [`Reader`] for
//! one [`Scope`]. Each read takes the scope, and each engine's queries filter by its tenant, so
//! no read can see rows outside the scope it was opened for.

use async_trait::async_trait;

use super::error::StoreError;
use crate::correlate::Rollups;
use crate::logsearch::{LogCount, LogCountQuery, LogPage, LogQuery, cursor};
use crate::model::{
    CallQuery, EventQuery, LogRecord, MetricCatalogQuery, MetricPointQuery, MetricSummary,
    RollupQuery, RoundTrip, RoundTripPoint, RoundTripQuery, SeriesPoint, ServiceSummary,
    SessionOffset, SpanRecord, TraceQuery, TraceSummary,
};
use crate::spanmetrics::CallRollups;

/// Whose rows a read sees. Every stored row carries its tenant (the `tenant` column); the
/// default tenant's rows, and every row stored before tenants existed, carry the empty string,
/// which [`Scope::default`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    tenant: String,
}

impl Scope {
    /// The rows whose `tenant` column holds `stored` ([`crate::access::Tenant::stored`]).
    pub fn of_tenant(stored: &str) -> Self {
        Self {
            tenant: stored.to_owned(),
        }
    }

    /// The tenant whose rows the reads see.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }
}

/// What every engine answers, each read within a [`Scope`]. Engines answer exactly alike for
/// the same stored input; the end-to-end tests compare them.
#[async_trait]
pub(crate) trait Reads: Send + Sync {
    /// All spans of a trace, ordered by start time; empty when the trace is unknown.
    async fn trace(&self, scope: &Scope, trace_id: &str) -> Result<Vec<SpanRecord>, StoreError>;

    /// Trace summaries matching `query`, newest first.
    async fn search(
        &self,
        scope: &Scope,
        query: &TraceQuery,
    ) -> Result<Vec<TraceSummary>, StoreError>;

    /// Services with span counts and last-seen times.
    async fn services(&self, scope: &Scope) -> Result<Vec<ServiceSummary>, StoreError>;

    /// Round trips matching `query`, newest first, each with its session's stored clock offset
    /// (0 when none is known).
    async fn round_trips(
        &self,
        scope: &Scope,
        query: &RoundTripQuery,
    ) -> Result<Vec<(RoundTrip, i64)>, StoreError>;

    /// The times, type and outcome of the newest round trips in `query`'s window (and of its
    /// message type, when given), at most `query.limit`; the other filters are ignored.
    async fn round_trip_points(
        &self,
        scope: &Scope,
        query: &RoundTripQuery,
    ) -> Result<Vec<RoundTripPoint>, StoreError>;

    /// Whether [`Reads::rollups`] answers `query`.
    fn keeps_rollups_for(&self, query: &RollupQuery) -> bool;

    /// The round trips of `query`'s window added up per step and message type; only asked
    /// when [`Reads::keeps_rollups_for`] the query.
    async fn rollups(&self, scope: &Scope, query: &RollupQuery) -> Result<Rollups, StoreError>;

    /// SERVER and CONSUMER spans of `query`'s window (of its service, when given) added up per
    /// step, service and operation ([`crate::spanmetrics`]).
    async fn operations(&self, scope: &Scope, query: &CallQuery)
    -> Result<CallRollups, StoreError>;

    /// Calls between services in `query`'s window added up per step, caller and callee
    /// ([`crate::spanmetrics`]).
    async fn dependencies(
        &self,
        scope: &Scope,
        query: &CallQuery,
    ) -> Result<CallRollups, StoreError>;

    /// Whether any span of `service` is stored.
    async fn has_service(&self, scope: &Scope, service: &str) -> Result<bool, StoreError>;

    /// A browser session's stored clock offset.
    async fn session_offset(
        &self,
        scope: &Scope,
        session_id: &str,
    ) -> Result<Option<SessionOffset>, StoreError>;

    /// A browser session's spans (by `session.id`), oldest first, at most `limit`.
    async fn session_spans(
        &self,
        scope: &Scope,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<SpanRecord>, StoreError>;

    /// A browser session's log records, oldest first, at most `limit`.
    async fn session_logs(
        &self,
        scope: &Scope,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<LogRecord>, StoreError>;

    /// Log records of one event name in a window, newest first.
    async fn events(&self, scope: &Scope, query: &EventQuery)
    -> Result<Vec<LogRecord>, StoreError>;

    /// The metrics with points in `query`'s window, by name and then type.
    async fn metric_catalog(
        &self,
        scope: &Scope,
        query: &MetricCatalogQuery,
    ) -> Result<Vec<MetricSummary>, StoreError>;

    /// The points of one metric in `query`'s window, at most `query.limit + 1` (so that the
    /// caller sees when the window holds more than the limit), in no particular order.
    async fn metric_points(
        &self,
        scope: &Scope,
        query: &MetricPointQuery,
    ) -> Result<Vec<SeriesPoint>, StoreError>;

    /// Log records matching `query`, newest first and in [`cursor`]'s order among records of
    /// the same time, starting after `query.after`, at most `query.limit`.
    async fn logs(&self, scope: &Scope, query: &LogQuery) -> Result<Vec<LogRecord>, StoreError>;

    /// How many records matching `query.filter` each step of the window holds, per severity
    /// number; steps and numbers without records are left out.
    async fn log_counts(
        &self,
        scope: &Scope,
        query: &LogCountQuery,
    ) -> Result<Vec<LogCount>, StoreError>;
}

/// The reads of one [`Scope`]; get one from [`Store::reader`](super::Store::reader).
pub struct Reader<'a> {
    reads: &'a dyn Reads,
    scope: Scope,
}

impl<'a> Reader<'a> {
    pub(super) fn new(reads: &'a dyn Reads, scope: Scope) -> Self {
        Self { reads, scope }
    }

    /// The scope these reads see.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// All spans of a trace, ordered by start time; empty when the trace is unknown.
    pub async fn trace(&self, trace_id: &str) -> Result<Vec<SpanRecord>, StoreError> {
        self.reads.trace(&self.scope, trace_id).await
    }

    /// Trace summaries matching `query`, newest first.
    pub async fn search(&self, query: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        self.reads.search(&self.scope, query).await
    }

    /// Services with span counts and last-seen times.
    pub async fn services(&self) -> Result<Vec<ServiceSummary>, StoreError> {
        self.reads.services(&self.scope).await
    }

    /// Round trips matching `query`, newest first, each with its session's stored clock offset
    /// (0 when none is known).
    pub async fn round_trips(
        &self,
        query: &RoundTripQuery,
    ) -> Result<Vec<(RoundTrip, i64)>, StoreError> {
        self.reads.round_trips(&self.scope, query).await
    }

    /// The times, type and outcome of the newest round trips in `query`'s window (and of its
    /// message type, when given), at most `query.limit`; the other filters are ignored.
    pub async fn round_trip_points(
        &self,
        query: &RoundTripQuery,
    ) -> Result<Vec<RoundTripPoint>, StoreError> {
        self.reads.round_trip_points(&self.scope, query).await
    }

    /// Whether [`Reader::rollups`] answers `query` without the round trips coming back: the
    /// SQLite store keeps rollups per minute, so for a window and step of whole minutes; the
    /// ClickHouse store adds round trips up in the engine, so for any window and positive step.
    pub fn keeps_rollups_for(&self, query: &RollupQuery) -> bool {
        self.reads.keeps_rollups_for(query)
    }

    /// The round trips of `query`'s window added up per step and message type, when
    /// [`Reader::keeps_rollups_for`] it: SQLite's stored minutes added up, or ClickHouse's
    /// aggregation of the round trips; `None` otherwise (add up [`Reader::round_trip_points`]).
    /// Let the correlation step catch up first ([`Store::derive`](super::Store::derive)): it
    /// also refreshes stale rollups.
    pub async fn rollups(&self, query: &RollupQuery) -> Result<Option<Rollups>, StoreError> {
        if !self.reads.keeps_rollups_for(query) {
            return Ok(None);
        }
        self.reads.rollups(&self.scope, query).await.map(Some)
    }

    /// SERVER and CONSUMER spans of `query`'s window (of its service, when given) added up per
    /// step, service and operation ([`crate::spanmetrics`]). Every engine answers any window
    /// and step: SQLite from its per-minute rollups when the window and step are whole minutes,
    /// else from the spans; ClickHouse adds up the spans in the engine. Let the correlation step
    /// catch up first ([`Store::derive`](super::Store::derive)): it also refreshes stale rollups.
    pub async fn operations(&self, query: &CallQuery) -> Result<CallRollups, StoreError> {
        self.reads.operations(&self.scope, query).await
    }

    /// Calls between services in `query`'s window added up per step, caller and callee
    /// ([`crate::spanmetrics`]); answered as [`Reader::operations`] is.
    pub async fn dependencies(&self, query: &CallQuery) -> Result<CallRollups, StoreError> {
        self.reads.dependencies(&self.scope, query).await
    }

    /// Whether any span of `service` is stored.
    pub async fn has_service(&self, service: &str) -> Result<bool, StoreError> {
        self.reads.has_service(&self.scope, service).await
    }

    /// A browser session's stored clock offset.
    pub async fn session_offset(
        &self,
        session_id: &str,
    ) -> Result<Option<SessionOffset>, StoreError> {
        self.reads.session_offset(&self.scope, session_id).await
    }

    /// A browser session's spans (by `session.id`), oldest first, at most `limit`.
    pub async fn session_spans(
        &self,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<SpanRecord>, StoreError> {
        self.reads
            .session_spans(&self.scope, session_id, limit)
            .await
    }

    /// A browser session's log records, oldest first, at most `limit`.
    pub async fn session_logs(
        &self,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<LogRecord>, StoreError> {
        self.reads
            .session_logs(&self.scope, session_id, limit)
            .await
    }

    /// Log records of one event name in a window, newest first.
    pub async fn events(&self, query: &EventQuery) -> Result<Vec<LogRecord>, StoreError> {
        self.reads.events(&self.scope, query).await
    }

    /// The metrics with points in `query`'s window, by name and then type.
    pub async fn metric_catalog(
        &self,
        query: &MetricCatalogQuery,
    ) -> Result<Vec<MetricSummary>, StoreError> {
        self.reads.metric_catalog(&self.scope, query).await
    }

    /// The points of one metric in `query`'s window, at most `query.limit + 1`, in no
    /// particular order.
    pub async fn metric_points(
        &self,
        query: &MetricPointQuery,
    ) -> Result<Vec<SeriesPoint>, StoreError> {
        self.reads.metric_points(&self.scope, query).await
    }

    /// A page of log records matching `query`, newest first, and the next page's cursor.
    pub async fn logs(&self, query: &LogQuery) -> Result<LogPage, StoreError> {
        // One more than the page, to learn whether another follows.
        let mut ask = query.clone();
        ask.limit = query.limit.saturating_add(1);
        let records = self.reads.logs(&self.scope, &ask).await?;
        Ok(cursor::page(records, query.limit, query.after.as_ref()))
    }

    /// How many records matching `query.filter` each step of the window holds, per severity
    /// number.
    pub async fn log_counts(&self, query: &LogCountQuery) -> Result<Vec<LogCount>, StoreError> {
        self.reads.log_counts(&self.scope, query).await
    }
}
