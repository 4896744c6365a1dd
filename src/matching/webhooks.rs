//! Pushes to supervisors and monitors: webhook bodies signed with the node's Ed25519 key, and
//! the delivery loop that attempts due deliveries with capped exponential back-off.
//!
//! A receiver verifies `X-Integrity-Signature` (base64 Ed25519) over
//! `integrity-exchange/webhook/v1\n` followed by the exact body bytes, with the node's public
//! key (`X-Integrity-Signer`, also `signing.pub` of the node's PKI directory).

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::domain::clock::Clock;
use crate::store::Store;
use crate::store::webhooks::NewDelivery;

/// Domain tag of a webhook signature.
const TAG: &[u8] = b"integrity-exchange/webhook/v1\n";

/// The bytes a node signs for a webhook body.
pub fn signed_body(body: &str) -> Vec<u8> {
    [TAG, body.as_bytes()].concat()
}

/// Builds a delivery of `body` to `url`, signed with the node's key (`None` before the key is
/// loaded).
pub fn delivery(
    store: &Store,
    url: &str,
    event: &str,
    match_id: Option<String>,
    monitor_id: Option<String>,
    body: String,
    at: OffsetDateTime,
) -> Option<NewDelivery> {
    let (signature, _) = store.sign_with_node_key(&signed_body(&body))?;
    Some(NewDelivery {
        id: uuid::Uuid::now_v7().to_string(),
        url: url.to_owned(),
        event: event.to_owned(),
        match_id,
        monitor_id,
        body,
        signature,
        created_at: at,
    })
}

/// Back-off after `attempts` failed attempts: 1 s doubling, capped.
fn backoff(attempts: i32, cap: Duration) -> Duration {
    Duration::from_secs(1u64 << attempts.clamp(0, 20)).min(cap)
}

/// The delivery loop. Runs until `stopped` changes.
pub async fn deliver(
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    max_attempts: i32,
    max_backoff: Duration,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let client = match crate::federation::identity::web_client_config()
        .map_err(|error| error.to_string())
        .and_then(|tls| {
            reqwest::Client::builder()
                .tls_backend_preconfigured(tls)
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                .build()
                .map_err(|error| error.to_string())
        }) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error, "webhook client could not be built; deliveries wait");
            return;
        }
    };
    loop {
        let due = match store.due_deliveries(clock.now(), 50).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(error = %error, "reading due webhook deliveries failed");
                Vec::new()
            }
        };
        let busy = !due.is_empty();
        for delivery in due {
            let signer = store.node_public_key().unwrap_or_default();
            let sent = client
                .post(&delivery.url)
                .header("content-type", "application/json")
                .header("x-integrity-event", &delivery.event)
                .header("x-integrity-delivery", &delivery.id)
                .header("x-integrity-signature", &delivery.signature)
                .header("x-integrity-signer", signer)
                .body(delivery.body.clone())
                .send()
                .await;
            let outcome = match sent {
                Ok(response) if response.status().is_success() => Ok(clock.now()),
                Ok(response) => Err(format!("endpoint answered {}", response.status())),
                Err(error) => Err(format!("endpoint unreachable: {error}")),
            };
            let recorded = match outcome {
                Ok(at) => {
                    metrics::counter!("integrity_webhook_deliveries_total", "outcome" => "delivered")
                        .increment(1);
                    store.record_attempt(&delivery.id, Ok(at)).await
                }
                Err(error) => {
                    let attempts = delivery.attempts + 1;
                    let next = (attempts < max_attempts).then(|| {
                        clock.now()
                            + time::Duration::try_from(backoff(attempts, max_backoff))
                                .unwrap_or(time::Duration::MINUTE)
                    });
                    metrics::counter!("integrity_webhook_deliveries_total", "outcome" => if next.is_some() { "retry" } else { "failed" })
                        .increment(1);
                    tracing::warn!(delivery = %delivery.id, attempts, error = %error, "webhook delivery failed");
                    store.record_attempt(&delivery.id, Err((error, next))).await
                }
            };
            if let Err(error) = recorded {
                tracing::warn!(error = %error, "recording a webhook attempt failed");
            }
        }
        let pause = if busy {
            Duration::from_millis(10)
        } else {
            Duration::from_millis(250)
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stopped.changed() => return,
        }
    }
}
