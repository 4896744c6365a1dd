//! Health, readiness, metrics, routing errors, request ids.

use reqwest::StatusCode;

use crate::harness::*;

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["region"], "445122");
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    let backend = if app.settings.is_sqlite() {
        "sqlite"
    } else {
        "postgres"
    };
    assert_eq!(ready.body["database"], backend);

    app.create_record(&record(ENTERPRISE, "M-1"), StatusCode::CREATED)
        .await;
    let metrics = app.get("/metrics", None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.text.contains("integrity_http_requests_total"));
    assert!(metrics.text.contains("route=\"/api/v1/records\""));
    // Counted by method, route template and status; timed by method and route.
    assert!(metrics.text.contains(
        "integrity_http_requests_total{method=\"POST\",route=\"/api/v1/records\",status=\"201\"}"
    ));
    assert!(metrics.text.contains(
        "integrity_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/records\"}"
    ));
    assert!(
        !metrics.text.contains(ENTERPRISE),
        "no subject codes in labels"
    );
}

#[tokio::test]
async fn metrics_can_require_a_scrape_token() {
    let app = spawn_app_with(|s| s.metrics.bearer_token = "scrape-secret".to_owned().into()).await;
    let refused = app.get("/metrics", None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.code(), "metrics_token_required");
    let allowed = app.get("/metrics", Some("scrape-secret")).await;
    assert_eq!(allowed.status, StatusCode::OK);
}

#[tokio::test]
async fn losing_the_database_yields_503_not_500() {
    let app = spawn_app().await;
    app.state.store.close().await.unwrap();
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.code(), "database_unavailable");
    assert!(ready.headers.contains_key("retry-after"));
    let write = app
        .post(
            "/api/v1/records",
            Some(&app.provider()),
            &record(ENTERPRISE, "L"),
        )
        .await;
    assert_eq!(
        write.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        write.text
    );
    assert_eq!(write.code(), "database_unavailable");
    let read = app
        .get(&format!("/api/v1/subjects/{ENTERPRISE}"), None)
        .await;
    assert_eq!(read.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!read.text.to_lowercase().contains("sql"), "{}", read.text);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_with_request_ids() {
    let app = spawn_app().await;
    let missing = app.get("/api/v1/nothing-here", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "route_not_found");
    assert!(missing.headers.contains_key("x-request-id"));
    let wrong_method = app
        .call(reqwest::Method::DELETE, "/api/v1/records", None, None)
        .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.code(), "method_not_allowed");

    let echoed = app
        .client
        .get(format!("{}/healthz", app.base_url))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn the_docs_are_served_offline() {
    let app = spawn_app().await;
    let docs = app
        .client
        .get(format!("{}/docs/", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "Swagger UI page");
    let bundle = app
        .client
        .get(format!("{}/docs/swagger-ui-bundle.js", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        bundle.status(),
        StatusCode::OK,
        "assets are vendored, not fetched"
    );
    let spec = app.get("/openapi.json", None).await;
    assert_eq!(spec.status, StatusCode::OK);
    assert!(spec.body["paths"]["/api/v1/records"].is_object());
}
