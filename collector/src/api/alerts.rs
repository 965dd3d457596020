//! Alerts ([`crate::alerts`]), each in the caller's tenant: `GET /api/alerts` (every rule with
//! its state, value and last change, and the alerts that are not inactive, firing first),
//! `GET /api/alerts/history`, `GET /api/alerts/notifications`, rules set through the API
//! (`GET /api/alerts/rules`, `GET/PUT/DELETE /api/alerts/rules/{name}`) and silences
//! (`GET/POST /api/alerts/silences`, `DELETE /api/alerts/silences/{id}`). Changes need an
//! admin token (with an access file) or a loopback peer (without one), as deletions do.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::erase::admin_only;
use super::scope::ReadScope;
use super::{Api, ApiError};
use crate::access::{Reader, Tenant, id_of_stored};
use crate::alerts::{Rule, RuleSpec, Source, now_ns};
use crate::store::{AlertState, Matcher, RuleRecord, SilenceRecord};
use crate::tls::Peer;

/// Entries answered by the history and the notification log when `limit` is not given, and
/// the most accepted.
const DEFAULT_LIMIT: usize = 200;
const MAX_LIMIT: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    rule: Option<String>,
    limit: Option<usize>,
}

fn list_params(params: Result<Query<ListParams>, QueryRejection>) -> Result<ListParams, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    if p.limit.is_some_and(|l| l == 0 || l > MAX_LIMIT) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be 1 to {MAX_LIMIT}"),
        ));
    }
    Ok(p)
}

fn rule_view(rule: &Rule) -> Value {
    json!({
        "name": rule.name,
        "source": rule.source.as_str(),
        "condition": rule.condition,
        "window": rule.window_text,
        "op": rule.op.as_str(),
        "threshold": rule.threshold,
        "for": rule.spec.for_,
        "severity": rule.severity,
        "labels": rule.labels,
        "channels": rule.channels,
    })
}

fn firing_first(state: AlertState) -> u8 {
    match state {
        AlertState::Firing => 0,
        AlertState::Pending => 1,
        AlertState::Resolved => 2,
        AlertState::Inactive => 3,
    }
}

/// `GET /api/alerts`.
pub(super) async fn overview(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
) -> Result<Response, ApiError> {
    let rules = api.alerts.rules_of(scope.tenant()).await;
    let states = api.store.alerts(scope).states(None).await?;
    let mut by_rule: BTreeMap<&str, &crate::store::AlertRecord> = BTreeMap::new();
    for s in states.iter().filter(|s| s.key.is_empty()) {
        by_rule.insert(&s.rule, s);
    }
    let mut rule_views: Vec<(u8, Value)> = rules
        .iter()
        .map(|rule| {
            let state = by_rule.get(rule.name.as_str());
            let mut view = rule_view(rule);
            view["state"] = json!(state.map_or(AlertState::Inactive, |s| s.state));
            view["value"] = json!(state.and_then(|s| s.value));
            view["last_change_unix_nano"] = json!(state.map(|s| s.since_ns.to_string()));
            view["evaluated_unix_nano"] = json!(state.map(|s| s.slot_ns.to_string()));
            (
                firing_first(state.map_or(AlertState::Inactive, |s| s.state)),
                view,
            )
        })
        .collect();
    rule_views.sort_by_key(|(rank, _)| *rank);
    let known: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    let mut alerts: Vec<&crate::store::AlertRecord> = states
        .iter()
        .filter(|s| !s.key.is_empty() || !by_rule.contains_key(s.rule.as_str()))
        .filter(|s| !s.key.is_empty() && s.state != AlertState::Inactive)
        .filter(|s| known.contains(&s.rule.as_str()))
        .collect();
    alerts.sort_by(|a, b| {
        firing_first(a.state)
            .cmp(&firing_first(b.state))
            .then(b.since_ns.cmp(&a.since_ns))
    });
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|a| {
            json!({
                "rule": a.rule,
                "key": a.key,
                "state": a.state,
                "value": a.value,
                "labels": a.labels,
                "summary": a.summary,
                "since_unix_nano": a.since_ns.to_string(),
                "active_since_unix_nano": a.active_since_ns.map(|n| n.to_string()),
                "trace_id": a.trace_id,
                "session_id": a.session_id,
            })
        })
        .collect();
    Ok(Json(json!({
        "rules": rule_views.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "alerts": alerts,
    }))
    .into_response())
}

/// `GET /api/alerts/history?rule=&limit=`: transitions, newest first.
pub(super) async fn history(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = list_params(params)?;
    let history = api
        .store
        .alerts(scope)
        .history(p.rule.as_deref(), p.limit.unwrap_or(DEFAULT_LIMIT))
        .await?;
    let entries: Vec<Value> = history
        .iter()
        .map(|t| {
            json!({
                "time_unix_nano": t.time_ns.to_string(),
                "rule": t.rule,
                "key": t.key,
                "from": t.from,
                "to": t.to,
                "value": t.value,
                "labels": t.labels,
                "summary": t.summary,
                "trace_id": t.trace_id,
                "session_id": t.session_id,
            })
        })
        .collect();
    Ok(Json(json!({ "history": entries })).into_response())
}

/// `GET /api/alerts/notifications?rule=&limit=`: every attempt, newest first.
pub(super) async fn notifications(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = list_params(params)?;
    let mut log = api
        .store
        .alerts(scope)
        .notifications(p.limit.unwrap_or(DEFAULT_LIMIT))
        .await?;
    if let Some(rule) = &p.rule {
        log.retain(|n| &n.rule == rule);
    }
    let entries: Vec<Value> = log
        .iter()
        .map(|n| {
            json!({
                "time_unix_nano": n.time_ns.to_string(),
                "rule": n.rule,
                "key": n.key,
                "channel": n.channel,
                "status": n.status,
                "attempt": n.attempt,
                "outcome": n.outcome,
                "code": n.code,
                "error": n.error,
            })
        })
        .collect();
    Ok(Json(json!({ "notifications": entries })).into_response())
}

/// `GET /api/alerts/rules`: every rule in force.
pub(super) async fn rules(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
) -> Result<Response, ApiError> {
    let rules: Vec<Value> = api
        .alerts
        .rules_of(scope.tenant())
        .await
        .iter()
        .map(rule_view)
        .collect();
    Ok(Json(json!({ "rules": rules })).into_response())
}

fn rule_not_found(name: &str) -> ApiError {
    ApiError::NotFound {
        code: "rule_not_found",
        message: format!("no alert rule named '{name}'"),
    }
}

/// `GET /api/alerts/rules/{name}`.
pub(super) async fn rule(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let rules = api.alerts.rules_of(scope.tenant()).await;
    let rule = rules
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| rule_not_found(&name))?;
    Ok(Json(rule_view(rule)).into_response())
}

/// `PUT /api/alerts/rules/{name}`: sets a rule in the store (the body is a rule as the rules
/// file writes it, in JSON, without `name` or `tenant`).
pub(super) async fn put_rule(
    State(api): State<Api>,
    Extension(reader): Extension<Reader>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    Path(name): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    admin_only(&api, &reader, peer, "changing alert rules")?;
    let Json(mut body) = body.map_err(|e| ApiError::bad_request("invalid_body", e.body_text()))?;
    let Some(object) = body.as_object_mut() else {
        return Err(ApiError::bad_request(
            "invalid_rule",
            "the body must be a JSON object",
        ));
    };
    if object.contains_key("tenant") {
        return Err(ApiError::bad_request(
            "invalid_rule",
            "a rule set through the API belongs to the token's tenant; leave out `tenant`",
        ));
    }
    match object.get("name") {
        Some(given) if given != &json!(name) => {
            return Err(ApiError::bad_request(
                "invalid_rule",
                "the body's `name` differs from the path's",
            ));
        }
        _ => {
            object.insert("name".into(), json!(name));
        }
    }
    let spec: RuleSpec = serde_json::from_value(body.clone())
        .map_err(|e| ApiError::bad_request("invalid_rule", format!("rule \"{name}\": {e}")))?;
    let scope = ReadScope::of(&reader);
    let tenant = Tenant::from_id(id_of_stored(scope.tenant()))
        .map_err(|m| ApiError::bad_request("invalid_rule", m))?;
    spec.check(
        &format!("rule \"{name}\""),
        Source::Api,
        tenant,
        &api.alerts.channels(),
    )
    .map_err(|p| ApiError::bad_request("invalid_rule", p.to_string()))?;
    if api
        .alerts
        .file_rules()
        .iter()
        .any(|r| r.name == name && r.tenant.stored() == scope.tenant())
    {
        return Err(ApiError::Forbidden {
            code: "rule_in_file",
            message: format!("the rule '{name}' comes from the rules file; change it there"),
        });
    }
    api.store
        .alerts(scope)
        .put_rule(&RuleRecord {
            name,
            body,
            updated_ns: now_ns(),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /api/alerts/rules/{name}`.
pub(super) async fn delete_rule(
    State(api): State<Api>,
    Extension(reader): Extension<Reader>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    admin_only(&api, &reader, peer, "changing alert rules")?;
    let scope = ReadScope::of(&reader);
    if !api.store.alerts(scope).delete_rule(&name).await? {
        return Err(rule_not_found(&name));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/alerts/silences`: silences not yet ended.
pub(super) async fn silences(
    State(api): State<Api>,
    ReadScope(scope): ReadScope,
) -> Result<Response, ApiError> {
    let silences = api.store.alerts(scope).silences(now_ns()).await?;
    let views: Vec<Value> = silences.iter().map(silence_view).collect();
    Ok(Json(json!({ "silences": views })).into_response())
}

fn silence_view(s: &SilenceRecord) -> Value {
    json!({
        "id": s.id,
        "matchers": s.matchers,
        "starts_unix_nano": s.starts_ns.to_string(),
        "ends_unix_nano": s.ends_ns.to_string(),
        "comment": s.comment,
    })
}

/// The body of `POST /api/alerts/silences`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewSilence {
    matchers: Vec<Matcher>,
    /// How long from now, e.g. `2h`.
    duration: String,
    #[serde(default)]
    comment: String,
}

/// `POST /api/alerts/silences`: a silence from now for `duration`; answers its id.
pub(super) async fn add_silence(
    State(api): State<Api>,
    Extension(reader): Extension<Reader>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    body: Result<Json<NewSilence>, JsonRejection>,
) -> Result<Response, ApiError> {
    admin_only(&api, &reader, peer, "silencing alerts")?;
    let Json(new) = body.map_err(|e| ApiError::bad_request("invalid_silence", e.body_text()))?;
    if new.matchers.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_silence",
            "give at least one matcher, e.g. {\"name\": \"alertname\", \"value\": \"poll storm\"}",
        ));
    }
    let duration = humantime::parse_duration(new.duration.trim())
        .ok()
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .filter(|d| *d > 0)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_silence",
                "duration must be a duration such as 30m or 2h",
            )
        })?;
    let now = now_ns();
    let id: [u8; 8] = rand::random();
    let silence = SilenceRecord {
        id: hex::encode(id),
        matchers: new.matchers,
        starts_ns: now,
        ends_ns: now.saturating_add(duration),
        comment: new.comment,
        updated_ns: now,
    };
    api.store
        .alerts(ReadScope::of(&reader))
        .put_silence(&silence)
        .await?;
    Ok((StatusCode::CREATED, Json(silence_view(&silence))).into_response())
}

/// `DELETE /api/alerts/silences/{id}`: ends a silence now.
pub(super) async fn end_silence(
    State(api): State<Api>,
    Extension(reader): Extension<Reader>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    admin_only(&api, &reader, peer, "silencing alerts")?;
    let ledger = api.store.alerts(ReadScope::of(&reader));
    let now = now_ns();
    let Some(mut silence) = ledger.silences(now).await?.into_iter().find(|s| s.id == id) else {
        return Err(ApiError::NotFound {
            code: "silence_not_found",
            message: format!("no active silence with id '{id}'"),
        });
    };
    silence.ends_ns = now;
    silence.updated_ns = now;
    ledger.put_silence(&silence).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
