//! Federation with real nodes on loopback over mutual TLS: records go up, nothing is lost or
//! applied twice, and every kind of bad push is refused with nothing applied.

use std::path::PathBuf;
use std::time::Duration;

use integrity_exchange::domain::clock::{Clock, SystemClock};
use integrity_exchange::domain::region::RegionCode;
use integrity_exchange::federation::identity::client_config;
use integrity_exchange::federation::pki::{
    CaMaterial, create_ca, issue_node_certificate, write_node_dir,
};
use integrity_exchange::federation::wire::{BatchAck, EventBatch, WireEvent};
use reqwest::StatusCode;
use serde_json::json;
use tempfile::TempDir;

use crate::harness::*;

/// A federation CA and a directory per node.
pub(crate) struct Federation {
    dir: TempDir,
    ca: CaMaterial,
}

impl Federation {
    pub(crate) fn new() -> Federation {
        integrity_exchange::app::install_crypto_provider();
        Federation {
            dir: TempDir::new().unwrap(),
            ca: create_ca("test federation CA", 30, SystemClock.now()).unwrap(),
        }
    }

    /// Issues (once) and returns the directory of `region`'s certificate and keys.
    pub(crate) fn node_dir(&self, region: &str) -> PathBuf {
        let dir = self.dir.path().join(region);
        if !dir.exists() {
            let material = issue_node_certificate(
                &self.ca.cert_pem,
                &self.ca.key_pem,
                RegionCode::parse(region).unwrap(),
                &["localhost".to_owned()],
                10,
                SystemClock.now(),
            )
            .unwrap();
            write_node_dir(&dir, &material, false).unwrap();
        }
        dir
    }

    pub(crate) async fn spawn(&self, region: &str, parent: Option<&str>, port: u16) -> TestApp {
        self.spawn_with(region, parent, port, |_| {}).await
    }

    /// `spawn`, then `adjust` changes the settings before the node starts.
    pub(crate) async fn spawn_with(
        &self,
        region: &str,
        parent: Option<&str>,
        port: u16,
        adjust: impl FnOnce(&mut integrity_exchange::config::Settings),
    ) -> TestApp {
        let dir = self.node_dir(region);
        let region = region.to_owned();
        let parent = parent.map(str::to_owned);
        let client = self.client(&region);
        let mut app = spawn_app_with(move |s| {
            s.node.region = region;
            s.http.listen = format!("127.0.0.1:{port}").parse().unwrap();
            s.tls.cert_path = dir.join("node.crt");
            s.tls.key_path = dir.join("node.key");
            s.federation.ca_path = dir.join("ca.crt");
            s.federation.signing_key = dir.join("signing.key");
            s.federation.parent_url = parent.unwrap_or_default();
            s.federation.push_interval_ms = 20;
            s.federation.max_backoff_secs = 1;
            adjust(s);
        })
        .await;
        // Staff and department calls go over the same TLS listener, trusting the federation CA.
        app.client = client;
        app
    }

    /// An HTTPS client presenting `region`'s node certificate.
    pub(crate) fn client(&self, region: &str) -> reqwest::Client {
        let dir = self.node_dir(region);
        let tls = client_config(
            &dir.join("node.crt"),
            &dir.join("node.key"),
            &dir.join("ca.crt"),
        )
        .unwrap();
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .build()
            .unwrap()
    }
}

/// Waits until `app` holds `seq` events of `origin` (up to a minute: the machine running the
/// suite may be shared, and thousands of events over PostgreSQL take a while there).
pub(crate) async fn wait_for(app: &TestApp, origin: &str, seq: i64) {
    for _ in 0..1_200 {
        let held = app.state.store.journal_watermarks().await.unwrap();
        if held.get(origin).copied().unwrap_or(0) >= seq {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held = app.state.store.journal_watermarks().await.unwrap();
    panic!(
        "{} holds {held:?}, expected {origin} up to {seq}",
        app.state.region
    );
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn records_and_corrections_travel_up_four_levels() {
    let federation = Federation::new();
    let national = federation.spawn("100000", None, 0).await;
    let province = federation
        .spawn("440000", Some(&national.base_url), 0)
        .await;
    let city = federation
        .spawn("445100", Some(&province.base_url), 0)
        .await;
    let county = federation.spawn("445122", Some(&city.base_url), 0).await;

    let records: Vec<_> = (0..120)
        .map(|i| record(ENTERPRISE, &format!("UP-{i}")))
        .collect();
    let created = county
        .post(
            "/api/v1/records/batch",
            Some(&county.provider()),
            &json!({"records": records}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["results"][7]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let corrected = county
        .post(
            &format!("/api/v1/records/{id}/corrections"),
            Some(&county.provider()),
            &json!({"reason": "异议成立，更正期限", "changes": {"period_end": "2027-03-17"}}),
        )
        .await;
    assert_eq!(corrected.status, StatusCode::OK);

    wait_for(&national, "445122", 121).await;
    let at_national = national
        .get(
            &format!("/api/v1/records/{id}"),
            Some(&national.supervisor()),
        )
        .await;
    assert_eq!(at_national.status, StatusCode::OK, "{}", at_national.text);
    assert_eq!(
        at_national.body["version"], 2,
        "the latest version reached the top"
    );
    assert_eq!(at_national.body["period_end"], "2027-03-17");
    assert_eq!(at_national.body["origin_region"], "445122");
    assert_eq!(
        count_records(&national, ENTERPRISE).await,
        120,
        "none lost, none duplicated"
    );
    assert_eq!(count_records(&city, ENTERPRISE).await, 120);

    // Replicated records are read-only above their origin.
    let at_city = city
        .post(
            &format!("/api/v1/records/{id}/corrections"),
            Some(&city.provider()),
            &json!({"reason": "在上级节点更正", "changes": {"severity": "minor"}}),
        )
        .await;
    assert_eq!(at_city.status, StatusCode::CONFLICT, "{}", at_city.text);
    assert_eq!(at_city.code(), "record_not_local");

    let status = county
        .get("/api/v1/federation/status", Some(&county.supervisor()))
        .await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.text);
    assert_eq!(status.body["parent"]["lag_events"], 0);
    assert_eq!(status.body["parent"]["acknowledged"]["445122"], 121);
    let peer_reads: Vec<_> = city
        .state
        .store
        .recent_audit(200)
        .await
        .unwrap()
        .into_iter()
        .filter(|row| row.entry.action == "federation.watermarks")
        .map(|row| row.entry.actor_id)
        .collect();
    assert!(
        peer_reads.contains(&"region:445122".to_owned()),
        "peer reads are audited"
    );
    // The correction's arrival at the province is known at the county, from the acks.
    let mut corrections = None;
    for _ in 0..100 {
        let answer = county
            .get("/api/v1/federation/corrections", Some(&county.supervisor()))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        if answer.body["corrections"][0]["state"] == "reached" {
            corrections = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let corrections = corrections.expect("the correction is known to have reached the province");
    assert_eq!(corrections.body["province"], "440000");
    assert_eq!(corrections.body["pending"], 0);
    let correction = &corrections.body["corrections"][0];
    assert_eq!(correction["record_id"], id.as_str());
    assert_eq!(correction["reached"]["445100"], true);
    assert_eq!(correction["reached"]["440000"], true);
    assert_eq!(
        correction["deadline"], "2026-06-23",
        "5 working days after Monday 15 June 2026 (Dragon Boat Festival on 19 June)"
    );
    let city_status = city
        .get("/api/v1/federation/status", Some(&city.supervisor()))
        .await;
    assert_eq!(city_status.body["held"]["445122"], 121);
    assert!(
        city_status.body["children"]
            .as_array()
            .unwrap()
            .contains(&json!("445122"))
    );
}

#[tokio::test]
async fn a_child_queues_while_its_parent_is_down_and_catches_up() {
    let federation = Federation::new();
    let port = free_port();
    let city = federation.spawn("445100", None, port).await;
    let city_url = city.base_url.clone();
    let (city_settings, city_dir, city_clock) = city.stop().await;

    let county = federation.spawn("445122", Some(&city_url), 0).await;
    let records: Vec<_> = (0..30)
        .map(|i| record(ENTERPRISE, &format!("Q-{i}")))
        .collect();
    county
        .post(
            "/api/v1/records/batch",
            Some(&county.provider()),
            &json!({"records": records}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let status = county
        .get("/api/v1/federation/status", Some(&county.supervisor()))
        .await;
    assert_eq!(status.body["parent"]["lag_events"], 30, "{}", status.text);
    assert!(
        status.body["parent"]["consecutive_failures"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert!(
        status.body["parent"]["last_error"]
            .as_str()
            .unwrap()
            .contains("unreachable")
    );

    let mut city = start(city_settings, city_dir, city_clock).await;
    city.client = federation.client("445100");
    wait_for(&city, "445122", 30).await;
    assert_eq!(count_records(&city, ENTERPRISE).await, 30);
    // Stop and restart the county: it resumes from the parent's acknowledgement, not zero.
    let (settings, dir, clock) = county.stop().await;
    let mut county = start(settings, dir, clock).await;
    county.client = federation.client("445122");
    county
        .create_record(&record(ENTERPRISE, "Q-after-restart"), StatusCode::CREATED)
        .await;
    wait_for(&city, "445122", 31).await;
    assert_eq!(count_records(&city, ENTERPRISE).await, 31);
    let audit = city.state.store.recent_audit(50).await.unwrap();
    let duplicates: u64 = audit
        .iter()
        .filter(|row| row.entry.action == "federation.apply")
        .map(|row| {
            row.entry
                .detail
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("duplicates="))
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(
        duplicates, 0,
        "a restart does not resend what was acknowledged"
    );
}

#[tokio::test]
async fn bad_pushes_are_refused_and_nothing_is_applied() {
    let federation = Federation::new();
    let city = federation.spawn("445100", None, 0).await;
    let county = federation.spawn("445122", None, 0).await;
    let records: Vec<_> = (0..3)
        .map(|i| record(ENTERPRISE, &format!("B-{i}")))
        .collect();
    county
        .post(
            "/api/v1/records/batch",
            Some(&county.provider()),
            &json!({"records": records}),
        )
        .await;
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
    let url = format!("{}/federation/v1/events", city.base_url);
    let push = |client: reqwest::Client, sender: &str, events: Vec<WireEvent>| {
        let batch = EventBatch {
            sender: sender.to_owned(),
            events,
            priority: false,
        };
        let url = url.clone();
        async move { into_answer(client.post(url).json(&batch).send().await.unwrap()).await }
    };
    let county_client = federation.client("445122");

    let mut tampered = events.clone();
    tampered[1].payload = tampered[1].payload.replace("饶平县", "潮安区");
    let answer = push(county_client.clone(), "445122", tampered).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    assert_eq!(answer.code(), "bad_signature");
    assert_eq!(
        answer.body["errors"][0]["index"], 1,
        "the refusal names the bad event by its position in the batch"
    );
    assert_eq!(answer.body["errors"][0]["field"], "events");

    let answer = push(county_client.clone(), "445122", events[1..].to_vec()).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(answer.code(), "out_of_order");

    let answer = push(county_client.clone(), "445100", events.clone()).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "sender_mismatch");

    // 445302 (云浮市云城区) is not a child of 潮州市.
    let answer = push(federation.client("445302"), "445302", events.clone()).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "not_a_child");

    // 445102 (湘桥区) is a child of 潮州市 but cannot push 饶平县's events.
    let answer = push(federation.client("445102"), "445102", events.clone()).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.code(), "origin_out_of_scope");

    let plain = into_answer(
        reqwest::Client::builder()
            .tls_backend_preconfigured({
                let dir = federation.node_dir("445122");
                let mut roots = rustls::RootCertStore::empty();
                for cert in
                    rustls::pki_types::pem::PemObject::pem_file_iter(dir.join("ca.crt")).unwrap()
                {
                    roots.add(cert.unwrap()).unwrap();
                }
                rustls::ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth()
            })
            .build()
            .unwrap()
            .post(&url)
            .json(&EventBatch {
                sender: "445122".into(),
                events: events.clone(),
                priority: false,
            })
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(plain.status, StatusCode::UNAUTHORIZED);
    assert_eq!(plain.code(), "client_certificate_required");

    let stranger = Federation::new();
    let foreign = stranger
        .client("445122")
        .post(&url)
        .json(&EventBatch {
            sender: "445122".into(),
            events: events.clone(),
            priority: false,
        })
        .send()
        .await;
    assert!(
        foreign.is_err(),
        "a certificate from another CA fails the handshake"
    );

    // Every refusal is counted (metrics are process-wide: at least once each).
    for (peer, code) in [
        ("445122", "bad_signature"),
        ("445122", "out_of_order"),
        ("445122", "sender_mismatch"),
        ("445302", "not_a_child"),
        ("445102", "origin_out_of_scope"),
        ("unknown", "client_certificate_required"),
    ] {
        let counted = crate::federation_discard::metric(
            &city,
            "integrity_federation_refused_total",
            &[&format!("peer=\"{peer}\""), &format!("code=\"{code}\"")],
        )
        .await;
        assert!(counted >= Some(1.0), "{peer} {code} counted: {counted:?}");
    }
    assert!(
        crate::federation_discard::metric(&city, "integrity_tls_handshake_failures_total", &[])
            .await
            >= Some(1.0),
        "the foreign certificate's handshake is counted"
    );

    assert!(
        city.state
            .store
            .journal_watermarks()
            .await
            .unwrap()
            .is_empty(),
        "nothing applied"
    );
    assert_eq!(count_records(&city, ENTERPRISE).await, 0);

    let answer = push(county_client.clone(), "445122", events.clone()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let ack: BatchAck = serde_json::from_value(answer.body).unwrap();
    assert_eq!((ack.applied, ack.duplicates), (3, 0));
    assert_eq!(ack.high_watermarks["445122"], 3);
    let replay = push(county_client, "445122", events).await;
    let ack: BatchAck = serde_json::from_value(replay.body).unwrap();
    assert_eq!(
        (ack.applied, ack.duplicates),
        (0, 3),
        "a replayed batch changes nothing"
    );
    assert_eq!(count_records(&city, ENTERPRISE).await, 3);
}

#[tokio::test]
async fn a_node_that_is_not_a_child_is_told_so_in_its_status() {
    let federation = Federation::new();
    // This city accepts pushes only from 湘桥区.
    let dir = federation.node_dir("445100");
    let client = federation.client("445100");
    let mut city = spawn_app_with(move |s| {
        s.node.region = "445100".into();
        s.tls.cert_path = dir.join("node.crt");
        s.tls.key_path = dir.join("node.key");
        s.federation.ca_path = dir.join("ca.crt");
        s.federation.signing_key = dir.join("signing.key");
        s.federation.children = vec!["445102".into()];
    })
    .await;
    city.client = client;
    let county = federation.spawn("445122", Some(&city.base_url), 0).await;
    county
        .create_record(&record(ENTERPRISE, "H-1"), StatusCode::CREATED)
        .await;
    let status = poll_status(&county, |status| status["parent"]["last_error"].is_string()).await;
    let error = status["parent"]["last_error"].as_str().unwrap();
    assert!(error.contains("not a child"), "{error}");
    assert_eq!(
        status["parent"]["lag_events"], 1,
        "the event is held, not dropped"
    );
    assert!(
        city.state
            .store
            .journal_watermarks()
            .await
            .unwrap()
            .is_empty()
    );
}

async fn poll_status(
    app: &TestApp,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    for _ in 0..100 {
        let status = app
            .get("/api/v1/federation/status", Some(&app.supervisor()))
            .await;
        if done(&status.body) {
            return status.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("status never reached the expected state");
}

#[tokio::test]
async fn a_refused_batch_is_held_in_the_problem_queue_never_dropped() {
    let federation = Federation::new();
    let city = federation.spawn("445100", None, 0).await;
    let county = federation.spawn("445122", Some(&city.base_url), 0).await;
    county
        .create_record(&record(ENTERPRISE, "K-1"), StatusCode::CREATED)
        .await;
    wait_for(&city, "445122", 1).await;
    // The county comes back with another signing key than the one the city pinned.
    let (mut settings, dir, clock) = county.stop().await;
    settings.federation.signing_key = std::path::PathBuf::new();
    // A long back-off: only the operator's retry below can deliver within the test.
    settings.federation.max_backoff_secs = 600;
    let mut county = start(settings, dir, clock).await;
    county.client = federation.client("445122");
    county
        .create_record(&record(ENTERPRISE, "K-2"), StatusCode::CREATED)
        .await;
    let status = poll_status(&county, |status| {
        !status["parent"]["open_problems"]
            .as_array()
            .unwrap()
            .is_empty()
    })
    .await;
    let problem = &status["parent"]["open_problems"][0];
    assert_eq!(problem["origin"], "445122", "{status}");
    assert_eq!(problem["seq"], 2);
    assert_eq!(problem["code"], "422");
    assert!(
        problem["detail"].as_str().unwrap().contains("pinned"),
        "{status}"
    );
    assert_eq!(status["parent"]["lag_events"], 1, "held, not dropped");
    assert_eq!(count_records(&city, ENTERPRISE).await, 1, "nothing applied");

    // The city's operator registers the county's new key; the county's operator retries.
    let db = sea_orm::Database::connect(city.settings.database_url().as_str())
        .await
        .unwrap();
    let new_key = county.state.store.node_public_key().unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        &db,
        &format!(
            "UPDATE federation_peer_keys SET signer_key = '{new_key}' WHERE origin = '445122'"
        ),
    )
    .await
    .unwrap();
    let supervisor_refused = county
        .post(
            "/api/v1/federation/problems/retry",
            Some(&county.supervisor()),
            &json!({}),
        )
        .await;
    assert_eq!(supervisor_refused.status, StatusCode::FORBIDDEN);
    let retried = county
        .post(
            "/api/v1/federation/problems/retry",
            Some(&county.token(integrity_exchange::auth::Role::Admin, None)),
            &json!({}),
        )
        .await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.text);
    assert_eq!(retried.body["open_problems"], 1);
    wait_for(&city, "445122", 2).await;
    let status = poll_status(&county, |status| {
        status["parent"]["open_problems"]
            .as_array()
            .unwrap()
            .is_empty()
    })
    .await;
    assert_eq!(status["parent"]["lag_events"], 0, "{status}");
}

#[tokio::test]
async fn a_correction_that_cannot_reach_the_province_is_flagged_then_overdue() {
    let federation = Federation::new();
    // The parent is down for the whole test.
    let dead = format!("https://localhost:{}", free_port());
    let county = federation.spawn("445122", Some(&dead), 0).await;
    let created = county
        .create_record(&record(ENTERPRISE, "LATE-1"), StatusCode::CREATED)
        .await;
    let id = created.body["id"].as_str().unwrap();
    let corrected = county
        .post(
            &format!("/api/v1/records/{id}/corrections"),
            Some(&county.provider()),
            &json!({"reason": "异议成立", "changes": {"severity": "general"}}),
        )
        .await;
    assert_eq!(corrected.status, StatusCode::OK, "{}", corrected.text);
    async fn report(app: &TestApp) -> Answer {
        app.get("/api/v1/federation/corrections", Some(&app.supervisor()))
            .await
    }
    let fresh = report(&county).await;
    assert_eq!(
        fresh.body["corrections"][0]["state"], "pending",
        "{}",
        fresh.text
    );
    assert_eq!(fresh.body["corrections"][0]["working_days_left"], 5);
    assert_eq!(fresh.body["corrections"][0]["reached"]["440000"], false);
    // Thursday 18 June: two working days left (the 19th is a holiday): still pending.
    county.clock.advance(time::Duration::days(3));
    let thursday = report(&county).await;
    assert_eq!(thursday.body["corrections"][0]["working_days_left"], 2);
    assert_eq!(thursday.body["corrections"][0]["state"], "pending");
    // Monday 22 June: one working day left.
    county.clock.advance(time::Duration::days(4));
    let soon = report(&county).await;
    assert_eq!(
        soon.body["corrections"][0]["state"], "due_soon",
        "{}",
        soon.text
    );
    // Wednesday 24 June: past the deadline of Tuesday 23 June.
    county.clock.advance(time::Duration::days(2));
    let late = report(&county).await;
    assert_eq!(
        late.body["corrections"][0]["state"], "overdue",
        "{}",
        late.text
    );
    assert_eq!(late.body["overdue"], 1);
    let metrics = county.get("/metrics", None).await;
    assert!(
        metrics.text.contains("integrity_corrections_overdue 1"),
        "{}",
        metrics.text
    );
}

/// A TCP proxy on loopback in front of a node, which an operator can "cut": while down it
/// drops every open connection and closes new ones at once (a flaky link, not a clean stop).
struct FlakyProxy {
    port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl FlakyProxy {
    async fn start(target_port: u16) -> FlakyProxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cut, cuts) = tokio::sync::watch::channel(0u64);
        let accepting = up.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut cuts = cuts.clone();
                // Only cuts after this connection was accepted end it.
                cuts.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        FlakyProxy { port, up, cut }
    }

    fn down(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.cut.send_modify(|generation| *generation += 1);
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_link_that_drops_connections_holds_the_events_and_catches_up_within_the_capped_backoff() {
    let federation = Federation::new();
    let city = federation.spawn("445100", None, 0).await;
    let city_port: u16 = city.base_url.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = FlakyProxy::start(city_port).await;
    // max_backoff_secs = 1 (Federation::spawn): the back-off never grows beyond a second.
    let county = federation
        .spawn(
            "445122",
            Some(&format!("https://localhost:{}", proxy.port)),
            0,
        )
        .await;
    let batch = |prefix: &str, n: usize| json!({"records": (0..n).map(|i| record(ENTERPRISE, &format!("{prefix}-{i}"))).collect::<Vec<_>>()});
    let created = county
        .post(
            "/api/v1/records/batch",
            Some(&county.provider()),
            &batch("P", 20),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    wait_for(&city, "445122", 20).await;

    // The link breaks mid-stream: open connections are cut, new ones closed at once.
    proxy.down();
    let created = county
        .post(
            "/api/v1/records/batch",
            Some(&county.provider()),
            &batch("Q", 30),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let status = poll_status(&county, |status| {
        status["parent"]["consecutive_failures"]
            .as_u64()
            .unwrap_or(0)
            >= 4
    })
    .await;
    assert_eq!(
        status["parent"]["lag_events"], 30,
        "held, not dropped: {status}"
    );
    assert!(
        status["parent"]["last_error"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{status}"
    );
    // Many failures later, the back-off is still at most a second (plus jitter below it).
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();
    let restored = std::time::Instant::now();
    wait_for(&city, "445122", 50).await;
    assert!(
        restored.elapsed() < Duration::from_secs(4),
        "caught up {:?} after the link came back: the back-off stays capped",
        restored.elapsed()
    );
    assert_eq!(
        count_records(&city, ENTERPRISE).await,
        50,
        "none lost, none twice"
    );
    let status = poll_status(&county, |status| status["parent"]["lag_events"] == 0).await;
    assert_eq!(status["parent"]["consecutive_failures"], 0);
}
