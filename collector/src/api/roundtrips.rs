//! `GET /api/ws/roundtrips`: the round trips the store's correlation step derived, one per
//! browser message a backend continued, with their timings.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::ApiError;
use super::params::limit;
use super::scope::ReadScope;
use super::shared::caught_up;
use super::state::Api;
use super::window::Windowed;
use crate::model::{RoundTrip, RoundTripQuery};

/// Round trips listed when `limit` is not given, and the most accepted.
const DEFAULT_ROUNDTRIPS: usize = 100;
const MAX_ROUNDTRIPS: usize = 1_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoundTripParams {
    session_id: Option<String>,
    service: Option<String>,
    message_type: Option<String>,
    limit: Option<String>,
}

#[derive(Serialize)]
struct RoundTripView<'a> {
    tenant: &'a str,
    trace_id: &'a str,
    send_span_id: &'a str,
    server_span_id: &'a str,
    receive_span_id: Option<&'a str>,
    session_id: Option<&'a str>,
    user_id: Option<&'a str>,
    url: Option<&'a str>,
    message_type: Option<&'a str>,
    service: &'a str,
    server_service: &'a str,
    client_send_time_unix_nano: String,
    server_receive_time_unix_nano: String,
    server_done_time_unix_nano: String,
    client_receive_time_unix_nano: Option<String>,
    total_ns: Option<i64>,
    uplink_ns: i64,
    server_ns: i64,
    downlink_ns: Option<i64>,
    client_processing_ns: Option<i64>,
    clock_offset_ns: i64,
    error: bool,
}

fn round_trip_view(r: &RoundTrip, offset_ns: i64) -> RoundTripView<'_> {
    let t = r.times.timings(offset_ns);
    RoundTripView {
        tenant: crate::access::id_of_stored(&r.tenant),
        trace_id: &r.trace_id,
        send_span_id: &r.send_span_id,
        server_span_id: &r.server_span_id,
        receive_span_id: r.receive_span_id.as_deref(),
        session_id: r.session_id.as_deref(),
        user_id: r.user_id.as_deref(),
        url: r.url.as_deref(),
        message_type: r.message_type.as_deref(),
        service: &r.service,
        server_service: &r.server_service,
        client_send_time_unix_nano: r.times.client_send_ns.to_string(),
        server_receive_time_unix_nano: r.times.server_receive_ns.to_string(),
        server_done_time_unix_nano: r.times.server_done_ns.to_string(),
        client_receive_time_unix_nano: r.times.client_receive_ns.map(|t| t.to_string()),
        total_ns: t.total_ns,
        uplink_ns: t.uplink_ns,
        server_ns: t.server_ns,
        downlink_ns: t.downlink_ns,
        client_processing_ns: t.client_processing_ns,
        clock_offset_ns: offset_ns,
        error: r.error,
    }
}

/// `GET /api/ws/roundtrips`: one record per browser message a backend continued, newest first.
pub(super) async fn roundtrips(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    Windowed { params: p, window }: Windowed<RoundTripParams>,
) -> Result<Response, ApiError> {
    let query = RoundTripQuery {
        session_id: p.session_id,
        service: p.service,
        message_type: p.message_type,
        start_ns: window.start_ns,
        end_ns: window.end_ns,
        limit: limit(p.limit.as_deref(), DEFAULT_ROUNDTRIPS, MAX_ROUNDTRIPS)?,
    };
    caught_up(&api.store).await;
    let list = api.store.reader(scope).round_trips(&query).await?;
    let views: Vec<_> = list
        .iter()
        .map(|(r, offset)| round_trip_view(r, *offset))
        .collect();
    Ok(Json(json!({ "roundtrips": views })).into_response())
}
