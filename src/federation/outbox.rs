//! The push loop of a child: sends journal events its parent has not acknowledged, in batches,
//! with exponential back-off and jitter (capped) when the parent is unreachable. The cursor is
//! the parent's acknowledged high-watermark per origin, persisted after every acknowledgement;
//! nothing depends on wall-clock time, so a restart resumes exactly where the parent stands.
//!
//! Two lanes. The ordinary lane keeps up to `in_flight` batches on their way (so throughput is
//! not bound by the round trip); the parent applies them strictly in sequence, letting a batch
//! that overtook its predecessor wait for it (`api/federation.rs`). The priority lane sends
//! changes to existing records (corrections, revocations …) that sit further back than the
//! next ordinary batch ahead of the backlog; the parent applies them to the record if newer
//! without journaling them, and they are journaled when the ordinary lane reaches them (see
//! `Store::apply_events` and ARCHITECTURE.md, "Delivery discipline").

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::task::JoinSet;

use super::wire::{BatchAck, EventBatch, WireEvent};
use crate::domain::region::RegionCode;
use crate::store::Store;

/// How often an idle child asks its parent how far up its events have travelled.
const REACH_POLL: Duration = Duration::from_secs(2);

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
    /// An operator asked to retry now (ends the back-off wait after a refusal or outage).
    pub retry: tokio::sync::Notify,
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
    /// The parent refused the batch as invalid: retrying the same batch cannot help. The
    /// position in the batch of the event it named, if it named one.
    Refused(String, Option<usize>),
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
    /// Batches of the ordinary lane sent and not yet answered, at most (`federation.in_flight`).
    pub in_flight: usize,
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

/// The `detail` of a problem answer (or its raw text), shortened for status and logs, and
/// the batch position of the event it names (`errors[0].index` with `field` `events`).
async fn problem_answer(response: reqwest::Response) -> (String, Option<usize>) {
    let body = response.text().await.unwrap_or_default();
    let parsed = serde_json::from_str::<serde_json::Value>(&body).ok();
    let index = parsed.as_ref().and_then(|v| {
        let item = &v["errors"][0];
        (item["field"] == "events")
            .then(|| item["index"].as_u64())
            .flatten()
            .and_then(|index| usize::try_from(index).ok())
    });
    let detail = parsed
        .and_then(|v| v["detail"].as_str().map(str::to_owned))
        .unwrap_or(body)
        .chars()
        .take(500)
        .collect();
    (detail, index)
}

/// The `detail` of a problem answer (or its raw text), shortened for status and logs.
async fn problem_detail(response: reqwest::Response) -> String {
    problem_answer(response).await.0
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

/// Posts one batch to the parent and reads its answer.
async fn post_batch(
    client: reqwest::Client,
    url: String,
    batch: EventBatch,
) -> Result<BatchAck, PushError> {
    let response = client
        .post(url)
        .json(&batch)
        .send()
        .await
        .map_err(|error| PushError::Transient(format!("parent unreachable: {error}")))?;
    let status = response.status();
    if status.is_success() {
        return response
            .json::<BatchAck>()
            .await
            .map_err(|error| PushError::Transient(format!("unreadable acknowledgement: {error}")));
    }
    let (detail, index) = problem_answer(response).await;
    Err(match status.as_u16() {
        409 => PushError::Resync(detail),
        429 | 500..=599 => PushError::Transient(format!("parent answered {status}: {detail}")),
        _ => PushError::Refused(
            format!("parent refused the batch ({status}): {detail}"),
            index,
        ),
    })
}

/// A batch on its way: what it carried, and the parent's answer once it is in.
struct Flight {
    /// Origin and seq of each event (names the refused event, or the batch, in the problem
    /// queue).
    keys: Vec<(String, i64)>,
    n_events: u64,
    priority: bool,
    answer: Result<BatchAck, PushError>,
}

/// Where the two lanes stand, in memory. Both are rebuilt from the acknowledged cursors after
/// any failure, so they only ever run ahead of what the parent acknowledged.
#[derive(Default)]
struct Lanes {
    /// Ordinary lane: per origin, the last seq handed to a request (≥ the acknowledged cursor).
    sent: BTreeMap<String, i64>,
    /// Priority lane: per origin, how far the journal has been searched for changes to
    /// existing records.
    scanned: BTreeMap<String, i64>,
    /// Ordinary batches in flight.
    ordinary_in_flight: usize,
    /// Set when the parent refused a priority batch (e.g. a parent of an earlier version that
    /// does not know the lane): the ordinary lane carries the same events, so the priority
    /// lane is simply switched off until the node restarts.
    priority_off: bool,
}

impl Outbox {
    fn events_url(&self) -> String {
        format!("{}/federation/v1/events", self.parent_url)
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
                PushError::Refused(message, None)
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

    /// Restarts both lanes from the acknowledged cursors.
    async fn reset_lanes(&self, lanes: &mut Lanes) -> Result<(), PushError> {
        lanes.sent = self
            .store
            .cursors(PARENT)
            .await
            .map_err(|error| PushError::Transient(error.to_string()))?;
        lanes.scanned.clear();
        Ok(())
    }

    /// The next priority batch: changes to existing records (corrections, revocations …) that
    /// the ordinary lane would not carry in its next batch anyway.
    async fn next_priority_batch(&self, lanes: &mut Lanes) -> Result<Vec<WireEvent>, PushError> {
        let from: BTreeMap<String, i64> = self
            .store
            .journal_heads()
            .into_keys()
            .map(|origin| {
                let sent = lanes.sent.get(&origin).copied().unwrap_or(0);
                let ahead = sent.saturating_add(self.batch_size as i64);
                let scanned = lanes.scanned.get(&origin).copied().unwrap_or(0);
                (origin, ahead.max(scanned))
            })
            .collect();
        let (events, scanned_to) = self
            .store
            .pending_priority_events(&from, self.batch_size)
            .await
            .map_err(|error| PushError::Transient(error.to_string()))?;
        lanes.scanned.extend(scanned_to);
        Ok(events.into_iter().map(to_wire).collect())
    }

    /// The next ordinary batch: the oldest events after what was sent, per origin.
    async fn next_ordinary_batch(&self, lanes: &mut Lanes) -> Result<Vec<WireEvent>, PushError> {
        let started = std::time::Instant::now();
        let events = self
            .store
            .pending_events(&lanes.sent, self.batch_size)
            .await
            .map_err(|error| PushError::Transient(error.to_string()))?;
        for event in &events {
            let sent = lanes.sent.entry(event.origin.clone()).or_insert(0);
            *sent = (*sent).max(event.seq);
        }
        tracing::debug!(
            n_events = events.len(),
            read_ms = started.elapsed().as_secs_f64() * 1e3,
            "batch read from the journal"
        );
        Ok(events.into_iter().map(to_wire).collect())
    }

    fn launch(&self, flights: &mut JoinSet<Flight>, events: Vec<WireEvent>, priority: bool) {
        let keys: Vec<(String, i64)> = events
            .iter()
            .map(|event| (event.origin.clone(), event.seq))
            .collect();
        let n_events = events.len() as u64;
        let batch = EventBatch {
            sender: self.region.to_string(),
            events,
            priority,
        };
        let client = self.client.clone();
        let url = self.events_url();
        flights.spawn(async move {
            let sent = std::time::Instant::now();
            let answer = post_batch(client, url, batch).await;
            tracing::debug!(
                n_events,
                priority,
                round_trip_ms = sent.elapsed().as_secs_f64() * 1e3,
                "batch answered"
            );
            Flight {
                keys,
                n_events,
                priority,
                answer,
            }
        });
    }

    /// Sends what the window allows: one priority batch (it may exceed the window by one, so
    /// it never waits behind the backlog), then ordinary batches up to `in_flight`.
    async fn fill(
        &self,
        lanes: &mut Lanes,
        flights: &mut JoinSet<Flight>,
    ) -> Result<(), PushError> {
        if !lanes.priority_off && flights.len() <= self.in_flight {
            let priority = self.next_priority_batch(lanes).await?;
            if !priority.is_empty() {
                self.launch(flights, priority, true);
            }
        }
        while lanes.ordinary_in_flight < self.in_flight {
            let events = self.next_ordinary_batch(lanes).await?;
            if events.is_empty() {
                break;
            }
            self.launch(flights, events, false);
            lanes.ordinary_in_flight += 1;
        }
        Ok(())
    }

    /// While idle, asks the parent what the levels above hold of this node's origins (the
    /// same answer an ack carries), so that a correction's arrival at the province is learnt
    /// even when nothing more is pushed. Best effort; cursors only move forward.
    async fn poll_reached(&self) {
        // Only while a correction of this node's records is not known to be at the province
        // (each poll is an audited read at the parent).
        let Some(province) = std::iter::once(self.region)
            .chain(self.region.ancestors())
            .find(|r| r.level() == crate::domain::region::RegionLevel::Province)
            .filter(|p| *p != self.region)
        else {
            return;
        };
        let me = self.region.to_string();
        let latest = match self
            .store
            .own_events_of_kinds(&me, &["corrected", "revoked"], 1)
            .await
        {
            Ok(events) => events.first().map_or(0, |event| event.seq),
            Err(_) => return,
        };
        let parent = self.region.parent().map(|p| p.to_string());
        let known = self
            .store
            .reached_levels(parent.as_deref())
            .await
            .ok()
            .and_then(|levels| levels.get(&province.to_string())?.get(&me).copied())
            .unwrap_or(0);
        if latest <= known {
            return;
        }
        let response = self
            .client
            .get(format!("{}/federation/v1/watermarks", self.parent_url))
            .send()
            .await;
        let Ok(response) = response else { return };
        if !response.status().is_success() {
            return;
        }
        let Ok(ack) = response.json::<BatchAck>().await else {
            return;
        };
        let now = (self.now)();
        let _ = self
            .store
            .advance_cursors(PARENT, &ack.high_watermarks, now)
            .await;
        for (region, marks) in &ack.reached {
            let _ = self
                .store
                .advance_cursors(&format!("reach:{region}"), marks, now)
                .await;
        }
    }

    /// Records the parent's acknowledgement: cursors move forward only.
    async fn acknowledged(&self, ack: &BatchAck, n_events: u64) -> Result<(), PushError> {
        self.store
            .advance_cursors(PARENT, &ack.high_watermarks, (self.now)())
            .await
            .map_err(|error| PushError::Transient(error.to_string()))?;
        self.store
            .resolve_delivered_problems(&ack.high_watermarks, (self.now)())
            .await
            .map_err(|error| PushError::Transient(error.to_string()))?;
        for (region, marks) in &ack.reached {
            self.store
                .advance_cursors(&format!("reach:{region}"), marks, (self.now)())
                .await
                .map_err(|error| PushError::Transient(error.to_string()))?;
        }
        metrics::counter!("integrity_federation_pushed_events_total").increment(n_events);
        let now = (self.now)();
        self.status.update(|status| {
            status.last_success_at = Some(now);
            status.consecutive_failures = 0;
            status.last_error = None;
            status.events_pushed += n_events;
        });
        Ok(())
    }

    /// Records a refused batch in the problem queue: the event the parent named, or else the
    /// batch's first event.
    async fn refused(&self, keys: &[(String, i64)], index: Option<usize>, detail: &str) {
        let named = index.and_then(|index| keys.get(index));
        if let Some((origin, seq)) = named.or(keys.first()) {
            // The HTTP status, from "parent refused the batch (422 Unprocessable …".
            let code = detail
                .split_whitespace()
                .find_map(|word| word.strip_prefix('('))
                .filter(|code| code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()))
                .unwrap_or("refused");
            let _ = self
                .store
                .record_problem(origin, *seq, named.is_some(), code, detail, (self.now)())
                .await;
        }
    }

    /// Runs until `stopped` changes.
    ///
    /// Delivery discipline: up to `in_flight` ordinary batches are on their way at once (over
    /// one HTTP/2 connection), each starting where the one before it ends; the parent applies
    /// them in order (a batch that arrives before its predecessor is applied waits for it, see
    /// `api/federation.rs`). Cursors move only on acknowledgements, and only forward. On any
    /// failure every batch in flight is abandoned and both lanes restart from the acknowledged
    /// cursors (after a 409, from the parent's watermarks): whatever an abandoned batch did
    /// commit at the parent comes back as duplicates, which change nothing.
    pub async fn run(self, mut stopped: tokio::sync::watch::Receiver<bool>) {
        let mut changes = self.store.journal_changes();
        let mut synced = false;
        let mut lanes = Lanes::default();
        let mut flights: JoinSet<Flight> = JoinSet::new();
        let mut last_reach_poll = std::time::Instant::now();
        loop {
            if *stopped.borrow() {
                break;
            }
            let mut failure = None;
            if !synced {
                match self.resync().await {
                    Ok(()) => match self.reset_lanes(&mut lanes).await {
                        Ok(()) => synced = true,
                        Err(error) => failure = Some(error),
                    },
                    Err(error) => failure = Some(error),
                }
            }
            if failure.is_none() {
                changes.borrow_and_update();
                if let Err(error) = self.fill(&mut lanes, &mut flights).await {
                    failure = Some(error);
                }
            }
            if failure.is_none() {
                if flights.is_empty() {
                    tokio::select! {
                        _ = changes.changed() => {}
                        () = tokio::time::sleep(self.idle) => {
                            if last_reach_poll.elapsed() >= REACH_POLL {
                                last_reach_poll = std::time::Instant::now();
                                self.poll_reached().await;
                            }
                        }
                        _ = stopped.changed() => break,
                    }
                    continue;
                }
                let joined = tokio::select! {
                    joined = flights.join_next() => joined,
                    _ = stopped.changed() => break,
                };
                let Some(joined) = joined else { continue };
                let flight = match joined {
                    Ok(flight) => flight,
                    Err(error) => Flight {
                        keys: Vec::new(),
                        n_events: 0,
                        priority: false,
                        answer: Err(PushError::Transient(format!("push task failed: {error}"))),
                    },
                };
                if !flight.priority {
                    lanes.ordinary_in_flight = lanes.ordinary_in_flight.saturating_sub(1);
                }
                match flight.answer {
                    Err(PushError::Refused(detail, _)) if flight.priority => {
                        // Nothing is lost: the ordinary lane delivers these events in order,
                        // and meets any real problem with them there.
                        tracing::warn!(peer = "parent", error = %detail, "the parent refused a priority batch; the priority lane is off until restart");
                        lanes.priority_off = true;
                        continue;
                    }
                    Ok(ack) => match self.acknowledged(&ack, flight.n_events).await {
                        Ok(()) => {
                            // The parent may hold more than was sent since the last reset
                            // (an abandoned batch that did commit): never resend below it.
                            for (origin, seq) in &ack.high_watermarks {
                                let sent = lanes.sent.entry(origin.clone()).or_insert(0);
                                *sent = (*sent).max(*seq);
                            }
                            continue;
                        }
                        Err(error) => failure = Some(error),
                    },
                    Err(PushError::Refused(detail, index)) => {
                        self.refused(&flight.keys, index, &detail).await;
                        failure = Some(PushError::Refused(detail, index));
                    }
                    Err(error) => failure = Some(error),
                }
            }
            let Some(failure) = failure else { continue };
            // Abandon the rest of the window: it would only wait behind the failed batch.
            flights.abort_all();
            while flights.join_next().await.is_some() {}
            lanes.ordinary_in_flight = 0;
            let pause = match failure {
                PushError::Resync(error) => {
                    tracing::info!(error = %error, "parent asked to resend from its high-watermarks");
                    synced = false;
                    Duration::ZERO
                }
                PushError::Transient(error) => {
                    self.fail(error);
                    synced = synced && self.reset_lanes(&mut lanes).await.is_ok();
                    backoff(
                        self.status.parent_status().consecutive_failures,
                        self.max_backoff,
                    )
                }
                PushError::Refused(error, _) => {
                    // The same batch would be refused again (or this node is not the parent's
                    // child): hold it, visibly, at the longest back-off rather than hammering
                    // the parent or dropping it.
                    self.fail(error);
                    synced = synced && self.reset_lanes(&mut lanes).await.is_ok();
                    self.max_backoff
                }
            };
            if pause.is_zero() {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.status.retry.notified() => {
                    tracing::info!("retrying the parent link now, as an operator asked");
                }
                _ = stopped.changed() => break,
            }
        }
        flights.abort_all();
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
