//! Federation endpoints: children push journal events (mutual TLS, the child's region bound to
//! its certificate) and read back this node's high-watermarks; staff read the links' status.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{AppJson, Authorized, Caller, Policy, RequestId};
use crate::app::PeerCertificate;
use crate::audit::AuditEntry;
use crate::domain::region::RegionCode;
use crate::error::{ApiError, Problem, ProblemItem};
use crate::federation::identity::region_of_certificate;
use crate::federation::wire::{BatchAck, EventBatch, MAX_BATCH_EVENTS, WireEvent};
use crate::gateway::Admission;
use crate::state::AppState;
use crate::store::federation::ApplyError;

/// A child node, authenticated by its certificate.
pub struct ChildPeer(pub RegionCode);

fn allowed_children(state: &AppState) -> Vec<RegionCode> {
    let configured = &state.settings.federation.children;
    if configured.is_empty() {
        state.region.children().to_vec()
    } else {
        configured
            .iter()
            .filter_map(|code| RegionCode::parse(code).ok())
            .collect()
    }
}

impl FromRequestParts<AppState> for ChildPeer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts.extensions.get::<Admission>().is_some() {
            return Err(ApiError::forbidden(
                "key_not_accepted",
                "node-to-node endpoints take a node certificate, not an API key",
                "节点间接口须使用节点证书，而非 API 密钥",
            ));
        }
        let certificate = parts.extensions.get::<PeerCertificate>().ok_or_else(|| {
            metrics::counter!("integrity_federation_refused_total", "peer" => "unknown", "code" => "client_certificate_required").increment(1);
            ApiError::unauthenticated(
                "client_certificate_required",
                "this endpoint is for child nodes: connect with the node certificate issued by the federation CA",
                "此接口仅供下级节点调用，请使用联盟 CA 签发的节点证书连接",
            )
        })?;
        let region = region_of_certificate(&certificate.0).map_err(|error| {
            metrics::counter!("integrity_federation_refused_total", "peer" => "unknown", "code" => "certificate_without_region").increment(1);
            let mut api = ApiError::unauthenticated(
                "certificate_without_region",
                "the client certificate does not bind a region (SAN URI urn:integrity-exchange:region:<code>); issue it with `integrity-node pki issue`",
                "客户端证书未绑定行政区划，请使用 `integrity-node pki issue` 签发",
            );
            api.cause = Some(error.to_string());
            api
        })?;
        if !allowed_children(state).contains(&region) {
            metrics::counter!("integrity_federation_refused_total", "peer" => region.to_string(), "code" => "not_a_child").increment(1);
            return Err(ApiError::forbidden(
                "not_a_child",
                format!(
                    "region {region} is not a child of this node ({}); only its children push here",
                    state.region
                ),
                format!(
                    "行政区划 {region} 不是本节点（{}）的下级，无权推送",
                    state.region
                ),
            ));
        }
        tracing::Span::current().record("caller.kind", "peer");
        tracing::Span::current().record("caller.region", region.to_string().as_str());
        Ok(ChildPeer(region))
    }
}

/// The problem answered for a refused batch. When the refusal names an event, `errors[0]`
/// points at it: `index` is its position in the batch, `field` is `events`, so the child can
/// put exactly that event in its problem queue (and an administrator can discard it).
fn apply_problem(error: &ApplyError, keys: &[(String, i64)]) -> ApiError {
    let (status, code) = match error {
        ApplyError::OutOfScope { .. } => (StatusCode::FORBIDDEN, "origin_out_of_scope"),
        ApplyError::BadSignature { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "bad_signature"),
        ApplyError::OutOfOrder { .. } => (StatusCode::CONFLICT, "out_of_order"),
        ApplyError::Malformed { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "malformed_event"),
        ApplyError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable"),
    };
    if let ApplyError::Store(cause) = error {
        let mut api = ApiError::new(
            status,
            code,
            "the node's database is unavailable; nothing was applied, retry shortly",
            "节点数据库暂不可用，未应用任何事件，请稍后重试",
        );
        api.cause = Some(cause.clone());
        api.retry_after_secs = Some(5);
        return api;
    }
    let api = ApiError::new(
        status,
        code,
        format!("{error}; nothing in the batch was applied"),
        format!("批次被拒绝，未应用任何事件：{error}"),
    );
    let index = error.event().and_then(|(origin, seq)| {
        keys.iter()
            .position(|(o, s)| o.as_str() == origin && *s == seq)
    });
    match (index, error.event()) {
        (Some(index), Some((origin, seq))) => api.with_items(vec![ProblemItem {
            index: Some(index),
            field: Some("events".to_owned()),
            code: code.to_owned(),
            detail: format!("event {origin}/{seq} was refused: {error}"),
            detail_zh: format!("事件 {origin}/{seq} 被拒绝：{error}"),
        }]),
        _ => api,
    }
}

/// How long a batch that starts beyond an origin's next expected sequence number waits for the
/// batches before it to commit. A child pipelines up to `federation.in_flight` batches (one
/// HTTP/2 connection, several streams); their handlers run concurrently, so batch k+1 can reach
/// the write lock before batch k. Rather than refusing it (409, and a resync round trip), it
/// waits here, without holding any lock, until the origin's head reaches the event before its
/// first one. If that does not happen in time (batch k was lost), `apply_events` refuses it as
/// out of order and the child resends from the watermarks, exactly as without pipelining.
const PREDECESSOR_WAIT: Duration = Duration::from_secs(3);

/// A batch further ahead of the head than this is not waited for: no pipeline is that deep.
const PREDECESSOR_WINDOW: i64 = 64 * MAX_BATCH_EVENTS as i64;

async fn wait_for_predecessors(state: &AppState, events: &[WireEvent]) {
    let heads = state.store.journal_heads();
    let mut needed: BTreeMap<String, i64> = BTreeMap::new();
    for event in events {
        // Events are in journal order per origin: the first one of an origin is its lowest.
        needed
            .entry(event.origin.clone())
            .or_insert(event.seq.saturating_sub(1));
    }
    needed.retain(|origin, before| {
        let head = heads.get(origin).copied().unwrap_or(0);
        *before > head && *before - head <= PREDECESSOR_WINDOW
    });
    if !needed.is_empty() {
        state.store.wait_for_heads(&needed, PREDECESSOR_WAIT).await;
    }
}

/// What the levels above this node hold of `sender`'s origins (relayed in every ack, so the
/// origin learns when its corrections reached the province). Best effort: the batch is
/// already committed, so a failure here only leaves the map empty.
async fn reached_for(
    state: &AppState,
    sender: RegionCode,
) -> BTreeMap<String, BTreeMap<String, i64>> {
    let parent = (!state.settings.federation.parent_url.is_empty())
        .then(|| state.region.parent().map(|p| p.to_string()))
        .flatten();
    let levels = match state.store.reached_levels(parent.as_deref()).await {
        Ok(levels) => levels,
        Err(error) => {
            tracing::warn!(error = %error, "reading the levels above failed; ack without them");
            return BTreeMap::new();
        }
    };
    levels
        .into_iter()
        .map(|(level, marks)| {
            let marks = marks
                .into_iter()
                .filter(|(origin, _)| {
                    RegionCode::parse(origin)
                        .is_ok_and(|origin| sender.is_same_or_ancestor_of(origin))
                })
                .collect::<BTreeMap<_, _>>();
            (level, marks)
        })
        .filter(|(_, marks)| !marks.is_empty())
        .collect()
}

/// Receive journal events from a child node (mutual TLS).
///
/// Events are applied strictly in sequence per origin and at most once; the answer carries the
/// contiguous high-watermark per origin. The whole batch is refused, and nothing applied, when
/// an event is out of the sender's scope, badly signed, malformed or out of order.
#[utoipa::path(
    post, path = "/federation/v1/events", tag = "federation", operation_id = "push_events",
    security(("mtls" = [])),
    request_body = inline(serde_json::Value),
    responses(
        (status = 200, description = "Applied (or already applied); high-watermarks per origin", body = inline(serde_json::Value)),
        (status = 401, description = "No node certificate, or one without a region", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a child of this node, or an origin outside the sender's subtree", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Out of order: resend from the high-watermarks", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad signature or malformed event", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn push_events(
    State(state): State<AppState>,
    ChildPeer(sender): ChildPeer,
    request_id: RequestId,
    AppJson(batch): AppJson<EventBatch>,
) -> Result<Json<BatchAck>, ApiError> {
    if batch.sender != sender.to_string() {
        metrics::counter!("integrity_federation_refused_total", "peer" => sender.to_string(), "code" => "sender_mismatch").increment(1);
        return Err(ApiError::forbidden(
            "sender_mismatch",
            format!(
                "the batch says it is from {} but the certificate is for {sender}",
                batch.sender
            ),
            format!("批次声明来自 {}，但证书属于 {sender}", batch.sender),
        ));
    }
    if batch.events.len() > MAX_BATCH_EVENTS {
        metrics::counter!("integrity_federation_refused_total", "peer" => sender.to_string(), "code" => "batch_too_large").increment(1);
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "batch_too_large",
            format!("at most {MAX_BATCH_EVENTS} events per batch"),
            format!("每批最多 {MAX_BATCH_EVENTS} 个事件"),
        ));
    }
    let n_events = batch.events.len() as u64;
    // (origin, seq) of each event, to name a refused one by its position in the answer.
    let keys: Vec<(String, i64)> = batch
        .events
        .iter()
        .map(|event| (event.origin.clone(), event.seq))
        .collect();
    if !batch.priority {
        wait_for_predecessors(&state, &batch.events).await;
    }
    let audit = AuditEntry {
        actor_kind: "peer".into(),
        actor_id: format!("region:{sender}"),
        action: "federation.apply".into(),
        resource: "journal".into(),
        outcome: "ok".into(),
        request_id: request_id.0,
        detail: String::new(),
    };
    let store = state.store.clone();
    let me = state.region;
    let at = state.clock.now();
    let outcome = tokio::spawn(async move {
        store
            .apply_events(me, sender, batch.events, batch.priority, at, audit)
            .await
    })
    .await
    .map_err(|error| ApiError::internal(format!("apply task failed: {error}")))?;
    match outcome {
        Ok(mut ack) => {
            ack.reached = reached_for(&state, sender).await;
            metrics::counter!("integrity_federation_applied_events_total", "peer" => sender.to_string())
                .increment(ack.applied as u64);
            metrics::counter!("integrity_federation_duplicate_events_total", "peer" => sender.to_string())
                .increment(ack.duplicates as u64);
            metrics::counter!("integrity_federation_skipped_events_total", "peer" => sender.to_string())
                .increment(ack.skipped as u64);
            Ok(Json(ack))
        }
        Err(error) => {
            let problem = apply_problem(&error, &keys);
            metrics::counter!("integrity_federation_refused_total", "peer" => sender.to_string(), "code" => problem.code)
                .increment(n_events.min(1));
            Err(problem)
        }
    }
}

/// This node's high-watermarks for the calling child's subtree (mutual TLS), so that a child
/// can reconcile its cursors after a mismatch instead of starting again from zero.
#[utoipa::path(
    get, path = "/federation/v1/watermarks", tag = "federation", operation_id = "get_watermarks",
    security(("mtls" = [])),
    responses(
        (status = 200, description = "High-watermarks per origin in the child's subtree", body = inline(serde_json::Value)),
        (status = 401, description = "No node certificate", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a child of this node", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_watermarks(
    State(state): State<AppState>,
    ChildPeer(sender): ChildPeer,
    request_id: RequestId,
) -> Result<Json<BatchAck>, ApiError> {
    let held = state.store.journal_watermarks().await?;
    let audit = AuditEntry {
        actor_kind: "peer".into(),
        actor_id: format!("region:{sender}"),
        action: "federation.watermarks".into(),
        resource: "journal".into(),
        outcome: "ok".into(),
        request_id: request_id.0,
        detail: String::new(),
    };
    state.store.audit(state.clock.now(), &audit).await?;
    let high_watermarks = held
        .into_iter()
        .filter(|(origin, _)| {
            RegionCode::parse(origin).is_ok_and(|origin| sender.is_same_or_ancestor_of(origin))
        })
        .collect();
    Ok(Json(BatchAck {
        high_watermarks,
        reached: reached_for(&state, sender).await,
        ..BatchAck::default()
    }))
}

/// Staff of this node: supervisors and administrators.
pub struct Staff;

impl Policy for Staff {
    fn check(caller: &Caller) -> Result<(), ApiError> {
        match caller {
            Caller::Supervisor { .. } | Caller::Admin { .. } => Ok(()),
            Caller::ApiKey { .. } => Err(ApiError::forbidden(
                "key_not_accepted",
                "this operation is for the node's staff, not API keys",
                "此操作仅供本节点工作人员使用，不对 API 密钥开放",
            )),
            Caller::Anonymous => Err(ApiError::unauthenticated(
                "authentication_required",
                "this operation needs a bearer token with role supervisor or admin",
                "此操作需要 supervisor 或 admin 角色的令牌",
            )),
            other => Err(ApiError::forbidden(
                "role_not_allowed",
                format!("role '{}' cannot read federation status", other.kind()),
                format!("角色“{}”无权查看联盟状态", other.kind()),
            )),
        }
    }
}

/// The parent link as operators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParentLinkOut {
    /// Parent URL.
    pub url: String,
    /// What the parent has acknowledged, per origin.
    pub acknowledged: BTreeMap<String, i64>,
    /// Events held here that the parent has not acknowledged.
    pub lag_events: i64,
    /// Seconds since the last successful push (absent before the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_since_success: Option<i64>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Last error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Batches the parent refused as invalid, not yet resolved: the push holds there.
    pub open_problems: Vec<ProblemOut>,
}

/// A refused batch held in the problem queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemOut {
    /// Problem id (for `GET /api/v1/federation/problems/{id}` and its discard).
    pub id: String,
    /// Origin of the event the parent refused (or of the refused batch's first event).
    pub origin: String,
    /// Its sequence number.
    pub seq: i64,
    /// True when the parent named this very event as invalid: it can be discarded. False
    /// when the parent refused the batch for another reason (e.g. this node is not its child).
    pub refused_event: bool,
    /// HTTP status the parent answered.
    pub code: String,
    /// The parent's explanation.
    pub detail: String,
    /// When the parent first refused it (RFC 3339).
    pub created_at: String,
    /// `delivered` or `discarded`, once resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// How it was resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// When it was resolved (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<String>,
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn problem_out(row: crate::store::federation::ProblemRow) -> ProblemOut {
    ProblemOut {
        id: row.id,
        origin: row.origin,
        seq: row.seq,
        refused_event: row.refused_event,
        code: row
            .code
            .trim_matches(|c| c == '(' || c == ')' || c == ':')
            .to_owned(),
        detail: row.detail,
        created_at: rfc3339(row.created_at),
        outcome: row.outcome,
        resolution: row.resolution,
        resolved_at: row.resolved_at.map(rfc3339),
    }
}

/// A skip marker: an event discarded with a signed reason, in place of which the origin's
/// sequence continues upward.
#[derive(Debug, Serialize, ToSchema)]
pub struct SkipMarkerOut {
    /// Origin of the discarded event.
    pub origin: String,
    /// Its sequence number (held here as this skip marker).
    pub seq: i64,
    /// The record it changed.
    pub record_id: String,
    /// The record version it carried (never applied above the discarding node).
    pub record_version: i32,
    /// Its change kind.
    pub discarded_change_kind: String,
    /// SHA-256 (hex) of the discarded event's signed bytes.
    pub discarded_event_sha256: String,
    /// Why it was discarded.
    pub reason: String,
    /// The node that discarded it and signed this marker.
    pub discarded_by: String,
    /// The administrator at that node.
    pub actor: String,
    /// When (RFC 3339).
    pub discarded_at: String,
    /// Ed25519 signature of the discarding node, base64.
    pub signature: String,
    /// The discarding node's public key, base64.
    pub signer_key: String,
}

fn skip_out(skip: crate::store::federation::SkipOut) -> SkipMarkerOut {
    let marker = skip.marker;
    SkipMarkerOut {
        origin: marker.origin,
        seq: marker.seq,
        record_id: marker.record_id.to_string(),
        record_version: marker.record_version,
        discarded_change_kind: marker.discarded_change_kind,
        discarded_event_sha256: marker.discarded_event_sha256,
        reason: marker.reason,
        discarded_by: marker.discarded_by,
        actor: marker.actor,
        discarded_at: marker.discarded_at,
        signature: skip.signature,
        signer_key: skip.signer_key,
    }
}

/// Federation status of this node.
#[derive(Debug, Serialize, ToSchema)]
pub struct FederationStatusOut {
    /// This node's region.
    pub region: String,
    /// The journal held here: highest contiguous sequence number per origin (this node and
    /// every descendant that has pushed).
    pub held: BTreeMap<String, i64>,
    /// Regions allowed to push here.
    pub children: Vec<String>,
    /// The parent link, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentLinkOut>,
    /// Events discarded (skip markers held here: discarded at this node, or received from
    /// below), newest first, at most 100. Each seq in `held` is an applied event or one of
    /// these.
    pub discarded: Vec<SkipMarkerOut>,
    /// Lists: the epoch held per issuer (this node and its ancestors) and the pull link.
    pub lists: ListsLinkOut,
}

/// One issuer's lists as held here.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuerEpochOut {
    /// Issuing node's region.
    pub issuer: String,
    /// Highest sequence number (epoch) held here.
    pub held: i64,
    /// What the parent last reported holding (absent for this node's own lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_held: Option<i64>,
    /// Changes known to be missing here, or the parent silent for too long.
    pub stale: bool,
    /// The epoch of the snapshot this node's copy started from, when it took one (then it
    /// holds the issuer's entries as at that epoch, and every change after it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_epoch: Option<i64>,
}

/// The downward (list) side of the federation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListsLinkOut {
    /// Per issuer, the epoch held.
    pub issuers: Vec<IssuerEpochOut>,
    /// Seconds since the last successful pull from the parent (absent without a parent or
    /// before the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_since_pull: Option<i64>,
    /// Failed pulls since the last success.
    pub consecutive_failures: u32,
    /// Last error of the pull link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The list side of the status, and the matching gauges.
async fn lists_link(state: &AppState) -> Result<ListsLinkOut, ApiError> {
    let heads = state.store.list_heads().await?;
    let cursors = state.store.list_cursors().await?;
    let has_parent = !state.settings.federation.parent_url.is_empty();
    let link = state.lists.link_status();
    let now = state.clock.now();
    let link_stale = has_parent
        && link
            .last_success_at
            .is_none_or(|at| (now - at).unsigned_abs() > state.lists.stale_after);
    let me = state.region.to_string();
    let mut issuers: Vec<IssuerEpochOut> = heads
        .iter()
        .map(|(issuer, held)| {
            let parent_held = (issuer != &me)
                .then(|| {
                    cursors
                        .iter()
                        .find(|c| &c.issuer == issuer)
                        .map(|c| c.parent)
                })
                .flatten();
            let stale = issuer != &me && (link_stale || parent_held.is_some_and(|p| p > *held));
            let snapshot_epoch = cursors
                .iter()
                .find(|c| &c.issuer == issuer && c.base > 0)
                .map(|c| c.base);
            IssuerEpochOut {
                issuer: issuer.clone(),
                held: *held,
                parent_held,
                stale,
                snapshot_epoch,
            }
        })
        .collect();
    // Issuers the parent announced but none of whose changes arrived yet.
    for cursor in &cursors {
        if !heads.contains_key(&cursor.issuer) && cursor.parent > 0 {
            issuers.push(IssuerEpochOut {
                issuer: cursor.issuer.clone(),
                held: 0,
                parent_held: Some(cursor.parent),
                stale: true,
                snapshot_epoch: None,
            });
        }
    }
    for issuer in &issuers {
        metrics::gauge!("integrity_list_epoch", "issuer" => issuer.issuer.clone())
            .set(issuer.held as f64);
        metrics::gauge!("integrity_list_stale", "issuer" => issuer.issuer.clone())
            .set(if issuer.stale { 1.0 } else { 0.0 });
    }
    Ok(ListsLinkOut {
        issuers,
        seconds_since_pull: link.last_success_at.map(|at| (now - at).whole_seconds()),
        consecutive_failures: link.consecutive_failures,
        last_error: link.last_error,
    })
}

/// Federation status: the journal held per origin, the children, and how far behind the parent
/// link is and why. Supervisors and administrators.
#[utoipa::path(
    get, path = "/api/v1/federation/status", tag = "federation", operation_id = "get_federation_status",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Status", body = FederationStatusOut),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_federation_status(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<Staff>,
    request_id: RequestId,
) -> Result<Json<FederationStatusOut>, ApiError> {
    let held = state.store.journal_watermarks().await?;
    let parent_url = &state.settings.federation.parent_url;
    let parent = if parent_url.is_empty() {
        None
    } else {
        let acknowledged = state
            .store
            .cursors(crate::federation::outbox::PARENT)
            .await?;
        let lag_events = held
            .iter()
            .map(|(origin, hwm)| (hwm - acknowledged.get(origin).copied().unwrap_or(0)).max(0))
            .sum();
        let status = state.federation.parent_status();
        let now = state.clock.now();
        metrics::gauge!("integrity_federation_parent_lag_events").set(lag_events as f64);
        Some(ParentLinkOut {
            url: parent_url.clone(),
            acknowledged,
            lag_events,
            seconds_since_success: status.last_success_at.map(|at| (now - at).whole_seconds()),
            consecutive_failures: status.consecutive_failures,
            last_error: status.last_error,
            open_problems: state
                .store
                .open_problems()
                .await?
                .into_iter()
                .map(problem_out)
                .collect(),
        })
    };
    state
        .store
        .audit(
            state.clock.now(),
            &caller.audit("federation.status", "federation".into(), &request_id),
        )
        .await?;
    let lists = lists_link(&state).await?;
    let discarded = state
        .store
        .recent_skips(100)
        .await?
        .into_iter()
        .map(skip_out)
        .collect();
    Ok(Json(FederationStatusOut {
        discarded,
        lists,
        region: state.region.to_string(),
        held,
        children: allowed_children(&state)
            .iter()
            .map(ToString::to_string)
            .collect(),
        parent,
    }))
}

/// One correction or revocation made here, and how far up it has travelled.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionOut {
    /// Record id.
    pub record_id: String,
    /// Record version after the change.
    pub record_version: i32,
    /// Journal sequence number of the change.
    pub seq: i64,
    /// corrected or revoked.
    pub change_kind: String,
    /// When made (RFC 3339).
    pub made_at: String,
    /// Last day (Asia/Shanghai) by which it must reach the province.
    pub deadline: String,
    /// Per level above this node (region code): whether that level holds the change.
    pub reached: BTreeMap<String, bool>,
    /// reached, pending, due_soon, overdue, or discarded (refused above and discarded here
    /// with a reason: it will not reach the province).
    pub state: String,
    /// Working days left until the deadline (negative: overdue); absent once reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_days_left: Option<i64>,
}

/// Corrections of this node's records on their way to the provincial platform.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionsOut {
    /// The provincial level the deadline refers to (absent at the national node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    /// Working days allowed.
    pub deadline_working_days: u32,
    /// False when a deadline falls in a year the embedded holiday calendar does not cover
    /// (weekends only are then skipped).
    pub calendar_covered: bool,
    /// Pending corrections (not yet at the province).
    pub pending: usize,
    /// Pending corrections past their deadline.
    pub overdue: usize,
    /// The most recent corrections, newest first.
    pub corrections: Vec<CorrectionOut>,
}

/// `n` working days after `start`, from the official calendar, or counting weekdays only
/// when the calendar does not cover the dates (the flag says which).
fn add_working_days(start: time::Date, n: u32) -> (time::Date, bool) {
    let calendar = crate::domain::calendar::WorkingCalendar::embedded();
    if let Ok(day) = calendar.add_working_days(start, n) {
        return (day, true);
    }
    let mut day = start;
    let mut left = n;
    while left > 0 {
        day = day.next_day().unwrap_or(day);
        if !matches!(
            day.weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        ) {
            left -= 1;
        }
    }
    (day, false)
}

/// Signed working days from `from` to `to` (calendar when it covers them, else weekdays).
fn working_days_until(from: time::Date, to: time::Date) -> i64 {
    let calendar = crate::domain::calendar::WorkingCalendar::embedded();
    let (a, b, sign) = if from <= to {
        (from, to, 1)
    } else {
        (to, from, -1)
    };
    let n = calendar
        .working_days_between(a, b)
        .map(i64::from)
        .unwrap_or_else(|_| {
            let mut n = 0;
            let mut day = a;
            while day < b {
                day = day.next_day().unwrap_or(b);
                if !matches!(
                    day.weekday(),
                    time::Weekday::Saturday | time::Weekday::Sunday
                ) {
                    n += 1;
                }
            }
            n
        });
    sign * n
}

/// Corrections and revocations of this node's records and whether each reached the provincial
/// platform within the deadline (seed 000: 5 working days). The levels above report what they
/// hold in every acknowledgement, so this is known without asking them. Staff.
#[utoipa::path(
    get, path = "/api/v1/federation/corrections", tag = "federation", operation_id = "get_corrections",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Corrections and their deadlines", body = CorrectionsOut),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_corrections(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<Staff>,
    request_id: RequestId,
) -> Result<Json<CorrectionsOut>, ApiError> {
    let corrections = corrections(&state).await?;
    state
        .store
        .audit(
            state.clock.now(),
            &caller.audit("federation.corrections", "federation".into(), &request_id),
        )
        .await?;
    Ok(Json(corrections))
}

/// Computes the corrections report (also feeds the gauges).
pub async fn corrections(state: &AppState) -> Result<CorrectionsOut, ApiError> {
    use crate::domain::region::RegionLevel;
    let me = state.region;
    let province = std::iter::once(me)
        .chain(me.ancestors())
        .find(|r| r.level() == RegionLevel::Province);
    let parent = (!state.settings.federation.parent_url.is_empty())
        .then(|| me.parent().map(|p| p.to_string()))
        .flatten();
    let levels = state.store.reached_levels(parent.as_deref()).await?;
    let events = state
        .store
        .own_events_of_kinds(&me.to_string(), &["corrected", "revoked"], 500)
        .await?;
    // Corrections discarded here never go up: they are reported as such, not as pending.
    let seqs: Vec<i64> = events.iter().map(|event| event.seq).collect();
    let discarded = state.store.skipped_seqs(&me.to_string(), &seqs).await?;
    let days = state.settings.federation.correction_deadline_working_days;
    let warning = i64::from(state.settings.federation.correction_warning_working_days);
    let today = state.clock.today_shanghai();
    let mut covered = true;
    let mut out = Vec::with_capacity(events.len());
    let (mut pending, mut overdue) = (0, 0);
    for event in events {
        let reached: BTreeMap<String, bool> = me
            .ancestors()
            .filter(|a| a.level() != RegionLevel::National || province.is_none())
            .map(|ancestor| {
                let code = ancestor.to_string();
                let held = levels
                    .get(&code)
                    .and_then(|marks| marks.get(&me.to_string()))
                    .is_some_and(|seq| *seq >= event.seq);
                (code, held)
            })
            .collect();
        let at_province = match province {
            None => true,
            Some(p) if p == me => true,
            Some(p) => reached.get(&p.to_string()).copied().unwrap_or(false),
        };
        let made = event
            .journaled_at
            .to_offset(crate::domain::clock::SHANGHAI_OFFSET)
            .date();
        let (deadline, in_calendar) = add_working_days(made, days);
        covered &= in_calendar;
        let left = working_days_until(today, deadline);
        let is_discarded = discarded.contains(&event.seq);
        let state_name = if is_discarded {
            "discarded"
        } else if at_province {
            "reached"
        } else if today > deadline {
            overdue += 1;
            pending += 1;
            "overdue"
        } else if left <= warning {
            pending += 1;
            "due_soon"
        } else {
            pending += 1;
            "pending"
        };
        out.push(CorrectionOut {
            record_id: event.record_id.to_string(),
            record_version: event.record_version,
            seq: event.seq,
            change_kind: event.change_kind,
            made_at: event
                .journaled_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            deadline: deadline.to_string(),
            reached,
            state: state_name.to_owned(),
            working_days_left: (!at_province && !is_discarded).then_some(left),
        });
    }
    metrics::gauge!("integrity_corrections_pending").set(pending as f64);
    metrics::gauge!("integrity_corrections_overdue").set(overdue as f64);
    Ok(CorrectionsOut {
        province: province.filter(|p| *p != me).map(|p| p.to_string()),
        deadline_working_days: days,
        calendar_covered: covered,
        pending,
        overdue,
        corrections: out,
    })
}

/// What a retry request did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryOut {
    /// Problems still open (they resolve themselves once the parent acknowledges the event).
    pub open_problems: usize,
    /// Whether this node has a parent link to retry.
    pub has_parent: bool,
}

/// Retry the parent link now, after the cause of a refusal (problem queue) or an outage was
/// fixed, instead of waiting out the back-off. Problems resolve themselves when the parent
/// acknowledges their event; a refused event that cannot be fixed is discarded with a reason
/// instead (`POST /api/v1/federation/problems/{id}/discard`). Administrators; audited.
#[utoipa::path(
    post, path = "/api/v1/federation/problems/retry", tag = "federation", operation_id = "retry_parent_link",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The push loop retries now", body = RetryOut),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retry_parent_link(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<super::extract::Admins>,
    request_id: RequestId,
) -> Result<(StatusCode, Json<RetryOut>), ApiError> {
    let open = state.store.open_problems().await?.len();
    state
        .store
        .audit(
            state.clock.now(),
            &caller.audit("federation.retry", "federation".into(), &request_id),
        )
        .await?;
    state.federation.retry.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(RetryOut {
            open_problems: open,
            has_parent: !state.settings.federation.parent_url.is_empty(),
        }),
    ))
}

/// Path of one problem.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProblemPath {
    /// Problem id, as listed in the status's `parent.open_problems`.
    pub id: String,
}

/// A discard: why the refused event is given up.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscardIn {
    /// Why the event is discarded (mandatory, at most 1,000 characters). It is signed into the
    /// skip marker and travels to every level above.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A problem with the event it names, as held here.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemDetailOut {
    /// The problem.
    pub problem: ProblemOut,
    /// The event as held in this node's journal (it stays there, even once discarded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<EventOut>,
    /// The skip marker sent up in its place, once discarded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<SkipMarkerOut>,
}

/// A journal event as held here.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// Origin region.
    pub origin: String,
    /// Sequence number at the origin.
    pub seq: i64,
    /// Record id.
    pub record_id: String,
    /// Record version after the change.
    pub record_version: i32,
    /// Kind of change.
    pub change_kind: String,
    /// The record at that version, as signed.
    pub payload: serde_json::Value,
    /// The origin's Ed25519 signature, base64.
    pub signature: String,
    /// The origin's public key, base64.
    pub signer_key: String,
    /// When journaled here (RFC 3339).
    pub journaled_at: String,
}

fn problem_id(id: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|id| id.to_string())
        .map_err(|_| problem_not_found())
}

fn problem_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "problem_not_found",
        "no such problem in this node's problem queue; see parent.open_problems in /api/v1/federation/status",
        "本节点问题队列中没有该问题，请查看 /api/v1/federation/status 的 parent.open_problems",
    )
}

/// One problem of the parent link, open or resolved, with the event it names as held in this
/// node's journal and, once discarded, the signed skip marker sent up in its place. Staff;
/// audited (events carry personal data).
#[utoipa::path(
    get, path = "/api/v1/federation/problems/{id}", tag = "federation", operation_id = "get_problem",
    security(("bearer" = [])),
    params(ProblemPath),
    responses(
        (status = 200, description = "The problem", body = ProblemDetailOut),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such problem", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_problem(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<Staff>,
    request_id: RequestId,
    axum::extract::Path(path): axum::extract::Path<ProblemPath>,
) -> Result<Json<ProblemDetailOut>, ApiError> {
    let id = problem_id(&path.id)?;
    let detail = state
        .store
        .problem(&id)
        .await?
        .ok_or_else(problem_not_found)?;
    state
        .store
        .audit(
            state.clock.now(),
            &caller.audit("federation.problem", format!("problem:{id}"), &request_id),
        )
        .await?;
    Ok(Json(ProblemDetailOut {
        problem: problem_out(detail.problem),
        event: detail.event.map(|event| EventOut {
            origin: event.origin,
            seq: event.seq,
            record_id: event.record_id.to_string(),
            record_version: event.record_version,
            change_kind: event.change_kind,
            payload: serde_json::from_str(&event.payload).unwrap_or(serde_json::Value::Null),
            signature: event.signature,
            signer_key: event.signer_key,
            journaled_at: rfc3339(event.journaled_at),
        }),
        skip: detail.skip.map(skip_out),
    }))
}

/// Discard the event a problem names, with a mandatory reason, when it cannot be fixed. The
/// node signs a skip marker (its key; the reason, the discarded event's hash, who discarded
/// it) and sends it to the parent in the event's place, so the origin's sequence stays
/// gap-free at every level above; the parent stores it, relays it unchanged, and applies the
/// events after it. The event itself stays in this node's journal (`GET
/// /api/v1/federation/problems/{id}`). Later versions of the same record still apply above
/// (events carry the whole record). Administrators; audited.
#[utoipa::path(
    post, path = "/api/v1/federation/problems/{id}/discard", tag = "federation", operation_id = "discard_problem",
    security(("bearer" = [])),
    params(ProblemPath),
    request_body = DiscardIn,
    responses(
        (status = 200, description = "Discarded: the skip marker that goes up in the event's place", body = SkipMarkerOut),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such problem", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already resolved (delivered or discarded), or the problem names no refused event", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or invalid reason", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn discard_problem(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<super::extract::Admins>,
    request_id: RequestId,
    axum::extract::Path(path): axum::extract::Path<ProblemPath>,
    AppJson(body): AppJson<DiscardIn>,
) -> Result<Json<SkipMarkerOut>, ApiError> {
    use crate::store::federation::{DiscardError, MAX_DISCARD_REASON};
    let id = problem_id(&path.id)?;
    if body.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason_required",
            "a discard needs a reason: it is signed into the skip marker that every level above keeps",
            "丢弃事件必须填写原因，原因将签入上报各级保存的跳过标记",
        ));
    }
    let mut errors = Vec::new();
    let reason = crate::domain::record::required_text(
        "reason",
        body.reason.as_deref(),
        MAX_DISCARD_REASON,
        &mut errors,
    )
    .ok_or_else(|| ApiError::validation(&errors))?;
    let actor = caller.actor_id();
    let audit = caller.audit("federation.discard", format!("problem:{id}"), &request_id);
    let store = state.store.clone();
    let at = state.clock.now();
    // On its own task: the audit head must advance with the commit even if the client goes.
    let outcome =
        tokio::spawn(async move { store.discard_problem(&id, &reason, &actor, at, audit).await })
            .await
            .map_err(|error| ApiError::internal(format!("discard task failed: {error}")))?;
    match outcome {
        Ok(skip) => {
            // Send the skip marker now rather than after the back-off.
            state.federation.retry.notify_one();
            Ok(Json(skip_out(skip)))
        }
        Err(DiscardError::NotFound) => Err(problem_not_found()),
        Err(DiscardError::Resolved { outcome }) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "problem_resolved",
            format!("the problem is already resolved ({outcome}); nothing was changed"),
            format!(
                "该问题已处理（{}），未作任何更改",
                match outcome.as_str() {
                    "delivered" => "已送达",
                    "discarded" => "已丢弃",
                    _ => "已处理",
                }
            ),
        )),
        Err(DiscardError::NotAnEvent) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "problem_not_an_event",
            "the parent refused this node's link, not an event (see the problem's detail): fix the link and retry; there is no event to discard",
            "上级拒绝的是本节点的连接而非某个事件（见问题详情），请修复后重试；没有可丢弃的事件",
        )),
        Err(DiscardError::EventNotHeld) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "event_not_held",
            "the event this problem names is not in this node's journal",
            "该问题所指事件不在本节点日志中",
        )),
        Err(DiscardError::Store(error)) => Err(error.into()),
    }
}
