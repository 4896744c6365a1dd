//! API keys (open API gateway): issue, list, rotate, revoke, and read usage.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Admins, AdminsOrKeys, AppJson, Authorized, Caller, RequestId};
use crate::error::{ApiError, Problem, ProblemItem};
use crate::gateway::keys::{ApiKey, KeySpec, KeyState, SpecError};
use crate::gateway::{DayUsage, shanghai_day};
use crate::state::AppState;

/// A request for a new key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "holder_name": "潮州市某信用服务有限公司",
    "holder_uscc": "91445122MA4W123460",
    "contact": "李四 0768-0000000",
    "scopes": ["records:read:public", "evaluations:write", "findings:write"],
    "rate_per_second": 10, "burst": 20, "daily_quota": 10000,
    "expires_at": "2027-06-30T16:00:00Z"
}))]
pub struct KeyIn {
    /// Holder (agency or platform) name.
    pub holder_name: String,
    /// Holder USCC.
    pub holder_uscc: String,
    /// Contact person and phone or e-mail.
    pub contact: String,
    /// Scopes: records:read:public, records:read:shared (government holders only), match,
    /// evaluations:write, findings:write, reports:read, stats:read.
    pub scopes: Vec<String>,
    /// Sustained requests per second (default from gateway.default_rate_per_second).
    pub rate_per_second: Option<u32>,
    /// Burst (default from gateway.default_burst).
    pub burst: Option<u32>,
    /// Requests per day, reset at midnight Asia/Shanghai (default gateway.default_daily_quota).
    pub daily_quota: Option<u64>,
    /// Expiry, RFC 3339 (default gateway.default_validity_days from now).
    pub expires_at: Option<String>,
}

/// A key as administrators see it (never the secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOut {
    /// Key id.
    pub id: Uuid,
    /// Public prefix (the part after `ixk_`), for recognising the key in logs and metrics.
    pub prefix: String,
    /// Holder name.
    pub holder_name: String,
    /// Holder USCC.
    pub holder_uscc: String,
    /// Contact.
    pub contact: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Requests per second.
    pub rate_per_second: u32,
    /// Burst.
    pub burst: u32,
    /// Daily quota.
    pub daily_quota: u64,
    /// Expiry.
    pub expires_at: String,
    /// active, revoked or expired.
    pub state: String,
    /// When revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// The key that replaced this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<Uuid>,
    /// Created at.
    pub created_at: String,
}

/// A new key: the secret is shown here once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyCreatedOut {
    /// The full key to give to the holder (send it as `X-API-Key`). Shown once.
    pub secret: String,
    /// The key.
    pub key: KeyOut,
}

/// Key list.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyListOut {
    /// Keys, oldest first.
    pub items: Vec<KeyOut>,
}

/// Revocation of a key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRevocationIn {
    /// Why.
    pub reason: String,
}

/// Rotation of a key.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRotationIn {
    /// Hours the old key stays valid beside the new one (0–720, default 24).
    pub grace_hours: Option<u32>,
}

/// One day of usage.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageDayOut {
    /// Day (Asia/Shanghai).
    pub day: String,
    /// Requests admitted.
    pub requests: u64,
    /// Requests refused for rate.
    pub refused_rate: u64,
    /// Requests refused for quota.
    pub refused_quota: u64,
}

/// Usage of a key.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyUsageOut {
    /// Key id.
    pub key_id: Uuid,
    /// Daily quota.
    pub daily_quota: u64,
    /// Requests left today.
    pub remaining_today: u64,
    /// Seconds until the quota resets (midnight Asia/Shanghai).
    pub resets_in_secs: u64,
    /// Today first, then earlier days (up to 30).
    pub days: Vec<UsageDayOut>,
}

/// Path parameter of one key.
#[derive(Debug, Deserialize, IntoParams)]
pub struct KeyPath {
    /// Key id.
    pub id: String,
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// Renders a key for administrators.
pub fn key_out(key: &ApiKey, now: time::OffsetDateTime) -> KeyOut {
    KeyOut {
        id: key.id,
        prefix: key.prefix.clone(),
        holder_name: key.holder_name.clone(),
        holder_uscc: key.holder_uscc.as_str().to_owned(),
        contact: key.contact.clone(),
        scopes: key.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        rate_per_second: key.rate_per_second,
        burst: key.burst,
        daily_quota: key.daily_quota,
        expires_at: rfc3339(key.expires_at),
        state: match key.state_at(now) {
            KeyState::Active => "active",
            KeyState::Revoked => "revoked",
            KeyState::Expired => "expired",
        }
        .to_owned(),
        revoked_at: key.revoked_at.map(rfc3339),
        replaced_by: key.replaced_by,
        created_at: rfc3339(key.created_at),
    }
}

fn spec_problem(errors: Vec<SpecError>) -> ApiError {
    let items: Vec<ProblemItem> = errors
        .into_iter()
        .map(|(field, code, detail, detail_zh)| ProblemItem {
            index: None,
            field: Some(field.to_owned()),
            code: code.to_owned(),
            detail,
            detail_zh,
        })
        .collect();
    let n = items.len();
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        format!("the key request has {n} problem(s); see errors"),
        format!("密钥申请有 {n} 处问题，详见 errors"),
    )
    .with_items(items)
}

fn parse_key_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_key_id",
            "a key id is a UUID, as returned when the key was issued",
            "密钥编号应为签发时返回的 UUID",
        )
    })
}

async fn stored_key(state: &AppState, id: Uuid) -> Result<ApiKey, ApiError> {
    state.store.get_key(id).await.map_err(|error| match error {
        crate::store::StoreError::NotFound => ApiError::not_found("the API key", "该 API 密钥"),
        other => other.into(),
    })
}

/// Builds a key request from API input and the gateway defaults.
pub fn spec_from(state: &AppState, body: KeyIn) -> Result<KeySpec, ApiError> {
    let defaults = &state.settings.gateway;
    let expires_at = match body.expires_at.as_deref() {
        Some(text) => time::OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
            spec_problem(vec![(
                "expires_at",
                "invalid_expiry",
                "expires_at must be an RFC 3339 timestamp such as 2027-06-30T16:00:00Z".into(),
                "expires_at 须为 RFC 3339 时间，如 2027-06-30T16:00:00Z".into(),
            )])
        })?,
        None => state.clock.now() + time::Duration::days(i64::from(defaults.default_validity_days)),
    };
    Ok(KeySpec {
        holder_name: body.holder_name,
        holder_uscc: body.holder_uscc,
        contact: body.contact,
        scopes: body.scopes,
        rate_per_second: body
            .rate_per_second
            .unwrap_or(defaults.default_rate_per_second),
        burst: body.burst.unwrap_or(defaults.default_burst),
        daily_quota: body.daily_quota.unwrap_or(defaults.default_daily_quota),
        expires_at,
    })
}

/// Issue an API key to an agency or platform.
///
/// The secret is in the answer once; only its SHA-256 is stored. Administrators only.
#[utoipa::path(
    post, path = "/api/v1/keys", tag = "keys", operation_id = "create_key",
    security(("bearer" = [])),
    request_body = KeyIn,
    responses(
        (status = 201, description = "Key issued; `secret` is shown only now", body = KeyCreatedOut),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator, or an API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request (unknown scope, shared scope for a non-government holder …)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_key(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<Admins>,
    request_id: RequestId,
    AppJson(body): AppJson<KeyIn>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let spec = spec_from(&state, body)?;
    let (key, secret) = spec.issue(now, &caller.actor_id()).map_err(spec_problem)?;
    let audit = caller.audit("keys.create", format!("key:{}", key.id), &request_id);
    state.store.insert_key(&key, now, audit).await?;
    crate::app::reload_keys(&state).await;
    Ok((
        StatusCode::CREATED,
        Json(KeyCreatedOut {
            secret,
            key: key_out(&key, now),
        }),
    )
        .into_response())
}

/// List API keys (never their secrets). Administrators only.
#[utoipa::path(
    get, path = "/api/v1/keys", tag = "keys", operation_id = "list_keys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Keys", body = KeyListOut),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_keys(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<Admins>,
    request_id: RequestId,
) -> Result<Json<KeyListOut>, ApiError> {
    let now = state.clock.now();
    let (keys, _) = state.store.load_keys().await?;
    state
        .store
        .audit(now, &caller.audit("keys.list", "keys".into(), &request_id))
        .await?;
    Ok(Json(KeyListOut {
        items: keys.iter().map(|key| key_out(key, now)).collect(),
    }))
}

/// Revoke an API key, effective on the very next request. Administrators only.
#[utoipa::path(
    post, path = "/api/v1/keys/{id}/revocations", tag = "keys", operation_id = "revoke_key",
    security(("bearer" = [])),
    params(KeyPath),
    request_body = KeyRevocationIn,
    responses(
        (status = 200, description = "The revoked key", body = KeyOut),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already revoked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing reason", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_key(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<Admins>,
    request_id: RequestId,
    Path(path): Path<KeyPath>,
    AppJson(body): AppJson<KeyRevocationIn>,
) -> Result<Json<KeyOut>, ApiError> {
    let id = parse_key_id(&path.id)?;
    let reason = crate::domain::record::validate_reason(Some(&body.reason))
        .map_err(|error| ApiError::validation(&[error]))?;
    let now = state.clock.now();
    let mut key = stored_key(&state, id).await?;
    if key.revoked_at.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_revoked",
            "the key is already revoked",
            "该密钥已被吊销",
        ));
    }
    key.revoked_at = Some(now);
    let mut audit = caller.audit("keys.revoke", format!("key:{id}"), &request_id);
    audit.detail = reason.chars().take(200).collect();
    state.store.update_key(&key, None, now, audit).await?;
    crate::app::reload_keys(&state).await;
    Ok(Json(key_out(&key, now)))
}

/// Rotate an API key: a new key with the same grants; the old one stays valid for a grace
/// period (default 24 hours) and then expires. Administrators only.
#[utoipa::path(
    post, path = "/api/v1/keys/{id}/rotations", tag = "keys", operation_id = "rotate_key",
    security(("bearer" = [])),
    params(KeyPath),
    request_body = KeyRotationIn,
    responses(
        (status = 201, description = "The new key; `secret` is shown only now", body = KeyCreatedOut),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Revoked or expired keys cannot be rotated", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Grace period out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rotate_key(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<Admins>,
    request_id: RequestId,
    Path(path): Path<KeyPath>,
    AppJson(body): AppJson<KeyRotationIn>,
) -> Result<Response, ApiError> {
    let id = parse_key_id(&path.id)?;
    let grace_hours = body.grace_hours.unwrap_or(24);
    if grace_hours > 720 {
        return Err(spec_problem(vec![(
            "grace_hours",
            "invalid_grace",
            "grace_hours must be between 0 and 720".into(),
            "grace_hours 须在 0 至 720 之间".into(),
        )]));
    }
    let now = state.clock.now();
    let mut old = stored_key(&state, id).await?;
    if old.state_at(now) != KeyState::Active {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "key_not_active",
            "only an active key can be rotated; issue a new key instead",
            "只有有效的密钥可以轮换，请另行签发新密钥",
        ));
    }
    let (new, secret) = old
        .respec()
        .issue(now, &caller.actor_id())
        .map_err(spec_problem)?;
    old.expires_at = old
        .expires_at
        .min(now + time::Duration::hours(i64::from(grace_hours)));
    old.replaced_by = Some(new.id);
    let mut audit = caller.audit("keys.rotate", format!("key:{id}"), &request_id);
    audit.detail = format!("replaced_by={} grace_hours={grace_hours}", new.id);
    state.store.update_key(&old, Some(&new), now, audit).await?;
    crate::app::reload_keys(&state).await;
    Ok((
        StatusCode::CREATED,
        Json(KeyCreatedOut {
            secret,
            key: key_out(&new, now),
        }),
    )
        .into_response())
}

fn day_out(usage: &DayUsage) -> UsageDayOut {
    UsageDayOut {
        day: usage.day.map(|d| d.to_string()).unwrap_or_default(),
        requests: usage.requests,
        refused_rate: usage.refused_rate,
        refused_quota: usage.refused_quota,
    }
}

/// Usage of a key: today's count against the quota and up to 30 earlier days.
///
/// Administrators may read any key's usage; a key holder may read its own (with that key).
#[utoipa::path(
    get, path = "/api/v1/keys/{id}/usage", tag = "keys", operation_id = "get_key_usage",
    security(("bearer" = []), ("api_key" = [])),
    params(KeyPath),
    responses(
        (status = 200, description = "Usage", body = KeyUsageOut),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither an administrator nor this key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_key_usage(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<AdminsOrKeys>,
    request_id: RequestId,
    Path(path): Path<KeyPath>,
) -> Result<Json<KeyUsageOut>, ApiError> {
    let id = parse_key_id(&path.id)?;
    if let Caller::ApiKey { key } = &caller
        && key.key.id != id
    {
        return Err(ApiError::forbidden(
            "not_key_owner",
            "a key may read only its own usage",
            "密钥只能查询自身的用量",
        ));
    }
    let now = state.clock.now();
    let key = stored_key(&state, id).await?;
    let (today, resets_in_secs) = shanghai_day(now);
    let live = state
        .gateway
        .key(id)
        .map(|active| active.usage())
        .filter(|usage| usage.day == Some(today))
        .unwrap_or(DayUsage {
            day: Some(today),
            ..DayUsage::default()
        });
    let mut days = vec![day_out(&live)];
    days.extend(
        state
            .store
            .key_usage(id, 31)
            .await?
            .iter()
            .filter(|usage| usage.day != Some(today))
            .take(30)
            .map(day_out),
    );
    if !matches!(caller, Caller::ApiKey { .. }) {
        state
            .store
            .audit(
                now,
                &caller.audit("keys.usage", format!("key:{id}"), &request_id),
            )
            .await?;
    }
    Ok(Json(KeyUsageOut {
        key_id: id,
        daily_quota: key.daily_quota,
        remaining_today: key.daily_quota.saturating_sub(live.requests),
        resets_in_secs,
        days,
    }))
}
