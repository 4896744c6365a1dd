//! Pushes of the match API: every block to the supervisors' endpoint (signed, retried) and
//! changes of verdict to a monitor's endpoint, with a real HTTP receiver on loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use integrity_exchange::federation::journal::verify_bytes;
use integrity_exchange::matching::webhooks::signed_body;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;

const UNLISTED: &str = "91445122MA4W12354T";

#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    /// Requests to refuse with 500 before accepting.
    refuse: Arc<Mutex<usize>>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: String) -> AxumStatus {
    let mut refuse = receiver.refuse.lock().unwrap();
    if *refuse > 0 {
        *refuse -= 1;
        return AxumStatus::INTERNAL_SERVER_ERROR;
    }
    receiver.received.lock().unwrap().push((headers, body));
    AxumStatus::NO_CONTENT
}

async fn start_receiver(refuse: usize) -> (String, Receiver) {
    let receiver = Receiver {
        refuse: Arc::new(Mutex::new(refuse)),
        ..Receiver::default()
    };
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/hook",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, receiver)
}

async fn wait_for_pushes(receiver: &Receiver, n: usize) -> Vec<(HeaderMap, Value)> {
    for _ in 0..200 {
        let received = receiver.received.lock().unwrap().clone();
        if received.len() >= n {
            return received
                .into_iter()
                .map(|(headers, body)| {
                    // The body verifies with the key the node announces.
                    let signature = headers["x-integrity-signature"].to_str().unwrap();
                    let signer = headers["x-integrity-signer"].to_str().unwrap();
                    assert!(
                        verify_bytes(signer, &signed_body(&body), signature),
                        "the push is signed by the node"
                    );
                    (headers, serde_json::from_str(&body).unwrap())
                })
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{} pushes expected, got {}",
        n,
        receiver.received.lock().unwrap().len()
    );
}

async fn issue(app: &TestApp, subject: &str, document_no: &str) -> String {
    let answer = app
        .post(
            "/api/v1/lists/serious_dishonesty/entries",
            Some(&app.provider()),
            &json!({"subject_code": subject, "subject_name": "饶平县某某建筑工程有限公司",
                    "reason": "串通投标", "authority": "饶平县发展和改革局", "document_no": document_no,
                    "legal_basis": "《招标投标法》第五十三条", "effective_from": "2026-01-01"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_block_reaches_the_supervisors_signed_and_retried() {
    let (url, receiver) = start_receiver(1).await;
    let app = spawn_app_with(move |s| {
        s.matching.webhooks = vec![integrity_exchange::config::WebhookSettings { url }];
        s.matching.webhook_max_backoff_secs = 1;
    })
    .await;
    issue(&app, ENTERPRISE, "饶发改〔2026〕21号").await;
    let (_, key) = app.issue_key(&["match"], 100, 100, 10_000).await;
    let body = json!({"project": {"id": "P-1", "name": "某工程", "kind": "bidding", "as_of": "2026-07-01"},
                      "bidders": [{"uscc": ENTERPRISE}, {"uscc": UNLISTED}]});
    let mut answer = None;
    for _ in 0..100 {
        let a = app
            .call_with_key(Method::POST, "/api/v1/match", &key, Some(&body))
            .await;
        if a.body["summary"]["block"] == 1 {
            answer = Some(a);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answer = answer.expect("blocked");
    // The endpoint refuses the first attempt; the retry is due a back-off later (the test
    // clock only moves when told).
    for _ in 0..100 {
        if *receiver.refuse.lock().unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pending = app
        .get(
            "/api/v1/webhooks/deliveries?state=pending",
            Some(&app.supervisor()),
        )
        .await;
    assert_eq!(pending.body[0]["attempts"], 1, "{}", pending.text);
    assert!(
        pending.body[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("500")
    );
    app.clock.advance(time::Duration::seconds(2));
    let pushes = wait_for_pushes(&receiver, 1).await;
    let (headers, push) = &pushes[0];
    assert_eq!(headers["x-integrity-event"], "block");
    assert_eq!(push["match_id"], answer.body["match_id"]);
    assert_eq!(
        push["bidders"].as_array().unwrap().len(),
        1,
        "only blocked bidders"
    );
    assert_eq!(push["bidders"][0]["uscc"], ENTERPRISE);

    // The receiver has the push; the node records the delivery once it has read the answer.
    let mut deliveries = app
        .get(
            "/api/v1/webhooks/deliveries?state=delivered",
            Some(&app.supervisor()),
        )
        .await;
    for _ in 0..250 {
        if deliveries.body[0]["attempts"] != Value::Null {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        deliveries = app
            .get(
                "/api/v1/webhooks/deliveries?state=delivered",
                Some(&app.supervisor()),
            )
            .await;
    }
    assert_eq!(deliveries.status, StatusCode::OK, "{}", deliveries.text);
    assert_eq!(
        deliveries.body[0]["attempts"], 2,
        "refused once, retried: {}",
        deliveries.text
    );
    assert_eq!(deliveries.body[0]["event"], "block");
    let refused = app
        .call_with_key(Method::GET, "/api/v1/webhooks/deliveries", &key, None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_monitor_pushes_changes_of_verdict() {
    let (url, receiver) = start_receiver(0).await;
    let app = spawn_app().await;
    let first = issue(&app, ENTERPRISE, "饶发改〔2026〕31号").await;
    let (_, key) = app.issue_key(&["match"], 100, 100, 10_000).await;
    // Let the index take the entry before registering.
    for _ in 0..100 {
        if app.state.matcher.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let registered = app
        .call_with_key(
            Method::POST,
            "/api/v1/monitors",
            &key,
            Some(&json!({
                "project": {"id": "P-2", "name": "某采购项目", "kind": "bidding"},
                "bidders": [{"reference": "A", "uscc": UNLISTED}, {"reference": "B", "uscc": ENTERPRISE}],
                "until": "2026-12-31",
                "webhook_url": url
            })),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    let id = registered.body["id"].as_str().unwrap().to_owned();
    assert_eq!(registered.body["bidders"][0]["verdict"], "clear");
    assert_eq!(registered.body["bidders"][1]["verdict"], "block");

    // A new entry blocks bidder A; ending the old one clears bidder B.
    issue(&app, UNLISTED, "饶发改〔2026〕32号").await;
    let pushes = wait_for_pushes(&receiver, 1).await;
    assert_eq!(pushes[0].0["x-integrity-event"], "verdict_changed");
    let change = &pushes[0].1["changes"][0];
    assert_eq!(change["reference"], "A");
    assert_eq!(change["from"], "clear");
    assert_eq!(change["to"], "block");
    assert_eq!(pushes[0].1["monitor_id"], id.as_str());

    let ended = app
        .post(
            &format!("/api/v1/lists/serious_dishonesty/entries/{first}/end"),
            Some(&app.provider()),
            &json!({"reason": "信用修复", "last_day": "2026-05-01"}),
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
    let pushes = wait_for_pushes(&receiver, 2).await;
    let change = &pushes[1].1["changes"][0];
    assert_eq!(change["reference"], "B");
    assert_eq!(change["from"], "block");
    assert_eq!(change["to"], "clear");

    let monitor = app
        .call_with_key(Method::GET, &format!("/api/v1/monitors/{id}"), &key, None)
        .await;
    assert_eq!(monitor.status, StatusCode::OK, "{}", monitor.text);
    assert_eq!(monitor.body["bidders"][0]["verdict"], "block");
    assert_eq!(monitor.body["bidders"][1]["verdict"], "clear");
    assert_eq!(monitor.body["deliveries"].as_array().unwrap().len(), 2);
    let (_, other) = app.issue_key(&["match"], 100, 100, 10_000).await;
    let foreign = app
        .call_with_key(Method::GET, &format!("/api/v1/monitors/{id}"), &other, None)
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let bad = app
        .call_with_key(
            Method::POST,
            "/api/v1/monitors",
            &key,
            Some(
                &json!({"project": {"id": "P-3", "name": "x项目", "kind": "bidding"},
                         "bidders": [{"uscc": UNLISTED}], "until": "2026-12-31",
                         "webhook_url": "http://example.com/hook"}),
            ),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.code(), "invalid_webhook_url");
}
