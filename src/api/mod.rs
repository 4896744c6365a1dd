//! HTTP API v1: the only module that imports axum and utoipa (besides `error` and `app`).
//!
//! The router is built with utoipa-axum's `OpenApiRouter`, so the route table *is* the spec:
//! an operation cannot be served without being documented, and `tests/it/openapi.rs` fails when
//! `openapi/openapi.json` drifts from it.

pub mod admission;
pub mod extract;
pub mod federation;
pub mod health;
pub mod keys;
pub mod lists;
pub mod matching;
pub mod monitors;
pub mod records;
pub mod stats;
pub mod subjects;
pub mod thirdparty;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ApiError, PROBLEM_JSON};
use crate::state::AppState;

/// Name of the bearer-token security scheme in the spec.
pub const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "integrity-exchange node API",
        description = "Government-integrity and public-credit records (政务诚信 / 公共信用信息) of one \
node of the federated exchange: submit, correct and revoke records; read them with the visibility \
each caller is entitled to.\n\nErrors are RFC 9457 `application/problem+json` with a stable `code` \
and messages in English (`detail`) and Simplified Chinese (`detail_zh`).\n\nAuthentication: \
`Authorization: Bearer <JWT>` (EdDSA) for the node's departments and staff; `X-API-Key` for \
third parties and platforms. Without either a caller sees the public view only.",
    ),
    modifiers(&SecurityAddon),
    tags(
        (name = "records", description = "Integrity records (信用记录): submit, correct, revoke, read"),
        (name = "subjects", description = "Subjects (主体): profile and records of one USCC or citizen ID"),
        (name = "keys", description = "API keys of third parties and platforms (administrators)"),
        (name = "third parties", description = "Evaluations and monitoring findings submitted by agencies with API keys"),
        (name = "lists", description = "Lists (名单): serious dishonesty, judgment defaulters, red list …, issued at any level and replicated to every node below"),
        (name = "match", description = "Bid screening (招投标信用核查): compare bidders with every list held here, log each decision (chained, signed) before answering"),
        (name = "statistics", description = "Roll-up counts of records for a region and each child region"),
        (name = "federation", description = "Node-to-node exchange over mutual TLS, and its status"),
        (name = "operations", description = "Health and readiness")
    )
)]
struct ApiDoc;

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "EdDSA-signed JWT with claims sub, role (provider | supervisor | admin), dept (provider's department USCC), region, iss, aud, exp. Mint one for local use with `integrity-node token`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "mtls",
            SecurityScheme::MutualTls {
                description: Some("Node certificate issued by the federation CA (`integrity-node pki issue`); the node's GB/T 2260 region is bound to it as the SAN URI urn:integrity-exchange:region:<code>.".to_owned()),
                deprecated: None,
                extensions: None,
            },
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "Key of a third-party agency or platform, `ixk_<prefix>_<secret>`, issued by the node's administrator. The scopes an operation needs are listed in its security requirement. Each key has a rate (requests/second, burst) and a daily quota (reset at midnight Asia/Shanghai); refusals are 429 with Retry-After, and answers carry RateLimit-Policy and RateLimit headers.",
            ))),
        );
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(records::create_record))
        .routes(routes!(records::create_records_batch))
        .routes(routes!(records::get_record))
        .routes(routes!(records::correct_record))
        .routes(routes!(records::revoke_record))
        .routes(routes!(subjects::get_subject))
        .routes(routes!(subjects::list_subject_records))
        .routes(routes!(keys::create_key, keys::list_keys))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(keys::rotate_key))
        .routes(routes!(keys::get_key_usage))
        .routes(routes!(thirdparty::create_evaluation))
        .routes(routes!(thirdparty::create_finding))
        .routes(routes!(federation::push_events))
        .routes(routes!(federation::get_watermarks))
        .routes(routes!(federation::get_federation_status))
        .routes(routes!(federation::get_corrections))
        .routes(routes!(federation::retry_parent_link))
        .routes(routes!(federation::get_problem))
        .routes(routes!(federation::discard_problem))
        .routes(routes!(lists::list_lists))
        .routes(routes!(lists::list_entries, lists::issue_list_entry))
        .routes(routes!(lists::get_list_entry))
        .routes(routes!(lists::end_list_entry))
        .routes(routes!(lists::pull_list_changes))
        .routes(routes!(lists::pull_list_snapshot))
        .routes(routes!(stats::get_region_stats))
        .routes(routes!(matching::screen_bidders))
        .routes(routes!(matching::list_matches))
        .routes(routes!(matching::get_match))
        .routes(routes!(monitors::create_monitor))
        .routes(routes!(monitors::get_monitor))
        .routes(routes!(monitors::list_deliveries))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
}

/// The OpenAPI document of this build.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().split_for_parts().1
}

/// The complete router with every layer.
pub fn router(state: AppState) -> Router {
    build_router(state, true)
}

/// The router without the gateway's admission layer: for the benchmark that measures what the
/// gateway costs, and nothing else. Not reachable from configuration, so no deployment can turn
/// key checks, rates or quotas off.
#[doc(hidden)]
pub fn router_without_gateway_for_benchmarks(state: AppState) -> Router {
    build_router(state, false)
}

fn build_router(state: AppState, with_gateway: bool) -> Router {
    let (api, spec) = api_router().split_for_parts();
    let settings = &state.settings.http;
    let timeout = Duration::from_secs(settings.request_timeout_secs);
    let body_limit = settings.body_limit_bytes;
    api.route("/metrics", axum::routing::get(health::metrics))
        .merge(
            SwaggerUi::new("/docs")
                .url("/openapi.json", spec)
                .config(utoipa_swagger_ui::Config::default().validator_url("none")),
        )
        .fallback(|| async { ApiError::from_status(StatusCode::NOT_FOUND) })
        .method_not_allowed_fallback(|| async {
            ApiError::from_status(StatusCode::METHOD_NOT_ALLOWED)
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            (state.clone(), with_gateway),
            admission::admit,
        ))
        .layer(middleware::from_fn(crate::telemetry::track_metrics))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(SetSensitiveRequestHeadersLayer::new(
                    crate::app::sensitive_headers(),
                ))
                .layer(TraceLayer::new_for_http().make_span_with(crate::telemetry::request_span))
                .layer(CatchPanicLayer::custom(|_| {
                    ApiError::internal("handler panicked").into_response()
                }))
                .layer(middleware::map_response(problem_for_bare_errors))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    timeout,
                )),
        )
        .with_state(state)
}

/// Turns error responses produced outside handlers (timeouts, body limits, unknown routes) into
/// problem+json, so every 4xx/5xx has the same envelope.
async fn problem_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if (status.is_client_error() || status.is_server_error()) && !is_problem {
        let mut problem = ApiError::from_status(status);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            problem.retry_after_secs = Some(1);
        }
        return problem.into_response();
    }
    response
}
