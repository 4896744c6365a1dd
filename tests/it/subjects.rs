//! Reading subjects and their records with the visibility each caller is entitled to.

use integrity_exchange::auth::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn each_caller_sees_what_it_is_entitled_to() {
    let app = spawn_app().await;
    let mut public = record(ENTERPRISE, "V-public");
    public["publication_level"] = json!("public");
    let mut shared = record(ENTERPRISE, "V-shared");
    shared["publication_level"] = json!("shared");
    let mut restricted = record(ENTERPRISE, "V-restricted");
    restricted["publication_level"] = json!("restricted");
    let mut ids = Vec::new();
    for body in [&public, &shared, &restricted] {
        let created = app.create_record(body, StatusCode::CREATED).await;
        ids.push(created.body["id"].as_str().unwrap().to_owned());
    }
    let other_dept = app.token(Role::Provider, Some(OTHER_DEPT));
    let total = |answer: &Answer| answer.body["counts"]["total"].as_u64().unwrap();
    let path = format!("/api/v1/subjects/{ENTERPRISE}");

    let anonymous = app.get(&path, None).await;
    assert_eq!(total(&anonymous), 1);
    assert_eq!(total(&app.get(&path, Some(&other_dept)).await), 2);
    assert_eq!(total(&app.get(&path, Some(&app.provider())).await), 3);
    assert_eq!(total(&app.get(&path, Some(&app.supervisor())).await), 3);

    // Record by record: the public gets 404 for shared and restricted records.
    assert_eq!(
        app.get(&format!("/api/v1/records/{}", ids[0]), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/api/v1/records/{}", ids[1]), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/v1/records/{}", ids[2]), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/v1/records/{}", ids[2]), Some(&other_dept))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // The public view has no internal fields and no history.
    let public_view = app.get(&format!("/api/v1/records/{}", ids[0]), None).await;
    assert!(public_view.body.get("source_record_id").is_none());
    assert!(public_view.body.get("versions").is_none());
    assert!(public_view.body.get("origin_record_id").is_none());
}

#[tokio::test]
async fn citizen_ids_are_masked_for_everyone_but_supervisors_and_the_owner() {
    let app = spawn_app().await;
    let mut body = record(CITIZEN, "P-1");
    body["subject_name"] = json!("张三");
    let created = app.create_record(&body, StatusCode::CREATED).await;
    assert_eq!(
        created.body["subject_code"], CITIZEN,
        "the owning department sees it"
    );
    let id = created.body["id"].as_str().unwrap();

    let public = app.get(&format!("/api/v1/records/{id}"), None).await;
    assert_eq!(public.status, StatusCode::OK);
    assert!(!public.text.contains(CITIZEN));
    assert!(!public.text.contains("19850312"));
    assert_eq!(public.body["subject_code"], "445122********1231");

    let other = app
        .get(
            &format!("/api/v1/records/{id}"),
            Some(&app.token(Role::Provider, Some(OTHER_DEPT))),
        )
        .await;
    assert!(!other.text.contains(CITIZEN));

    let subject = app.get(&format!("/api/v1/subjects/{CITIZEN}"), None).await;
    assert_eq!(subject.status, StatusCode::OK);
    assert_eq!(subject.body["kind"], "citizen_id");
    assert!(!subject.text.contains(CITIZEN));
    let listed = app
        .get(&format!("/api/v1/subjects/{CITIZEN}/records"), None)
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert!(!listed.text.contains(CITIZEN));

    let supervisor = app
        .get(
            &format!("/api/v1/subjects/{CITIZEN}"),
            Some(&app.supervisor()),
        )
        .await;
    assert_eq!(supervisor.body["code"], CITIZEN);
}

#[tokio::test]
async fn a_subject_without_records_is_an_answer_not_an_error() {
    let app = spawn_app().await;
    let answer = app.get("/api/v1/subjects/91100000100003962T", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["counts"]["total"], 0);
    assert_eq!(answer.body["registration"]["subject_type"], "enterprise");
    assert_eq!(answer.body["registration"]["region_code"], "100000");

    let bad = app.get("/api/v1/subjects/91445122MA4W123461", None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.code(), "uscc_check_character");
}

#[tokio::test]
async fn records_page_with_a_cursor_and_filter() {
    let app = spawn_app().await;
    let records: Vec<_> = (0..120)
        .map(|i| {
            let mut r = record(ENTERPRISE, &format!("PG-{i:03}"));
            if i % 3 == 0 {
                r["kind"] = json!("honour");
                r["category"] = serde_json::Value::Null;
                r["domain"] = json!("taxation");
                r["decision_date"] = json!("2025-12-01");
            }
            r
        })
        .collect();
    let answer = app
        .post(
            "/api/v1/records/batch",
            Some(&app.provider()),
            &json!({"records": records}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);

    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/api/v1/subjects/{ENTERPRISE}/records?limit=50");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = app.get(&path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        pages += 1;
        for item in page.body["items"].as_array().unwrap() {
            assert!(
                seen.insert(item["id"].as_str().unwrap().to_owned()),
                "no repeats"
            );
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 120);
    assert_eq!(pages, 3);

    let honours = app
        .get(
            &format!("/api/v1/subjects/{ENTERPRISE}/records?kind=honour&limit=500"),
            None,
        )
        .await;
    assert_eq!(honours.body["items"].as_array().unwrap().len(), 40);
    let dated = app
        .get(
            &format!(
                "/api/v1/subjects/{ENTERPRISE}/records?from=2026-01-01&to=2026-12-31&limit=500"
            ),
            None,
        )
        .await;
    assert_eq!(dated.body["items"].as_array().unwrap().len(), 80);

    for (query, code) in [
        ("kind=gossip", "unknown_record_kind"),
        ("from=yesterday", "invalid_date"),
        ("from=2026-02-01&to=2026-01-01", "invalid_date_range"),
        ("limit=0", "invalid_limit"),
        ("limit=501", "invalid_limit"),
        ("cursor=bm90LWEtY3Vyc29y", "invalid_cursor"),
        ("colour=red", "invalid_query"),
    ] {
        let answer = app
            .get(
                &format!("/api/v1/subjects/{ENTERPRISE}/records?{query}"),
                None,
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            answer.text
        );
        assert_eq!(answer.code(), code, "{query}");
    }
}
