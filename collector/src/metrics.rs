//! The collector's own metrics, served as Prometheus text on `GET /metrics`.

use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::signal::Signal;

impl EncodeLabelValue for Signal {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        encoder.write_str(self.name())
    }
}

/// Why items were refused as retryable.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Refusal {
    /// The write queue was full.
    QueueFull,
    /// The store failed to commit, or the collector was shutting down.
    StoreUnavailable,
    /// The request's key was over its rate.
    RateLimited,
}

impl EncodeLabelValue for Refusal {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        encoder.write_str(match self {
            Self::QueueFull => "queue_full",
            Self::StoreUnavailable => "store_unavailable",
            Self::RateLimited => "rate_limited",
        })
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignalLabels {
    signal: Signal,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    signal: Signal,
    reason: Refusal,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeniedLabels {
    reason: &'static str,
    tenant: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

type HistogramFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// Counters and gauges of the running collector.
pub struct Metrics {
    registry: Registry,
    received: Family<SignalLabels, Counter>,
    accepted: Family<SignalLabels, Counter>,
    rejected: Family<SignalLabels, Counter>,
    refused: Family<RefusedLabels, Counter>,
    denied: Family<DeniedLabels, Counter>,
    stored: Family<SignalLabels, Counter>,
    queue_depth: Gauge,
    queue_capacity: Gauge,
    requests: HistogramFamily,
    spooled: Family<SignalLabels, Counter>,
    spool_bytes: Gauge,
    moved_aside: Family<SignalLabels, Counter>,
    insert_failures: Counter,
    truncated: Family<SignalLabels, Counter>,
    refused_connections: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let received = Family::<SignalLabels, Counter>::default();
        let accepted = Family::<SignalLabels, Counter>::default();
        let rejected = Family::<SignalLabels, Counter>::default();
        let refused = Family::<RefusedLabels, Counter>::default();
        let denied = Family::<DeniedLabels, Counter>::default();
        let stored = Family::<SignalLabels, Counter>::default();
        let queue_depth = Gauge::default();
        let queue_capacity = Gauge::default();
        let requests: HistogramFamily =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.000_25, 2.0, 16)));
        registry.register(
            "tracewire_received_items",
            "Spans and log records received in OTLP requests",
            received.clone(),
        );
        registry.register(
            "tracewire_accepted_items",
            "Items acknowledged to clients as durable",
            accepted.clone(),
        );
        registry.register(
            "tracewire_rejected_items",
            "Items rejected as invalid and reported to clients as partial success",
            rejected.clone(),
        );
        registry.register(
            "tracewire_refused_items",
            "Items refused with a retryable status",
            refused.clone(),
        );
        registry.register(
            "tracewire_ingest_denied_requests",
            "Ingest requests the access file refused, by reason (missing_key, unknown_key, origin, rate_limited) and tenant (empty when the key is unknown)",
            denied.clone(),
        );
        registry.register(
            "tracewire_stored_items",
            "Items committed to the store",
            stored.clone(),
        );
        registry.register(
            "tracewire_write_queue_depth",
            "Items waiting for the store writer",
            queue_depth.clone(),
        );
        registry.register(
            "tracewire_write_queue_capacity",
            "Items the write queue holds at most",
            queue_capacity.clone(),
        );
        registry.register(
            "tracewire_http_request_duration_seconds",
            "HTTP request latency by route and status",
            requests.clone(),
        );
        let spooled = Family::<SignalLabels, Counter>::default();
        let spool_bytes = Gauge::default();
        let moved_aside = Family::<SignalLabels, Counter>::default();
        let insert_failures = Counter::default();
        registry.register(
            "tracewire_spooled_items",
            "Items written to the ClickHouse store's on-disk spool",
            spooled.clone(),
        );
        registry.register(
            "tracewire_spool_bytes",
            "Bytes held in the ClickHouse store's spool",
            spool_bytes.clone(),
        );
        registry.register(
            "tracewire_moved_aside_items",
            "Items ClickHouse refused as bad data, moved aside in the spool's rejected/ directory",
            moved_aside.clone(),
        );
        registry.register(
            "tracewire_clickhouse_insert_failures",
            "ClickHouse INSERTs that failed and will be retried",
            insert_failures.clone(),
        );
        let truncated = Family::<SignalLabels, Counter>::default();
        let refused_connections = Counter::default();
        registry.register(
            "tracewire_truncated_fields",
            "Strings and attribute maps cut to the collector's size limits (the items were stored)",
            truncated.clone(),
        );
        registry.register(
            "tracewire_refused_connections",
            "Ingest connections refused with 503 or closed because --otlp-max-connections were open",
            refused_connections.clone(),
        );
        Self {
            registry,
            received,
            accepted,
            rejected,
            refused,
            denied,
            stored,
            queue_depth,
            queue_capacity,
            requests,
            spooled,
            spool_bytes,
            moved_aside,
            insert_failures,
            truncated,
            refused_connections,
        }
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Metrics {
    /// Strings or maps of a request cut to the size limits.
    pub fn truncated(&self, signal: Signal, n: u64) {
        if n > 0 {
            self.truncated
                .get_or_create(&SignalLabels { signal })
                .inc_by(n);
        }
    }

    /// One ingest connection refused over the connection limit.
    pub fn refused_connection(&self) {
        self.refused_connections.inc();
    }

    /// Items found in a request.
    pub fn received(&self, signal: Signal, n: u64) {
        self.received
            .get_or_create(&SignalLabels { signal })
            .inc_by(n);
    }

    /// Items acknowledged with a 200.
    pub fn accepted(&self, signal: Signal, n: usize) {
        self.accepted
            .get_or_create(&SignalLabels { signal })
            .inc_by(count(n));
    }

    /// Items rejected as invalid.
    pub fn rejected(&self, signal: Signal, n: u64) {
        self.rejected
            .get_or_create(&SignalLabels { signal })
            .inc_by(n);
    }

    /// Items refused with a retryable status.
    pub fn refused(&self, signal: Signal, reason: Refusal, n: usize) {
        self.refused
            .get_or_create(&RefusedLabels { signal, reason })
            .inc_by(count(n));
    }

    /// One ingest request refused by the access file; `tenant` is empty when the key is unknown.
    pub fn denied(&self, reason: &'static str, tenant: &str) {
        self.denied
            .get_or_create(&DeniedLabels {
                reason,
                tenant: tenant.to_owned(),
            })
            .inc();
    }

    /// Items committed by a store writer.
    pub fn stored(&self, signal: Signal, n: usize) {
        self.stored
            .get_or_create(&SignalLabels { signal })
            .inc_by(count(n));
    }

    /// Items spooled by the ClickHouse store.
    pub fn spooled(&self, signal: Signal, n: usize) {
        self.spooled
            .get_or_create(&SignalLabels { signal })
            .inc_by(count(n));
    }

    /// Bytes now held in the spool.
    pub fn spool_bytes(&self, bytes: u64) {
        self.spool_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Items ClickHouse refused as bad data.
    pub fn moved_aside(&self, signal: Signal, n: usize) {
        self.moved_aside
            .get_or_create(&SignalLabels { signal })
            .inc_by(count(n));
    }

    /// One failed (and to be retried) ClickHouse INSERT.
    pub fn insert_failed(&self) {
        self.insert_failures.inc();
    }

    /// One finished HTTP request.
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                status,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition, with the queue gauges read now.
    pub fn render(&self, queue_depth: usize, queue_capacity: usize) -> String {
        self.queue_depth
            .set(i64::try_from(queue_depth).unwrap_or(i64::MAX));
        self.queue_capacity
            .set(i64::try_from(queue_capacity).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_counters_by_signal_and_queue_gauges() {
        let metrics = Metrics::default();
        metrics.received(Signal::Traces, 3);
        metrics.refused(Signal::Logs, Refusal::QueueFull, 2);
        metrics.request("/v1/traces", 200, Duration::from_millis(3));
        metrics.denied("origin", "acme");
        let text = metrics.render(5, 10);
        assert!(
            text.contains(
                r#"tracewire_ingest_denied_requests_total{reason="origin",tenant="acme"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"tracewire_received_items_total{signal="traces"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"tracewire_refused_items_total{signal="logs",reason="queue_full"} 2"#),
            "{text}"
        );
        assert!(text.contains("tracewire_write_queue_depth 5"), "{text}");
        assert!(text.contains(r#"tracewire_http_request_duration_seconds_count{route="/v1/traces",status="200"} 1"#), "{text}");
    }
}
