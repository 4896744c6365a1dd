//! The durable decision log with group commit: every match request hands its decision to one
//! writer task and waits; the writer takes everything queued (up to `match.log_batch`),
//! chains and signs each decision, writes them all in one transaction, and only then lets the
//! requests answer. Many concurrent requests so share one commit (one fsync) instead of
//! queueing for one each.

use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::receipt::{ReceiptFields, receipt_hash, signed_message};
use crate::store::Store;
use crate::store::matches::DecisionRow;

/// A decision waiting to be logged.
#[derive(Debug)]
pub struct PendingDecision {
    /// Match id.
    pub id: String,
    /// When decided.
    pub created_at: OffsetDateTime,
    /// Caller (actor id).
    pub caller: String,
    /// Project id.
    pub project_id: String,
    /// Project kind.
    pub project_kind: String,
    /// `as_of`.
    pub as_of: OffsetDateTime,
    /// Bidders per verdict: block, review, clear, invalid.
    pub counts: [i32; 4],
    /// SHA-256 of the request.
    pub request_hash: String,
    /// Epochs used (JSON).
    pub epochs: String,
    /// The decision (JSON).
    pub decision: String,
    /// Webhook deliveries it causes (committed with it).
    pub deliveries: Vec<crate::store::webhooks::NewDelivery>,
}

/// The receipt of a logged decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Position in the chain.
    pub seq: i64,
    /// Previous hash.
    pub prev_hash: String,
    /// This decision's hash.
    pub hash: String,
    /// Node signature of the hash (base64).
    pub signature: String,
    /// The node's public key (base64).
    pub signer_key: String,
}

/// Why a decision could not be logged (the request then fails: no answer without a log).
#[derive(Debug, thiserror::Error)]
#[error("decision log unavailable: {0}")]
pub struct LogError(pub String);

type Job = (PendingDecision, oneshot::Sender<Result<Receipt, LogError>>);

/// Handle to the writer task.
#[derive(Clone, Debug)]
pub struct DecisionLog {
    sender: mpsc::Sender<Job>,
}

impl DecisionLog {
    /// Starts the writer on `store`, continuing the chain from its last decision.
    pub async fn start(
        store: Arc<Store>,
        batch: usize,
    ) -> Result<DecisionLog, crate::store::StoreError> {
        let head = store.last_decision().await?;
        let (sender, receiver) = mpsc::channel::<Job>(batch.max(1) * 4);
        tokio::spawn(write_loop(store, receiver, head, batch.max(1)));
        Ok(DecisionLog { sender })
    }

    /// Logs a decision durably and returns its receipt.
    pub async fn append(&self, decision: PendingDecision) -> Result<Receipt, LogError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send((decision, reply))
            .await
            .map_err(|_| LogError("the writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| LogError("the writer has stopped".into()))?
    }
}

async fn write_loop(
    store: Arc<Store>,
    mut receiver: mpsc::Receiver<Job>,
    mut head: (i64, String),
    batch: usize,
) {
    let mut jobs: Vec<Job> = Vec::with_capacity(batch);
    while receiver.recv_many(&mut jobs, batch).await > 0 {
        let mut rows = Vec::with_capacity(jobs.len());
        let deliveries: Vec<_> = jobs
            .iter()
            .flat_map(|(decision, _)| decision.deliveries.iter().cloned())
            .collect();
        let mut receipts = Vec::with_capacity(jobs.len());
        let (mut seq, mut prev) = head.clone();
        let mut failure = None;
        for (decision, _) in &jobs {
            seq += 1;
            let hash = receipt_hash(ReceiptFields {
                seq,
                id: &decision.id,
                created_at: decision.created_at,
                request_hash: &decision.request_hash,
                epochs: &decision.epochs,
                decision: &decision.decision,
                prev_hash: &prev,
            });
            let Some((signature, signer_key)) = store.sign_with_node_key(&signed_message(&hash))
            else {
                failure = Some("the node's signing key is not loaded".to_owned());
                break;
            };
            rows.push(DecisionRow {
                seq,
                id: decision.id.clone(),
                created_at: decision.created_at,
                created_us: crate::store::webhooks::unix_micros(decision.created_at),
                caller: decision.caller.clone(),
                project_id: decision.project_id.clone(),
                project_kind: decision.project_kind.clone(),
                as_of: decision.as_of,
                n_block: decision.counts[0],
                n_review: decision.counts[1],
                n_clear: decision.counts[2],
                n_invalid: decision.counts[3],
                request_hash: decision.request_hash.clone(),
                epochs: decision.epochs.clone(),
                decision: decision.decision.clone(),
                prev_hash: prev.clone(),
                hash: hash.clone(),
                signature: signature.clone(),
                signer_key: signer_key.clone(),
            });
            receipts.push(Receipt {
                seq,
                prev_hash: prev.clone(),
                hash: hash.clone(),
                signature,
                signer_key,
            });
            prev = hash;
        }
        let outcome = match failure {
            Some(failure) => Err(failure),
            None => store
                .insert_decisions(rows, &deliveries)
                .await
                .map_err(|error| error.to_string()),
        };
        metrics::histogram!("integrity_match_log_batch_size").record(jobs.len() as f64);
        match outcome {
            Ok(()) => {
                head = (seq, prev);
                for ((_, reply), receipt) in jobs.drain(..).zip(receipts) {
                    let _ = reply.send(Ok(receipt));
                }
            }
            Err(error) => {
                tracing::error!(error = %error, "writing match decisions failed; their requests fail");
                // The chain head stays where the database is; re-read it in case the commit
                // happened and only its acknowledgement was lost.
                if let Ok(stored) = store.last_decision().await {
                    head = stored;
                }
                for (_, reply) in jobs.drain(..) {
                    let _ = reply.send(Err(LogError(error.clone())));
                }
            }
        }
    }
}
