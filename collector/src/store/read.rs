//! Reading: the reads every engine answers ([`Reads`], the contract), and the one door through
//! which the query API reaches them ([`Store::reader`](super::Store::reader)), a [`Reader`] for
//! one [`Scope`]. Each read takes the scope, and each engine's queries filter by its tenant, so
//! no read can see rows outside the scope it was opened for.

use async_trait::async_trait;

use super::error::StoreError;
use crate::correlate::Rollups;
use crate::model::{
    EventQuery, LogRecord, RollupQuery, RoundTrip, RoundTripPoint, RoundTripQuery, ServiceSummary,
    SessionOffset, SpanRecord, TraceQuery, TraceSummary,
};

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
}
