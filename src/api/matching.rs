//! The match API (招投标信用核查): screen a project's bidders against every list this node
//! holds, log the decision durably (chained, signed) before answering, and let supervisors
//! query the log.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{AppJson, Authorized, Caller, Policy, RequestId};
use crate::domain::clock::SHANGHAI_OFFSET;
use crate::domain::region::RegionCode;
use crate::error::{ApiError, Problem};
use crate::gateway::keys::Scope;
use crate::matching::engine::{BidderIn, BidderOut, MAX_BIDDERS, Screening, Verdict};
use crate::matching::log::PendingDecision;
use crate::matching::receipt::sha256_hex;
use crate::state::AppState;
use crate::store::matches::{DecisionFilter, DecisionRow};

/// Screening: a platform's key with scope `match`, or the node's staff.
pub struct Screen;

impl Policy for Screen {
    fn check(caller: &Caller) -> Result<(), ApiError> {
        match caller {
            Caller::ApiKey { key } if key.key.scopes.contains(&Scope::Match) => Ok(()),
            Caller::ApiKey { .. } => Err(ApiError::forbidden(
                "missing_scope",
                "the API key does not have scope 'match'; ask the node's administrator to grant it",
                "API 密钥没有“match”权限，请向节点管理员申请",
            )),
            Caller::Supervisor { .. } | Caller::Admin { .. } => Ok(()),
            Caller::Anonymous => Err(ApiError::unauthenticated(
                "authentication_required",
                "screening needs an API key with scope 'match' (platforms) or a staff token",
                "信用核查需要具有“match”权限的 API 密钥（交易平台）或工作人员令牌",
            )),
            Caller::Provider { .. } => Err(ApiError::forbidden(
                "role_not_allowed",
                "role 'provider' cannot screen bidders; platforms use an API key with scope 'match'",
                "provider 角色不能进行信用核查，交易平台请使用具有“match”权限的 API 密钥",
            )),
        }
    }
}

/// The project being screened.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectIn {
    /// The platform's project id (招标项目编号).
    #[schema(required = true)]
    pub id: Option<String>,
    /// Project name.
    #[schema(required = true)]
    pub name: Option<String>,
    /// Kind: bidding, procurement, public_resource_trading, subsidy, honours,
    /// market_access (configurable under `[match.restrictions]`).
    #[schema(required = true)]
    pub kind: Option<String>,
    /// GB/T 2260 region of the project.
    pub region: Option<String>,
    /// The moment the check is for, usually the bid deadline: RFC 3339, or `YYYY-MM-DD`
    /// (that day in Asia/Shanghai). Default: now.
    pub as_of: Option<String>,
}

/// A screening request.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "project": {"id": "GDZB-2026-0815", "name": "饶平县黄冈镇道路改造工程施工", "kind": "bidding",
                "region": "445122", "as_of": "2026-06-20T09:30:00+08:00"},
    "bidders": [
        {"reference": "B1", "uscc": "91445122MA4W123460", "name": "饶平县某某建筑工程有限公司",
         "legal_representative": {"name": "张三", "id_number": "445122198503121231"}},
        {"reference": "B2", "name": "潮州市某某市政工程有限公司"},
        {"reference": "B3", "uscc": "９１４４５１２２ＭＡ４Ｗ１２３５４Ｔ"}
    ]
}))]
pub struct MatchIn {
    /// The project.
    pub project: Option<ProjectIn>,
    /// Up to 1,000 bidders.
    #[serde(default)]
    pub bidders: Vec<BidderIn>,
}

/// The list epochs a decision used.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EpochsOut {
    /// Per issuing node, the epoch (sequence number) of its lists reflected.
    pub epochs: BTreeMap<String, i64>,
    /// True when this node's copy of lists issued above may be behind (parent silent for
    /// too long, or changes known to be missing).
    pub stale: bool,
}

/// Counts of verdicts.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct SummaryOut {
    /// Blocked bidders.
    pub block: usize,
    /// Bidders to review.
    pub review: usize,
    /// Clear bidders.
    pub clear: usize,
    /// Invalid bidders.
    pub invalid: usize,
}

/// The decision as logged (and hashed into the receipt).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DecisionOut {
    /// Match id.
    pub match_id: Uuid,
    /// When decided (RFC 3339).
    pub decided_at: String,
    /// The project as received.
    pub project: ProjectIn,
    /// The moment checked (RFC 3339).
    pub as_of: String,
    /// Verdict counts.
    pub summary: SummaryOut,
    /// One decision per bidder, in request order.
    pub bidders: Vec<BidderOut>,
    /// The list epochs used.
    pub lists: EpochsOut,
}

/// Proof that the decision was logged before the answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ReceiptOut {
    /// Position in the node's decision chain.
    pub seq: i64,
    /// SHA-256 (hex) of the request as the node parsed it, re-serialised as compact JSON with
    /// fields in declaration order (not the raw bytes sent).
    pub request_hash: String,
    /// Hash of the previous receipt.
    pub prev_hash: String,
    /// This receipt's hash (covers seq, id, time, request hash, epochs, decision, prev hash).
    pub hash: String,
    /// Receipt format: 2 (the signature covers the Merkle root of the decisions committed
    /// together, reached from `hash` through `proof`), or 1 for decisions logged before
    /// version 2 (the signature covers `hash` itself).
    pub version: u8,
    /// The audit path from `hash` to `root`, leaf to root: `l:<hex>` (sibling on the left) or
    /// `r:<hex>` (on the right); leaf = SHA-256(0x00 ‖ hash), node = SHA-256(0x01 ‖ left ‖
    /// right). Empty when the decision was committed alone, and for version 1.
    pub proof: Vec<String>,
    /// The Merkle root the signature covers (version 2).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub root: Option<String>,
    /// The node's Ed25519 signature (base64) of
    /// `integrity-exchange/match-receipt-batch/v2\n<root>` (version 2) or of
    /// `integrity-exchange/match-receipt/v1\n<hash>` (version 1).
    pub signature: String,
    /// The node's public key (base64).
    pub signer_key: String,
}

impl ReceiptOut {
    fn from_stored(
        seq: i64,
        request_hash: String,
        prev_hash: String,
        hash: String,
        proof: Option<&str>,
        signature: String,
        signer_key: String,
    ) -> ReceiptOut {
        let steps = proof.map(proof_steps).unwrap_or_default();
        // A stored row keeps its proof, not the root: recomputed from the path.
        let root = proof.and_then(|p| {
            crate::matching::receipt::decode_proof(p)
                .and_then(|steps| crate::matching::receipt::merkle_root_from(&hash, &steps))
        });
        ReceiptOut {
            seq,
            request_hash,
            prev_hash,
            version: if proof.is_some() { 2 } else { 1 },
            proof: steps,
            root,
            hash,
            signature,
            signer_key,
        }
    }
}

/// The steps of a stored audit path (`receipt::encode_proof`), as the answer lists them.
fn proof_steps(proof: &str) -> Vec<String> {
    proof
        .split(',')
        .filter(|step| !step.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A screening answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct MatchOut {
    /// The decision.
    #[serde(flatten)]
    pub decision: DecisionOut,
    /// Its receipt.
    pub receipt: ReceiptOut,
}

fn unusable(code: &'static str, detail: String, detail_zh: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail, detail_zh)
}

fn parse_as_of(value: &str) -> Option<OffsetDateTime> {
    let value = value.trim();
    if let Ok(at) = OffsetDateTime::parse(value, &Rfc3339) {
        return Some(at);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(value, format)
        .ok()
        .map(|day| day.with_hms(23, 59, 59).ok())?
        .map(|at| at.assume_offset(SHANGHAI_OFFSET))
}

/// A validated project.
pub(super) struct ValidProject {
    /// Kind.
    pub kind: String,
    /// The moment checked.
    pub as_of: OffsetDateTime,
    /// Project id.
    pub id: String,
}

fn validate_project(
    state: &AppState,
    project: Option<&ProjectIn>,
) -> Result<ValidProject, ApiError> {
    let Some(project) = project else {
        return Err(unusable(
            "project_required",
            "the request has no project; send project.id, project.name and project.kind".into(),
            "请求缺少项目信息，请提供 project.id、project.name 和 project.kind".into(),
        ));
    };
    let text = |value: &Option<String>, max: usize| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.chars().count() <= max)
            .map(str::to_owned)
    };
    let id = text(&project.id, 128).ok_or_else(|| {
        unusable(
            "project_id_required",
            "project.id is required (1-128 characters): the platform's project number".into(),
            "project.id 为必填项（1 至 128 个字符），即交易平台的项目编号".into(),
        )
    })?;
    text(&project.name, 200).ok_or_else(|| {
        unusable(
            "project_name_required",
            "project.name is required (1-200 characters)".into(),
            "project.name 为必填项（1 至 200 个字符）".into(),
        )
    })?;
    let kinds: Vec<&str> = state.matcher.project_kinds().collect();
    let kind = project
        .kind
        .as_deref()
        .map(str::trim)
        .filter(|kind| kinds.contains(kind))
        .ok_or_else(|| {
            unusable(
                "unknown_project_kind",
                format!("project.kind must be one of: {}", kinds.join(", ")),
                format!("project.kind 必须是以下之一：{}", kinds.join("、")),
            )
        })?
        .to_owned();
    if let Some(region) = project.region.as_deref()
        && RegionCode::parse(region.trim()).is_err()
    {
        return Err(unusable(
            "invalid_region",
            "project.region must be a current GB/T 2260 region code".into(),
            "project.region 必须是现行有效的 GB/T 2260 行政区划代码".into(),
        ));
    }
    let as_of = match project.as_of.as_deref() {
        None => state.clock.now(),
        Some(value) => parse_as_of(value).ok_or_else(|| {
            unusable(
                "invalid_as_of",
                "project.as_of must be an RFC 3339 time (2026-06-20T09:30:00+08:00) or a date (2026-06-20)".into(),
                "project.as_of 必须是 RFC 3339 时间（如 2026-06-20T09:30:00+08:00）或日期（如 2026-06-20）".into(),
            )
        })?,
    };
    Ok(ValidProject { kind, as_of, id })
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// Screen a project's bidders.
///
/// For each bidder: `block` (an in-force entry on a punitive list whose measures restrict
/// this kind of project, matched by USCC), `review` (a likely but not exact hit: name or former
/// name without the identifier, same organisation code, listed legal representative, an entry
/// starting or ending within `match.boundary_days` of `as_of`, an entry under objection, a
/// warning list), `clear`, or `invalid` (an identifier failing its check, an empty or
/// duplicated bidder — never silently `clear`). Every hit names the list, entry, authority,
/// document, legal basis, measures, period and what matched. The decision is written to the
/// node's decision log (chained and signed) before the answer; the receipt proves it.
#[utoipa::path(
    post, path = "/api/v1/match", tag = "match", operation_id = "screen_bidders",
    security(("api_key" = ["match"]), ("bearer" = [])),
    request_body = MatchIn,
    responses(
        (status = 200, description = "One decision per bidder, with the receipt", body = MatchOut),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "API key without scope match, or a provider token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The request itself is unusable: no project, unknown kind, bad as_of, no bidders or more than 1,000", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate or daily quota exceeded", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The decision could not be logged; no decision was given", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn screen_bidders(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<Screen>,
    _request_id: RequestId,
    AppJson(body): AppJson<MatchIn>,
) -> Result<axum::response::Response, ApiError> {
    let started = std::time::Instant::now();
    let project = validate_request(&state, &body)?;
    let actor = caller.actor_id();
    let (answer, decision_text) = screen(&state, &actor, &project, &body, |decision, now| {
        block_deliveries(&state, &actor, decision, now)
    })
    .await?;
    // The answer is `MatchOut`: the decision's fields, then `receipt`. The decision is already
    // serialised (it is what the receipt hashes), so its text is reused rather than serialised
    // a second time: the same bytes serde would write for the flattened struct.
    let mut bytes = decision_text.into_bytes();
    if bytes.pop() != Some(b'}') {
        return Err(ApiError::internal("the decision is not a JSON object"));
    }
    bytes.extend_from_slice(b",\"receipt\":");
    serde_json::to_writer(&mut bytes, &answer.receipt).map_err(ApiError::internal)?;
    bytes.push(b'}');
    crate::telemetry::match_handles(|_, seconds| {
        seconds.record(started.elapsed().as_secs_f64());
    });
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response())
}

/// Validates the project and the number of bidders of a request.
pub(super) fn validate_request(state: &AppState, body: &MatchIn) -> Result<ValidProject, ApiError> {
    let project = validate_project(state, body.project.as_ref())?;
    if body.bidders.is_empty() {
        return Err(unusable(
            "bidders_required",
            "the request has no bidders; send 1 to 1,000".into(),
            "请求中没有投标人，请提供 1 至 1000 个".into(),
        ));
    }
    if body.bidders.len() > MAX_BIDDERS {
        return Err(unusable(
            "too_many_bidders",
            format!(
                "{} bidders; at most {MAX_BIDDERS} per request — split the list",
                body.bidders.len()
            ),
            format!(
                "投标人 {} 个，每次最多 {MAX_BIDDERS} 个，请分批提交",
                body.bidders.len()
            ),
        ));
    }
    Ok(project)
}

/// The deliveries of a decision with blocks: one per configured supervisors' endpoint.
fn block_deliveries(
    state: &AppState,
    caller: &str,
    decision: &DecisionOut,
    now: OffsetDateTime,
) -> Result<Vec<crate::store::webhooks::NewDelivery>, ApiError> {
    if decision.summary.block == 0 || state.settings.matching.webhooks.is_empty() {
        return Ok(Vec::new());
    }
    let body = serde_json::to_string(&serde_json::json!({
        "event": "block",
        "node": state.region.to_string(),
        "match_id": decision.match_id,
        "decided_at": decision.decided_at,
        "caller": caller,
        "project": decision.project,
        "as_of": decision.as_of,
        "bidders": decision.bidders.iter().filter(|b| b.verdict == Verdict::Block).collect::<Vec<_>>(),
    }))
    .map_err(ApiError::internal)?;
    Ok(state
        .settings
        .matching
        .webhooks
        .iter()
        .filter_map(|webhook| {
            crate::matching::webhooks::delivery(
                &state.store,
                &webhook.url,
                "block",
                Some(decision.match_id.to_string()),
                None,
                body.clone(),
                now,
            )
        })
        .collect())
}

/// Screens a validated request, logs the decision (with the deliveries `deliveries` derives
/// from it) and returns the answer with its receipt, and the decision's JSON text as hashed.
pub(super) async fn screen(
    state: &AppState,
    caller: &str,
    project: &ValidProject,
    body: &MatchIn,
    deliveries: impl FnOnce(
        &DecisionOut,
        OffsetDateTime,
    ) -> Result<Vec<crate::store::webhooks::NewDelivery>, ApiError>,
) -> Result<(MatchOut, String), ApiError> {
    let restricting = state.matcher.restriction(&project.kind).unwrap_or(0);
    let screening = Screening {
        matcher: &state.matcher,
        store: &state.store,
        catalogue: &state.lists.catalogue,
        restricting,
        as_of: project.as_of.to_offset(SHANGHAI_OFFSET).date(),
    };
    // The request hash is computed while the decision waits for the database (the entries
    // behind hits): `join!` polls `decide` first, which runs validation and look-ups until
    // its first read is in flight, then the hash, on this thread. For a 1,000-bidder batch
    // that overlaps ~0.3–0.5 ms of hashing with the read; without hits nothing changes.
    let (decided, hashed) = tokio::join!(screening.decide(&body.bidders), async {
        serde_json::to_vec(body).map(|canonical| sha256_hex(&canonical))
    });
    let (epochs, bidders) = decided?;
    let request_hash = hashed.map_err(ApiError::internal)?;
    let mut summary = SummaryOut::default();
    for bidder in &bidders {
        match bidder.verdict {
            Verdict::Block => summary.block += 1,
            Verdict::Review => summary.review += 1,
            Verdict::Clear => summary.clear += 1,
            Verdict::Invalid => summary.invalid += 1,
        }
    }
    let stale = crate::api::lists::lists_stale(state);
    // Microseconds: what PostgreSQL keeps, so the receipt hash verifies on every backend.
    let now = crate::domain::clock::to_micros(state.clock.now());
    let decision = DecisionOut {
        match_id: Uuid::now_v7(),
        decided_at: rfc3339(now),
        project: body.project.clone().unwrap_or_default(),
        as_of: rfc3339(project.as_of),
        summary,
        bidders,
        lists: EpochsOut {
            epochs: epochs.clone(),
            stale,
        },
    };
    let decision_text = serde_json::to_string(&decision).map_err(ApiError::internal)?;
    let epochs_text = serde_json::to_string(&epochs).map_err(ApiError::internal)?;
    let pending = PendingDecision {
        deliveries: deliveries(&decision, now)?,
        id: decision.match_id.to_string(),
        created_at: now,
        caller: caller.to_owned(),
        project_id: project.id.clone(),
        project_kind: project.kind.clone(),
        as_of: project.as_of,
        counts: [
            decision.summary.block,
            decision.summary.review,
            decision.summary.clear,
            decision.summary.invalid,
        ]
        .map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
        request_hash: request_hash.clone(),
        epochs: epochs_text,
        decision: decision_text.clone(),
    };
    let receipt = state.matcher.log.append(pending).await.map_err(|error| {
        let mut api = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "decision_log_unavailable",
            "the decision could not be logged, so none is given; retry shortly",
            "核查结果未能记录，因此不予返回，请稍后重试",
        );
        api.cause = Some(error.to_string());
        api.retry_after_secs = Some(2);
        api
    })?;
    crate::telemetry::match_handles(|verdicts, _| {
        let summary = &decision.summary;
        for (counter, n) in verdicts.iter().zip([
            summary.block,
            summary.review,
            summary.clear,
            summary.invalid,
        ]) {
            if n > 0 {
                counter.increment(n as u64);
            }
        }
    });
    Ok((
        MatchOut {
            decision,
            // As `from_stored` builds it, with the root the writer signed (no recomputation).
            receipt: ReceiptOut {
                seq: receipt.seq,
                request_hash,
                prev_hash: receipt.prev_hash,
                version: 2,
                proof: proof_steps(&receipt.proof),
                root: Some(receipt.root),
                hash: receipt.hash,
                signature: receipt.signature,
                signer_key: receipt.signer_key,
            },
        },
        decision_text,
    ))
}

/// Reading the decision log: supervisors and administrators see every decision; a platform's
/// key with scope `match` sees its own.
pub struct ReadDecisions;

impl Policy for ReadDecisions {
    fn check(caller: &Caller) -> Result<(), ApiError> {
        Screen::check(caller)
    }
}

/// Filters of the decision log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DecisionsQuery {
    /// Project id.
    pub project: Option<String>,
    /// Only decisions with at least one bidder of this verdict: block, review, clear, invalid.
    pub verdict: Option<String>,
    /// Decided at or after (RFC 3339 or YYYY-MM-DD).
    pub from: Option<String>,
    /// Decided before (RFC 3339 or YYYY-MM-DD).
    pub to: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// Decisions per page, 1–200 (default 50).
    pub limit: Option<u64>,
}

/// A logged decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedDecisionOut {
    /// The decision as answered.
    #[serde(flatten)]
    pub decision: serde_json::Value,
    /// The exact decision text the receipt hash covers (with `epochs` and the other receipt
    /// fields, the hash can be recomputed offline; see `matching::receipt::receipt_hash`).
    pub decision_text: String,
    /// The epochs text the receipt hash covers.
    pub epochs_text: String,
    /// Who asked.
    pub caller: String,
    /// Its receipt.
    pub receipt: ReceiptOut,
}

/// A page of logged decisions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionsPage {
    /// Decisions.
    pub decisions: Vec<LoggedDecisionOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<i64>,
}

fn logged(row: DecisionRow) -> LoggedDecisionOut {
    LoggedDecisionOut {
        decision: serde_json::from_str(&row.decision).unwrap_or(serde_json::Value::Null),
        decision_text: row.decision.clone(),
        epochs_text: row.epochs.clone(),
        caller: row.caller,
        receipt: ReceiptOut::from_stored(
            row.seq,
            row.request_hash,
            row.prev_hash,
            row.hash,
            row.proof.as_deref(),
            row.signature,
            row.signer_key,
        ),
    }
}

/// Waits until the database holds every decision answered so far (the journal is copied into
/// it behind the answers, usually within milliseconds), so a reader never misses one.
async fn wait_for_log(state: &AppState) -> Result<(), ApiError> {
    if state.matcher.log.caught_up().await {
        return Ok(());
    }
    let mut api = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "decision_log_catching_up",
        "recent decisions are not yet readable (the database is behind the decision journal); retry shortly",
        "最近的核查记录尚未写入数据库，暂不可查询，请稍后重试",
    );
    api.retry_after_secs = Some(5);
    Err(api)
}

fn bad_query(code: &'static str, detail: &str, detail_zh: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, detail, detail_zh)
}

/// The decision log, newest first (supervisors: all; a platform key: its own).
#[utoipa::path(
    get, path = "/api/v1/matches", tag = "match", operation_id = "list_matches",
    security(("bearer" = []), ("api_key" = ["match"])),
    params(DecisionsQuery),
    responses(
        (status = 200, description = "A page of decisions", body = DecisionsPage),
        (status = 400, description = "Unknown parameter, verdict, date, cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not staff, or a key without scope match", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Recent decisions are not yet in the database (decision_log_catching_up); retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_matches(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<ReadDecisions>,
    request_id: RequestId,
    query: Result<Query<DecisionsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DecisionsPage>, ApiError> {
    let Query(query) = query.map_err(|_| {
        bad_query(
            "invalid_query",
            "invalid query parameters; allowed: project, verdict, from, to, cursor, limit",
            "查询参数无效，允许的参数：project、verdict、from、to、cursor、limit",
        )
    })?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(bad_query(
            "invalid_limit",
            "limit must be between 1 and 200",
            "limit 必须在 1 到 200 之间",
        ));
    }
    if let Some(verdict) = query.verdict.as_deref()
        && !["block", "review", "clear", "invalid"].contains(&verdict)
    {
        return Err(bad_query(
            "invalid_verdict",
            "verdict must be block, review, clear or invalid",
            "verdict 只能是 block、review、clear 或 invalid",
        ));
    }
    let time = |value: Option<&str>| {
        value
            .map(|v| {
                parse_as_of(v).map(|at| {
                    // A bare date means the start of that day for `from` and `to` alike.
                    if v.trim().len() == 10 {
                        at.replace_time(time::Time::MIDNIGHT)
                    } else {
                        at
                    }
                })
            })
            .map(|parsed| {
                parsed.ok_or_else(|| {
                    bad_query(
                        "invalid_date",
                        "from and to must be RFC 3339 times or YYYY-MM-DD dates",
                        "from 和 to 必须是 RFC 3339 时间或 YYYY-MM-DD 日期",
                    )
                })
            })
            .transpose()
    };
    let filter = DecisionFilter {
        project: query.project.clone(),
        verdict: query.verdict.clone(),
        from: time(query.from.as_deref())?,
        to: time(query.to.as_deref())?,
        caller: matches!(caller, Caller::ApiKey { .. }).then(|| caller.actor_id()),
        before_seq: query.cursor,
    };
    wait_for_log(&state).await?;
    let rows = state.store.find_decisions(&filter, limit).await?;
    let next_cursor = (rows.len() as u64 == limit)
        .then(|| rows.last().map(|r| r.seq))
        .flatten();
    state
        .store
        .audit(
            state.clock.now(),
            &caller.audit("matches.read", "matches".into(), &request_id),
        )
        .await?;
    Ok(Json(DecisionsPage {
        decisions: rows.into_iter().map(logged).collect(),
        next_cursor,
    }))
}

/// Path of a decision.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MatchPath {
    /// Match id.
    pub id: String,
}

/// One logged decision with its receipt.
#[utoipa::path(
    get, path = "/api/v1/matches/{id}", tag = "match", operation_id = "get_match",
    security(("bearer" = []), ("api_key" = ["match"])),
    params(MatchPath),
    responses(
        (status = 200, description = "The decision", body = LoggedDecisionOut),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not staff, or a key without scope match", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such decision visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Recent decisions are not yet in the database (decision_log_catching_up); retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_match(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<ReadDecisions>,
    request_id: RequestId,
    Path(path): Path<MatchPath>,
) -> Result<Json<LoggedDecisionOut>, ApiError> {
    let not_found = || ApiError::not_found("the match decision", "该核查记录");
    wait_for_log(&state).await?;
    let row = state
        .store
        .get_decision(path.id.trim())
        .await?
        .ok_or_else(not_found)?;
    if matches!(caller, Caller::ApiKey { .. }) && row.caller != caller.actor_id() {
        return Err(not_found());
    }
    state
        .store
        .audit(
            state.clock.now(),
            &caller.audit("matches.read", format!("match:{}", row.id), &request_id),
        )
        .await?;
    Ok(Json(logged(row)))
}
