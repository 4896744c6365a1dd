//! The audit trail: every write and every non-public read is recorded, chained, verifiable.

use integrity_exchange::audit::ChainError;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};

use crate::harness::*;

#[tokio::test]
async fn writes_and_non_public_reads_are_audited_and_public_reads_are_not() {
    let app = spawn_app().await;
    let created = app
        .create_record(&record(ENTERPRISE, "AU-1"), StatusCode::CREATED)
        .await;
    let id = created.body["id"].as_str().unwrap();
    app.get(&format!("/api/v1/records/{id}"), None).await;
    app.get(&format!("/api/v1/subjects/{ENTERPRISE}"), None)
        .await;
    let read = app
        .get(&format!("/api/v1/records/{id}"), Some(&app.supervisor()))
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let request_id = read.headers["x-request-id"].to_str().unwrap().to_owned();

    let rows = app.state.store.recent_audit(10).await.unwrap();
    let actions: Vec<_> = rows.iter().rev().map(|r| r.entry.action.as_str()).collect();
    assert_eq!(actions, vec!["records.create", "records.read"]);
    let read_row = &rows[0];
    assert_eq!(read_row.entry.actor_kind, "supervisor");
    assert_eq!(read_row.entry.resource, format!("record:{id}"));
    assert_eq!(read_row.entry.request_id, request_id);
    assert!(rows[1].entry.detail.contains("created=1"));
    assert_eq!(rows[1].hash, read_row.prev_hash);
}

#[tokio::test]
async fn refused_writes_leave_no_audit_row_and_no_data() {
    let app = spawn_app().await;
    let bad = app
        .post(
            "/api/v1/records",
            Some(&app.provider()),
            &record_with("domain", serde_json::json!("astrology")),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.state.store.recent_audit(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_tampered_audit_row_is_named_by_verification() {
    let app = spawn_app().await;
    for i in 0..4 {
        app.create_record(&record(ENTERPRISE, &format!("T-{i}")), StatusCode::CREATED)
            .await;
    }
    let report = app.state.store.verify_audit_chain().await.unwrap();
    assert_eq!(report.verified, 4);
    assert!(report.first_error.is_none());

    let db = Database::connect(app.settings.database_url().as_str())
        .await
        .unwrap();
    db.execute_unprepared("UPDATE audit_log SET actor_id = 'someone-else' WHERE seq = 3")
        .await
        .unwrap();
    let report = app.state.store.verify_audit_chain().await.unwrap();
    assert_eq!(report.verified, 2);
    assert_eq!(report.first_error, Some(ChainError::Altered { seq: 3 }));

    db.execute_unprepared("DELETE FROM audit_log WHERE seq = 3")
        .await
        .unwrap();
    let report = app.state.store.verify_audit_chain().await.unwrap();
    assert_eq!(
        report.first_error,
        Some(ChainError::Gap {
            seq: 4,
            expected: 3
        })
    );
}

#[tokio::test]
async fn the_chain_continues_across_a_restart() {
    let app = spawn_app().await;
    app.create_record(&record(ENTERPRISE, "RS-1"), StatusCode::CREATED)
        .await;
    let (settings, data_dir, clock) = app.stop().await;
    let app = start(settings, data_dir, clock).await;
    app.create_record(&record(ENTERPRISE, "RS-2"), StatusCode::CREATED)
        .await;
    let report = app.state.store.verify_audit_chain().await.unwrap();
    assert_eq!(report.verified, 2);
    assert!(report.first_error.is_none());
    assert_eq!(count_records(&app, ENTERPRISE).await, 2);
}
