//! Span-metrics endpoints ([`crate::spanmetrics`]): request rate, errors and latency per service
//! (`/api/services`) and per operation of a service (`/api/services/{service}/operations`),
//! each over the window and per step, and the calls between services (`/api/dependencies`).
//! Each first lets the correlation step catch up (it also rolls up stale minutes), so a batch
//! acknowledged before the request is in the answer.

use std::cmp::Reverse;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::scope::ReadScope;
use super::shared::caught_up;
use super::views::ServiceView;
use super::window::{Stepped, Window, Windowed};
use super::{Api, ApiError};
use crate::model::CallQuery;
use crate::spanmetrics::{CallRollups, Calls, Totals};

/// The span-metrics endpoints take no parameters but their window (and step).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoParams {}

/// The query of a stepped window (the last hour in about 60 steps by default).
fn call_query(stepped: &Stepped<NoParams>, service: Option<String>) -> CallQuery {
    CallQuery {
        service,
        start_ns: stepped.window.start_ns,
        end_ns: stepped.window.end_ns,
        step_ns: stepped.step_ns,
        buckets: stepped.buckets,
    }
}

/// Calls, errors, rate and latency of a span of time.
#[derive(Serialize)]
pub(super) struct Summary {
    calls: u64,
    errors: u64,
    /// `errors / calls`; null without calls.
    error_ratio: Option<f64>,
    /// Calls per second of the span of time.
    rate_per_s: f64,
    p50_ns: Option<i64>,
    p95_ns: Option<i64>,
    p99_ns: Option<i64>,
}

impl Summary {
    fn new(calls: &Calls, seconds: f64) -> Self {
        let p = calls.percentiles();
        Self {
            calls: calls.count,
            errors: calls.errors,
            error_ratio: calls.error_ratio(),
            rate_per_s: if seconds > 0.0 {
                calls.count as f64 / seconds
            } else {
                0.0
            },
            p50_ns: p.map(|p| p.p50),
            p95_ns: p.map(|p| p.p95),
            p99_ns: p.map(|p| p.p99),
        }
    }
}

/// One step of a series: its start and its summary.
#[derive(Serialize)]
struct Point {
    time_unix_nano: String,
    #[serde(flatten)]
    summary: Summary,
}

/// A summary over the window and a series per step.
#[derive(Serialize)]
pub(super) struct Red {
    #[serde(flatten)]
    summary: Summary,
    series: Vec<Point>,
}

impl Red {
    /// The window's summary and series of `calls` (over the window and one per bucket of
    /// `rollups`); each step's rate is per second of the step inside the window.
    fn new(all: &Calls, series: &[Calls], rollups: &CallRollups, end_ns: i64) -> Self {
        let seconds = |from: i64, to: i64| (to.min(end_ns) - from).max(0) as f64 / 1e9;
        let start = rollups.start_ns();
        let step = rollups.step_ns();
        Self {
            summary: Summary::new(all, seconds(start, end_ns)),
            series: series
                .iter()
                .enumerate()
                .map(|(i, calls)| {
                    let at = start.saturating_add(step.saturating_mul(i as i64));
                    Point {
                        time_unix_nano: at.to_string(),
                        summary: Summary::new(calls, seconds(at, at.saturating_add(step))),
                    }
                })
                .collect(),
        }
    }

    /// A window without calls.
    fn empty(rollups: &CallRollups, end_ns: i64) -> Self {
        let none = vec![Calls::default(); rollups.buckets()];
        Self::new(&Calls::default(), &none, rollups, end_ns)
    }

    fn of(totals: &Totals<&str>, rollups: &CallRollups, end_ns: i64) -> Self {
        Self::new(&totals.all, &totals.series, rollups, end_ns)
    }
}

/// `GET /api/services`: every service with its span count and last-seen time, and the rate,
/// errors and latency of its SERVER and CONSUMER spans over the window and per step.
pub(super) async fn services(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    stepped: Stepped<NoParams>,
) -> Result<Response, ApiError> {
    let q = call_query(&stepped, None);
    caught_up(&api.store).await;
    let reader = api.store.reader(scope);
    let services = reader.services().await?;
    let rollups = reader.operations(&q).await?;
    let totals = rollups.totals(|service, _| service);
    let views: Vec<_> = services
        .iter()
        .map(|s| {
            let red = match totals.binary_search_by(|t| t.key.cmp(s.name.as_str())) {
                Ok(i) => Red::of(&totals[i], &rollups, q.end_ns),
                Err(_) => Red::empty(&rollups, q.end_ns),
            };
            ServiceView::new(s, red)
        })
        .collect();
    Ok(Json(json!({ "services": views })).into_response())
}

#[derive(Serialize)]
struct OperationView<'a> {
    name: &'a str,
    #[serde(flatten)]
    red: Red,
}

/// `GET /api/services/{service}/operations`: the rate, errors and latency of each operation
/// (SERVER and CONSUMER span name) of a service over the window and per step, busiest first.
pub(super) async fn operations(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    Path(service): Path<String>,
    stepped: Stepped<NoParams>,
) -> Result<Response, ApiError> {
    let q = call_query(&stepped, Some(service.clone()));
    caught_up(&api.store).await;
    let reader = api.store.reader(scope);
    let rollups = reader.operations(&q).await?;
    let mut totals = rollups.totals(|_, operation| operation);
    if totals.is_empty() && !reader.has_service(&service).await? {
        return Err(ApiError::NotFound {
            code: "service_not_found",
            message: format!("no spans stored for service {service}"),
        });
    }
    totals.sort_by_key(|t| Reverse(t.all.count));
    let views: Vec<_> = totals
        .iter()
        .map(|t| OperationView {
            name: t.key,
            red: Red::of(t, &rollups, q.end_ns),
        })
        .collect();
    Ok(Json(json!({ "operations": views })).into_response())
}

#[derive(Serialize)]
struct EdgeView<'a> {
    from: &'a str,
    to: &'a str,
    calls: u64,
    errors: u64,
    p95_ns: Option<i64>,
}

/// `GET /api/dependencies`: calls between services over the window (a span whose parent span
/// belongs to another service), busiest first.
pub(super) async fn dependencies(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    Windowed { window, .. }: Windowed<NoParams>,
) -> Result<Response, ApiError> {
    let Window { start_ns, end_ns } = window;
    caught_up(&api.store).await;
    let rollups = api
        .store
        .reader(scope)
        .dependencies(&CallQuery {
            service: None,
            start_ns,
            end_ns,
            step_ns: end_ns - start_ns,
            buckets: 1,
        })
        .await?;
    let mut totals = rollups.totals(|from, to| (from, to));
    totals.sort_by_key(|t| Reverse(t.all.count));
    let edges: Vec<_> = totals
        .iter()
        .map(|t| EdgeView {
            from: t.key.0,
            to: t.key.1,
            calls: t.all.count,
            errors: t.all.errors,
            p95_ns: t.all.percentiles().map(|p| p.p95),
        })
        .collect();
    Ok(Json(json!({ "edges": edges })).into_response())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::json;

    use super::super::tests::{app, get_json};

    /// Two whole minutes around the fixture's spans (at 1_700_000_000 s), a minute a step.
    const WINDOW: &str = "start=1699999980000000000&end=1700000100000000000&step=1m";

    #[tokio::test]
    async fn operations_answer_calls_errors_rate_and_latency_per_step() {
        let (_dir, app, _) = app().await;
        let (status, body) =
            get_json(&app, &format!("/api/services/api/operations?{WINDOW}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let op = &body["operations"][0];
        assert_eq!(body["operations"].as_array().map(Vec::len), Some(1));
        let mut keys: Vec<&str> = op
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "calls",
                "error_ratio",
                "errors",
                "name",
                "p50_ns",
                "p95_ns",
                "p99_ns",
                "rate_per_s",
                "series"
            ]
        );
        assert_eq!(
            (&op["name"], &op["calls"], &op["errors"], &op["error_ratio"]),
            (&json!("handle"), &json!(1), &json!(1), &json!(1.0))
        );
        assert_eq!(op["rate_per_s"], json!(1.0 / 120.0));
        let p50 = op["p50_ns"].as_i64().expect("p50");
        assert!((p50 - 1_000_000).abs() <= 10_000, "{op}");
        assert_eq!(
            op["series"],
            json!([
                {"time_unix_nano": "1699999980000000000", "calls": 1, "errors": 1, "error_ratio": 1.0,
                 "rate_per_s": 1.0 / 60.0, "p50_ns": p50, "p95_ns": p50, "p99_ns": p50},
                {"time_unix_nano": "1700000040000000000", "calls": 0, "errors": 0, "error_ratio": null,
                 "rate_per_s": 0.0, "p50_ns": null, "p95_ns": null, "p99_ns": null},
            ])
        );
    }

    #[tokio::test]
    async fn services_gain_the_summary_and_dependencies_list_calls_between_services() {
        let (_dir, app, _) = app().await;
        let (status, body) = get_json(&app, &format!("/api/services?{WINDOW}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let web = &body["services"][1];
        assert_eq!(
            (
                &web["name"],
                &web["span_count"],
                &web["source"],
                &web["calls"],
                &web["errors"]
            ),
            (
                &json!("web"),
                &json!(2),
                &json!("backend"),
                &json!(2),
                &json!(0)
            )
        );
        assert_eq!(web["last_seen_unix_nano"], "1700000001000000000");
        assert_eq!(web["series"].as_array().map(Vec::len), Some(2));
        assert_eq!(web["error_ratio"], json!(0.0));
        assert_eq!(body["services"][0]["errors"], 1);

        let (status, body) = get_json(
            &app,
            "/api/dependencies?start=1699999980000000000&end=1700000100000000000",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let edge = &body["edges"][0];
        assert_eq!(body["edges"].as_array().map(Vec::len), Some(1), "{body}");
        let mut keys: Vec<&str> = edge
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["calls", "errors", "from", "p95_ns", "to"]);
        assert_eq!(
            (&edge["from"], &edge["to"], &edge["calls"], &edge["errors"]),
            (&json!("web"), &json!("api"), &json!(1), &json!(1))
        );
        // Outside the window: nothing.
        let (_, body) = get_json(&app, "/api/dependencies?start=1&end=2").await;
        assert_eq!(body, json!({"edges": []}));
    }

    #[tokio::test]
    async fn unknown_services_and_bad_windows_are_clear_errors() {
        let (_dir, app, _) = app().await;
        let (status, body) = get_json(&app, "/api/services/nobody/operations").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "service_not_found");
        // A known service without calls in the window is an empty list.
        let (status, body) = get_json(&app, "/api/services/api/operations?start=1&end=2").await;
        assert_eq!((status, body), (StatusCode::OK, json!({"operations": []})));
        for (uri, code) in [
            ("/api/services/api/operations?step=0", "invalid_duration"),
            ("/api/services/api/operations?step=1ns", "invalid_step"),
            ("/api/services?start=5&end=5", "invalid_time"),
            ("/api/services?servce=x", "invalid_query"),
            ("/api/dependencies?step=1m", "invalid_query"),
        ] {
            let (status, body) = get_json(&app, uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(body["error"]["code"], code, "{uri}: {body}");
        }
    }
}
