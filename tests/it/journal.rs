//! The upward journal: every record change is an event, signed by this node, gap-free per
//! origin, committed with the change itself.

use integrity_exchange::federation::journal::{EventHeader, SigningKey, verify};
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn every_change_is_a_signed_gap_free_event() {
    let app = spawn_app().await;
    let batch = json!({"records": [record(ENTERPRISE, "J-1"), record(ENTERPRISE, "J-2"), record(CITIZEN, "J-3")]});
    let created = app
        .post("/api/v1/records/batch", Some(&app.provider()), &batch)
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["results"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A replay writes no event.
    app.post("/api/v1/records/batch", Some(&app.provider()), &batch)
        .await;
    let token = app.provider();
    let corrected = app
        .post(
            &format!("/api/v1/records/{id}/corrections"),
            Some(&token),
            &json!({"reason": "更正期限", "changes": {"period_end": "2028-03-17"}}),
        )
        .await;
    assert_eq!(corrected.status, StatusCode::OK);
    app.post(
        &format!("/api/v1/records/{id}/revocations"),
        Some(&token),
        &json!({"reason": "撤销"}),
    )
    .await;
    // A refused change writes no event either.
    let refused = app
        .post(
            &format!("/api/v1/records/{id}/revocations"),
            Some(&token),
            &json!({"reason": "again"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);

    let events = app
        .state
        .store
        .journal_events("445122", 0, 100)
        .await
        .unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5], "gap-free per origin");
    let kinds: Vec<&str> = events.iter().map(|e| e.change_kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["created", "created", "created", "corrected", "revoked"]
    );
    assert_eq!(events[3].record_id.to_string(), id);
    assert_eq!(events[3].record_version, 2);
    assert_eq!(events[4].record_version, 3);

    // Offline verification with the node's public key.
    let (key, _) = SigningKey::development(app.data_dir.path()).unwrap();
    for event in &events {
        assert_eq!(event.signer_key, key.public_key_b64());
        let header = EventHeader {
            origin: &event.origin,
            seq: event.seq,
            record_id: event.record_id,
            record_version: event.record_version,
            change_kind: &event.change_kind,
        };
        assert!(verify(
            &event.signer_key,
            header,
            &event.payload,
            &event.signature
        ));
        let tampered = event.payload.replacen("445122", "445121", 1);
        assert_ne!(tampered, event.payload);
        assert!(!verify(
            &event.signer_key,
            header,
            &tampered,
            &event.signature
        ));
    }
    let payload: serde_json::Value = serde_json::from_str(&events[3].payload).unwrap();
    assert_eq!(payload["status"], "corrected");

    // The sequence continues after a restart.
    let (settings, data_dir, clock) = app.stop().await;
    let app = start(settings, data_dir, clock).await;
    app.create_record(&record(ENTERPRISE, "J-4"), StatusCode::CREATED)
        .await;
    let events = app
        .state
        .store
        .journal_events("445122", 5, 100)
        .await
        .unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![6]);
}
