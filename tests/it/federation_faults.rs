//! Federation under faults: a city node running as a real process is killed with SIGKILL in
//! the middle of a stream and restarted on the same data and port; corrections overtake a
//! backlog of creations through the priority lane.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use integrity_exchange::domain::subject::SubjectCode;
use integrity_exchange::federation::wire::{BatchAck, EventBatch, WireEvent};
use integrity_exchange::store::{RecordFilter, Visibility};
use reqwest::StatusCode;
use serde_json::json;
use tempfile::TempDir;
use uuid::Uuid;

use crate::federation::{Federation, free_port, wait_for};
use crate::harness::*;

const BIN: &str = env!("CARGO_BIN_EXE_integrity-node");

/// The city node as a separate `integrity-node serve` process, configured by environment.
struct CityProcess {
    child: Child,
}

impl Drop for CityProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn city_command(
    federation: &Federation,
    data_dir: &Path,
    database_url: &str,
    port: u16,
    parent_url: &str,
) -> Command {
    let pki = federation.node_dir("445100");
    let mut command = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("INTEGRITY_") {
            command.env_remove(key);
        }
    }
    command
        .env("INTEGRITY_NODE__REGION", "445100")
        .env("INTEGRITY_NODE__DATA_DIR", data_dir)
        .env("INTEGRITY_DATABASE__URL", database_url)
        .env("INTEGRITY_HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("INTEGRITY_TLS__CERT_PATH", pki.join("node.crt"))
        .env("INTEGRITY_TLS__KEY_PATH", pki.join("node.key"))
        .env("INTEGRITY_FEDERATION__CA_PATH", pki.join("ca.crt"))
        .env("INTEGRITY_FEDERATION__SIGNING_KEY", pki.join("signing.key"))
        .env("INTEGRITY_FEDERATION__PARENT_URL", parent_url)
        .env("INTEGRITY_FEDERATION__PUSH_INTERVAL_MS", "20")
        .env("INTEGRITY_FEDERATION__MAX_BACKOFF_SECS", "1")
        .env("INTEGRITY_LOG__FILTER", "warn");
    command
}

impl CityProcess {
    /// Starts the city and waits until it answers on `port`; its log goes to `city.log` in
    /// `data_dir` (kept across restarts, removed with the directory).
    async fn start(
        federation: &Federation,
        command: &mut Command,
        data_dir: &Path,
        port: u16,
    ) -> CityProcess {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("city.log"))
            .unwrap();
        let child = command
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the node binary starts");
        let city = CityProcess { child };
        let client = federation.client("445122");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let answer = client
                .get(format!("https://localhost:{port}/healthz"))
                .send()
                .await;
            if answer.is_ok_and(|answer| answer.status().is_success()) {
                return city;
            }
            assert!(Instant::now() < deadline, "the city process never answered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL the city");
        self.child.wait().expect("the city is gone");
    }
}

/// Every record of the test subject as (id → (version, status)), read from the store.
async fn records_of(app: &TestApp) -> BTreeMap<String, (i32, String)> {
    let subject = SubjectCode::parse(ENTERPRISE).unwrap();
    let page = app
        .state
        .store
        .subject_records(
            &subject,
            &Visibility::Full,
            &RecordFilter {
                limit: 100_000,
                ..RecordFilter::default()
            },
        )
        .await
        .unwrap();
    page.records
        .into_iter()
        .map(|record| {
            (
                record.id.to_string(),
                (record.version, record.status.as_str().to_owned()),
            )
        })
        .collect()
}

async fn correct(county: &TestApp, id: &str, period_end: &str) {
    let answer = county
        .post(
            &format!("/api/v1/records/{id}/corrections"),
            Some(&county.provider()),
            &json!({"reason": "异议成立，更正期限", "changes": {"period_end": period_end}}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

async fn revoke(county: &TestApp, id: &str) {
    let answer = county
        .post(
            &format!("/api/v1/records/{id}/revocations"),
            Some(&county.provider()),
            &json!({"reason": "原处罚决定已被行政复议撤销"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

/// Creates `n` records in one batch; returns their ids.
async fn create_batch(county: &TestApp, prefix: &str, n: usize) -> Vec<String> {
    let records: Vec<_> = (0..n)
        .map(|i| record(ENTERPRISE, &format!("{prefix}-{i}")))
        .collect();
    let created = county
        .post(
            "/api/v1/records/batch",
            Some(&county.provider()),
            &json!({"records": records}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    created.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| result["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_city_killed_mid_stream_loses_nothing_and_applies_nothing_twice() {
    let federation = Federation::new();
    // The chain skips the province: the national node takes the city as its child.
    let national = federation
        .spawn_with("100000", None, 0, |s| {
            s.federation.children = vec!["445100".into()];
        })
        .await;
    let city_port = free_port();
    let city_url = format!("https://localhost:{city_port}");
    let city_dir = TempDir::new().unwrap();
    let city_database = fresh_database_url(city_dir.path()).await;
    let command = || {
        city_command(
            &federation,
            city_dir.path(),
            &city_database,
            city_port,
            &national.base_url,
        )
    };
    if !city_database.starts_with("sqlite") {
        let migrated = command().arg("migrate").output().unwrap();
        assert!(
            migrated.status.success(),
            "{}",
            String::from_utf8_lossy(&migrated.stderr)
        );
    }
    let city = CityProcess::start(&federation, &mut command(), city_dir.path(), city_port).await;
    let county = federation
        .spawn_with("445122", Some(&city_url), 0, |s| {
            s.federation.batch_size = 200;
        })
        .await;

    // The stream: 30 batches of 100 creations, with corrections (some twice) and revocations
    // in between. The city is killed once the national node has received part of it, while
    // the county goes on writing, and comes back on the same data directory and port.
    const BATCHES: usize = 30;
    const PER_BATCH: usize = 100;
    let mut expected_versions: BTreeMap<String, (i32, &str)> = BTreeMap::new();
    let writer = async {
        for batch in 0..BATCHES {
            let ids = create_batch(&county, &format!("K9-{batch}"), PER_BATCH).await;
            for id in &ids {
                expected_versions.insert(id.clone(), (1, "active"));
            }
            let corrected = &ids[batch % PER_BATCH];
            correct(&county, corrected, "2027-03-17").await;
            expected_versions.insert(corrected.clone(), (2, "corrected"));
            if batch % 3 == 0 {
                correct(&county, corrected, "2027-06-30").await;
                expected_versions.insert(corrected.clone(), (3, "corrected"));
            }
            if batch % 4 == 1 {
                let revoked = &ids[(batch + 50) % PER_BATCH];
                revoke(&county, revoked).await;
                expected_versions.insert(revoked.clone(), (2, "revoked"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let killer = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let held = national.state.store.journal_heads();
            if held.get("445122").copied().unwrap_or(0) >= 600 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the national node never received the start of the stream"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let at_kill = national.state.store.journal_heads()["445122"];
        city.kill_9();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let city =
            CityProcess::start(&federation, &mut command(), city_dir.path(), city_port).await;
        (at_kill, city)
    };
    let ((), (at_kill, _city)) = tokio::join!(writer, killer);
    let head = county.state.store.journal_heads()["445122"];
    let expected_events = (BATCHES * PER_BATCH) as i64 + BATCHES as i64 + 10 + 8;
    assert_eq!(
        head, expected_events,
        "the county journaled the whole stream"
    );
    assert!(
        at_kill < head,
        "the city was killed mid-stream ({at_kill} of {head} at the top)"
    );

    wait_for(&national, "445122", head).await;
    let journal = national
        .state
        .store
        .journal_events("445122", 0, 1_000_000)
        .await
        .unwrap();
    let seqs: Vec<i64> = journal.iter().map(|event| event.seq).collect();
    assert_eq!(
        seqs,
        (1..=head).collect::<Vec<_>>(),
        "the national journal holds every event once, in order"
    );
    let at_county = records_of(&county).await;
    let at_national = records_of(&national).await;
    assert_eq!(at_county.len(), BATCHES * PER_BATCH);
    assert_eq!(
        at_national, at_county,
        "the national node holds exactly the county's records, each at its latest version"
    );
    for (id, (version, status)) in &expected_versions {
        assert_eq!(
            at_national.get(id),
            Some(&(*version, (*status).to_owned())),
            "record {id}"
        );
    }
    let corrected_twice = expected_versions
        .iter()
        .find(|(_, (version, _))| *version == 3)
        .map(|(id, _)| Uuid::parse_str(id).unwrap())
        .unwrap();
    let history = national
        .state
        .store
        .record_versions(corrected_twice)
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2, 3],
        "the whole history arrived, once"
    );
}

#[tokio::test]
async fn a_correction_overtakes_a_backlog_of_creations() {
    let federation = Federation::new();
    let port = free_port();
    let city = federation.spawn("445100", None, port).await;
    let city_url = city.base_url.clone();
    let (city_settings, city_dir, city_clock) = city.stop().await;

    // Small batches, one at a time: the backlog takes many round trips to drain.
    let county = federation
        .spawn_with("445122", Some(&city_url), 0, |s| {
            s.federation.batch_size = 100;
            s.federation.in_flight = 1;
        })
        .await;
    let mut ids = Vec::new();
    for batch in 0..4 {
        ids.extend(create_batch(&county, &format!("PL-{batch}"), 1_000).await);
    }
    let corrected = Uuid::parse_str(&ids[3_500]).unwrap();
    correct(&county, &ids[3_500], "2027-03-17").await;
    revoke(&county, &ids[3_900]).await;
    let backlog_end = 4_000;

    let mut city = start(city_settings, city_dir, city_clock).await;
    city.client = federation.client("445100");
    let deadline = Instant::now() + Duration::from_secs(30);
    let held_when_corrected = loop {
        let record = city
            .state
            .store
            .get_record(corrected, &Visibility::Full)
            .await;
        if record.is_ok_and(|record| record.version == 2) {
            break city
                .state
                .store
                .journal_heads()
                .get("445122")
                .copied()
                .unwrap_or(0);
        }
        assert!(
            Instant::now() < deadline,
            "the correction never reached the city"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(
        held_when_corrected < backlog_end,
        "the correction arrived before the backlog of creations was through (the city held \
         {held_when_corrected} of {backlog_end})"
    );

    wait_for(&city, "445122", 4_002).await;
    let at_city = records_of(&city).await;
    assert_eq!(at_city.len(), 4_000, "none lost, none duplicated");
    assert_eq!(at_city[&ids[3_500]], (2, "corrected".to_owned()));
    assert_eq!(at_city[&ids[3_900]], (2, "revoked".to_owned()));
    assert_eq!(at_city, records_of(&county).await);
    let history = city.state.store.record_versions(corrected).await.unwrap();
    assert_eq!(
        history.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2],
        "the creation joined the history when the backlog reached it; the record stayed at 2"
    );
    let journal = city
        .state
        .store
        .journal_events("445122", 0, 10_000)
        .await
        .unwrap();
    assert_eq!(
        journal.iter().map(|event| event.seq).collect::<Vec<_>>(),
        (1..=4_002).collect::<Vec<_>>(),
        "the journal stays contiguous: the early correction was journaled in its turn"
    );
}

/// The county's journal as wire events, `from` ..= `to`.
async fn wire_events(county: &TestApp, from: i64, to: i64) -> Vec<WireEvent> {
    county
        .state
        .store
        .journal_events("445122", from - 1, (to - from + 1) as u64)
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
        .collect()
}

#[tokio::test]
async fn a_batch_that_overtakes_its_predecessor_waits_for_it_instead_of_being_refused() {
    let federation = Federation::new();
    let city = federation.spawn("445100", None, 0).await;
    // No parent: the batches are pushed by hand, in the wrong order.
    let county = federation.spawn("445122", None, 0).await;
    create_batch(&county, "OT", 9).await;
    let url = format!("{}/federation/v1/events", city.base_url);
    let push = |events: Vec<WireEvent>| {
        let client = federation.client("445122");
        let url = url.clone();
        async move {
            let batch = EventBatch {
                sender: "445122".into(),
                events,
                priority: false,
            };
            into_answer(client.post(url).json(&batch).send().await.unwrap()).await
        }
    };

    let second = tokio::spawn(push(wire_events(&county, 4, 6).await));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        city.state
            .store
            .journal_watermarks()
            .await
            .unwrap()
            .is_empty(),
        "the overtaking batch is not applied ahead of its predecessor"
    );
    let first = push(wire_events(&county, 1, 3).await).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let second = second.await.unwrap();
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    let ack: BatchAck = serde_json::from_value(second.body).unwrap();
    assert_eq!((ack.applied, ack.duplicates), (3, 0));
    assert_eq!(ack.high_watermarks["445122"], 6);

    // A batch whose predecessor never comes is refused as out of order once the wait is over.
    let started = Instant::now();
    let orphan = push(wire_events(&county, 8, 9).await).await;
    assert_eq!(orphan.status, StatusCode::CONFLICT, "{}", orphan.text);
    assert_eq!(orphan.code(), "out_of_order");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(
        city.state.store.journal_watermarks().await.unwrap()["445122"],
        6
    );
}

#[tokio::test]
async fn the_priority_lane_takes_only_changes_and_leaves_the_journal_to_the_ordinary_lane() {
    let federation = Federation::new();
    let city = federation.spawn("445100", None, 0).await;
    let county = federation.spawn("445122", None, 0).await;
    let ids = create_batch(&county, "PR", 3).await;
    correct(&county, &ids[1], "2027-03-17").await;
    let url = format!("{}/federation/v1/events", city.base_url);
    let push = |events: Vec<WireEvent>, priority: bool| {
        let client = federation.client("445122");
        let url = url.clone();
        async move {
            let batch = EventBatch {
                sender: "445122".into(),
                events,
                priority,
            };
            into_answer(client.post(url).json(&batch).send().await.unwrap()).await
        }
    };

    let creation = push(wire_events(&county, 1, 1).await, true).await;
    assert_eq!(creation.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(creation.code(), "malformed_event");

    let correction = wire_events(&county, 4, 4).await;
    for _ in 0..2 {
        let early = push(correction.clone(), true).await;
        assert_eq!(early.status, StatusCode::OK, "{}", early.text);
        let ack: BatchAck = serde_json::from_value(early.body).unwrap();
        assert_eq!((ack.applied, ack.early), (0, 1));
        assert_eq!(
            ack.high_watermarks["445122"], 0,
            "the high-watermark stays put"
        );
    }
    let id = Uuid::parse_str(&ids[1]).unwrap();
    let record = city
        .state
        .store
        .get_record(id, &Visibility::Full)
        .await
        .unwrap();
    assert_eq!(
        record.version, 2,
        "the correction is applied ahead of sequence"
    );
    assert_eq!(city.state.store.record_versions(id).await.unwrap().len(), 1);
    assert!(
        city.state
            .store
            .journal_watermarks()
            .await
            .unwrap()
            .is_empty(),
        "nothing is journaled out of sequence"
    );

    let in_order = push(wire_events(&county, 1, 4).await, false).await;
    let ack: BatchAck = serde_json::from_value(in_order.body).unwrap();
    assert_eq!((ack.applied, ack.duplicates), (4, 0));
    let record = city
        .state
        .store
        .get_record(id, &Visibility::Full)
        .await
        .unwrap();
    assert_eq!(
        record.version, 2,
        "the creation arriving later does not go back"
    );
    let history = city.state.store.record_versions(id).await.unwrap();
    assert_eq!(
        history.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
}
