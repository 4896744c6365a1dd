//! The upward journal in the database: events appended in the same transaction as the record
//! change they describe, with a gap-free sequence number per origin.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::entities::{journal_events, records};
use super::{Store, StoreError};
use crate::domain::region::RegionCode;
use crate::domain::vocab::ChangeKind;
use crate::federation::journal::{
    EventHeader, SigningKey, Stream, signing_bytes, stream_signing_bytes_for_digest,
};

/// Rows per INSERT: 9 columns × 1,000 stays far below both backends' parameter limits.
const INSERT_CHUNK: usize = 1_000;

/// Appends this node's own changes to the journal.
pub struct JournalWriter {
    origin: RegionCode,
    signer: Arc<SigningKey>,
    /// Last sequence number used for `origin`; advanced only while the store's write lock is
    /// held and only after a commit.
    last_seq: AtomicI64,
}

/// A stored journal event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEvent {
    /// Origin region.
    pub origin: String,
    /// Sequence number at the origin.
    pub seq: i64,
    /// Record id.
    pub record_id: Uuid,
    /// Record version after the change.
    pub record_version: i32,
    /// Kind of change.
    pub change_kind: String,
    /// The record at that version, as signed (JSON text).
    pub payload: String,
    /// Ed25519 signature, base64.
    pub signature: String,
    /// The signer's public key, base64.
    pub signer_key: String,
    /// When journaled here.
    pub journaled_at: OffsetDateTime,
}

impl JournalWriter {
    /// The origin events are written for.
    pub fn origin(&self) -> RegionCode {
        self.origin
    }

    /// The node's signing key (also signs the lists it issues).
    pub(super) fn signer(&self) -> &SigningKey {
        &self.signer
    }

    /// The next sequence number (not yet used).
    pub(super) fn next_seq(&self) -> i64 {
        self.last_seq.load(Ordering::SeqCst) + 1
    }

    /// Records that sequence numbers up to `seq` are committed.
    pub(super) fn committed_up_to(&self, seq: i64) {
        self.last_seq.store(seq, Ordering::SeqCst);
    }

    /// Builds the signed event of one record change.
    pub(super) fn event(
        &self,
        seq: i64,
        model: &records::Model,
        change_kind: ChangeKind,
        at: OffsetDateTime,
    ) -> Result<journal_events::ActiveModel, StoreError> {
        let payload = serde_json::to_string(model)
            .map_err(|_| StoreError::Corrupt("journal payload".into()))?;
        let record_id =
            Uuid::parse_str(&model.id).map_err(|_| StoreError::Corrupt("record id".into()))?;
        let origin = self.origin.to_string();
        let header = EventHeader {
            origin: &origin,
            seq,
            record_id,
            record_version: model.version,
            change_kind: change_kind.as_str(),
        };
        let signature = self.signer.sign(&signing_bytes(header, &payload));
        Ok(self.row(seq, model, change_kind, payload, signature, at))
    }

    /// The journal row of an event already signed.
    pub(super) fn row(
        &self,
        seq: i64,
        model: &records::Model,
        change_kind: ChangeKind,
        payload: String,
        signature: String,
        at: OffsetDateTime,
    ) -> journal_events::ActiveModel {
        journal_events::ActiveModel {
            origin: Set(self.origin.to_string()),
            seq: Set(seq),
            record_id: Set(model.id.clone()),
            record_version: Set(model.version),
            change_kind: Set(change_kind.as_str().to_owned()),
            payload: Set(payload),
            signature: Set(signature),
            signer_key: Set(self.signer.public_key_b64().to_owned()),
            journaled_at: Set(at),
        }
    }
}

/// Below this many events a batch is signed on the calling task: handing work to the blocking
/// pool costs more than it saves.
const PARALLEL_SIGNING_FROM: usize = 64;

impl JournalWriter {
    /// Starts signing the `Created` events of a batch: `items` are (record id, payload digest)
    /// in sequence order from `first_seq`. Ed25519 signing is the largest CPU cost of a batch
    /// write and must happen under the write lock (the sequence number is signed), so it is
    /// spread over the blocking pool, one chunk per core, and runs while the caller writes the
    /// records and their versions; [`SigningJob::finish`] collects the signatures in order.
    pub(super) fn sign_created(&self, first_seq: i64, items: Vec<(Uuid, [u8; 32])>) -> SigningJob {
        let origin = self.origin.to_string();
        if items.len() < PARALLEL_SIGNING_FROM {
            return SigningJob::Ready(sign_chunk(&self.signer, &origin, first_seq, &items));
        }
        let workers = std::thread::available_parallelism()
            .map_or(2, std::num::NonZeroUsize::get)
            .clamp(1, 8);
        let per_worker = items.len().div_ceil(workers);
        let mut jobs = Vec::with_capacity(workers);
        for (index, chunk) in items.chunks(per_worker).enumerate() {
            let signer = Arc::clone(&self.signer);
            let origin = origin.clone();
            let chunk = chunk.to_vec();
            let start = first_seq + (index * per_worker) as i64;
            jobs.push(tokio::task::spawn_blocking(move || {
                sign_chunk(&signer, &origin, start, &chunk)
            }));
        }
        SigningJob::Running(jobs)
    }
}

fn sign_chunk(
    signer: &SigningKey,
    origin: &str,
    first_seq: i64,
    items: &[(Uuid, [u8; 32])],
) -> Vec<String> {
    items
        .iter()
        .enumerate()
        .map(|(i, (record_id, digest))| {
            let header = EventHeader {
                origin,
                seq: first_seq + i as i64,
                record_id: *record_id,
                record_version: 1,
                change_kind: ChangeKind::Created.as_str(),
            };
            signer.sign(&stream_signing_bytes_for_digest(
                Stream::Records,
                header,
                digest,
            ))
        })
        .collect()
}

/// Signatures being computed by [`JournalWriter::sign_created`].
pub(super) enum SigningJob {
    /// Signed on the calling task.
    Ready(Vec<String>),
    /// Chunks signing on the blocking pool, in sequence order.
    Running(Vec<tokio::task::JoinHandle<Vec<String>>>),
}

impl SigningJob {
    /// The signatures, in sequence order.
    pub(super) async fn finish(self) -> Result<Vec<String>, StoreError> {
        match self {
            SigningJob::Ready(signatures) => Ok(signatures),
            SigningJob::Running(jobs) => {
                let mut out = Vec::new();
                for job in jobs {
                    out.extend(
                        job.await
                            .map_err(|_| StoreError::Corrupt("journal signing task".into()))?,
                    );
                }
                Ok(out)
            }
        }
    }
}

/// Inserts events in chunks on `db` (usually the write transaction).
pub(super) async fn insert_events(
    db: &impl ConnectionTrait,
    events: Vec<journal_events::ActiveModel>,
) -> Result<(), StoreError> {
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<_> = events.by_ref().take(INSERT_CHUNK).collect();
        journal_events::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

pub(crate) fn to_event(row: journal_events::Model) -> Result<JournalEvent, StoreError> {
    Ok(JournalEvent {
        record_id: Uuid::parse_str(&row.record_id)
            .map_err(|_| StoreError::Corrupt("journal record id".into()))?,
        origin: row.origin,
        seq: row.seq,
        record_version: row.record_version,
        change_kind: row.change_kind,
        payload: row.payload,
        signature: row.signature,
        signer_key: row.signer_key,
        journaled_at: row.journaled_at,
    })
}

impl Store {
    /// Starts journaling this node's record changes as `origin`, signed with `signer`.
    pub async fn enable_journal(
        &self,
        origin: RegionCode,
        signer: Arc<SigningKey>,
    ) -> Result<(), StoreError> {
        let origin_code = origin.to_string();
        let last = super::max_seq_per::<journal_events::Entity>(
            &self.db,
            journal_events::Column::Origin,
            journal_events::Column::Seq,
            Some(&origin_code),
        )
        .await?
        .get(&origin_code)
        .copied()
        .unwrap_or(0);
        let writer = JournalWriter {
            origin,
            signer,
            last_seq: AtomicI64::new(last),
        };
        self.journal
            .set(writer)
            .map_err(|_| StoreError::Corrupt("journal enabled twice".into()))?;
        let held = self.journal_watermarks().await?;
        if let Ok(mut heads) = self.journal_heads.lock() {
            *heads = held;
        }
        Ok(())
    }

    /// Signs `message` with the node's key: (signature, public key), both base64; `None`
    /// before the journal is enabled.
    pub fn sign_with_node_key(&self, message: &[u8]) -> Option<(String, String)> {
        self.journal.get().map(|writer| {
            (
                writer.signer.sign(message),
                writer.signer.public_key_b64().to_owned(),
            )
        })
    }

    /// The node's public key (base64), once the journal is enabled.
    pub fn node_public_key(&self) -> Option<String> {
        self.journal
            .get()
            .map(|writer| writer.signer.public_key_b64().to_owned())
    }

    /// Records that `origin`'s events up to `seq` are committed (heads only move forward).
    pub(super) fn journal_committed(&self, origin: &str, seq: i64) {
        if let Ok(mut heads) = self.journal_heads.lock() {
            let head = heads.entry(origin.to_owned()).or_insert(0);
            *head = (*head).max(seq);
        }
        self.journal_advanced
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    /// A receiver that sees a change after every commit that moved a journal head (the push
    /// loop waits on it instead of polling).
    pub fn journal_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.journal_advanced.subscribe()
    }

    /// Waits until the journal holds, for every origin in `needed`, at least that sequence
    /// number, or `timeout` passes. Returns whether it does. Holds no lock while waiting.
    pub async fn wait_for_heads(
        &self,
        needed: &std::collections::BTreeMap<String, i64>,
        timeout: std::time::Duration,
    ) -> bool {
        let mut changes = self.journal_changes();
        let reached = |store: &Store| {
            let heads = store.journal_heads();
            needed
                .iter()
                .all(|(origin, seq)| heads.get(origin).copied().unwrap_or(0) >= *seq)
        };
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changes.borrow_and_update();
            if reached(self) {
                return true;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return reached(self),
            }
        }
    }

    /// The highest sequence number held per origin, from memory.
    pub fn journal_heads(&self) -> std::collections::BTreeMap<String, i64> {
        self.journal_heads
            .lock()
            .map(|heads| heads.clone())
            .unwrap_or_default()
    }

    /// Events of one origin after `after_seq`, in order.
    pub async fn journal_events(
        &self,
        origin: &str,
        after_seq: i64,
        limit: u64,
    ) -> Result<Vec<JournalEvent>, StoreError> {
        journal_events::Entity::find()
            .filter(journal_events::Column::Origin.eq(origin))
            .filter(journal_events::Column::Seq.gt(after_seq))
            .order_by_asc(journal_events::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_event)
            .collect()
    }
}
