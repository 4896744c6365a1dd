//! Discarding an event the parent refused: an administrator gives a reason, the node signs a
//! skip marker that goes up in the event's place, and every level above stays gap-free while
//! the event itself stays inspectable where it was discarded. Real nodes, mutual TLS.

use std::time::Duration;

use integrity_exchange::auth::Role;
use integrity_exchange::federation::journal::{
    EventHeader, SigningKey, Stream, stream_signing_bytes,
};
use integrity_exchange::federation::wire::{
    BatchAck, DISCARDED, EventBatch, SkipMarker, WireEvent,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::federation::{Federation, free_port, wait_for};
use crate::harness::*;

async fn status(app: &TestApp) -> serde_json::Value {
    let answer = app
        .get("/api/v1/federation/status", Some(&app.supervisor()))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body
}

/// The value of the first `/metrics` sample of `name` carrying every one of `labels`
/// (`key="value"`). Metrics are process-wide, so tests compare with "at least".
pub(crate) async fn metric(app: &TestApp, name: &str, labels: &[&str]) -> Option<f64> {
    let metrics = app.get("/metrics", None).await;
    metrics
        .text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| {
            line.split(['{', ' ']).next() == Some(name)
                && labels.iter().all(|label| line.contains(label))
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn a_refused_event_is_discarded_with_a_signed_reason_and_every_level_stays_gap_free() {
    let federation = Federation::new();
    let province = federation.spawn("440000", None, 0).await;
    let city = federation
        .spawn("445100", Some(&province.base_url), free_port())
        .await;
    let city_url = city.base_url.clone();
    let (city_settings, city_dir, city_clock) = city.stop().await;
    // A long back-off: only the discard itself can wake the push within the test.
    let county = federation
        .spawn_with("445122", Some(&city_url), 0, |s| {
            s.federation.max_backoff_secs = 600;
        })
        .await;
    let mut ids = Vec::new();
    for i in 1..=3 {
        let created = county
            .create_record(&record(ENTERPRISE, &format!("D-{i}")), StatusCode::CREATED)
            .await;
        ids.push(created.body["id"].as_str().unwrap().to_owned());
    }
    // Event 2 is damaged in the county's journal (its signature no longer matches) while the
    // city is down.
    let db = sea_orm::Database::connect(county.settings.database_url().as_str())
        .await
        .unwrap();
    let damaged = sea_orm::ConnectionTrait::execute_unprepared(
        &db,
        "UPDATE journal_events SET payload = replace(payload, '饶平县', '潮安区') WHERE origin = '445122' AND seq = 2",
    )
    .await
    .unwrap();
    assert_eq!(damaged.rows_affected(), 1);
    let mut city = start(city_settings, city_dir, city_clock).await;
    city.client = federation.client("445100");

    // The city refuses the batch and names event 2; the county holds it as a problem.
    let mut problem = None;
    for _ in 0..200 {
        let body = status(&county).await;
        if let Some(first) = body["parent"]["open_problems"].as_array().unwrap().first() {
            problem = Some(first.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let problem = problem.expect("the refusal reaches the problem queue");
    assert_eq!(problem["origin"], "445122", "{problem}");
    assert_eq!(
        problem["seq"], 2,
        "the refused event itself, not the batch's first"
    );
    assert_eq!(problem["refused_event"], true);
    assert_eq!(problem["code"], "422");
    let id = problem["id"].as_str().unwrap().to_owned();
    assert!(
        city.state
            .store
            .journal_watermarks()
            .await
            .unwrap()
            .is_empty(),
        "nothing of the refused batch applied"
    );

    // Bad discards: each a problem+json in both languages, nothing changed.
    let path = format!("/api/v1/federation/problems/{id}/discard");
    let admin = county.token(Role::Admin, None);
    let by_supervisor = county
        .post(&path, Some(&county.supervisor()), &json!({"reason": "x"}))
        .await;
    assert_eq!(by_supervisor.status, StatusCode::FORBIDDEN);
    for body in [json!({}), json!({"reason": "   "})] {
        let answer = county.post(&path, Some(&admin), &body).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.text
        );
        assert_eq!(answer.code(), "reason_required");
        assert!(answer.content_type.starts_with("application/problem+json"));
        assert!(!answer.body["detail_zh"].as_str().unwrap().is_empty());
    }
    for unknown in [uuid::Uuid::now_v7().to_string(), "not-a-problem".to_owned()] {
        let answer = county
            .post(
                &format!("/api/v1/federation/problems/{unknown}/discard"),
                Some(&admin),
                &json!({"reason": "x"}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text);
        assert_eq!(answer.code(), "problem_not_found");
        assert!(!answer.body["detail_zh"].as_str().unwrap().is_empty());
    }
    assert_eq!(status(&county).await["parent"]["lag_events"], 3);

    // Inspect, then discard.
    let inspected = county
        .get(
            &format!("/api/v1/federation/problems/{id}"),
            Some(&county.supervisor()),
        )
        .await;
    assert_eq!(inspected.status, StatusCode::OK, "{}", inspected.text);
    assert_eq!(inspected.body["event"]["seq"], 2);
    assert_eq!(inspected.body["event"]["record_id"], ids[1].as_str());
    assert!(inspected.body["skip"].is_null());
    let reason = "源数据损坏，事件无法修复；记录将在本地重新更正后上报";
    let discarded = county
        .post(&path, Some(&admin), &json!({"reason": reason}))
        .await;
    assert_eq!(discarded.status, StatusCode::OK, "{}", discarded.text);
    assert_eq!(discarded.body["seq"], 2);
    assert_eq!(discarded.body["origin"], "445122");
    assert_eq!(discarded.body["discarded_by"], "445122");
    assert_eq!(discarded.body["record_id"], ids[1].as_str());
    assert_eq!(discarded.body["reason"], reason);
    assert_eq!(discarded.body["actor"], "test-user");
    assert_eq!(
        discarded.body["signer_key"],
        county.state.store.node_public_key().unwrap().as_str()
    );
    assert_eq!(
        discarded.body["discarded_event_sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    let again = county
        .post(&path, Some(&admin), &json!({"reason": reason}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert_eq!(again.code(), "problem_resolved");

    // The skip marker stands in for event 2 at the city and, relayed unchanged, at the
    // province: both hold 1 … 3 without a gap, and only records 1 and 3.
    wait_for(&city, "445122", 3).await;
    wait_for(&province, "445122", 3).await;
    assert_eq!(count_records(&city, ENTERPRISE).await, 2);
    assert_eq!(count_records(&province, ENTERPRISE).await, 2);
    let missing = province
        .get(
            &format!("/api/v1/records/{}", ids[1]),
            Some(&province.supervisor()),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for level in [&city, &province] {
        let body = status(level).await;
        let shown = &body["discarded"][0];
        assert_eq!(shown["origin"], "445122", "{body}");
        assert_eq!(shown["seq"], 2);
        assert_eq!(shown["reason"], reason);
        assert_eq!(shown["discarded_by"], "445122");
        assert_eq!(shown["signature"], discarded.body["signature"]);
        assert_eq!(body["held"]["445122"], 3);
    }
    let county_status = status(&county).await;
    assert_eq!(county_status["parent"]["lag_events"], 0, "{county_status}");
    assert!(
        county_status["parent"]["open_problems"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The discarded event stays inspectable where it was discarded.
    let inspected = county
        .get(
            &format!("/api/v1/federation/problems/{id}"),
            Some(&county.supervisor()),
        )
        .await;
    assert_eq!(inspected.body["problem"]["outcome"], "discarded");
    assert_eq!(inspected.body["event"]["seq"], 2);
    assert_eq!(inspected.body["skip"]["reason"], reason);

    // A later version of the discarded record still goes up: events carry the whole record.
    let corrected = county
        .post(
            &format!("/api/v1/records/{}/corrections", ids[1]),
            Some(&county.provider()),
            &json!({"reason": "重新上报", "changes": {"severity": "general"}}),
        )
        .await;
    assert_eq!(corrected.status, StatusCode::OK, "{}", corrected.text);
    wait_for(&province, "445122", 4).await;
    let arrived = province
        .get(
            &format!("/api/v1/records/{}", ids[1]),
            Some(&province.supervisor()),
        )
        .await;
    assert_eq!(arrived.status, StatusCode::OK, "{}", arrived.text);
    assert_eq!(arrived.body["version"], 2);
    assert_eq!(count_records(&province, ENTERPRISE).await, 3);

    // Counted and audited.
    assert!(metric(&county, "integrity_federation_discarded_events_total", &[]).await >= Some(1.0));
    assert!(
        metric(
            &county,
            "integrity_federation_skipped_events_total",
            &["peer=\"445122\""]
        )
        .await
            >= Some(1.0)
    );
    let audited: Vec<String> = county
        .state
        .store
        .recent_audit(50)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.entry.action)
        .collect();
    assert!(audited.iter().any(|a| a == "federation.discard"));
}

/// A skip marker for `origin`/`seq` of the county's record `record_id` v1, claiming
/// `discarded_by`, signed with `key`.
fn skip(
    key: &SigningKey,
    discarded_by: &str,
    seq: i64,
    record_id: uuid::Uuid,
    reason: &str,
) -> WireEvent {
    let marker = SkipMarker {
        origin: "445122".into(),
        seq,
        record_id,
        record_version: 1,
        discarded_change_kind: "created".into(),
        discarded_event_sha256: "00".repeat(32),
        reason: reason.into(),
        discarded_by: discarded_by.into(),
        actor: "admin".into(),
        discarded_at: "2026-06-15T02:00:00Z".into(),
    };
    let payload = serde_json::to_string(&marker).unwrap();
    let header = EventHeader {
        origin: "445122",
        seq,
        record_id,
        record_version: 1,
        change_kind: DISCARDED,
    };
    WireEvent {
        origin: "445122".into(),
        seq,
        record_id,
        record_version: 1,
        change_kind: DISCARDED.into(),
        signature: key.sign(&stream_signing_bytes(Stream::Skips, header, &payload)),
        payload,
        signer_key: key.public_key_b64().into(),
    }
}

#[tokio::test]
async fn forged_and_misplaced_skip_markers_are_refused_and_replays_change_nothing() {
    let federation = Federation::new();
    let city = federation.spawn("445100", None, 0).await;
    let county = federation.spawn("445122", None, 0).await;
    for i in 1..=3 {
        county
            .create_record(&record(ENTERPRISE, &format!("F-{i}")), StatusCode::CREATED)
            .await;
    }
    let events: Vec<WireEvent> = county
        .state
        .store
        .journal_events("445122", 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| WireEvent {
            origin: e.origin,
            seq: e.seq,
            record_id: e.record_id,
            record_version: e.record_version,
            change_kind: e.change_kind,
            payload: e.payload,
            signature: e.signature,
            signer_key: e.signer_key,
        })
        .collect();
    let county_key =
        SigningKey::from_pem_file(&federation.node_dir("445122").join("signing.key")).unwrap();
    let sibling_key =
        SigningKey::from_pem_file(&federation.node_dir("445102").join("signing.key")).unwrap();
    let url = format!("{}/federation/v1/events", city.base_url);
    let client = federation.client("445122");
    let push = |events: Vec<WireEvent>, priority: bool| {
        let batch = EventBatch {
            sender: "445122".into(),
            events,
            priority,
        };
        let client = client.clone();
        let url = url.clone();
        async move { into_answer(client.post(url).json(&batch).send().await.unwrap()).await }
    };
    // Event 1 pins the county's key at the city.
    let first = push(events[..1].to_vec(), false).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);

    let id2 = events[1].record_id;
    let reason = "数据错误，经核实作废";
    let mut tampered = skip(&county_key, "445122", 2, id2, reason);
    tampered.payload = tampered.payload.replace("经核实", "未核实");
    let priority = vec![skip(&county_key, "445122", 2, id2, reason)];
    let cases: Vec<(&str, Vec<WireEvent>, bool, StatusCode, &str)> = vec![
        (
            "signed by the parent itself",
            vec![skip(&county_key, "445100", 2, id2, reason)],
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_signature",
        ),
        (
            "signed by a node off the origin's path",
            vec![skip(&sibling_key, "445102", 2, id2, reason)],
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_signature",
        ),
        (
            "claims the county but signed with another key",
            vec![skip(&sibling_key, "445122", 2, id2, reason)],
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_signature",
        ),
        (
            "changed after signing",
            vec![tampered],
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_signature",
        ),
        (
            "without a reason",
            vec![skip(&county_key, "445122", 2, id2, " ")],
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed_event",
        ),
        (
            "in the priority lane",
            priority,
            true,
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed_event",
        ),
        (
            "beyond the next seq",
            vec![skip(&county_key, "445122", 3, events[2].record_id, reason)],
            false,
            StatusCode::CONFLICT,
            "out_of_order",
        ),
    ];
    for (what, batch, priority, status, code) in cases {
        let answer = push(batch, priority).await;
        assert_eq!(answer.status, status, "{what}: {}", answer.text);
        assert_eq!(answer.code(), code, "{what}");
        assert_eq!(
            city.state.store.journal_watermarks().await.unwrap()["445122"],
            1,
            "{what}: nothing applied"
        );
    }
    assert!(
        metric(
            &city,
            "integrity_federation_refused_total",
            &["peer=\"445122\"", "code=\"bad_signature\""]
        )
        .await
            >= Some(4.0)
    );

    // A skip marker for an event the city already applied changes nothing.
    let late = push(
        vec![skip(&county_key, "445122", 1, events[0].record_id, reason)],
        false,
    )
    .await;
    let ack: BatchAck = serde_json::from_value(late.body).unwrap();
    assert_eq!((ack.applied, ack.duplicates, ack.skipped), (0, 1, 0));
    assert_eq!(count_records(&city, ENTERPRISE).await, 1);

    // The real thing: event 2 skipped, event 3 applied; a replay changes nothing.
    let batch = vec![
        skip(&county_key, "445122", 2, id2, reason),
        events[2].clone(),
    ];
    let answer = push(batch.clone(), false).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let ack: BatchAck = serde_json::from_value(answer.body).unwrap();
    assert_eq!((ack.applied, ack.skipped), (1, 1));
    assert_eq!(ack.high_watermarks["445122"], 3);
    let replay: BatchAck = serde_json::from_value(push(batch, false).await.body).unwrap();
    assert_eq!(
        (replay.applied, replay.duplicates, replay.skipped),
        (0, 2, 0)
    );
    assert_eq!(count_records(&city, ENTERPRISE).await, 2);
    let body = status(&city).await;
    assert_eq!(body["held"]["445122"], 3);
    assert_eq!(body["discarded"][0]["seq"], 2);
}

#[tokio::test]
async fn a_relay_discards_what_its_parent_refuses_and_signs_for_it() {
    let federation = Federation::new();
    let province = federation.spawn("440000", None, 0).await;
    // The province holds a wrong key for 饶平县 (as if pinned from a forged first event): it
    // refuses every 饶平县 event the city relays, though the city accepted them.
    let wrong_key =
        SigningKey::from_pem_file(&federation.node_dir("445103").join("signing.key")).unwrap();
    let db = sea_orm::Database::connect(province.settings.database_url().as_str())
        .await
        .unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        &db,
        &format!(
            "INSERT INTO federation_peer_keys (origin, signer_key, first_seen_at) VALUES ('445122', '{}', '2026-06-15 02:00:00+00:00')",
            wrong_key.public_key_b64()
        ),
    )
    .await
    .unwrap();
    let city = federation
        .spawn_with("445100", Some(&province.base_url), 0, |s| {
            s.federation.max_backoff_secs = 600;
        })
        .await;
    let county = federation.spawn("445122", Some(&city.base_url), 0).await;
    let created = county
        .create_record(&record(ENTERPRISE, "R-1"), StatusCode::CREATED)
        .await;
    wait_for(&city, "445122", 1).await;
    let mut problem = None;
    for _ in 0..200 {
        let body = status(&city).await;
        if let Some(first) = body["parent"]["open_problems"].as_array().unwrap().first() {
            problem = Some(first.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let problem = problem.expect("the province's refusal reaches the city's problem queue");
    assert_eq!(
        (problem["origin"].as_str(), problem["seq"].as_i64()),
        (Some("445122"), Some(1))
    );
    let id = problem["id"].as_str().unwrap();
    let reason = "省级节点登记的饶平县签名密钥有误，经核实放弃该事件";
    let discarded = city
        .post(
            &format!("/api/v1/federation/problems/{id}/discard"),
            Some(&city.token(Role::Admin, None)),
            &json!({"reason": reason}),
        )
        .await;
    assert_eq!(discarded.status, StatusCode::OK, "{}", discarded.text);
    assert_eq!(discarded.body["discarded_by"], "445100");
    assert_eq!(discarded.body["record_id"], created.body["id"]);

    // The province holds 饶平县's seq 1 as the city's signed skip, and no record.
    wait_for(&province, "445122", 1).await;
    assert_eq!(count_records(&province, ENTERPRISE).await, 0);
    let shown = status(&province).await["discarded"][0].clone();
    assert_eq!(shown["discarded_by"], "445100", "{shown}");
    assert_eq!(
        shown["signer_key"],
        city.state.store.node_public_key().unwrap().as_str()
    );
    // The city still holds the record it applied, and the county knows nothing went wrong
    // on its own link.
    assert_eq!(count_records(&city, ENTERPRISE).await, 1);
    assert_eq!(status(&county).await["parent"]["lag_events"], 0);
    assert_eq!(status(&city).await["parent"]["lag_events"], 0);
}
