//! Schema and migrations. The version lives in `PRAGMA user_version`; each migration runs once,
//! in its own transaction. Columns follow the OpenTelemetry ClickHouse schema (`otel_traces`,
//! `otel_logs`, `otel_metrics_*`) with SQLite types: ids as lowercase hex, times as unix nanoseconds, attribute
//! maps, events and links as JSON text.

use rusqlite::Connection;

use super::error::SqliteError;

/// Migrations in order; the index plus one is the schema version they bring the file to.
/// 1: spans and logs. 2: lookups by browser session and by log event name (correlation).
/// 3: newest-first trace search walks spans by time within a tenant.
/// 4: the correlation step: traces waiting for it, the round trips and session clock offsets it
///    derives; traces already stored that hold a WebSocket send wait for it too. Round trips
///    are stored in time order, so a dashboard's window is read in one sequential sweep.
/// 5: per-minute rollups of round trips per message type, and the minutes waiting to be rolled
///    up again; every minute already holding a round trip waits.
/// 6: log search: an FTS5 index of log bodies (`logs_fts`, tokenizer `ascii`, the rows' own
///    table as its content, no per-row sizes as nothing is ranked) that the writer keeps in the
///    transaction that writes or deletes the rows ([`super::fts`]), and time-ordered reads within
///    a tenant that carry the severity. Records already stored are indexed in the background,
///    newest first: those at or below `logs_fts_backfill.below` are not yet.
/// 7: metric data points, one table per metric type with the logical columns of the
///    OpenTelemetry ClickHouse exporter's `otel_metrics_*` tables: times in whole seconds (the
///    exporter's `DateTime`), attribute maps, bucket arrays, exemplars and quantiles as JSON.
/// 8: per-minute rollups of span metrics (operation calls and dependency calls, see
///    [`crate::spanmetrics`]), and the minutes waiting to be rolled up again; every minute
///    already holding a span waits.
/// 9: the alert engine's records ([`super::alerts`]): evaluation claims (one row per tenant,
///    rule and slot, so one collector wins each), current states, the history of transitions,
///    the notification log, silences and the rules set through the API; each row's fields as a
///    JSON body beside the columns it is looked up by.
/// 10: the uncertainty of a session's clock offset.
/// 11: a span's `session.id` in its own column (`session_id`, NULL without one; Tracewire's
///    addition to the ClickHouse schema's columns) with a partial index, replacing the index on
///    the attribute inside the JSON.
///
/// Migrations are history: their text never changes once released, so the attribute names in
/// them stay literals (the session indexes match `session.id`,
/// [`tracewire_semconv::attribute::SESSION_ID`], as the queries in `correlate.rs` write it).
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE spans (
    tenant              TEXT    NOT NULL,
    trace_id            TEXT    NOT NULL,
    span_id             TEXT    NOT NULL,
    parent_span_id      TEXT    NOT NULL,
    trace_state         TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    kind                TEXT    NOT NULL,
    service_name        TEXT    NOT NULL,
    start_ns            INTEGER NOT NULL,
    duration_ns         INTEGER NOT NULL,
    status_code         TEXT    NOT NULL,
    status_message      TEXT    NOT NULL,
    scope_name          TEXT    NOT NULL,
    scope_version       TEXT    NOT NULL,
    resource_attributes TEXT    NOT NULL,
    span_attributes     TEXT    NOT NULL,
    events              TEXT    NOT NULL,
    links               TEXT    NOT NULL
);
CREATE UNIQUE INDEX spans_by_trace ON spans (tenant, trace_id, span_id);
CREATE INDEX spans_by_service_time ON spans (tenant, service_name, start_ns);
CREATE INDEX spans_by_duration ON spans (tenant, duration_ns);
CREATE INDEX spans_by_time ON spans (start_ns);

CREATE TABLE logs (
    tenant              TEXT    NOT NULL,
    timestamp_ns        INTEGER NOT NULL,
    observed_ns         INTEGER NOT NULL,
    trace_id            TEXT    NOT NULL,
    span_id             TEXT    NOT NULL,
    trace_flags         INTEGER NOT NULL,
    severity_text       TEXT    NOT NULL,
    severity_number     INTEGER NOT NULL,
    service_name        TEXT    NOT NULL,
    body                TEXT    NOT NULL,
    scope_name          TEXT    NOT NULL,
    scope_version       TEXT    NOT NULL,
    resource_attributes TEXT    NOT NULL,
    log_attributes      TEXT    NOT NULL,
    event_name          TEXT    NOT NULL
);
CREATE INDEX logs_by_trace ON logs (tenant, trace_id) WHERE trace_id != '';
CREATE INDEX logs_by_service_time ON logs (tenant, service_name, timestamp_ns);
CREATE INDEX logs_by_time ON logs (timestamp_ns);
",
    r#"
CREATE INDEX spans_by_session ON spans (tenant, json_extract(span_attributes, '$."session.id"'), start_ns);
CREATE INDEX logs_by_session ON logs (tenant, json_extract(log_attributes, '$."session.id"'), timestamp_ns);
CREATE INDEX logs_by_event ON logs (tenant, event_name, timestamp_ns);
"#,
    r"
CREATE INDEX spans_by_tenant_time ON spans (tenant, start_ns);
",
    r"
CREATE TABLE ws_pending (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant   TEXT NOT NULL,
    trace_id TEXT NOT NULL
);
CREATE TABLE ws_round_trips (
    tenant               TEXT    NOT NULL,
    trace_id             TEXT    NOT NULL,
    send_span_id         TEXT    NOT NULL,
    server_span_id       TEXT    NOT NULL,
    receive_span_id      TEXT,
    session_id           TEXT,
    user_id              TEXT,
    url                  TEXT,
    message_type         TEXT,
    service              TEXT    NOT NULL,
    server_service       TEXT    NOT NULL,
    client_send_ns       INTEGER NOT NULL,
    server_receive_ns    INTEGER NOT NULL,
    server_done_ns       INTEGER NOT NULL,
    client_receive_ns    INTEGER,
    client_processing_ns INTEGER,
    error                INTEGER NOT NULL,
    PRIMARY KEY (tenant, client_send_ns, trace_id, send_span_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX ws_round_trips_by_id ON ws_round_trips (tenant, trace_id, send_span_id);
-- Covers the newest-replies read of a session's clock-offset estimate.
CREATE INDEX ws_round_trips_by_session ON ws_round_trips
    (tenant, session_id, client_send_ns, server_receive_ns, server_done_ns, client_receive_ns);
CREATE TABLE ws_session_offsets (
    tenant     TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    offset_ns  INTEGER NOT NULL,
    samples    INTEGER NOT NULL,
    PRIMARY KEY (tenant, session_id)
);
INSERT INTO ws_pending (tenant, trace_id)
    SELECT DISTINCT tenant, trace_id FROM spans WHERE kind = 'Producer' AND name LIKE 'ws.send%';
",
    r"
CREATE TABLE ws_rollups (
    tenant        TEXT    NOT NULL,
    minute_ns     INTEGER NOT NULL,
    message_type  TEXT    NOT NULL,
    count         INTEGER NOT NULL,
    errors        INTEGER NOT NULL,
    total         BLOB    NOT NULL,
    uplink        BLOB    NOT NULL,
    server        BLOB    NOT NULL,
    downlink      BLOB    NOT NULL,
    slowest_ns    INTEGER,
    slowest_trace TEXT,
    newest_ns     INTEGER NOT NULL,
    newest_trace  TEXT    NOT NULL,
    PRIMARY KEY (tenant, minute_ns, message_type)
) WITHOUT ROWID;
CREATE TABLE ws_rollups_stale (
    tenant    TEXT    NOT NULL,
    minute_ns INTEGER NOT NULL,
    PRIMARY KEY (tenant, minute_ns)
) WITHOUT ROWID;
INSERT INTO ws_rollups_stale (tenant, minute_ns)
    SELECT DISTINCT tenant, client_send_ns - (client_send_ns % 60000000000) FROM ws_round_trips;
",
    r"
CREATE VIRTUAL TABLE logs_fts USING fts5(
    body, content = 'logs', content_rowid = 'rowid', tokenize = 'ascii', columnsize = 0
);
CREATE TABLE logs_fts_backfill (below INTEGER NOT NULL);
INSERT INTO logs_fts_backfill (below) SELECT max(rowid) FROM logs HAVING max(rowid) IS NOT NULL;
CREATE INDEX logs_by_tenant_time ON logs (tenant, timestamp_ns, severity_number);
",
    r"
CREATE TABLE metrics_gauge (
    tenant                   TEXT    NOT NULL,
    service_name             TEXT    NOT NULL,
    metric_name              TEXT    NOT NULL,
    metric_description       TEXT    NOT NULL,
    metric_unit              TEXT    NOT NULL,
    resource_attributes      TEXT    NOT NULL,
    resource_schema_url      TEXT    NOT NULL,
    scope_name               TEXT    NOT NULL,
    scope_version            TEXT    NOT NULL,
    scope_attributes         TEXT    NOT NULL,
    scope_dropped_attr_count INTEGER NOT NULL,
    scope_schema_url         TEXT    NOT NULL,
    attributes               TEXT    NOT NULL,
    start_time_unix          INTEGER NOT NULL,
    time_unix                INTEGER NOT NULL,
    flags                    INTEGER NOT NULL,
    value                    REAL,
    exemplars                TEXT    NOT NULL
);
CREATE INDEX metrics_gauge_by_name_time ON metrics_gauge (tenant, metric_name, time_unix);
CREATE INDEX metrics_gauge_by_time ON metrics_gauge (time_unix);
CREATE TABLE metrics_sum (
    tenant                   TEXT    NOT NULL,
    service_name             TEXT    NOT NULL,
    metric_name              TEXT    NOT NULL,
    metric_description       TEXT    NOT NULL,
    metric_unit              TEXT    NOT NULL,
    resource_attributes      TEXT    NOT NULL,
    resource_schema_url      TEXT    NOT NULL,
    scope_name               TEXT    NOT NULL,
    scope_version            TEXT    NOT NULL,
    scope_attributes         TEXT    NOT NULL,
    scope_dropped_attr_count INTEGER NOT NULL,
    scope_schema_url         TEXT    NOT NULL,
    attributes               TEXT    NOT NULL,
    start_time_unix          INTEGER NOT NULL,
    time_unix                INTEGER NOT NULL,
    flags                    INTEGER NOT NULL,
    value                    REAL,
    exemplars                TEXT    NOT NULL,
    aggregation_temporality  INTEGER NOT NULL,
    is_monotonic             INTEGER NOT NULL
);
CREATE INDEX metrics_sum_by_name_time ON metrics_sum (tenant, metric_name, time_unix);
CREATE INDEX metrics_sum_by_time ON metrics_sum (time_unix);
CREATE TABLE metrics_histogram (
    tenant                   TEXT    NOT NULL,
    service_name             TEXT    NOT NULL,
    metric_name              TEXT    NOT NULL,
    metric_description       TEXT    NOT NULL,
    metric_unit              TEXT    NOT NULL,
    resource_attributes      TEXT    NOT NULL,
    resource_schema_url      TEXT    NOT NULL,
    scope_name               TEXT    NOT NULL,
    scope_version            TEXT    NOT NULL,
    scope_attributes         TEXT    NOT NULL,
    scope_dropped_attr_count INTEGER NOT NULL,
    scope_schema_url         TEXT    NOT NULL,
    attributes               TEXT    NOT NULL,
    start_time_unix          INTEGER NOT NULL,
    time_unix                INTEGER NOT NULL,
    flags                    INTEGER NOT NULL,
    count                    INTEGER NOT NULL,
    sum                      REAL,
    bucket_counts            TEXT    NOT NULL,
    explicit_bounds          TEXT    NOT NULL,
    exemplars                TEXT    NOT NULL,
    min                      REAL,
    max                      REAL,
    aggregation_temporality  INTEGER NOT NULL
);
CREATE INDEX metrics_histogram_by_name_time ON metrics_histogram (tenant, metric_name, time_unix);
CREATE INDEX metrics_histogram_by_time ON metrics_histogram (time_unix);
CREATE TABLE metrics_exponential_histogram (
    tenant                   TEXT    NOT NULL,
    service_name             TEXT    NOT NULL,
    metric_name              TEXT    NOT NULL,
    metric_description       TEXT    NOT NULL,
    metric_unit              TEXT    NOT NULL,
    resource_attributes      TEXT    NOT NULL,
    resource_schema_url      TEXT    NOT NULL,
    scope_name               TEXT    NOT NULL,
    scope_version            TEXT    NOT NULL,
    scope_attributes         TEXT    NOT NULL,
    scope_dropped_attr_count INTEGER NOT NULL,
    scope_schema_url         TEXT    NOT NULL,
    attributes               TEXT    NOT NULL,
    start_time_unix          INTEGER NOT NULL,
    time_unix                INTEGER NOT NULL,
    flags                    INTEGER NOT NULL,
    count                    INTEGER NOT NULL,
    sum                      REAL,
    scale                    INTEGER NOT NULL,
    zero_count               INTEGER NOT NULL,
    positive_offset          INTEGER NOT NULL,
    positive_bucket_counts   TEXT    NOT NULL,
    negative_offset          INTEGER NOT NULL,
    negative_bucket_counts   TEXT    NOT NULL,
    exemplars                TEXT    NOT NULL,
    min                      REAL,
    max                      REAL,
    aggregation_temporality  INTEGER NOT NULL
);
CREATE INDEX metrics_exponential_histogram_by_name_time ON metrics_exponential_histogram (tenant, metric_name, time_unix);
CREATE INDEX metrics_exponential_histogram_by_time ON metrics_exponential_histogram (time_unix);
CREATE TABLE metrics_summary (
    tenant                   TEXT    NOT NULL,
    service_name             TEXT    NOT NULL,
    metric_name              TEXT    NOT NULL,
    metric_description       TEXT    NOT NULL,
    metric_unit              TEXT    NOT NULL,
    resource_attributes      TEXT    NOT NULL,
    resource_schema_url      TEXT    NOT NULL,
    scope_name               TEXT    NOT NULL,
    scope_version            TEXT    NOT NULL,
    scope_attributes         TEXT    NOT NULL,
    scope_dropped_attr_count INTEGER NOT NULL,
    scope_schema_url         TEXT    NOT NULL,
    attributes               TEXT    NOT NULL,
    start_time_unix          INTEGER NOT NULL,
    time_unix                INTEGER NOT NULL,
    flags                    INTEGER NOT NULL,
    count                    INTEGER NOT NULL,
    sum                      REAL,
    value_at_quantiles       TEXT    NOT NULL
);
CREATE INDEX metrics_summary_by_name_time ON metrics_summary (tenant, metric_name, time_unix);
CREATE INDEX metrics_summary_by_time ON metrics_summary (time_unix);
",
    r"
CREATE TABLE operation_rollups (
    tenant    TEXT    NOT NULL,
    minute_ns INTEGER NOT NULL,
    service   TEXT    NOT NULL,
    operation TEXT    NOT NULL,
    calls     INTEGER NOT NULL,
    errors    INTEGER NOT NULL,
    durations BLOB    NOT NULL,
    PRIMARY KEY (tenant, minute_ns, service, operation)
) WITHOUT ROWID;
CREATE TABLE dependency_rollups (
    tenant    TEXT    NOT NULL,
    minute_ns INTEGER NOT NULL,
    caller    TEXT    NOT NULL,
    callee    TEXT    NOT NULL,
    calls     INTEGER NOT NULL,
    errors    INTEGER NOT NULL,
    durations BLOB    NOT NULL,
    PRIMARY KEY (tenant, minute_ns, caller, callee)
) WITHOUT ROWID;
CREATE TABLE call_rollups_stale (
    tenant    TEXT    NOT NULL,
    minute_ns INTEGER NOT NULL,
    PRIMARY KEY (tenant, minute_ns)
) WITHOUT ROWID;
INSERT INTO call_rollups_stale (tenant, minute_ns)
    SELECT DISTINCT tenant, start_ns - (((start_ns % 60000000000) + 60000000000) % 60000000000)
    FROM spans;
",
    r"
CREATE TABLE alert_claims (
    tenant  TEXT    NOT NULL,
    rule    TEXT    NOT NULL,
    slot_ns INTEGER NOT NULL,
    owner   TEXT    NOT NULL,
    PRIMARY KEY (tenant, rule, slot_ns)
) WITHOUT ROWID;
CREATE TABLE alert_states (
    tenant  TEXT    NOT NULL,
    rule    TEXT    NOT NULL,
    key     TEXT    NOT NULL,
    slot_ns INTEGER NOT NULL,
    body    TEXT    NOT NULL,
    PRIMARY KEY (tenant, rule, key)
) WITHOUT ROWID;
CREATE TABLE alert_history (
    tenant  TEXT    NOT NULL,
    time_ns INTEGER NOT NULL,
    rule    TEXT    NOT NULL,
    body    TEXT    NOT NULL
);
CREATE INDEX alert_history_by_time ON alert_history (tenant, time_ns);
CREATE TABLE alert_notifications (
    tenant  TEXT    NOT NULL,
    time_ns INTEGER NOT NULL,
    body    TEXT    NOT NULL
);
CREATE INDEX alert_notifications_by_time ON alert_notifications (tenant, time_ns);
CREATE TABLE alert_silences (
    tenant  TEXT    NOT NULL,
    id      TEXT    NOT NULL,
    ends_ns INTEGER NOT NULL,
    body    TEXT    NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE TABLE alert_rules (
    tenant TEXT NOT NULL,
    name   TEXT NOT NULL,
    body   TEXT NOT NULL,
    PRIMARY KEY (tenant, name)
) WITHOUT ROWID;
",
    // The clock offset's uncertainty; estimates stored before it have none until re-estimated.
    r"
ALTER TABLE ws_session_offsets ADD COLUMN uncertainty_ns INTEGER;
",
    // A span's `session.id` in a column of its own, set by the writer, instead of an index on
    // an expression that parsed every span's attribute JSON on insert; spans without one (most
    // backend spans) are not in the index at all.
    r#"
ALTER TABLE spans ADD COLUMN session_id TEXT;
UPDATE spans SET session_id = json_extract(span_attributes, '$."session.id"')
    WHERE json_extract(span_attributes, '$."session.id"') IS NOT NULL;
DROP INDEX spans_by_session;
CREATE INDEX spans_by_session_id ON spans (tenant, session_id, start_ns) WHERE session_id IS NOT NULL;
"#,
];

/// The schema version this build writes.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`SCHEMA_VERSION`]; returns the version. Refuses a newer file.
pub(super) fn migrate(conn: &mut Connection) -> Result<i64, SqliteError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(SqliteError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(SCHEMA_VERSION)
}
