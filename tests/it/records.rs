//! Submitting, replaying, correcting and revoking records; bad input.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;

#[tokio::test]
async fn a_record_is_created_read_back_and_listed_under_its_subject() {
    let app = spawn_app().await;
    let created = app
        .create_record(&record(ENTERPRISE, "RP-1"), StatusCode::CREATED)
        .await;
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(
        created.headers["location"].to_str().unwrap(),
        format!("/api/v1/records/{id}")
    );
    assert_eq!(created.body["version"], 1);
    assert_eq!(created.body["status"], "active");
    assert_eq!(created.body["source_dept"], DEPT);
    assert_eq!(created.body["origin_region"], "445122");
    assert_eq!(created.body["domain_zh"], "招标投标领域");

    let read = app
        .get(&format!("/api/v1/records/{id}"), Some(&app.supervisor()))
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["subject_name"], "饶平县某某建筑工程有限公司");
    assert_eq!(read.body["versions"].as_array().unwrap().len(), 1);
    assert_eq!(read.body["versions"][0]["change_kind"], "created");

    assert_eq!(count_records(&app, ENTERPRISE).await, 1);
}

#[tokio::test]
async fn a_replay_returns_the_stored_record_and_never_a_duplicate() {
    let app = spawn_app().await;
    let first = app
        .create_record(&record(ENTERPRISE, "RP-7"), StatusCode::CREATED)
        .await;
    let mut changed = record(ENTERPRISE, "RP-7");
    changed["content"] = json!("a different text sent under the same source id");
    let replay = app.create_record(&changed, StatusCode::OK).await;
    assert_eq!(replay.body["id"], first.body["id"]);
    assert_eq!(replay.body["content"], first.body["content"]);
    assert_eq!(count_records(&app, ENTERPRISE).await, 1);
}

#[tokio::test]
async fn concurrent_replays_create_exactly_one_record() {
    let app = spawn_app().await;
    let body = record(ENTERPRISE, "RP-RACE");
    let token = app.provider();
    let url = format!("{}/api/v1/records", app.base_url);
    let sends = (0..12).map(|_| {
        let request = app.client.post(&url).bearer_auth(&token).json(&body);
        async move { request.send().await.expect("send").status() }
    });
    let statuses = futures_join_all(sends).await;
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::OK)
    );
    assert_eq!(count_records(&app, ENTERPRISE).await, 1);
}

async fn futures_join_all<F: std::future::Future<Output = StatusCode> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<StatusCode> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

fn batch(n: usize, prefix: &str) -> Value {
    json!({"records": (0..n).map(|i| record(ENTERPRISE, &format!("{prefix}-{i}"))).collect::<Vec<_>>()})
}

#[tokio::test]
async fn a_batch_is_stored_whole_and_replays_report_existing_items() {
    let app = spawn_app().await;
    let token = app.provider();
    let answer = app
        .post("/api/v1/records/batch", Some(&token), &batch(250, "B"))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    assert_eq!(answer.body["created"], 250);
    assert_eq!(answer.body["results"].as_array().unwrap().len(), 250);
    assert_eq!(answer.body["results"][249]["index"], 249);

    let mut overlapping = batch(251, "B");
    overlapping["records"][250] = record(ENTERPRISE, "B-new");
    let replay = app
        .post("/api/v1/records/batch", Some(&token), &overlapping)
        .await;
    assert_eq!(replay.status, StatusCode::CREATED, "{}", replay.text);
    assert_eq!(replay.body["created"], 1);
    assert_eq!(replay.body["existing"], 250);
    assert_eq!(
        replay.body["results"][0]["id"],
        answer.body["results"][0]["id"]
    );
    assert_eq!(count_records(&app, ENTERPRISE).await, 251);

    let all_existing = app
        .post("/api/v1/records/batch", Some(&token), &batch(3, "B"))
        .await;
    assert_eq!(all_existing.status, StatusCode::OK);
    assert_eq!(all_existing.body["created"], 0);
}

#[tokio::test]
async fn a_batch_with_one_bad_item_writes_nothing_and_names_the_item() {
    let app = spawn_app().await;
    let mut body = batch(5, "X");
    body["records"][3]["decision_date"] = json!("2026-02-30");
    body["records"][1]["domain"] = json!("astrology");
    let answer = app
        .post("/api/v1/records/batch", Some(&app.provider()), &body)
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.code(), "batch_invalid");
    let errors = answer.body["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["index"] == 3 && e["code"] == "invalid_date")
    );
    assert!(
        errors
            .iter()
            .any(|e| e["index"] == 1 && e["code"] == "unknown_domain")
    );
    assert_eq!(count_records(&app, ENTERPRISE).await, 0);
}

#[tokio::test]
async fn batches_must_hold_one_to_a_thousand_distinct_records() {
    let app = spawn_app().await;
    let token = app.provider();
    let empty = app
        .post(
            "/api/v1/records/batch",
            Some(&token),
            &json!({"records": []}),
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(empty.code(), "empty_batch");

    let too_many = app
        .post("/api/v1/records/batch", Some(&token), &batch(1001, "T"))
        .await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(too_many.code(), "batch_too_large");

    let mut duplicated = batch(3, "D");
    duplicated["records"][2] = record(ENTERPRISE, "D-0");
    let answer = app
        .post("/api/v1/records/batch", Some(&token), &duplicated)
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.item_codes(), vec!["duplicate_in_batch"]);
    assert_eq!(answer.body["errors"][0]["index"], 2);
    assert_eq!(count_records(&app, ENTERPRISE).await, 0);
}

/// Each malformed field answers 422 with the field's stable code, and nothing is written.
#[tokio::test]
async fn invalid_fields_are_refused_with_stable_codes() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "subject_code",
            json!("91445122MA4W123461"),
            "uscc_check_character",
        ),
        (
            "subject_code",
            json!("91445122MA4W12346I"),
            "uscc_invalid_character",
        ),
        (
            "subject_code",
            json!("445122198503121232"),
            "citizen_id_check_digit",
        ),
        (
            "subject_code",
            json!("445122199002301239"),
            "citizen_id_birth_date",
        ),
        (
            "source_dept",
            json!("11445122007054554X"),
            "uscc_check_character",
        ),
        ("domain", json!("astrology"), "unknown_domain"),
        ("kind", json!("gossip"), "unknown_record_kind"),
        ("severity", json!("catastrophic"), "unknown_severity"),
        (
            "publication_level",
            json!("secret"),
            "unknown_publication_level",
        ),
        ("decision_date", json!("18/03/2026"), "invalid_date"),
        (
            "decision_date",
            json!("2026-07-01"),
            "decision_date_in_future",
        ),
        ("period_end", json!("2026-01-01"), "period_end_before_start"),
        ("subject_name", json!(""), "missing_field"),
        ("subject_name", json!("名".repeat(201)), "field_too_long"),
        (
            "source_record_id",
            json!("有 空格"),
            "invalid_source_record_id",
        ),
        ("content", Value::Null, "missing_field"),
    ];
    for (field, value, code) in cases {
        let body = record_with(field, value.clone());
        let answer = app
            .post("/api/v1/records", Some(&app.provider()), &body)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}: {}",
            answer.text
        );
        assert_eq!(answer.code(), "validation_failed");
        assert!(
            answer.item_codes().iter().any(|c| c == code),
            "{field}={value}: expected {code} in {}",
            answer.text
        );
    }
    let mut tolerance = record(ENTERPRISE, "TOL-1");
    tolerance["tolerance_case"] = json!(true);
    let answer = app
        .post("/api/v1/records", Some(&app.provider()), &tolerance)
        .await;
    assert_eq!(answer.item_codes(), vec!["tolerance_case_not_dishonesty"]);
    assert_eq!(count_records(&app, ENTERPRISE).await, 0);
}

#[tokio::test]
async fn an_invalid_citizen_id_is_never_echoed_back() {
    let app = spawn_app().await;
    let bad_id = "445122198503121232";
    let answer = app
        .post(
            "/api/v1/records",
            Some(&app.provider()),
            &record_with("subject_code", json!(bad_id)),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!answer.text.contains(bad_id), "{}", answer.text);
    assert!(!answer.text.contains("19850312"), "{}", answer.text);
    // Also through the JSON-shape path (a number where a string belongs).
    let answer = app
        .post(
            "/api/v1/records",
            Some(&app.provider()),
            &record_with("subject_code", json!(445122198503121231u64)),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.code(), "invalid_body");
    assert!(!answer.text.contains("19850312"), "{}", answer.text);
}

#[tokio::test]
async fn malformed_json_unknown_fields_and_oversized_bodies_are_4xx_problems() {
    let app = spawn_app_with(|s| s.http.body_limit_bytes = 64 * 1024).await;
    let url = format!("{}/api/v1/records", app.base_url);
    let token = app.provider();

    let malformed = into_answer(
        app.client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{\"subject_code\": ")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.code(), "malformed_json");

    let not_json = into_answer(
        app.client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body("hello")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(not_json.code(), "unsupported_media_type");

    let unknown = app
        .post(
            "/api/v1/records",
            Some(&token),
            &record_with("colour", json!("red")),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.code(), "invalid_body");

    let huge = record_with("content", json!("长".repeat(40_000)));
    let too_large = app.post("/api/v1/records", Some(&token), &huge).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.code(), "body_too_large");
    assert_eq!(count_records(&app, ENTERPRISE).await, 0);
}

#[tokio::test]
async fn corrections_and_revocations_are_new_versions_with_reasons() {
    let app = spawn_app().await;
    let created = app
        .create_record(&record(ENTERPRISE, "RP-C"), StatusCode::CREATED)
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let token = app.provider();

    let corrected = app
        .post(
            &format!("/api/v1/records/{id}/corrections"),
            Some(&token),
            &json!({"reason": "异议核实：期限录入错误", "expected_version": 1, "changes": {"period_end": "2028-03-17"}}),
        )
        .await;
    assert_eq!(corrected.status, StatusCode::OK, "{}", corrected.text);
    assert_eq!(corrected.body["version"], 2);
    assert_eq!(corrected.body["status"], "corrected");
    assert_eq!(corrected.body["period_end"], "2028-03-17");

    let stale = app
        .post(
            &format!("/api/v1/records/{id}/corrections"),
            Some(&token),
            &json!({"reason": "again", "expected_version": 1, "changes": {"severity": "general"}}),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.code(), "version_conflict");

    let invalid = app
        .post(
            &format!("/api/v1/records/{id}/corrections"),
            Some(&token),
            &json!({"reason": "x", "changes": {"period_end": "2020-01-01"}}),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.item_codes(), vec!["period_end_before_start"]);

    let no_reason = app
        .post(
            &format!("/api/v1/records/{id}/revocations"),
            Some(&token),
            &json!({"reason": "  "}),
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);

    let revoked = app
        .post(
            &format!("/api/v1/records/{id}/revocations"),
            Some(&token),
            &json!({"reason": "原处罚决定已被行政复议撤销"}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(revoked.body["version"], 3);
    assert_eq!(revoked.body["status"], "revoked");

    let again = app
        .post(
            &format!("/api/v1/records/{id}/revocations"),
            Some(&token),
            &json!({"reason": "twice"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "invalid_record_state");

    let history = app
        .get(&format!("/api/v1/records/{id}"), Some(&app.supervisor()))
        .await;
    let versions = history.body["versions"].as_array().unwrap();
    let kinds: Vec<_> = versions
        .iter()
        .map(|v| v["change_kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["created", "corrected", "revoked"]);
    assert_eq!(versions[0]["record"]["period_end"], "2029-03-17");
    assert_eq!(versions[1]["record"]["period_end"], "2028-03-17");
    assert_eq!(versions[1]["reason"], "异议核实：期限录入错误");
    assert!(versions[2]["actor"].as_str().unwrap().ends_with(DEPT));

    // The public no longer sees a revoked record.
    let public = app.get(&format!("/api/v1/records/{id}"), None).await;
    assert_eq!(public.status, StatusCode::NOT_FOUND);
    assert_eq!(public.code(), "not_found");
}

#[tokio::test]
async fn only_the_submitting_department_changes_a_record() {
    let app = spawn_app().await;
    let created = app
        .create_record(&record(ENTERPRISE, "RP-O"), StatusCode::CREATED)
        .await;
    let id = created.body["id"].as_str().unwrap();
    let other = app.token(integrity_exchange::auth::Role::Provider, Some(OTHER_DEPT));
    let answer = app
        .post(
            &format!("/api/v1/records/{id}/corrections"),
            Some(&other),
            &json!({"reason": "not mine", "changes": {"severity": "minor"}}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "not_record_owner");

    let supervisor = app
        .post(
            &format!("/api/v1/records/{id}/revocations"),
            Some(&app.supervisor()),
            &json!({"reason": "supervisors do not write"}),
        )
        .await;
    assert_eq!(supervisor.status, StatusCode::FORBIDDEN);
    assert_eq!(supervisor.code(), "role_not_allowed");

    let missing = app
        .post(
            "/api/v1/records/01938a6e-0000-7000-8000-000000000000/corrections",
            Some(&app.provider()),
            &json!({"reason": "x", "changes": {"severity": "minor"}}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "not_found");

    let malformed = app.get("/api/v1/records/not-a-uuid", None).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.code(), "invalid_record_id");

    let unchanged = app
        .get(&format!("/api/v1/records/{id}"), Some(&app.supervisor()))
        .await;
    assert_eq!(unchanged.body["version"], 1);
}

#[tokio::test]
async fn a_provider_cannot_submit_for_another_department() {
    let app = spawn_app().await;
    let answer = app
        .post(
            "/api/v1/records",
            Some(&app.provider()),
            &record_with("source_dept", json!(OTHER_DEPT)),
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "dept_mismatch");
    let mut body = json!({"records": [record(ENTERPRISE, "A"), record(ENTERPRISE, "B")]});
    body["records"][1]["source_dept"] = json!(OTHER_DEPT);
    let answer = app
        .post("/api/v1/records/batch", Some(&app.provider()), &body)
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "dept_mismatch");
    assert_eq!(count_records(&app, ENTERPRISE).await, 0);
}
