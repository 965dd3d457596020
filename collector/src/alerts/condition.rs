//! Conditions: what a rule measures, each read through the store's reads of the rule's tenant
//! and answered as [`Sample`]s, one per alert (label set). Units: milliseconds for latencies,
//! a ratio from 0 to 1 for error ratios, requests per second for rates, records for log counts,
//! the metric's own unit for metrics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::correlate::{Histogram, Rollup, Rollups};
use crate::counted;
use crate::logsearch::{LogCountQuery, LogFilter, TextQuery};
use crate::model::{
    CallQuery, MetricCatalogQuery, MetricKind, MetricPointQuery, RollupQuery, RoundTripQuery,
};
use crate::rates::Rates;
use crate::series::{self, Agg, Steps};
use crate::spanmetrics::Calls;
use crate::store::{Reader, StoreError};

/// Round trips added up for one evaluation at most, when the store keeps no rollups for the
/// window.
const MAX_ROUND_TRIPS: usize = 1_000_000;
/// Metric points read for one evaluation at most.
const MAX_METRIC_POINTS: usize = 100_000;

/// Which leg of a round trip.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Leg {
    /// Send to reply.
    #[default]
    Total,
    /// Browser to backend.
    Uplink,
    /// Backend handling.
    Server,
    /// Backend to browser.
    Downlink,
}

/// A latency quantile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantile {
    /// Median.
    P50,
    /// 95th percentile.
    #[default]
    P95,
    /// 99th percentile.
    P99,
}

impl Quantile {
    fn of(self, histogram: &Histogram) -> Option<f64> {
        let p = histogram.percentiles()?;
        let ns = match self {
            Self::P50 => p.p50,
            Self::P95 => p.p95,
            Self::P99 => p.p99,
        };
        Some(ns as f64 / 1e6)
    }
}

/// What a rule measures (`condition = { kind = "...", ... }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// A WebSocket round-trip latency quantile in milliseconds, of one message type or all;
    /// `total` includes the round trips the browser counted without a span.
    WsLatency {
        /// `total`, `uplink`, `server` or `downlink` [default: total].
        #[serde(default)]
        field: Leg,
        /// `p50`, `p95` or `p99` [default: p95].
        #[serde(default)]
        quantile: Quantile,
        /// Only this message type.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_type: Option<String>,
    },
    /// Failed round trips over round trips, per message type (or of one), counted messages
    /// included as in the dashboard.
    WsErrorRatio {
        /// Only this message type.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_type: Option<String>,
    },
    /// Requests per second from the SDK's request-rate records: per route (or of one), and
    /// per session when `per_session`.
    HotEndpoint {
        /// Only this route.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        route: Option<String>,
        /// One alert per session and route (the poll storm) instead of per route.
        #[serde(default)]
        per_session: bool,
    },
    /// Calls per second of a service (or of one of its operations).
    ServiceRate {
        /// The service.
        service: String,
        /// Only this operation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation: Option<String>,
    },
    /// Failed calls over calls of a service (or operation).
    ServiceErrorRatio {
        /// The service.
        service: String,
        /// Only this operation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation: Option<String>,
    },
    /// A latency quantile of a service's calls in milliseconds.
    ServiceLatency {
        /// The service.
        service: String,
        /// Only this operation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation: Option<String>,
        /// `p50`, `p95` or `p99` [default: p95].
        #[serde(default)]
        quantile: Quantile,
    },
    /// Log records matching a search (the logs search syntax) in the window.
    LogCount {
        /// The text query, as `GET /api/logs?q=` takes it.
        query: String,
        /// Only records of this service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
    },
    /// A metric's series aggregated over the window (`GET /api/metrics/series` with one step).
    Metric {
        /// The metric's name.
        name: String,
        /// The aggregation, as `agg=` takes it.
        agg: String,
        /// Only points of this service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// Only points with these attribute values.
        #[serde(default)]
        filters: BTreeMap<String, String>,
    },
}

/// The condition's value for one alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The labels that tell this alert from the rule's others (empty for a rule's one alert).
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
    /// The slowest trace behind it, when known.
    pub trace_id: Option<String>,
    /// The session behind it, when known.
    pub session_id: Option<String>,
}

impl Sample {
    fn new(labels: &[(&str, &str)], value: f64) -> Self {
        Self {
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            value,
            trace_id: None,
            session_id: None,
        }
    }
}

fn leg(rollup: &Rollup, leg: Leg) -> &Histogram {
    match leg {
        Leg::Total => &rollup.total,
        Leg::Uplink => &rollup.uplink,
        Leg::Server => &rollup.server,
        Leg::Downlink => &rollup.downlink,
    }
}

impl Condition {
    /// Checks what deserializing cannot: `Err((field, message))`.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        match self {
            Self::ServiceRate { service, .. }
            | Self::ServiceErrorRatio { service, .. }
            | Self::ServiceLatency { service, .. }
                if service.trim().is_empty() =>
            {
                Err(("service", "give the service's name".into()))
            }
            Self::LogCount { query, .. } => match TextQuery::parse(query) {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(("query", "give a search, e.g. \"timeout -retry\"".into())),
                Err(e) => Err(("query", e.to_string())),
            },
            Self::Metric { agg, .. } if Agg::from_name(agg).is_none() => Err((
                "agg",
                format!("'{agg}' is not an aggregation; see docs/metrics.md for the accepted ones"),
            )),
            _ => Ok(()),
        }
    }

    /// The labels each alert of the condition carries besides the rule's.
    pub fn instance_labels(&self) -> Vec<&'static str> {
        match self {
            Self::WsLatency { .. } | Self::WsErrorRatio { .. } => vec!["message_type"],
            Self::HotEndpoint { per_session, .. } => {
                if *per_session {
                    vec!["route", "session_id"]
                } else {
                    vec!["route"]
                }
            }
            Self::ServiceRate { .. }
            | Self::ServiceErrorRatio { .. }
            | Self::ServiceLatency { .. } => {
                vec!["service", "operation"]
            }
            // Never none: an alert's key of no labels would be the rule's own record's.
            Self::LogCount { .. } => vec!["query"],
            Self::Metric { .. } => vec!["metric"],
        }
    }

    /// The condition's samples over `[end_ns - window_ns, end_ns)`.
    pub async fn sample(
        &self,
        reader: &Reader<'_>,
        end_ns: i64,
        window_ns: i64,
    ) -> Result<Vec<Sample>, StoreError> {
        let start_ns = end_ns - window_ns;
        Ok(match self {
            Self::WsLatency {
                field,
                quantile,
                message_type,
            } => {
                let rollups = round_trips(reader, message_type.clone(), start_ns, end_ns).await?;
                let mut all = Rollup::default();
                for r in rollups.per_type().values() {
                    all.merge(r);
                }
                let label = message_type.as_deref().unwrap_or("");
                quantile
                    .of(leg(&all, *field))
                    .map(|value| Sample {
                        trace_id: all.slowest.map(|(_, id)| id),
                        ..Sample::new(&[("message_type", label)], value)
                    })
                    .into_iter()
                    .collect()
            }
            Self::WsErrorRatio { message_type } => {
                let rollups = round_trips(reader, message_type.clone(), start_ns, end_ns).await?;
                rollups
                    .per_type()
                    .into_iter()
                    .filter(|(_, r)| r.count > 0)
                    .map(|(kind, r)| Sample {
                        trace_id: r.newest.map(|(_, id)| id),
                        ..Sample::new(&[("message_type", kind)], r.errors as f64 / r.count as f64)
                    })
                    .collect()
            }
            Self::HotEndpoint { route, per_session } => {
                let rates = Rates::read(reader, end_ns, window_ns).await?;
                let wanted = |r: &str| route.as_deref().is_none_or(|want| want == r);
                if *per_session {
                    rates
                        .sessions
                        .into_iter()
                        .filter(|s| wanted(&s.route))
                        .map(|s| Sample {
                            session_id: Some(s.session_id.clone()),
                            ..Sample::new(
                                &[("route", &s.route), ("session_id", &s.session_id)],
                                s.rate_per_s,
                            )
                        })
                        .collect()
                } else {
                    rates
                        .routes
                        .into_iter()
                        .filter(|r| wanted(&r.route))
                        .map(|r| Sample::new(&[("route", &r.route)], r.rate_per_s))
                        .collect()
                }
            }
            Self::ServiceRate { service, operation }
            | Self::ServiceErrorRatio { service, operation }
            | Self::ServiceLatency {
                service, operation, ..
            } => {
                let calls =
                    service_calls(reader, service, operation.as_deref(), start_ns, end_ns).await?;
                let labels = [
                    ("service", service.as_str()),
                    ("operation", operation.as_deref().unwrap_or("")),
                ];
                let value = match self {
                    Self::ServiceRate { .. } => Some(calls.count as f64 / (window_ns as f64 / 1e9)),
                    Self::ServiceErrorRatio { .. } => calls.error_ratio(),
                    Self::ServiceLatency { quantile, .. } => quantile.of(&calls.durations),
                    _ => None,
                };
                value.map(|v| Sample::new(&labels, v)).into_iter().collect()
            }
            Self::LogCount { query, service } => {
                let filter = LogFilter {
                    text: TextQuery::parse(query).ok().flatten(),
                    services: service.iter().cloned().collect(),
                    ..LogFilter::default()
                };
                let counts = reader
                    .log_counts(&LogCountQuery {
                        filter,
                        start_ns,
                        end_ns,
                        step_ns: window_ns,
                    })
                    .await?;
                let total: u64 = counts.iter().map(|c| c.count).sum();
                vec![Sample::new(&[("query", query.as_str())], total as f64)]
            }
            Self::Metric {
                name,
                agg,
                service,
                filters,
            } => metric(reader, name, agg, service, filters, start_ns, end_ns).await?,
        })
    }
}

/// The messages of a window added up per message type, as the WebSocket dashboard adds them
/// up: the round trips from the store's rollups when it keeps them for the window, else the
/// round trips themselves; then the messages the browser counted without a span
/// ([`crate::counted`]).
async fn round_trips(
    reader: &Reader<'_>,
    message_type: Option<String>,
    start_ns: i64,
    end_ns: i64,
) -> Result<Rollups, StoreError> {
    let query = RollupQuery {
        message_type: message_type.clone(),
        start_ns,
        end_ns,
        step_ns: end_ns - start_ns,
        buckets: 1,
    };
    let mut rollups = match reader.rollups(&query).await? {
        Some(rollups) => rollups,
        None => {
            let points = reader
                .round_trip_points(&RoundTripQuery {
                    message_type,
                    start_ns,
                    end_ns,
                    limit: MAX_ROUND_TRIPS,
                    ..RoundTripQuery::default()
                })
                .await?;
            Rollups::of_points(start_ns, end_ns - start_ns, 1, points.iter())
        }
    };
    counted::add_counted(reader, &query, &mut rollups).await?;
    Ok(rollups)
}

/// A service's (or operation's) calls of a window, added up.
async fn service_calls(
    reader: &Reader<'_>,
    service: &str,
    operation: Option<&str>,
    start_ns: i64,
    end_ns: i64,
) -> Result<Calls, StoreError> {
    let rollups = reader
        .operations(&CallQuery {
            service: Some(service.to_owned()),
            start_ns,
            end_ns,
            step_ns: end_ns - start_ns,
            buckets: 1,
        })
        .await?;
    let mut calls = Calls::default();
    for totals in rollups.totals(|s, op| (s, op)) {
        let (s, op) = totals.key;
        if s == service && operation.is_none_or(|want| want == op) {
            calls.merge(&totals.all);
        }
    }
    Ok(calls)
}

/// A metric's series aggregated over the window in one step: one sample per metric type
/// stored under the name (usually one).
async fn metric(
    reader: &Reader<'_>,
    name: &str,
    agg: &str,
    service: &Option<String>,
    filters: &BTreeMap<String, String>,
    start_ns: i64,
    end_ns: i64,
) -> Result<Vec<Sample>, StoreError> {
    let Some(agg) = Agg::from_name(agg) else {
        return Ok(Vec::new());
    };
    let steps = Steps {
        start_ns,
        end_ns,
        step_ns: end_ns - start_ns,
    };
    let catalog = reader
        .metric_catalog(&MetricCatalogQuery {
            name: Some(name.to_owned()),
            service: service.clone(),
            search: None,
            start_ns: series::read_from(MetricKind::Sum, agg, &steps),
            end_ns,
        })
        .await?;
    let mut samples = Vec::new();
    for summary in catalog.iter().filter(|m| m.name == name) {
        let kind = summary.kind;
        if series::check(kind, agg).is_err() {
            continue;
        }
        let from = series::read_from(kind, agg, &steps);
        let points = reader
            .metric_points(&MetricPointQuery {
                name: name.to_owned(),
                kind,
                service: service.clone(),
                attributes: filters
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                start_ns: from,
                end_ns,
                limit: MAX_METRIC_POINTS,
            })
            .await?;
        let Ok(series) = series::compute(points, kind, agg, &[], &steps, from) else {
            continue;
        };
        samples.extend(
            series
                .iter()
                .filter_map(|s| s.values.first().copied().flatten())
                .map(|value| Sample::new(&[("metric", name)], value)),
        );
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tracewire_semconv::{attribute, event};

    use super::*;
    use crate::correlate::bin_bounds;
    use crate::testing::{browser_event, one_exchange, reads, store_logs, store_spans, temp_store};

    const MS: i64 = 1_000_000;
    const MINUTE: i64 = 60_000 * MS;

    #[tokio::test]
    async fn websocket_conditions_count_the_messages_the_browser_counted() {
        let (_dir, store, _) = temp_store(100).await;
        // One traced round trip of 10 ms at 0 (of no message type), and three counted sends of
        // 200 ms, one of whose replies failed in its listener.
        store_spans(&store, one_exchange(0)).await;
        let bin = bin_bounds().partition_point(|&low| low <= 200 * MS as u64);
        let rtt = format!("{bin}:3");
        store_logs(
            &store,
            vec![browser_event(
                event::WS_MESSAGE_RATE,
                20 * MS,
                &[
                    (attribute::WS_COUNTED_SENT, "3"),
                    (attribute::WS_COUNTED_ERRORS, "1"),
                    (attribute::WS_COUNTED_RTT, &rtt),
                ],
            )],
        )
        .await;
        assert!(
            store
                .derive(Duration::from_secs(10))
                .await
                .expect("derived")
        );
        let reader = reads(&store);
        // A whole minute (SQLite's stored rollups) and a window that is not (the round trips).
        for (end, window) in [(MINUTE, MINUTE), (MINUTE, MINUTE + 7 * MS)] {
            let ratio = Condition::WsErrorRatio { message_type: None }
                .sample(&reader, end, window)
                .await
                .expect("sampled");
            assert_eq!(ratio.len(), 1, "{ratio:?}");
            assert_eq!(ratio[0].value, 0.25, "one failed of four");
            let latency = Condition::WsLatency {
                field: Leg::Total,
                quantile: Quantile::P50,
                message_type: None,
            }
            .sample(&reader, end, window)
            .await
            .expect("sampled");
            let p50 = latency[0].value;
            assert!(
                (p50 - 200.0).abs() <= 2.0,
                "p50 {p50} ms of 10, 200, 200, 200"
            );
        }
    }
}
