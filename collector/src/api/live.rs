//! `GET /api/live?service=[&token=]`: a WebSocket that streams each newly stored span as one JSON text
//! message, only its tenant's and optionally only one service's. A watcher that falls behind
//! skips spans.

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use super::LIVE_PROTOCOL;
use super::error::ApiError;
use super::scope::ReadScope;
use super::state::Api;
use crate::live::LiveSpan;
use crate::store::Scope;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LiveParams {
    service: Option<String>,
    /// The read token, for browsers (read by the guard).
    #[serde(rename = "token")]
    _token: Option<serde::de::IgnoredAny>,
}

/// Upgrades to the live tail; subscribing before the upgrade so no span falls in between.
pub(super) async fn live(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    params: Result<Query<LiveParams>, QueryRejection>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let feed = api.store.queue().live().subscribe();
    let service = params.service.filter(|s| !s.is_empty());
    // A browser that offered its token as a subprotocol needs one of its offers answered.
    Ok(upgrade
        .protocols([LIVE_PROTOCOL])
        .on_upgrade(move |socket| watch(socket, feed, scope, service)))
}

async fn watch(
    mut socket: WebSocket,
    mut feed: Receiver<std::sync::Arc<LiveSpan>>,
    scope: Scope,
    service: Option<String>,
) {
    loop {
        tokio::select! {
            received = feed.recv() => match received {
                Ok(span) => {
                    if span.tenant != scope.tenant()
                        || service.as_ref().is_some_and(|s| *s != span.service_name)
                    {
                        continue;
                    }
                    let Ok(text) = serde_json::to_string(span.as_ref()) else { continue };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
