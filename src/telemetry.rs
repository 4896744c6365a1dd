//! Tracing (one span per request) and Prometheus metrics.
//!
//! The request span records method, matched path, request id and caller kind; never a token, a
//! query string or a citizen ID (paths with a subject code are recorded as the route template).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogSettings;

/// Installs the global tracing subscriber (to stderr; stdout carries command output). `RUST_LOG` overrides the configured filter.
/// Safe to call more than once (later calls are no-ops), which tests rely on.
pub fn init_tracing(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.filter.as_str()));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if settings.format == "json" {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init()
    } else {
        // Colour only for a person at a terminal, never into files or journald.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(std::io::stderr),
            )
            .try_init()
    };
}

/// The process-wide Prometheus recorder (metrics has one global recorder; several
/// `Application`s in one test process share it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .unwrap_or_else(|_| PrometheusBuilder::new())
                .build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            describe();
            // Histogram samples queue in the recorder until they are folded into buckets, which
            // happens at a scrape or an upkeep. `PrometheusBuilder::install` would run upkeep on
            // a thread of its own; the node builds the recorder itself (several Applications share
            // it in tests), so it runs upkeep here: without it, a node nobody scrapes would keep
            // every request's samples (about 24 bytes a request) for ever.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                });
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        "integrity_http_requests_total",
        metrics::Unit::Count,
        "HTTP requests answered, by method, route template and status"
    );
    metrics::describe_histogram!(
        "integrity_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from request to response head, by method and route template"
    );
    metrics::describe_counter!(
        "integrity_records_created_total",
        metrics::Unit::Count,
        "Records created at this node (not counting idempotent replays)"
    );
    metrics::describe_counter!(
        "integrity_auth_failures_total",
        metrics::Unit::Count,
        "Requests refused for missing, malformed, forged or expired credentials, by reason"
    );
    // Lists, match API, webhooks, correction deadline.
    for (name, help) in [
        (
            "integrity_list_changes_applied_total",
            "List changes received from the parent and applied here",
        ),
        (
            "integrity_list_pull_failures_total",
            "Failed list pulls from the parent",
        ),
        (
            "integrity_list_snapshots_total",
            "List snapshots taken from the parent and swapped in, per issuer",
        ),
        (
            "integrity_list_snapshot_entries_total",
            "Entries received in list snapshots, per issuer",
        ),
        (
            "integrity_federation_refused_total",
            "Pushes and pulls a child made that this node refused, by peer region and code",
        ),
        (
            "integrity_federation_discarded_events_total",
            "Refused events an administrator discarded here with a signed reason",
        ),
        (
            "integrity_federation_skipped_events_total",
            "Skip markers (discarded events) received from children and applied, by peer",
        ),
        (
            "integrity_tls_handshake_failures_total",
            "TLS handshakes that failed, e.g. a client certificate from another CA",
        ),
        (
            "integrity_match_bidders_total",
            "Bidders screened, by verdict",
        ),
        (
            "integrity_webhook_deliveries_total",
            "Webhook delivery attempts, by outcome (delivered, retry, failed)",
        ),
    ] {
        metrics::describe_counter!(name, metrics::Unit::Count, help);
    }
    for (name, help) in [
        (
            "integrity_list_parent_epoch",
            "Per issuer, the epoch the parent reported at the last pull",
        ),
        (
            "integrity_list_epoch",
            "Per issuer, the epoch held here (set when the federation status is read)",
        ),
        (
            "integrity_list_stale",
            "Per issuer, 1 when this node's copy may be behind (set when the status is read)",
        ),
        (
            "integrity_match_index_entries",
            "List entries in the in-memory match index",
        ),
        (
            "integrity_match_index_bytes",
            "Bytes held by the match index's own structures",
        ),
        (
            "integrity_corrections_pending",
            "Corrections not yet known to be at the province (set when the report is read)",
        ),
        (
            "integrity_corrections_overdue",
            "Pending corrections past their deadline (set when the report is read)",
        ),
    ] {
        metrics::describe_gauge!(name, help);
    }
    metrics::describe_histogram!(
        "integrity_match_log_batch_size",
        metrics::Unit::Count,
        "Decisions written per transaction by the decision log (group commit)"
    );
    metrics::describe_histogram!(
        "integrity_match_seconds",
        metrics::Unit::Seconds,
        "Server time of a screening, from validation to the logged decision"
    );
}

/// Middleware: counts and times every request by route template.
pub async fn track_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let (requests, duration) = http_handles(&method, route, response.status());
    requests.increment(1);
    duration.record(started.elapsed().as_secs_f64());
    response
}

/// The request counter (method, route, status) and duration histogram (method, route) of a
/// request, from a per-thread cache.
///
/// Hand-rolled because `counter!` with owned labels allocates three label strings and looks
/// the key up in the recorder's registry on every call; the cache makes it one hash look-up
/// once warm. Handles are what the macros return, so the series are the same; the cache is
/// bounded by the router's routes times the methods and statuses seen, and it fills only
/// after `metrics_handle` installed the recorder (the router is reachable only from a built
/// `Application`).
fn http_handles(
    method: &axum::http::Method,
    route: &str,
    status: axum::http::StatusCode,
) -> (metrics::Counter, metrics::Histogram) {
    type Handles = (metrics::Counter, metrics::Histogram);
    type ByRoute = std::collections::HashMap<(axum::http::Method, u16), Handles>;
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<String, ByRoute>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    let key = (method.clone(), status.as_u16());
    CACHE.with_borrow_mut(|cache| {
        if let Some(handles) = cache.get(route).and_then(|by_route| by_route.get(&key)) {
            return handles.clone();
        }
        let (method, route) = (method.as_str().to_owned(), route.to_owned());
        let handles = (
            metrics::counter!("integrity_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status.as_u16().to_string()),
            metrics::histogram!("integrity_http_request_duration_seconds", "method" => method, "route" => route.clone()),
        );
        cache.entry(route).or_default().insert(key, handles.clone());
        handles
    })
}

/// The match API's own series (`integrity_match_bidders_total` by verdict: block, review,
/// clear, invalid; `integrity_match_seconds`), from a per-thread cache as in [`http_handles`].
pub fn match_handles<T>(with: impl FnOnce(&[metrics::Counter; 4], &metrics::Histogram) -> T) -> T {
    thread_local! {
        static HANDLES: ([metrics::Counter; 4], metrics::Histogram) = (
            ["block", "review", "clear", "invalid"]
                .map(|verdict| metrics::counter!("integrity_match_bidders_total", "verdict" => verdict)),
            metrics::histogram!("integrity_match_seconds"),
        );
    }
    HANDLES.with(|(verdicts, seconds)| with(verdicts, seconds))
}

/// Builds the span of one request: method, route template, request id. The caller kind and
/// region are recorded later by the `Caller` extractor.
pub fn request_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        http.method = %request.method(),
        http.route = %route,
        request.id = %request_id,
        caller.kind = tracing::field::Empty,
        caller.region = tracing::field::Empty,
        http.status = tracing::field::Empty,
    )
}
