//! Monitors (持续监测): a project's bidders watched until a date. When a list change reaches
//! the match index, every running monitor is screened again; a bidder whose verdict changed
//! (block ↔ clear, or to or from review) is pushed to the monitor's webhook, signed, through
//! the same durable outbox as the supervisors' block pushes, and the new decision is logged
//! with its receipt like any other.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{AppJson, Authorized, Caller, RequestId};
use super::matching::{MatchIn, ProjectIn, ReceiptOut, Screen, screen, validate_request};
use crate::config::webhook_url_allowed;
use crate::domain::record::date_field;
use crate::error::{ApiError, Problem};
use crate::matching::engine::{BidderIn, Verdict};
use crate::state::AppState;
use crate::store::monitors::Monitor;

/// A monitor to register.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "project": {"id": "GDZB-2026-0815", "name": "饶平县黄冈镇道路改造工程施工", "kind": "bidding", "region": "445122"},
    "bidders": [{"reference": "B1", "uscc": "91445122MA4W123460"}, {"reference": "B2", "uscc": "91445122MA4W12354T"}],
    "until": "2026-12-31",
    "webhook_url": "https://ztb.example.gov.cn/hooks/credit"
}))]
pub struct MonitorIn {
    /// The project (its `as_of` is ignored: a monitor screens at the moment of each change).
    pub project: Option<ProjectIn>,
    /// Up to 1,000 bidders.
    #[serde(default)]
    pub bidders: Vec<BidderIn>,
    /// Last day to watch (`YYYY-MM-DD`, today or later).
    #[schema(required = true)]
    pub until: Option<String>,
    /// Where changes of verdict are pushed (https; http only to loopback).
    #[schema(required = true)]
    pub webhook_url: Option<String>,
}

/// One bidder's current verdict.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct WatchedBidder {
    /// Position in the monitor's bidders.
    pub index: usize,
    /// The platform's reference.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reference: Option<String>,
    /// Current verdict.
    pub verdict: Verdict,
}

/// A delivery to the monitor's webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    /// Delivery id (header X-Integrity-Delivery).
    pub id: String,
    /// block or verdict_changed.
    pub event: String,
    /// pending, delivered or failed.
    pub state: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Last error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When enqueued (RFC 3339).
    pub created_at: String,
    /// When delivered (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
}

/// A monitor.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonitorOut {
    /// Monitor id.
    pub id: String,
    /// Project id.
    pub project_id: String,
    /// Last day watched.
    pub until: String,
    /// Where changes are pushed.
    pub webhook_url: String,
    /// Current verdicts.
    pub bidders: Vec<WatchedBidder>,
    /// The decision behind the current verdicts.
    pub last_match_id: String,
    /// Its receipt (on registration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptOut>,
    /// Pushes to the webhook, newest first.
    pub deliveries: Vec<DeliveryOut>,
    /// Registered (RFC 3339).
    pub created_at: String,
    /// Last change of verdicts (RFC 3339).
    pub updated_at: String,
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

impl From<crate::store::webhooks::Delivery> for DeliveryOut {
    fn from(d: crate::store::webhooks::Delivery) -> Self {
        DeliveryOut {
            id: d.id,
            event: d.event,
            state: d.state,
            attempts: d.attempts,
            last_error: d.last_error,
            created_at: rfc3339(d.created_at),
            delivered_at: d.delivered_at.map(rfc3339),
        }
    }
}

fn unusable(code: &'static str, detail: &str, detail_zh: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail, detail_zh)
}

async fn monitor_out(
    state: &AppState,
    monitor: Monitor,
    receipt: Option<ReceiptOut>,
) -> Result<MonitorOut, ApiError> {
    let bidders: Vec<WatchedBidder> = serde_json::from_str(&monitor.verdicts).unwrap_or_default();
    let deliveries = state
        .store
        .list_deliveries(None, None, Some(&monitor.id), 50)
        .await?
        .into_iter()
        .map(DeliveryOut::from)
        .collect();
    Ok(MonitorOut {
        id: monitor.id,
        project_id: monitor.project_id,
        until: monitor.until.to_string(),
        webhook_url: monitor.webhook_url,
        bidders,
        last_match_id: monitor.last_match_id,
        receipt,
        deliveries,
        created_at: rfc3339(monitor.created_at),
        updated_at: rfc3339(monitor.updated_at),
    })
}

fn watched(answer: &super::matching::MatchOut) -> Vec<WatchedBidder> {
    answer
        .decision
        .bidders
        .iter()
        .map(|b| WatchedBidder {
            index: b.index,
            reference: b.reference.clone(),
            verdict: b.verdict,
        })
        .collect()
}

/// Register a monitor: screen the bidders now, then again whenever a list change reaches this
/// node, and push every change of verdict to `webhook_url` until `until`.
#[utoipa::path(
    post, path = "/api/v1/monitors", tag = "match", operation_id = "create_monitor",
    security(("api_key" = ["match"]), ("bearer" = [])),
    request_body = MonitorIn,
    responses(
        (status = 201, description = "Registered, with the first decision's verdicts and receipt", body = MonitorOut),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "API key without scope match, or a provider token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unusable project, bidders, until or webhook_url", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The decision could not be logged", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_monitor(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<Screen>,
    _request_id: RequestId,
    AppJson(body): AppJson<MonitorIn>,
) -> Result<(StatusCode, Json<MonitorOut>), ApiError> {
    let mut request = MatchIn {
        project: body.project,
        bidders: body.bidders,
    };
    if let Some(project) = request.project.as_mut() {
        project.as_of = None;
    }
    let project = validate_request(&state, &request)?;
    let today = state.clock.today_shanghai();
    let mut errors = Vec::new();
    let until = match body.until.as_deref() {
        None => None,
        Some(day) => date_field("until", day, &mut errors),
    };
    let Some(until) = until.filter(|until| *until >= today) else {
        return Err(unusable(
            "invalid_until",
            "until must be a date (YYYY-MM-DD), today or later",
            "until 必须是今天或之后的日期（YYYY-MM-DD）",
        ));
    };
    let webhook_url = body
        .webhook_url
        .as_deref()
        .map(str::trim)
        .filter(|url| webhook_url_allowed(url) && url.len() <= 512)
        .ok_or_else(|| {
            unusable(
                "invalid_webhook_url",
                "webhook_url must be an https URL (http only to a loopback address), at most 512 characters",
                "webhook_url 必须是 https 地址（仅本机回环地址可用 http），最长 512 个字符",
            )
        })?
        .to_owned();
    let actor = caller.actor_id();
    let (answer, _) = screen(&state, &actor, &project, &request, |_, _| Ok(Vec::new())).await?;
    let now = state.clock.now();
    let monitor = Monitor {
        id: Uuid::now_v7().to_string(),
        caller: actor,
        project_id: project.id.clone(),
        request: serde_json::to_string(&request).map_err(ApiError::internal)?,
        until,
        webhook_url,
        verdicts: serde_json::to_string(&watched(&answer)).map_err(ApiError::internal)?,
        last_match_id: answer.decision.match_id.to_string(),
        created_at: now,
        updated_at: now,
    };
    state.store.insert_monitor(monitor.clone()).await?;
    Ok((
        StatusCode::CREATED,
        Json(monitor_out(&state, monitor, Some(answer.receipt)).await?),
    ))
}

/// Path of a monitor.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MonitorPath {
    /// Monitor id.
    pub id: String,
}

/// A monitor with its current verdicts and its pushes (its owner, or staff).
#[utoipa::path(
    get, path = "/api/v1/monitors/{id}", tag = "match", operation_id = "get_monitor",
    security(("api_key" = ["match"]), ("bearer" = [])),
    params(MonitorPath),
    responses(
        (status = 200, description = "The monitor", body = MonitorOut),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "API key without scope match, or a provider token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such monitor visible to the caller", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_monitor(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<Screen>,
    request_id: RequestId,
    Path(path): Path<MonitorPath>,
) -> Result<Json<MonitorOut>, ApiError> {
    let not_found = || ApiError::not_found("the monitor", "该监测任务");
    let monitor = state
        .store
        .get_monitor(path.id.trim())
        .await?
        .ok_or_else(not_found)?;
    if matches!(caller, Caller::ApiKey { .. }) && monitor.caller != caller.actor_id() {
        return Err(not_found());
    }
    state
        .store
        .audit(
            state.clock.now(),
            &caller.audit(
                "monitors.read",
                format!("monitor:{}", monitor.id),
                &request_id,
            ),
        )
        .await?;
    Ok(Json(monitor_out(&state, monitor, None).await?))
}

/// Screens every running monitor again after each change of the match index, and pushes
/// changes of verdict. Runs until `stopped` changes.
pub async fn watch_monitors(state: AppState, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let mut updated = state.matcher.subscribe();
    loop {
        tokio::select! {
            changed = updated.changed() => if changed.is_err() { return },
            _ = stopped.changed() => return,
        }
        let today = state.clock.today_shanghai();
        let monitors = match state.store.active_monitors(today).await {
            Ok(monitors) => monitors,
            Err(error) => {
                tracing::warn!(error = %error, "reading monitors failed");
                continue;
            }
        };
        for monitor in monitors {
            if let Err(error) = rescreen(&state, &monitor).await {
                tracing::warn!(monitor = %monitor.id, error = %error.detail, "re-screening a monitor failed");
            }
        }
    }
}

async fn rescreen(state: &AppState, monitor: &Monitor) -> Result<(), ApiError> {
    let request: MatchIn = serde_json::from_str(&monitor.request).map_err(ApiError::internal)?;
    let before: Vec<WatchedBidder> = serde_json::from_str(&monitor.verdicts).unwrap_or_default();
    let project = validate_request(state, &request)?;
    // Decide first without logging, to log (and push) only when something changed.
    let restricting = state.matcher.restriction(&project.kind).unwrap_or(0);
    let screening = crate::matching::engine::Screening {
        matcher: &state.matcher,
        store: &state.store,
        catalogue: &state.lists.catalogue,
        restricting,
        as_of: state.clock.today_shanghai(),
    };
    let (_, now_bidders) = screening.decide(&request.bidders).await?;
    let changed = now_bidders.iter().any(|b| {
        before
            .iter()
            .find(|w| w.index == b.index)
            .is_none_or(|w| w.verdict != b.verdict)
    });
    if !changed {
        return Ok(());
    }
    let caller = format!("monitor:{}", monitor.id);
    let url = monitor.webhook_url.clone();
    let monitor_id = monitor.id.clone();
    let (answer, _) = screen(state, &caller, &project, &request, |decision, at| {
        let changes: Vec<serde_json::Value> = decision
            .bidders
            .iter()
            .filter_map(|b| {
                let from = before
                    .iter()
                    .find(|w| w.index == b.index)
                    .map(|w| w.verdict);
                (from != Some(b.verdict)).then(|| {
                    serde_json::json!({
                        "index": b.index, "reference": b.reference, "uscc": b.uscc,
                        "from": from, "to": b.verdict, "hits": b.hits,
                    })
                })
            })
            .collect();
        let body = serde_json::to_string(&serde_json::json!({
            "event": "verdict_changed",
            "node": state.region.to_string(),
            "monitor_id": monitor_id,
            "match_id": decision.match_id,
            "decided_at": decision.decided_at,
            "project": decision.project,
            "changes": changes,
        }))
        .map_err(ApiError::internal)?;
        Ok(crate::matching::webhooks::delivery(
            &state.store,
            &url,
            "verdict_changed",
            Some(decision.match_id.to_string()),
            Some(monitor_id.clone()),
            body,
            at,
        )
        .into_iter()
        .collect())
    })
    .await?;
    state
        .store
        .update_monitor(
            &monitor.id,
            serde_json::to_string(&watched(&answer)).map_err(ApiError::internal)?,
            answer.decision.match_id.to_string(),
            state.clock.now(),
        )
        .await?;
    Ok(())
}

/// Filters of the delivery list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// pending, delivered or failed.
    pub state: Option<String>,
    /// Only deliveries of this match decision.
    pub match_id: Option<String>,
}

/// Webhook deliveries with their state, newest first (staff): what reached the supervisors'
/// and monitors' endpoints, what is still being retried, what failed for good.
#[utoipa::path(
    get, path = "/api/v1/webhooks/deliveries", tag = "match", operation_id = "list_deliveries",
    security(("bearer" = [])),
    params(DeliveriesQuery),
    responses(
        (status = 200, description = "Deliveries", body = Vec<DeliveryOut>),
        (status = 400, description = "Unknown parameter or state", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_deliveries(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<super::federation::Staff>,
    request_id: RequestId,
    query: Result<axum::extract::Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<DeliveryOut>>, ApiError> {
    let bad = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "allowed parameters: state (pending, delivered, failed), match_id",
            "允许的参数：state（pending、delivered、failed）、match_id",
        )
    };
    let axum::extract::Query(query) = query.map_err(|_| bad())?;
    if let Some(wanted) = query.state.as_deref()
        && !["pending", "delivered", "failed"].contains(&wanted)
    {
        return Err(bad());
    }
    let rows = state
        .store
        .list_deliveries(query.state.as_deref(), query.match_id.as_deref(), None, 200)
        .await?;
    state
        .store
        .audit(
            state.clock.now(),
            &caller.audit("webhooks.read", "webhooks".into(), &request_id),
        )
        .await?;
    Ok(Json(rows.into_iter().map(DeliveryOut::from).collect()))
}
