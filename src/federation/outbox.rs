//! The push loop of a child: sends journal events its parent has not acknowledged, in batches,
//! with exponential back-off and jitter (capped) when the parent is unreachable. The cursor is
//! the parent's acknowledged high-watermark per origin, persisted after every acknowledgement;
//! nothing depends on wall-clock time, so a restart resumes exactly where the parent stands.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use super::wire::{BatchAck, EventBatch, WireEvent};
use crate::domain::region::RegionCode;
use crate::store::Store;

/// Name of the parent link in the cursor table.
pub const PARENT: &str = "parent";

/// What an operator needs to know about the parent link.
#[derive(Clone, Debug, Default)]
pub struct LinkStatus {
    /// Last successful acknowledgement.
    pub last_success_at: Option<OffsetDateTime>,
    /// Last error, readable on its own.
    pub last_error: Option<String>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Events acknowledged since start.
    pub events_pushed: u64,
}

/// Shared state of the node's federation links.
#[derive(Debug, Default)]
pub struct FederationState {
    /// The parent link.
    pub parent: Mutex<LinkStatus>,
}

impl FederationState {
    /// A snapshot of the parent link's status.
    pub fn parent_status(&self) -> LinkStatus {
        self.parent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn update(&self, change: impl FnOnce(&mut LinkStatus)) {
        if let Ok(mut status) = self.parent.lock() {
            change(&mut status);
        }
    }
}

/// Why a push failed.
#[derive(Debug)]
enum PushError {
    /// Network or 5xx: retry with back-off.
    Transient(String),
    /// The parent needs us to resend from its high-watermarks.
    Resync(String),
    /// The parent refused the batch as invalid: retrying the same batch cannot help.
    Refused(String),
}

/// The push loop. Runs until `stopped` changes.
pub struct Outbox {
    /// Store.
    pub store: Arc<Store>,
    /// This node.
    pub region: RegionCode,
    /// Parent events endpoint base URL.
    pub parent_url: String,
    /// mTLS client.
    pub client: reqwest::Client,
    /// Shared status.
    pub status: Arc<FederationState>,
    /// Events per batch.
    pub batch_size: u64,
    /// Idle poll interval.
    pub idle: Duration,
    /// Back-off cap.
    pub max_backoff: Duration,
    /// Source of "now" for status timestamps.
    pub now: Arc<dyn Fn() -> OffsetDateTime + Send + Sync>,
}

fn to_wire(event: crate::store::journal::JournalEvent) -> WireEvent {
    WireEvent {
        origin: event.origin,
        seq: event.seq,
        record_id: event.record_id,
        record_version: event.record_version,
        change_kind: event.change_kind,
        payload: event.payload,
        signature: event.signature,
        signer_key: event.signer_key,
    }
}

/// The `detail` of a problem answer (or its raw text), shortened for status and logs.
async fn problem_detail(response: reqwest::Response) -> String {
    let body = response.text().await.unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_owned))
        .unwrap_or(body)
        .chars()
        .take(500)
        .collect()
}

/// Back-off for the n-th consecutive failure: 100 ms doubling, capped, with ±25 % jitter so
/// that many children do not retry in step.
pub fn backoff(failures: u32, cap: Duration) -> Duration {
    let base = Duration::from_millis(100).saturating_mul(1u32 << failures.min(20));
    let capped = base.min(cap);
    let mut jitter = [0u8; 2];
    let _ = getrandom::fill(&mut jitter);
    let fraction = f64::from(u16::from_le_bytes(jitter)) / f64::from(u16::MAX); // 0..1
    capped.mul_f64(0.75 + fraction * 0.5).min(cap)
}

impl Outbox {
    async fn push(&self, events: Vec<WireEvent>) -> Result<BatchAck, PushError> {
        let batch = EventBatch {
            sender: self.region.to_string(),
            events,
        };
        let response = self
            .client
            .post(format!("{}/federation/v1/events", self.parent_url))
            .json(&batch)
            .send()
            .await
            .map_err(|error| PushError::Transient(format!("parent unreachable: {error}")))?;
        let status = response.status();
        if status.is_success() {
            return response.json::<BatchAck>().await.map_err(|error| {
                PushError::Transient(format!("unreadable acknowledgement: {error}"))
            });
        }
        let detail = problem_detail(response).await;
        Err(match status.as_u16() {
            409 => PushError::Resync(detail),
            429 | 500..=599 => PushError::Transient(format!("parent answered {status}: {detail}")),
            _ => PushError::Refused(format!("parent refused the batch ({status}): {detail}")),
        })
    }

    async fn resync(&self) -> Result<(), PushError> {
        let response = self
            .client
            .get(format!("{}/federation/v1/watermarks", self.parent_url))
            .send()
            .await
            .map_err(|error| PushError::Transient(format!("parent unreachable: {error}")))?;
        let status = response.status();
        if !status.is_success() {
            let detail = problem_detail(response).await;
            let message = format!("parent refused this node ({status}): {detail}");
            return Err(if status.is_client_error() && status.as_u16() != 429 {
                PushError::Refused(message)
            } else {
                PushError::Transient(message)
            });
        }
        let ack: BatchAck = response
            .json()
            .await
            .map_err(|error| PushError::Transient(format!("unreadable watermarks: {error}")))?;
        self.store
            .set_cursors(PARENT, &ack.high_watermarks, (self.now)())
            .await
            .map_err(|error| PushError::Transient(error.to_string()))
    }

    /// One round: push what is pending. Returns whether anything was sent.
    async fn round(&self) -> Result<bool, PushError> {
        let acked = self
            .store
            .cursors(PARENT)
            .await
            .map_err(|error| PushError::Transient(error.to_string()))?;
        let events = self
            .store
            .pending_events(&acked, self.batch_size)
            .await
            .map_err(|error| PushError::Transient(error.to_string()))?;
        if events.is_empty() {
            return Ok(false);
        }
        let n_events = events.len() as u64;
        let first = events
            .first()
            .map(|event| (event.origin.clone(), event.seq));
        let ack = match self.push(events.into_iter().map(to_wire).collect()).await {
            Err(PushError::Refused(detail)) => {
                if let Some((origin, seq)) = first {
                    // The HTTP status, from "parent refused the batch (422 Unprocessable …".
                    let code = detail
                        .split_whitespace()
                        .find_map(|word| word.strip_prefix('('))
                        .filter(|code| code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()))
                        .unwrap_or("refused");
                    let _ = self
                        .store
                        .record_problem(&origin, seq, code, &detail, (self.now)())
                        .await;
                }
                return Err(PushError::Refused(detail));
            }
            other => other?,
        };
        self.store
            .advance_cursors(PARENT, &ack.high_watermarks, (self.now)())
            .await
            .map_err(|error| PushError::Transient(error.to_string()))?;
        self.store
            .resolve_delivered_problems(&ack.high_watermarks, (self.now)())
            .await
            .map_err(|error| PushError::Transient(error.to_string()))?;
        metrics::counter!("integrity_federation_pushed_events_total").increment(n_events);
        let now = (self.now)();
        self.status.update(|status| {
            status.last_success_at = Some(now);
            status.consecutive_failures = 0;
            status.last_error = None;
            status.events_pushed += n_events;
        });
        Ok(true)
    }

    /// Runs until `stopped` changes.
    pub async fn run(self, mut stopped: tokio::sync::watch::Receiver<bool>) {
        let mut synced = false;
        loop {
            if !synced {
                match self.resync().await {
                    Ok(()) => synced = true,
                    Err(PushError::Refused(error)) => {
                        // A configuration problem (this node is not the parent's child, or its
                        // certificate is not accepted): wait long, show it in the status.
                        self.fail(error);
                        tokio::select! {
                            () = tokio::time::sleep(self.max_backoff) => {}
                            _ = stopped.changed() => break,
                        }
                        continue;
                    }
                    Err(PushError::Transient(error) | PushError::Resync(error)) => self.fail(error),
                }
            }
            let pause = if !synced {
                backoff(
                    self.status.parent_status().consecutive_failures,
                    self.max_backoff,
                )
            } else {
                match self.round().await {
                    Ok(true) => Duration::ZERO,
                    Ok(false) => self.idle,
                    Err(PushError::Resync(error)) => {
                        tracing::info!(error = %error, "parent asked to resend from its high-watermarks");
                        synced = false;
                        Duration::ZERO
                    }
                    Err(PushError::Transient(error)) => {
                        self.fail(error);
                        backoff(
                            self.status.parent_status().consecutive_failures,
                            self.max_backoff,
                        )
                    }
                    Err(PushError::Refused(error)) => {
                        // The same batch would be refused again: hold it, visibly, at the
                        // longest back-off rather than hammering the parent or dropping it.
                        self.fail(error);
                        self.max_backoff
                    }
                }
            };
            if pause.is_zero() {
                if *stopped.borrow() {
                    break;
                }
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stopped.changed() => break,
            }
        }
    }

    fn fail(&self, error: String) {
        tracing::warn!(peer = "parent", error = %error, "push to parent failed");
        metrics::counter!("integrity_federation_push_failures_total").increment(1);
        self.status.update(|status| {
            status.consecutive_failures = status.consecutive_failures.saturating_add(1);
            status.last_error = Some(error);
        });
    }
}
