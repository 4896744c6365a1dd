//! The gateway at the HTTP edge: every request with an API key is admitted or refused here
//! (format, secret, state, daily quota, rate) before routing reaches a handler or the database;
//! unauthenticated requests are rate-limited per client IP. Refusals are 401 or 429
//! problem+json with `Retry-After`; admitted key requests carry `RateLimit-Policy` and
//! `RateLimit` headers (IETF draft-ietf-httpapi-ratelimit-headers).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::audit::AuditEntry;
use crate::error::ApiError;
use crate::gateway::{Admission, Refusal};
use crate::state::AppState;

/// Header carrying an API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// Paths that are never limited (probes and scrapers must not be starved by the public).
fn is_operational(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// The presented API key: `X-API-Key: <key>` or `Authorization: ApiKey <key>`.
/// `Some(Err)` when a header is present but unusable.
fn presented_key(headers: &HeaderMap) -> Option<Result<String, ()>> {
    if let Some(value) = headers.get(API_KEY_HEADER) {
        return Some(value.to_str().map(|v| v.trim().to_owned()).map_err(|_| ()));
    }
    let authorization = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    authorization
        .strip_prefix("ApiKey ")
        .map(|key| Ok(key.trim().to_owned()))
}

fn refusal_problem(refusal: &Refusal) -> ApiError {
    let mut error = match refusal {
        Refusal::Malformed => ApiError::unauthenticated(
            "malformed_api_key",
            "the API key is not in this node's format (ixk_<prefix>_<secret>); send it unchanged in X-API-Key",
            "API 密钥格式不正确（应为 ixk_<前缀>_<密文>），请原样放入 X-API-Key 请求头",
        ),
        Refusal::Unknown => ApiError::unauthenticated(
            "unknown_api_key",
            "the API key is not known to this node; check it was copied completely",
            "本节点不认识此 API 密钥，请检查是否完整复制",
        ),
        Refusal::Revoked(_) => ApiError::unauthenticated(
            "revoked_api_key",
            "the API key has been revoked; ask the node's administrator for a new one",
            "API 密钥已被吊销，请向节点管理员申请新的密钥",
        ),
        Refusal::Expired(_) => ApiError::unauthenticated(
            "expired_api_key",
            "the API key has expired (or its rotation grace period ended); use the current key",
            "API 密钥已过期（或轮换宽限期已结束），请使用新密钥",
        ),
        Refusal::RateLimited(key, _) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "the key is limited to {} requests per second (burst {}); slow down and retry after Retry-After seconds",
                key.key.rate_per_second, key.key.burst
            ),
            format!(
                "该密钥限速每秒 {} 次（突发 {} 次），请降低频率并在 Retry-After 秒后重试",
                key.key.rate_per_second, key.key.burst
            ),
        ),
        Refusal::QuotaExhausted(key, _) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "quota_exhausted",
            format!(
                "the key's daily quota of {} requests is used up; it resets at midnight Beijing time",
                key.key.daily_quota
            ),
            format!(
                "该密钥每日 {} 次的配额已用完，将于北京时间零点重置",
                key.key.daily_quota
            ),
        ),
        Refusal::AnonymousRateLimited(_) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests from this address; slow down, or use an API key for higher limits",
            "该地址请求过于频繁，请降低频率，或申请 API 密钥以获得更高限额",
        ),
    };
    error.retry_after_secs = match refusal {
        Refusal::RateLimited(_, secs)
        | Refusal::QuotaExhausted(_, secs)
        | Refusal::AnonymousRateLimited(secs) => Some(*secs),
        _ => None,
    };
    error
}

fn reason(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::Malformed => "malformed",
        Refusal::Unknown => "unknown",
        Refusal::Revoked(_) => "revoked",
        Refusal::Expired(_) => "expired",
        Refusal::RateLimited(..) => "rate",
        Refusal::QuotaExhausted(..) => "quota",
        Refusal::AnonymousRateLimited(_) => "anonymous_rate",
    }
}

/// Audits a refusal (at most one row per key or address and reason per minute, so a flood of
/// refused requests cannot flood the trail) and counts it.
async fn record_refusal(
    state: &AppState,
    refusal: &Refusal,
    peer: Option<SocketAddr>,
    request_id: &str,
) {
    let key = match refusal {
        Refusal::Revoked(key)
        | Refusal::Expired(key)
        | Refusal::RateLimited(key, _)
        | Refusal::QuotaExhausted(key, _) => Some(key),
        _ => None,
    };
    let key_label = key.map_or_else(|| "none".to_owned(), |key| key.key.prefix.clone());
    metrics::counter!("integrity_gateway_refusals_total", "key" => key_label.clone(), "reason" => reason(refusal)).increment(1);
    let actor = match (key, peer) {
        (Some(key), _) => format!("key:{}@{}", key.key.id, key.key.holder_uscc.as_str()),
        (None, Some(peer)) => format!("ip:{}", peer.ip()),
        (None, None) => "unknown".to_owned(),
    };
    let now = state.clock.now();
    if !state
        .gateway
        .should_audit_refusal(&format!("{actor}/{}", reason(refusal)), now)
    {
        return;
    }
    let entry = AuditEntry {
        actor_kind: if key.is_some() {
            "api_key"
        } else {
            "anonymous"
        }
        .to_owned(),
        actor_id: actor,
        action: "gateway.refuse".to_owned(),
        resource: "gateway".to_owned(),
        outcome: reason(refusal).to_owned(),
        request_id: request_id.to_owned(),
        detail: "further refusals of this kind within a minute are counted, not audited".to_owned(),
    };
    if let Err(error) = state.store.audit(now, &entry).await {
        tracing::warn!(error = %error, "auditing a gateway refusal failed");
    }
}

fn rate_limit_headers(headers: &mut HeaderMap, admission: &Admission) {
    let key = &admission.key.key;
    let policy = format!(
        "\"burst\";q={};w=1, \"daily\";q={};w=86400",
        key.burst, key.daily_quota
    );
    let remaining = format!(
        "\"daily\";r={};t={}",
        admission.remaining_quota, admission.reset_secs
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert("ratelimit-policy", value);
    }
    if let Ok(value) = HeaderValue::from_str(&remaining) {
        headers.insert("ratelimit", value);
    }
}

/// Middleware: admit or refuse before any handler or database work.
pub async fn admit(
    State((state, enabled)): State<(AppState, bool)>,
    mut request: Request,
    next: Next,
) -> Response {
    if !enabled {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    match presented_key(request.headers()) {
        Some(presented) => {
            let admitted = match presented {
                Ok(value) => state.gateway.admit_key(&value, state.clock.now()),
                Err(()) => Err(Refusal::Malformed),
            };
            match admitted {
                Ok(admission) => {
                    let label = admission.key.key.prefix.clone();
                    metrics::counter!("integrity_gateway_requests_total", "key" => label.clone())
                        .increment(1);
                    metrics::gauge!("integrity_gateway_quota_remaining", "key" => label)
                        .set(admission.remaining_quota as f64);
                    request.extensions_mut().insert(admission.clone());
                    let mut response = next.run(request).await;
                    rate_limit_headers(response.headers_mut(), &admission);
                    response
                }
                Err(refusal) => {
                    record_refusal(&state, &refusal, peer, &request_id).await;
                    let mut response = refusal_problem(&refusal).into_response();
                    if let Refusal::RateLimited(key, secs) | Refusal::QuotaExhausted(key, secs) =
                        &refusal
                    {
                        let remaining = match &refusal {
                            Refusal::RateLimited(..) => {
                                key.key.daily_quota.saturating_sub(key.usage().requests)
                            }
                            _ => 0,
                        };
                        let (_, reset_secs) = crate::gateway::shanghai_day(state.clock.now());
                        rate_limit_headers(
                            response.headers_mut(),
                            &Admission {
                                key: key.clone(),
                                remaining_quota: remaining,
                                reset_secs: if remaining == 0 { reset_secs } else { *secs },
                            },
                        );
                    }
                    response
                }
            }
        }
        None => {
            // Nodes pushing with a verified certificate are not anonymous public traffic.
            let anonymous = !request.headers().contains_key(header::AUTHORIZATION)
                && request
                    .extensions()
                    .get::<crate::app::PeerCertificate>()
                    .is_none();
            if anonymous
                && !is_operational(request.uri().path())
                && let Some(peer) = peer
                && let Err(refusal) = state.gateway.admit_anonymous(peer.ip())
            {
                record_refusal(&state, &refusal, Some(peer), &request_id).await;
                return refusal_problem(&refusal).into_response();
            }
            let method = request.method().clone();
            let path = request.uri().path().to_owned();
            let response = next.run(request).await;
            if matches!(
                response.status(),
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
            ) {
                let code = response
                    .extensions()
                    .get::<crate::error::ProblemCode>()
                    .map_or("denied", |code| code.0);
                audit_denial(&state, code, &method, &path, peer, &request_id).await;
            }
            response
        }
    }
}

/// Audits a request refused for its credentials or rights (401/403), at most once a minute per
/// address, code and route, so refusals are attributable without a flood filling the trail.
async fn audit_denial(
    state: &AppState,
    code: &'static str,
    method: &axum::http::Method,
    path: &str,
    peer: Option<SocketAddr>,
    request_id: &str,
) {
    let actor = peer.map_or_else(|| "unknown".to_owned(), |peer| format!("ip:{}", peer.ip()));
    let now = state.clock.now();
    if !state
        .gateway
        .should_audit_refusal(&format!("{actor}/{code}/{method}/{path}"), now)
    {
        return;
    }
    let entry = AuditEntry {
        actor_kind: "unverified".to_owned(),
        actor_id: actor,
        action: "request.refuse".to_owned(),
        resource: format!("{method} {path}"),
        outcome: code.to_owned(),
        request_id: request_id.to_owned(),
        detail: "further refusals of this kind within a minute are counted, not audited".to_owned(),
    };
    if let Err(error) = state.store.audit(now, &entry).await {
        tracing::warn!(error = %error, "auditing a refused request failed");
    }
}
