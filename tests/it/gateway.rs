//! The open API gateway: keys, scopes, rates, quotas, usage.

use std::time::{Duration, Instant};

use integrity_exchange::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;

const PUBLIC_READ: &str = "/api/v1/subjects/91445122MA4W123460";

#[tokio::test]
async fn an_issued_key_reads_until_it_is_revoked() {
    let app = spawn_app().await;
    let (id, secret) = app
        .issue_key(&["records:read:public"], 100, 100, 1000)
        .await;
    assert!(secret.starts_with("ixk_"));

    let listed = app
        .get("/api/v1/keys", Some(&app.token(Role::Admin, None)))
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(
        !listed.text.contains(&secret),
        "the secret is shown only once"
    );
    assert_eq!(listed.body["items"][0]["state"], "active");

    let read = app
        .call_with_key(Method::GET, PUBLIC_READ, &secret, None)
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(
        read.headers["ratelimit-policy"].to_str().unwrap(),
        "\"burst\";q=100;w=1, \"daily\";q=1000;w=86400"
    );
    assert!(
        read.headers["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with("\"daily\";r=999;t=")
    );

    let revoked = app
        .post(
            &format!("/api/v1/keys/{id}/revocations"),
            Some(&app.token(Role::Admin, None)),
            &json!({"reason": "合作协议终止"}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(revoked.body["state"], "revoked");
    let refused = app
        .call_with_key(Method::GET, PUBLIC_READ, &secret, None)
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.code(), "revoked_api_key");

    let audit = app.state.store.recent_audit(20).await.unwrap();
    assert!(audit.iter().any(|row| row.entry.action == "keys.create"));
    assert!(audit.iter().any(|row| row.entry.action == "keys.revoke"));
    assert!(
        audit
            .iter()
            .any(|row| row.entry.action == "gateway.refuse" && row.entry.outcome == "revoked")
    );
    assert!(audit.iter().all(|row| !row.entry.detail.contains(&secret)));
}

#[tokio::test]
async fn bad_keys_are_refused_with_clear_codes() {
    let app = spawn_app().await;
    let (_, secret) = app
        .issue_key(&["records:read:public"], 100, 100, 1000)
        .await;
    let prefix_only = &secret[..secret.len() - 43];
    let wrong_secret = format!("{prefix_only}{}", "A".repeat(43));
    for (key, code) in [
        ("not-a-key", "malformed_api_key"),
        (
            "ixk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "unknown_api_key",
        ),
        (wrong_secret.as_str(), "unknown_api_key"),
    ] {
        let answer = app.call_with_key(Method::GET, PUBLIC_READ, key, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{key}");
        assert_eq!(answer.code(), code, "{key}");
    }
    app.clock.advance(time::Duration::days(366));
    let expired = app
        .call_with_key(Method::GET, PUBLIC_READ, &secret, None)
        .await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.code(), "expired_api_key");
}

#[tokio::test]
async fn administration_needs_an_admin_token() {
    let app = spawn_app().await;
    let (_, secret) = app
        .issue_key(&["records:read:public"], 100, 100, 1000)
        .await;
    let body =
        json!({"holder_name": "x", "holder_uscc": AGENCY, "contact": "x", "scopes": ["match"]});
    let provider = app.post("/api/v1/keys", Some(&app.provider()), &body).await;
    assert_eq!(provider.status, StatusCode::FORBIDDEN);
    assert_eq!(provider.code(), "role_not_allowed");
    let with_key = app
        .call_with_key(Method::POST, "/api/v1/keys", &secret, Some(&body))
        .await;
    assert_eq!(with_key.status, StatusCode::FORBIDDEN);
    assert_eq!(with_key.code(), "key_not_accepted");
    let anonymous = app.post("/api/v1/keys", None, &body).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    let admin = app.token(Role::Admin, None);
    let mut bad = body.clone();
    bad["scopes"] = json!(["records:read:shared", "telepathy"]);
    let invalid = app.post("/api/v1/keys", Some(&admin), &bad).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let codes = invalid.item_codes();
    assert!(codes.contains(&"unknown_scope".to_owned()), "{codes:?}");
    assert!(
        codes.contains(&"shared_scope_needs_government".to_owned()),
        "{codes:?}"
    );
}

#[tokio::test]
async fn shared_records_are_visible_only_to_government_keys() {
    let app = spawn_app().await;
    let mut shared = record(ENTERPRISE, "SH-1");
    shared["publication_level"] = json!("shared");
    let created = app.create_record(&shared, StatusCode::CREATED).await;
    let id = created.body["id"].as_str().unwrap();
    let (_, government) = app
        .issue_key_for(OTHER_DEPT, &["records:read:shared"], 100, 100, 1000)
        .await;
    let (_, agency) = app
        .issue_key(&["records:read:public"], 100, 100, 1000)
        .await;
    let path = format!("/api/v1/records/{id}");
    assert_eq!(
        app.call_with_key(Method::GET, &path, &government, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call_with_key(Method::GET, &path, &agency, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let audit = app.state.store.recent_audit(5).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|row| row.entry.action == "records.read" && row.entry.actor_kind == "api_key")
    );
}

#[tokio::test]
async fn concurrent_clients_never_exceed_the_rate_beyond_the_burst() {
    let app = spawn_app().await;
    let (rate, burst) = (20u32, 5u32);
    let (_, secret) = app
        .issue_key(&["records:read:public"], rate, burst, 1_000_000)
        .await;
    let started = Instant::now();
    let window = Duration::from_millis(1500);
    let mut clients = Vec::new();
    for _ in 0..8 {
        let client = app.client.clone();
        let url = format!("{}{PUBLIC_READ}", app.base_url);
        let secret = secret.clone();
        clients.push(tokio::spawn(async move {
            let (mut ok, mut limited) = (0u32, 0u32);
            while started.elapsed() < window {
                let response = client
                    .get(&url)
                    .header("x-api-key", &secret)
                    .send()
                    .await
                    .unwrap();
                match response.status() {
                    StatusCode::OK => ok += 1,
                    StatusCode::TOO_MANY_REQUESTS => {
                        assert!(response.headers().contains_key("retry-after"));
                        limited += 1;
                    }
                    other => panic!("unexpected {other}"),
                }
            }
            (ok, limited)
        }));
    }
    let (mut ok, mut limited) = (0, 0);
    for client in clients {
        let (o, l) = client.await.unwrap();
        ok += o;
        limited += l;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ceiling = f64::from(burst) + f64::from(rate) * elapsed + 1.0;
    assert!(
        f64::from(ok) <= ceiling,
        "{ok} admitted in {elapsed:.2}s; ceiling {ceiling:.1}"
    );
    assert!(
        f64::from(ok) >= f64::from(rate) * 1.0,
        "{ok} admitted: the limiter is not starving the key"
    );
    assert!(limited > 0, "some requests were refused");
}

#[tokio::test]
async fn the_daily_quota_survives_a_restart_and_resets_at_shanghai_midnight() {
    let app = spawn_app().await;
    let (id, secret) = app.issue_key(&["records:read:public"], 100, 100, 3).await;
    for _ in 0..3 {
        let answer = app
            .call_with_key(Method::GET, PUBLIC_READ, &secret, None)
            .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let refused = app
        .call_with_key(Method::GET, PUBLIC_READ, &secret, None)
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.code(), "quota_exhausted");
    assert!(
        refused.headers["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with("\"daily\";r=0;"),
        "refusals carry RateLimit too"
    );
    assert!(refused.headers.contains_key("ratelimit-policy"));
    // 10:00 in Shanghai: 14 hours to midnight.
    assert_eq!(
        refused.headers["retry-after"].to_str().unwrap(),
        (14 * 3600).to_string()
    );

    let (settings, data_dir, clock) = app.stop().await;
    let app = start(settings, data_dir, clock).await;
    let still = app
        .call_with_key(Method::GET, PUBLIC_READ, &secret, None)
        .await;
    assert_eq!(
        still.status,
        StatusCode::TOO_MANY_REQUESTS,
        "quota persisted across restart"
    );

    let usage = app
        .get(
            &format!("/api/v1/keys/{id}/usage"),
            Some(&app.token(Role::Admin, None)),
        )
        .await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.text);
    assert_eq!(usage.body["days"][0]["requests"], 3);
    assert!(usage.body["days"][0]["refused_quota"].as_u64().unwrap() >= 2);
    assert_eq!(usage.body["remaining_today"], 0);

    app.clock.advance(time::Duration::hours(14));
    let next_day = app
        .call_with_key(Method::GET, PUBLIC_READ, &secret, None)
        .await;
    assert_eq!(
        next_day.status,
        StatusCode::OK,
        "a new day in Shanghai, a new quota"
    );
    let own = app
        .call_with_key(
            Method::GET,
            &format!("/api/v1/keys/{id}/usage"),
            &secret,
            None,
        )
        .await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(
        own.body["days"][0]["requests"], 2,
        "the usage call itself counts"
    );
}

#[tokio::test]
async fn unauthenticated_callers_are_limited_per_address_but_probes_are_not() {
    let app = spawn_app_with(|s| {
        s.gateway.anonymous_rate_per_second = 1;
        s.gateway.anonymous_burst = 2;
    })
    .await;
    let statuses: Vec<StatusCode> = futures_statuses(&app, PUBLIC_READ, 4).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        2,
        "{statuses:?}"
    );
    let limited = app.get(PUBLIC_READ, None).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.code(), "rate_limited");
    for _ in 0..5 {
        assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
    }
}

async fn futures_statuses(app: &TestApp, path: &str, n: usize) -> Vec<StatusCode> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(app.get(path, None).await.status);
    }
    out
}

#[tokio::test]
async fn third_parties_submit_evaluations_and_findings_with_their_scopes() {
    let app = spawn_app().await;
    let (_, secret) = app
        .issue_key(&["evaluations:write", "findings:write"], 100, 100, 1000)
        .await;
    let evaluation = json!({
        "target_kind": "region", "target_code": "445122", "target_name": "饶平县",
        "period_start": "2025-01-01", "period_end": "2025-12-31", "score": 86.5, "grade": "A",
        "indicators": [{"name": "依法行政", "score": 88.0, "weight": 0.3}],
        "method": "问卷调查与公开数据比对"
    });
    let stored = app
        .call_with_key(
            Method::POST,
            "/api/v1/evaluations",
            &secret,
            Some(&evaluation),
        )
        .await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text);
    assert_eq!(stored.body["agency_uscc"], AGENCY);
    assert_eq!(stored.body["valid_until"], "2027-06-15");

    let mut future = evaluation.clone();
    future["period_end"] = json!("2026-12-31");
    let refused = app
        .call_with_key(Method::POST, "/api/v1/evaluations", &secret, Some(&future))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.item_codes().contains(&"date_in_future".to_owned()));

    let finding = json!({
        "subject_code": DEPT, "subject_name": "饶平县某局", "domain": "government_procurement",
        "observed_on": "2026-05-20", "summary": "拖欠中小企业账款", "evidence": "合同编号 RP-CG-2025-031"
    });
    let stored = app
        .call_with_key(Method::POST, "/api/v1/findings", &secret, Some(&finding))
        .await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text);
    assert_eq!(stored.body["official"], false);
    assert_eq!(stored.body["source"], "third_party");
    assert_eq!(
        count_records(&app, DEPT).await,
        0,
        "a finding is never an official record"
    );

    let staff = app
        .post("/api/v1/findings", Some(&app.provider()), &finding)
        .await;
    assert_eq!(staff.status, StatusCode::FORBIDDEN);
    assert_eq!(staff.code(), "api_key_required");
}

/// Every operation in the spec declares who may call it, and the node enforces exactly that:
/// a key without an operation's scope is refused, and an operation that takes no keys refuses
/// them. A new endpoint without a policy fails here.
#[tokio::test]
async fn every_endpoint_enforces_the_scopes_its_spec_declares() {
    let app = spawn_app().await;
    let (_, unscoped) = app.issue_key(&["stats:read"], 1000, 1000, 100_000).await;
    let spec = serde_json::to_value(integrity_exchange::api::openapi()).unwrap();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{id}", "0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b")
            .replace("{code}", ENTERPRISE);
        for (method, operation) in item.as_object().unwrap() {
            let requirements = operation["security"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let open = requirements
                .iter()
                .any(|r| r.as_object().is_some_and(|o| o.is_empty()));
            let key_scopes: Option<Vec<String>> = requirements.iter().find_map(|r| {
                r.get("api_key").map(|scopes| {
                    scopes
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s.as_str().unwrap().to_owned())
                        .collect()
                })
            });
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method == Method::POST).then(|| json!({}));
            let with_key = app
                .call_with_key(method.clone(), &concrete, &unscoped, body.as_ref())
                .await;
            let name = format!("{method} {path}");
            match &key_scopes {
                // The key's own scope: admitted, whatever the handler then says.
                Some(scopes) if scopes.iter().any(|s| s == "stats:read") => {
                    assert!(
                        with_key.status != StatusCode::UNAUTHORIZED
                            && with_key.status != StatusCode::FORBIDDEN,
                        "{name}: {}",
                        with_key.text
                    );
                }
                Some(scopes) if !scopes.is_empty() => {
                    assert_eq!(
                        with_key.status,
                        StatusCode::FORBIDDEN,
                        "{name}: {}",
                        with_key.text
                    );
                    assert_eq!(with_key.code(), "missing_scope", "{name}");
                }
                Some(_) => assert_ne!(with_key.status, StatusCode::UNAUTHORIZED, "{name}"),
                None if open && requirements.len() == 1 => {
                    assert!(
                        with_key.status.is_success(),
                        "{name}: operational endpoints are open"
                    );
                }
                None => {
                    assert_eq!(
                        with_key.status,
                        StatusCode::FORBIDDEN,
                        "{name}: {}",
                        with_key.text
                    );
                    assert_eq!(with_key.code(), "key_not_accepted", "{name}");
                }
            }
            if !open {
                let anonymous = app
                    .call(method.clone(), &concrete, None, body.as_ref())
                    .await;
                assert_eq!(
                    anonymous.status,
                    StatusCode::UNAUTHORIZED,
                    "{name}: anonymous"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 14, "checked {checked} operations");
    let _: Value = spec;
}

#[tokio::test]
async fn keys_managed_from_the_cli_take_effect_on_a_running_node() {
    let app = spawn_app_with(|s| s.gateway.key_reload_interval_ms = 200).await;
    let bin = env!("CARGO_BIN_EXE_integrity-node");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(bin)
            .env("INTEGRITY_NODE__DATA_DIR", app.data_dir.path())
            .env("INTEGRITY_DATABASE__URL", app.settings.database_url())
            .env("INTEGRITY_LOG__FILTER", "warn")
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let created = run(&[
        "keys",
        "create",
        "--holder",
        "某招标平台",
        "--holder-uscc",
        AGENCY,
        "--contact",
        "王五 0768-1111111",
        "--scopes",
        "records:read:public,match",
    ]);
    let secret = created
        .lines()
        .find_map(|line| {
            line.split("secret (shown once, give it to the holder): ")
                .nth(1)
        })
        .unwrap()
        .trim()
        .to_owned();
    let id = created.split_whitespace().next().unwrap().to_owned();
    // The CLI appended to the audit chain behind the node's back; audited work at the node
    // goes on, and the chain stays intact.
    let staff_read = app
        .get(PUBLIC_READ, Some(&app.token(Role::Supervisor, None)))
        .await;
    assert_eq!(staff_read.status, StatusCode::OK, "{}", staff_read.text);
    let report = app.state.store.verify_audit_chain().await.unwrap();
    assert!(report.first_error.is_none(), "{:?}", report.first_error);
    assert_eq!(report.verified, 2, "the CLI's row and the staff read");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let read = app
        .call_with_key(Method::GET, PUBLIC_READ, &secret, None)
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert!(run(&["keys", "list"]).contains(&id));

    run(&["keys", "revoke", &id, "--reason", "平台停止合作"]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let refused = app
        .call_with_key(Method::GET, PUBLIC_READ, &secret, None)
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.code(), "revoked_api_key");
}

#[tokio::test]
async fn a_rotated_key_and_its_successor_both_work_during_the_grace_period() {
    let app = spawn_app().await;
    let admin = app.token(Role::Admin, None);
    let (id, old) = app
        .issue_key(&["records:read:public"], 100, 100, 1000)
        .await;
    let rotated = app
        .post(
            &format!("/api/v1/keys/{id}/rotations"),
            Some(&admin),
            &json!({"grace_hours": 2}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.text);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        app.call_with_key(Method::GET, PUBLIC_READ, &old, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call_with_key(Method::GET, PUBLIC_READ, &new, None)
            .await
            .status,
        StatusCode::OK
    );
    app.clock.advance(time::Duration::hours(3));
    let expired = app
        .call_with_key(Method::GET, PUBLIC_READ, &old, None)
        .await;
    assert_eq!(expired.code(), "expired_api_key");
    assert_eq!(
        app.call_with_key(Method::GET, PUBLIC_READ, &new, None)
            .await
            .status,
        StatusCode::OK
    );
}
