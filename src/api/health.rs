//! Liveness, readiness and metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// Health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    /// `ok`.
    pub status: String,
    /// This node's region code.
    pub region: String,
    /// Storage backend: `sqlite` or `postgres`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

/// Liveness: the process is up and serving HTTP. Public, unaudited, no database access.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    security(()),
    responses((status = 200, description = "Alive", body = HealthOut))
)]
pub async fn healthz(State(state): State<AppState>) -> Json<HealthOut> {
    Json(HealthOut {
        status: "ok".into(),
        region: state.region.to_string(),
        database: None,
    })
}

/// Readiness: the database answers. A load balancer stops sending traffic on 503.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    security(()),
    responses(
        (status = 200, description = "Ready", body = HealthOut),
        (status = 503, description = "Database unreachable", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<HealthOut>, ApiError> {
    state.store.ping().await?;
    Ok(Json(HealthOut {
        status: "ok".into(),
        region: state.region.to_string(),
        database: Some(state.store.backend_name().into()),
    }))
}

/// Prometheus metrics (outside the public spec). When `metrics.bearer_token` is set, the
/// scraper must present it.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let expected = state.settings.metrics.bearer_token.expose_secret();
    if !expected.is_empty() {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        // Constant-time comparison is unnecessary for a scrape token compared once per scrape
        // with no oracle beyond 401; still, compare lengths first and bytes fully.
        let ok = presented.is_some_and(|token| {
            token.len() == expected.len()
                && token
                    .bytes()
                    .zip(expected.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        });
        if !ok {
            return ApiError::unauthenticated(
                "metrics_token_required",
                "this node's /metrics requires the configured scrape token",
                "本节点的 /metrics 需要配置的抓取令牌",
            )
            .into_response();
        }
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
