//! Applying events received from children, and the child's per-origin cursors.
//!
//! Invariant: a parent applies an origin's events strictly in sequence (seq = high-watermark +
//! 1), each at most once (the journal's primary key is (origin, seq)), and a record never goes
//! back to an older version (an event for a version not newer than the stored one only joins
//! the journal). Each batch commits as a whole with its audit row.

use std::collections::{BTreeMap, HashMap};

use sea_orm::sea_query::{Alias, BinOper, Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Iterable,
    QueryFilter, QueryOrder, QuerySelect,
};
use sha2::Digest;
use time::OffsetDateTime;

use super::entities::{
    federation_cursors, federation_peer_keys, federation_problems, journal_events, journal_skips,
    record_versions, records,
};
use super::{Store, StoreError, audit, journal};
use crate::audit::AuditEntry;
use crate::domain::region::RegionCode;
use crate::domain::vocab::ChangeKind;
use crate::federation::journal::{EventHeader, Stream, verify, verify_stream};
use crate::federation::wire::{BatchAck, DISCARDED, SkipMarker, WireEvent};

/// Why a batch was refused as a whole (nothing applied).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApplyError {
    /// An event's origin is neither the sender nor one of its descendants.
    #[error("event {origin}/{seq}: origin is not the sender {sender} or one of its descendants")]
    OutOfScope {
        /// Origin.
        origin: String,
        /// Seq.
        seq: i64,
        /// Sender.
        sender: String,
    },
    /// A signature does not verify, or the signer is not the key pinned for the origin.
    #[error("event {origin}/{seq}: {reason}")]
    BadSignature {
        /// Origin.
        origin: String,
        /// Seq.
        seq: i64,
        /// What failed.
        reason: &'static str,
    },
    /// An event skips sequence numbers.
    #[error("event {origin}/{seq}: expected sequence number {expected}; resend from there")]
    OutOfOrder {
        /// Origin.
        origin: String,
        /// Seq.
        seq: i64,
        /// The next sequence number this node can apply.
        expected: i64,
    },
    /// The payload does not match the signed header or is not a record.
    #[error("event {origin}/{seq}: {reason}")]
    Malformed {
        /// Origin.
        origin: String,
        /// Seq.
        seq: i64,
        /// What is wrong.
        reason: &'static str,
    },
    /// The database failed.
    #[error("storage: {0}")]
    Store(String),
}

impl ApplyError {
    /// The event the refusal names (origin, seq), if it names one.
    pub fn event(&self) -> Option<(&str, i64)> {
        match self {
            ApplyError::OutOfScope { origin, seq, .. }
            | ApplyError::BadSignature { origin, seq, .. }
            | ApplyError::OutOfOrder { origin, seq, .. }
            | ApplyError::Malformed { origin, seq, .. } => Some((origin.as_str(), *seq)),
            ApplyError::Store(_) => None,
        }
    }
}

impl From<StoreError> for ApplyError {
    fn from(error: StoreError) -> Self {
        ApplyError::Store(error.to_string())
    }
}

impl From<sea_orm::DbErr> for ApplyError {
    fn from(error: sea_orm::DbErr) -> Self {
        ApplyError::Store(StoreError::from(error).to_string())
    }
}

/// The contiguous high-watermark of `origin`: its highest seq held as an event or as a skip
/// marker (together they are gap-free from 1).
/// A problem of the parent link (a batch the parent refused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProblemRow {
    /// Problem id.
    pub id: String,
    /// Origin of the event it names.
    pub origin: String,
    /// Sequence number of that event.
    pub seq: i64,
    /// Whether that event is the one the parent named as invalid (discardable), rather than
    /// the first of a batch refused for another reason.
    pub refused_event: bool,
    /// The HTTP status the parent answered.
    pub code: String,
    /// The parent's explanation.
    pub detail: String,
    /// When first refused.
    pub created_at: OffsetDateTime,
    /// When resolved.
    pub resolved_at: Option<OffsetDateTime>,
    /// delivered or discarded, once resolved.
    pub outcome: Option<String>,
    /// How it was resolved, readable on its own.
    pub resolution: Option<String>,
}

fn to_problem(row: federation_problems::Model) -> ProblemRow {
    ProblemRow {
        id: row.id,
        origin: row.origin,
        seq: row.seq,
        refused_event: row.refused_event,
        code: row.code,
        detail: row.detail,
        created_at: row.created_at,
        resolved_at: row.resolved_at,
        outcome: row.outcome,
        resolution: row.resolution,
    }
}

/// A problem with the event it names and, once discarded, its skip marker.
#[derive(Clone, Debug)]
pub struct ProblemDetail {
    /// The problem.
    pub problem: ProblemRow,
    /// The event, as held in this node's journal (it is never removed, not even once
    /// discarded).
    pub event: Option<journal::JournalEvent>,
    /// The skip marker that stands in its place upward, if discarded.
    pub skip: Option<SkipOut>,
}

/// A skip marker as stored: what it says, and its signature.
#[derive(Clone, Debug)]
pub struct SkipOut {
    /// The signed statement.
    pub marker: SkipMarker,
    /// Ed25519 signature, base64.
    pub signature: String,
    /// The signer's public key, base64.
    pub signer_key: String,
}

fn to_skip(row: journal_skips::Model) -> Result<SkipOut, StoreError> {
    Ok(SkipOut {
        marker: serde_json::from_str(&row.payload)
            .map_err(|_| StoreError::Corrupt("skip marker".into()))?,
        signature: row.signature,
        signer_key: row.signer_key,
    })
}

/// A skip marker in the shape of a journal event (change kind `discarded`), as it is sent up.
fn skip_event(row: journal_skips::Model) -> Result<journal::JournalEvent, StoreError> {
    Ok(journal::JournalEvent {
        record_id: uuid::Uuid::parse_str(&row.record_id)
            .map_err(|_| StoreError::Corrupt("skip record id".into()))?,
        origin: row.origin,
        seq: row.seq,
        record_version: row.record_version,
        change_kind: DISCARDED.to_owned(),
        payload: row.payload,
        signature: row.signature,
        signer_key: row.signer_key,
        journaled_at: row.journaled_at,
    })
}

/// Why a discard was refused (nothing written).
#[derive(Debug, thiserror::Error)]
pub enum DiscardError {
    /// No such problem.
    #[error("no such problem")]
    NotFound,
    /// Already resolved (delivered, or discarded before).
    #[error("already resolved ({outcome})")]
    Resolved {
        /// delivered or discarded.
        outcome: String,
    },
    /// The problem does not name a refused event (the parent refused the link, not an event).
    #[error("the problem names no refused event")]
    NotAnEvent,
    /// The event is not in this node's journal.
    #[error("the event is not held here")]
    EventNotHeld,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for DiscardError {
    fn from(error: sea_orm::DbErr) -> Self {
        DiscardError::Store(error.into())
    }
}

/// The contiguous head of `origin` here: events and skip markers are gap-free together.
async fn high_watermark(db: &impl ConnectionTrait, origin: &str) -> Result<i64, StoreError> {
    Ok(journal_heads_of(db, Some(origin))
        .await?
        .get(origin)
        .copied()
        .unwrap_or(0))
}

/// Per origin (or for `only`), the highest seq held as an event or a skip marker.
async fn journal_heads_of(
    db: &impl ConnectionTrait,
    only: Option<&str>,
) -> Result<BTreeMap<String, i64>, StoreError> {
    let mut heads = super::max_seq_per::<journal_events::Entity>(
        db,
        journal_events::Column::Origin,
        journal_events::Column::Seq,
        only,
    )
    .await?;
    let skipped = super::max_seq_per::<journal_skips::Entity>(
        db,
        journal_skips::Column::Origin,
        journal_skips::Column::Seq,
        only,
    )
    .await?;
    for (origin, last) in skipped {
        let held = heads.entry(origin).or_insert(0);
        *held = (*held).max(last);
    }
    Ok(heads)
}

fn malformed(event: &WireEvent, reason: &'static str) -> ApplyError {
    ApplyError::Malformed {
        origin: event.origin.clone(),
        seq: event.seq,
        reason,
    }
}

/// An event that passed every check that needs no database: origin in the sender's scope,
/// signature, payload a record (or a skip marker) matching the signed header.
struct CheckedEvent {
    event: WireEvent,
    checked: Checked,
}

/// What a checked event carries.
enum Checked {
    /// A record change: the record at the event's version.
    Record {
        model: Box<records::Model>,
        snapshot: serde_json::Value,
    },
    /// A skip marker, signed by `signer` (a node on the path from the origin to the sender).
    Skip { signer: String },
}

/// Longest reason a skip marker may carry, in characters.
pub const MAX_DISCARD_REASON: usize = 1_000;

/// Checks a skip marker (change kind `discarded`): the signer is a node between the origin
/// and the sender (both included: only a node that held the event can have been refused it),
/// not this node; the payload matches the signed header; the reason is there; the signature
/// verifies over the `Skips` stream. The signer's pinned key is checked under the lock.
fn check_skip(
    me: RegionCode,
    sender: RegionCode,
    origin: RegionCode,
    event: WireEvent,
) -> Result<CheckedEvent, ApplyError> {
    let marker: SkipMarker = serde_json::from_str(&event.payload)
        .map_err(|_| malformed(&event, "payload is not a skip marker"))?;
    if marker.origin != event.origin
        || marker.seq != event.seq
        || marker.record_id != event.record_id
        || marker.record_version != event.record_version
    {
        return Err(malformed(
            &event,
            "skip marker does not match the signed header",
        ));
    }
    let trimmed = marker.reason.trim();
    if trimmed.is_empty() || marker.reason.chars().count() > MAX_DISCARD_REASON {
        return Err(malformed(
            &event,
            "a skip marker must carry a reason (at most 1,000 characters)",
        ));
    }
    let signer = RegionCode::parse(&marker.discarded_by)
        .map_err(|_| malformed(&event, "skip marker signer is not a region code"))?;
    if signer == me
        || !sender.is_same_or_ancestor_of(signer)
        || !signer.is_same_or_ancestor_of(origin)
    {
        return Err(ApplyError::BadSignature {
            origin: event.origin.clone(),
            seq: event.seq,
            reason: "a skip marker must be signed by a node between the origin and the sender",
        });
    }
    let header = EventHeader {
        origin: &event.origin,
        seq: event.seq,
        record_id: event.record_id,
        record_version: event.record_version,
        change_kind: &event.change_kind,
    };
    if !verify_stream(
        Stream::Skips,
        &event.signer_key,
        header,
        &event.payload,
        &event.signature,
    ) {
        return Err(ApplyError::BadSignature {
            origin: event.origin.clone(),
            seq: event.seq,
            reason: "skip marker signature does not verify",
        });
    }
    Ok(CheckedEvent {
        event,
        checked: Checked::Skip {
            signer: marker.discarded_by,
        },
    })
}

/// Below this many events a batch is checked on the calling thread.
const PARALLEL_CHECK_MIN: usize = 64;

fn check_event(
    me: RegionCode,
    sender: RegionCode,
    priority: bool,
    event: WireEvent,
) -> Result<CheckedEvent, ApplyError> {
    let origin = RegionCode::parse(&event.origin)
        .map_err(|_| malformed(&event, "origin is not a region code"))?;
    if origin == me || !sender.is_same_or_ancestor_of(origin) {
        return Err(ApplyError::OutOfScope {
            origin: event.origin.clone(),
            seq: event.seq,
            sender: sender.to_string(),
        });
    }
    if event.change_kind == DISCARDED {
        if priority {
            return Err(malformed(
                &event,
                "a priority batch carries only changes to existing records, not skip markers",
            ));
        }
        return check_skip(me, sender, origin, event);
    }
    let header = EventHeader {
        origin: &event.origin,
        seq: event.seq,
        record_id: event.record_id,
        record_version: event.record_version,
        change_kind: &event.change_kind,
    };
    if !verify(&event.signer_key, header, &event.payload, &event.signature) {
        return Err(ApplyError::BadSignature {
            origin: event.origin.clone(),
            seq: event.seq,
            reason: "signature does not verify",
        });
    }
    let model: records::Model = serde_json::from_str(&event.payload)
        .map_err(|_| malformed(&event, "payload is not a record"))?;
    if model.id != event.record_id.to_string()
        || model.version != event.record_version
        || model.origin_region != event.origin
    {
        return Err(malformed(
            &event,
            "payload does not match the signed header",
        ));
    }
    if priority && !is_priority_kind(&event.change_kind) {
        return Err(malformed(
            &event,
            "a priority batch carries only changes to existing records, not creations",
        ));
    }
    let snapshot = serde_json::to_value(&model).map_err(|_| malformed(&event, "payload"))?;
    Ok(CheckedEvent {
        event,
        checked: Checked::Record {
            model: Box::new(model),
            snapshot,
        },
    })
}

/// Whether a change kind travels in the priority lane: every change to an existing record
/// (corrections, revocations, repairs …), never a creation.
pub fn is_priority_kind(change_kind: &str) -> bool {
    change_kind != ChangeKind::Created.as_str() && change_kind != DISCARDED
}

/// Checks every event, on all cores for a large batch (Ed25519 verification and JSON parsing
/// are most of a batch's CPU). Returns the first failure in batch order, like a sequential
/// check would.
fn check_events(
    me: RegionCode,
    sender: RegionCode,
    priority: bool,
    events: Vec<WireEvent>,
) -> Result<Vec<CheckedEvent>, ApplyError> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if events.len() < PARALLEL_CHECK_MIN || threads == 1 {
        return events
            .into_iter()
            .map(|event| check_event(me, sender, priority, event))
            .collect();
    }
    let chunk_len = events.len().div_ceil(threads);
    let mut chunks: Vec<Vec<WireEvent>> = Vec::with_capacity(threads);
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        chunks.push(events.by_ref().take(chunk_len).collect());
    }
    let checked: Vec<Result<Vec<CheckedEvent>, ApplyError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|event| check_event(me, sender, priority, event))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    Err(ApplyError::Store("event check thread panicked".to_owned()))
                })
            })
            .collect()
    });
    let mut out = Vec::new();
    for chunk in checked {
        out.extend(chunk?);
    }
    Ok(out)
}

/// Inserts the newest version of each record, or updates the stored row only where the
/// stored version is older: one guarded multi-row upsert per chunk, so a record never goes
/// back to an older version whatever order versions arrive in, and no lookup is needed.
async fn upsert_newer(
    db: &impl ConnectionTrait,
    models: Vec<records::Model>,
) -> Result<(), StoreError> {
    let mut models = models.into_iter().peekable();
    while models.peek().is_some() {
        let chunk: Vec<records::ActiveModel> = models
            .by_ref()
            .take(RECORDS_CHUNK)
            .map(IntoActiveModel::into_active_model)
            .collect();
        let updated: Vec<records::Column> = records::Column::iter()
            .filter(|column| !matches!(column, records::Column::Id))
            .collect();
        records::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::column(records::Column::Id)
                    .update_columns(updated)
                    .action_and_where(sea_orm::sea_query::ExprTrait::binary(
                        Expr::col((records::Entity, records::Column::Version)),
                        BinOper::SmallerThan,
                        Expr::col((Alias::new("excluded"), records::Column::Version)),
                    ))
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Adds version rows that are not there yet (a version that arrived earlier through the
/// priority lane, or from another path, is kept as it is).
async fn insert_versions(
    db: &impl ConnectionTrait,
    versions: Vec<record_versions::ActiveModel>,
) -> Result<(), StoreError> {
    let mut versions = versions.into_iter().peekable();
    while versions.peek().is_some() {
        let chunk: Vec<_> = versions.by_ref().take(VERSIONS_CHUNK).collect();
        record_versions::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::columns([
                    record_versions::Column::RecordId,
                    record_versions::Column::Version,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Rows per multi-row upsert of `records`: 23 columns × 1,000 = 23,000 bound parameters, under
/// SQLite's 32,766 and PostgreSQL's 65,535.
const RECORDS_CHUNK: usize = 1_000;
/// Rows per insert of `record_versions`: 7 columns × 2,000 = 14,000 parameters.
const VERSIONS_CHUNK: usize = 2_000;

impl Store {
    /// Applies a batch pushed by the child `sender` (already authenticated by its certificate).
    ///
    /// Signatures and payloads are checked first, on all cores and outside the write lock;
    /// then, in one transaction under the lock, sequence numbers and pinned keys are checked
    /// and the batch is written with a few multi-row statements (records upserted only where
    /// newer, versions, journal, one audit row).
    ///
    /// A `priority` batch (the priority lane, see `federation/outbox.rs`) carries changes to
    /// existing records ahead of their origin's sequence: an event beyond the high-watermark
    /// updates the record if it is newer and adds its version, but is not journaled and does
    /// not move the high-watermark; it is journaled when the ordinary lane delivers it in
    /// sequence, where it then changes nothing else.
    pub async fn apply_events(
        &self,
        me: RegionCode,
        sender: RegionCode,
        events: Vec<WireEvent>,
        priority: bool,
        at: OffsetDateTime,
        audit_entry: AuditEntry,
    ) -> Result<BatchAck, ApplyError> {
        let n_events = events.len();
        let started = std::time::Instant::now();
        let checked =
            tokio::task::spawn_blocking(move || check_events(me, sender, priority, events))
                .await
                .map_err(|error| {
                    ApplyError::Store(format!("event check task failed: {error}"))
                })??;
        let checked_at = started.elapsed();
        let mut head = self.audit_head.lock().await;
        let locked_at = started.elapsed();
        let txn = self.begin_write().await?;
        // Run the batch inside a block so that any refusal rolls the transaction back
        // explicitly (a dropped transaction would hold SQLite's write lock until the pool
        // gets round to rolling it back).
        let applied: Result<(BatchAck, AuditEntry), ApplyError> = async {
            // Keys are pinned per region: an event's origin, or a skip marker's signer.
            let pin_regions: Vec<String> = checked
                .iter()
                .map(|checked| match &checked.checked {
                    Checked::Skip { signer } => signer.clone(),
                    Checked::Record { .. } => checked.event.origin.clone(),
                })
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let origins: Vec<String> = checked
                .iter()
                .map(|checked| checked.event.origin.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let mut pinned: HashMap<String, String> = federation_peer_keys::Entity::find()
                .filter(federation_peer_keys::Column::Origin.is_in(pin_regions.iter().cloned()))
                .all(&txn)
                .await?
                .into_iter()
                .map(|row| (row.origin, row.signer_key))
                .collect();
            let mut watermarks: BTreeMap<String, i64> = BTreeMap::new();
            for origin in &origins {
                watermarks.insert(origin.clone(), high_watermark(&txn, origin).await?);
            }
            let mut new_pins = Vec::new();
            let mut ack = BatchAck::default();
            let mut newest: HashMap<String, records::Model> = HashMap::new();
            let mut versions = Vec::new();
            let mut to_journal = Vec::new();
            let mut skips = Vec::new();
            for CheckedEvent { event, checked } in checked {
                let pin_region = match &checked {
                    Checked::Skip { signer } => signer.clone(),
                    Checked::Record { .. } => event.origin.clone(),
                };
                match pinned.get(&pin_region) {
                    Some(key) if *key != event.signer_key => {
                        return Err(ApplyError::BadSignature {
                            origin: event.origin.clone(),
                            seq: event.seq,
                            reason: if matches!(checked, Checked::Skip { .. }) {
                                "skip marker signed with a key other than the one pinned for its signer"
                            } else {
                                "signed with a key other than the one pinned for this origin"
                            },
                        });
                    }
                    Some(_) => {}
                    None => {
                        // Trust on first use, over a channel already authenticated by the
                        // federation CA; later events from this origin must use the same key.
                        new_pins.push(federation_peer_keys::ActiveModel {
                            origin: Set(pin_region.clone()),
                            signer_key: Set(event.signer_key.clone()),
                            first_seen_at: Set(at),
                        });
                        pinned.insert(pin_region, event.signer_key.clone());
                    }
                }
                let hwm = watermarks.get(&event.origin).copied().unwrap_or(0);
                if event.seq <= hwm {
                    // A replay, or a skip marker for a seq this node already holds (the event
                    // itself arrived first): the first one stays, idempotently.
                    ack.duplicates += 1;
                    continue;
                }
                if !priority && event.seq != hwm + 1 {
                    return Err(ApplyError::OutOfOrder {
                        origin: event.origin.clone(),
                        seq: event.seq,
                        expected: hwm + 1,
                    });
                }
                let (model, snapshot) = match checked {
                    Checked::Skip { signer } => {
                        watermarks.insert(event.origin.clone(), event.seq);
                        skips.push(journal_skips::ActiveModel {
                            origin: Set(event.origin),
                            seq: Set(event.seq),
                            record_id: Set(event.record_id.to_string()),
                            record_version: Set(event.record_version),
                            signer_region: Set(signer),
                            payload: Set(event.payload),
                            signature: Set(event.signature),
                            signer_key: Set(event.signer_key),
                            journaled_at: Set(at),
                        });
                        ack.skipped += 1;
                        continue;
                    }
                    Checked::Record { model, snapshot } => (*model, snapshot),
                };
                versions.push(record_versions::ActiveModel {
                    record_id: Set(model.id.clone()),
                    version: Set(model.version),
                    change_kind: Set(event.change_kind.clone()),
                    reason: Set(None),
                    actor: Set(format!("origin:{}", event.origin)),
                    at: Set(model.updated_at),
                    snapshot: Set(snapshot),
                });
                match newest.get(&model.id) {
                    Some(kept) if kept.version >= model.version => {}
                    _ => {
                        newest.insert(model.id.clone(), model);
                    }
                }
                if priority {
                    ack.early += 1;
                    continue;
                }
                watermarks.insert(event.origin.clone(), event.seq);
                to_journal.push(journal_events::ActiveModel {
                    origin: Set(event.origin),
                    seq: Set(event.seq),
                    record_id: Set(event.record_id.to_string()),
                    record_version: Set(event.record_version),
                    change_kind: Set(event.change_kind),
                    payload: Set(event.payload),
                    signature: Set(event.signature),
                    signer_key: Set(event.signer_key),
                    journaled_at: Set(at),
                });
                ack.applied += 1;
            }
            if !new_pins.is_empty() {
                federation_peer_keys::Entity::insert_many(new_pins)
                    .exec_without_returning(&txn)
                    .await?;
            }
            upsert_newer(&txn, newest.into_values().collect()).await?;
            insert_versions(&txn, versions).await?;
            journal::insert_events(&txn, to_journal).await?;
            if !skips.is_empty() {
                journal_skips::Entity::insert_many(skips)
                    .exec_without_returning(&txn)
                    .await?;
            }
            let mut entry = audit_entry;
            entry.detail = format!("applied={} duplicates={}", ack.applied, ack.duplicates);
            if ack.skipped > 0 {
                entry.detail.push_str(&format!(" skipped={}", ack.skipped));
            }
            if priority {
                entry.detail.push_str(&format!(" early={}", ack.early));
            }
            ack.high_watermarks = watermarks;
            Ok((ack, entry))
        }
        .await;
        let (ack, entry) = match applied {
            Ok(applied) => applied,
            Err(error) => {
                let _ = txn.rollback().await;
                return Err(error);
            }
        };
        let new_head = audit::insert_after(&txn, &head, at, &entry).await?;
        let written_at = started.elapsed();
        txn.commit().await?;
        *head = new_head;
        for (origin, seq) in &ack.high_watermarks {
            self.journal_committed(origin, *seq);
        }
        tracing::debug!(
            n_events,
            check_ms = checked_at.as_secs_f64() * 1e3,
            lock_wait_ms = (locked_at - checked_at).as_secs_f64() * 1e3,
            write_ms = (written_at - locked_at).as_secs_f64() * 1e3,
            commit_ms = (started.elapsed() - written_at).as_secs_f64() * 1e3,
            "batch applied"
        );
        Ok(ack)
    }

    /// The highest contiguous sequence number held for each origin in the journal.
    /// Events and skip markers together: gap-free from 1 per origin.
    pub async fn journal_watermarks(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        journal_heads_of(&self.db, None).await
    }

    /// What each level above this node holds of the origins below it, per ancestor region:
    /// the parent's acknowledgements (under `parent`) and what the parent relayed of the
    /// levels above it (`reach:<region>` cursors).
    pub async fn reached_levels(
        &self,
        parent: Option<&str>,
    ) -> Result<BTreeMap<String, BTreeMap<String, i64>>, StoreError> {
        let mut out: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        for row in federation_cursors::Entity::find().all(&self.db).await? {
            let level = match (row.peer.strip_prefix("reach:"), parent) {
                (Some(region), _) => region.to_owned(),
                (None, Some(parent)) if row.peer == crate::federation::outbox::PARENT => {
                    parent.to_owned()
                }
                _ => continue,
            };
            out.entry(level)
                .or_default()
                .insert(row.origin, row.acked_seq);
        }
        Ok(out)
    }

    /// Own record events of the given change kinds, newest first.
    pub async fn own_events_of_kinds(
        &self,
        origin: &str,
        kinds: &[&str],
        limit: u64,
    ) -> Result<Vec<journal::JournalEvent>, StoreError> {
        journal_events::Entity::find()
            .filter(journal_events::Column::Origin.eq(origin))
            .filter(journal_events::Column::ChangeKind.is_in(kinds.iter().copied()))
            .order_by_desc(journal_events::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(journal::to_event)
            .collect()
    }

    /// What `peer` has acknowledged, per origin.
    pub async fn cursors(&self, peer: &str) -> Result<BTreeMap<String, i64>, StoreError> {
        Ok(federation_cursors::Entity::find()
            .filter(federation_cursors::Column::Peer.eq(peer))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| (row.origin, row.acked_seq))
            .collect())
    }

    /// Records `peer`'s acknowledgements; a cursor only moves forward.
    pub async fn advance_cursors(
        &self,
        peer: &str,
        acked: &BTreeMap<String, i64>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let current = self.cursors(peer).await?;
        let forward: BTreeMap<String, i64> = acked
            .iter()
            .filter(|(origin, seq)| current.get(*origin).is_none_or(|old| old < *seq))
            .map(|(origin, seq)| (origin.clone(), *seq))
            .collect();
        self.set_cursors(peer, &forward, at).await
    }

    /// Replaces `peer`'s cursors with what the peer reports (reconciliation after a mismatch:
    /// the peer's own high-watermarks are the truth, never a restart from zero).
    pub async fn set_cursors(
        &self,
        peer: &str,
        acked: &BTreeMap<String, i64>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        for (origin, seq) in acked {
            federation_cursors::Entity::insert(federation_cursors::ActiveModel {
                peer: Set(peer.to_owned()),
                origin: Set(origin.clone()),
                acked_seq: Set(*seq),
                updated_at: Set(at),
            })
            .on_conflict(
                OnConflict::columns([
                    federation_cursors::Column::Peer,
                    federation_cursors::Column::Origin,
                ])
                .update_columns([
                    federation_cursors::Column::AckedSeq,
                    federation_cursors::Column::UpdatedAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        }
        Ok(())
    }

    /// Records that the parent refused a batch (once per event and code while unresolved), so
    /// the refusal is visible until it is resolved. `refused_event` says whether
    /// `origin`/`seq` is the very event the parent named as invalid (only such a problem can
    /// be discarded) or just the first event of a batch refused for another reason (the
    /// node is not a child, say).
    pub async fn record_problem(
        &self,
        origin: &str,
        seq: i64,
        refused_event: bool,
        code: &str,
        detail: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let open = federation_problems::Entity::find()
            .filter(federation_problems::Column::Origin.eq(origin))
            .filter(federation_problems::Column::Seq.eq(seq))
            .filter(federation_problems::Column::Code.eq(code))
            .filter(federation_problems::Column::ResolvedAt.is_null())
            .one(&self.db)
            .await?;
        if open.is_some() {
            return Ok(());
        }
        federation_problems::Entity::insert(federation_problems::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            origin: Set(origin.to_owned()),
            seq: Set(seq),
            code: Set(code.to_owned()),
            detail: Set(detail.chars().take(2_000).collect()),
            created_at: Set(at),
            resolved_at: Set(None),
            resolution: Set(None),
            refused_event: Set(refused_event),
            outcome: Set(None),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// Marks problems resolved once the parent has acknowledged their event (after an
    /// operator fixed the cause, e.g. re-registered a signing key).
    pub async fn resolve_delivered_problems(
        &self,
        acked: &BTreeMap<String, i64>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        for (origin, seq) in acked {
            federation_problems::Entity::update_many()
                .col_expr(federation_problems::Column::ResolvedAt, Expr::value(at))
                .col_expr(
                    federation_problems::Column::Resolution,
                    Expr::value("delivered: the parent acknowledged the event"),
                )
                .col_expr(
                    federation_problems::Column::Outcome,
                    Expr::value("delivered"),
                )
                .filter(federation_problems::Column::Origin.eq(origin.as_str()))
                .filter(federation_problems::Column::Seq.lte(*seq))
                .filter(federation_problems::Column::ResolvedAt.is_null())
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }

    /// Unresolved problems, oldest first.
    pub async fn open_problems(&self) -> Result<Vec<ProblemRow>, StoreError> {
        Ok(federation_problems::Entity::find()
            .filter(federation_problems::Column::ResolvedAt.is_null())
            .order_by_asc(federation_problems::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_problem)
            .collect())
    }

    /// One problem, open or resolved, with the event it names (if held here) and the skip
    /// marker that replaced it (if it was discarded).
    pub async fn problem(&self, id: &str) -> Result<Option<ProblemDetail>, StoreError> {
        let Some(row) = federation_problems::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let event = journal_events::Entity::find_by_id((row.origin.clone(), row.seq))
            .one(&self.db)
            .await?
            .map(journal::to_event)
            .transpose()?;
        let skip = journal_skips::Entity::find_by_id((row.origin.clone(), row.seq))
            .one(&self.db)
            .await?
            .map(to_skip)
            .transpose()?;
        Ok(Some(ProblemDetail {
            problem: to_problem(row),
            event,
            skip,
        }))
    }

    /// Discards the event a problem names, in one transaction with its audit row: signs a
    /// skip marker with this node's key and journals it at the event's (origin, seq), so the
    /// push loop sends it in the event's place; the event itself stays in the journal here.
    /// The problem (and any other open problem of the same event) is resolved as discarded.
    pub async fn discard_problem(
        &self,
        id: &str,
        reason: &str,
        actor: &str,
        at: OffsetDateTime,
        audit_entry: AuditEntry,
    ) -> Result<SkipOut, DiscardError> {
        let journal = self
            .journal
            .get()
            .ok_or_else(|| StoreError::Corrupt("journal not enabled".into()))?;
        let mut head = self.audit_head.lock().await;
        let txn = self.begin_write().await?;
        let done: Result<(SkipOut, audit::ChainHead), DiscardError> = async {
            let row = federation_problems::Entity::find_by_id(id.to_owned())
                .one(&txn)
                .await?
                .ok_or(DiscardError::NotFound)?;
            if row.resolved_at.is_some() {
                return Err(DiscardError::Resolved {
                    outcome: row.outcome.unwrap_or_else(|| "resolved".to_owned()),
                });
            }
            if !row.refused_event {
                return Err(DiscardError::NotAnEvent);
            }
            if journal_skips::Entity::find_by_id((row.origin.clone(), row.seq))
                .one(&txn)
                .await?
                .is_some()
            {
                return Err(DiscardError::Resolved {
                    outcome: "discarded".to_owned(),
                });
            }
            let acked = federation_cursors::Entity::find_by_id((
                crate::federation::outbox::PARENT.to_owned(),
                row.origin.clone(),
            ))
            .one(&txn)
            .await?
            .map_or(0, |cursor| cursor.acked_seq);
            if acked >= row.seq {
                return Err(DiscardError::Resolved {
                    outcome: "delivered".to_owned(),
                });
            }
            let event = journal_events::Entity::find_by_id((row.origin.clone(), row.seq))
                .one(&txn)
                .await?
                .map(journal::to_event)
                .transpose()?
                .ok_or(DiscardError::EventNotHeld)?;
            let me = journal.origin().to_string();
            let discarded = crate::federation::journal::signing_bytes(
                EventHeader {
                    origin: &event.origin,
                    seq: event.seq,
                    record_id: event.record_id,
                    record_version: event.record_version,
                    change_kind: &event.change_kind,
                },
                &event.payload,
            );
            let marker = SkipMarker {
                origin: event.origin.clone(),
                seq: event.seq,
                record_id: event.record_id,
                record_version: event.record_version,
                discarded_change_kind: event.change_kind.clone(),
                discarded_event_sha256: hex::encode(sha2::Sha256::digest(&discarded)),
                reason: reason.to_owned(),
                discarded_by: me.clone(),
                actor: actor.to_owned(),
                discarded_at: at
                    .format(&time::format_description::well_known::Rfc3339)
                    .map_err(|_| StoreError::Corrupt("discard time".into()))?,
            };
            let payload = serde_json::to_string(&marker)
                .map_err(|_| StoreError::Corrupt("skip marker".into()))?;
            let header = EventHeader {
                origin: &event.origin,
                seq: event.seq,
                record_id: event.record_id,
                record_version: event.record_version,
                change_kind: DISCARDED,
            };
            let signature =
                journal
                    .signer()
                    .sign(&crate::federation::journal::stream_signing_bytes(
                        Stream::Skips,
                        header,
                        &payload,
                    ));
            journal_skips::Entity::insert(journal_skips::ActiveModel {
                origin: Set(event.origin.clone()),
                seq: Set(event.seq),
                record_id: Set(event.record_id.to_string()),
                record_version: Set(event.record_version),
                signer_region: Set(me),
                payload: Set(payload),
                signature: Set(signature.clone()),
                signer_key: Set(journal.signer().public_key_b64().to_owned()),
                journaled_at: Set(at),
            })
            .exec_without_returning(&txn)
            .await?;
            federation_problems::Entity::update_many()
                .col_expr(federation_problems::Column::ResolvedAt, Expr::value(at))
                .col_expr(
                    federation_problems::Column::Resolution,
                    Expr::value(format!("discarded by {actor}: {reason}")),
                )
                .col_expr(
                    federation_problems::Column::Outcome,
                    Expr::value("discarded"),
                )
                .filter(federation_problems::Column::Origin.eq(row.origin.as_str()))
                .filter(federation_problems::Column::Seq.eq(row.seq))
                .filter(federation_problems::Column::ResolvedAt.is_null())
                .exec(&txn)
                .await?;
            let mut entry = audit_entry;
            entry.detail = format!(
                "problem={id} event={}/{} record={} version={} reason={reason}",
                event.origin, event.seq, event.record_id, event.record_version
            );
            let new_head = audit::insert_after(&txn, &head, at, &entry).await?;
            Ok((
                SkipOut {
                    marker,
                    signature,
                    signer_key: journal.signer().public_key_b64().to_owned(),
                },
                new_head,
            ))
        }
        .await;
        match done {
            Ok((out, new_head)) => {
                txn.commit().await?;
                *head = new_head;
                metrics::counter!("integrity_federation_discarded_events_total").increment(1);
                Ok(out)
            }
            Err(error) => {
                let _ = txn.rollback().await;
                Err(error)
            }
        }
    }

    /// The newest skip markers held here (discarded here, or received from below), newest
    /// first.
    pub async fn recent_skips(&self, limit: u64) -> Result<Vec<SkipOut>, StoreError> {
        journal_skips::Entity::find()
            .order_by_desc(journal_skips::Column::JournaledAt)
            .order_by_desc(journal_skips::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_skip)
            .collect()
    }

    /// Which of `origin`'s sequence numbers in `seqs` are skip markers here.
    pub async fn skipped_seqs(
        &self,
        origin: &str,
        seqs: &[i64],
    ) -> Result<std::collections::BTreeSet<i64>, StoreError> {
        let mut out = std::collections::BTreeSet::new();
        for chunk in seqs.chunks(500) {
            let found: Vec<i64> = journal_skips::Entity::find()
                .select_only()
                .column(journal_skips::Column::Seq)
                .filter(journal_skips::Column::Origin.eq(origin))
                .filter(journal_skips::Column::Seq.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(&self.db)
                .await?;
            out.extend(found);
        }
        Ok(out)
    }

    /// The journal of `origin` as it goes up, for seq in (`after`, `after` + `limit`]: each
    /// seq's event, or its skip marker where there is one (a skip marker replaces the event
    /// it discards). Events and markers are gap-free together, so this is a range read.
    pub async fn outgoing_events(
        &self,
        origin: &str,
        after: i64,
        limit: u64,
    ) -> Result<Vec<journal::JournalEvent>, StoreError> {
        let upto = after.saturating_add(i64::try_from(limit).unwrap_or(i64::MAX));
        let events = journal_events::Entity::find()
            .filter(journal_events::Column::Origin.eq(origin))
            .filter(journal_events::Column::Seq.gt(after))
            .filter(journal_events::Column::Seq.lte(upto))
            .order_by_asc(journal_events::Column::Seq)
            .all(&self.db)
            .await?;
        let skips = journal_skips::Entity::find()
            .filter(journal_skips::Column::Origin.eq(origin))
            .filter(journal_skips::Column::Seq.gt(after))
            .filter(journal_skips::Column::Seq.lte(upto))
            .all(&self.db)
            .await?;
        if skips.is_empty() {
            return events.into_iter().map(journal::to_event).collect();
        }
        let mut merged: BTreeMap<i64, journal::JournalEvent> = BTreeMap::new();
        for row in events {
            merged.insert(row.seq, journal::to_event(row)?);
        }
        for row in skips {
            let skip = skip_event(row)?;
            merged.insert(skip.seq, skip);
        }
        Ok(merged.into_values().collect())
    }

    /// Events to send next: for each origin, those after `acked`, oldest first, at most
    /// `limit` in all. Corrections and revocations are not held back behind creations of
    /// other origins because every origin gets its share of the batch.
    pub async fn pending_events(
        &self,
        acked: &BTreeMap<String, i64>,
        limit: u64,
    ) -> Result<Vec<journal::JournalEvent>, StoreError> {
        let held = self.journal_heads();
        let behind: Vec<(&String, i64)> = held
            .iter()
            .filter_map(|(origin, hwm)| {
                let acked = acked.get(origin).copied().unwrap_or(0);
                (acked < *hwm).then_some((origin, acked))
            })
            .collect();
        let mut out = Vec::new();
        if behind.is_empty() {
            return Ok(out);
        }
        let share = (limit / behind.len() as u64).max(1);
        for (origin, acked) in behind {
            out.extend(self.outgoing_events(origin, acked, share).await?);
        }
        Ok(out)
    }

    /// Changes to existing records (every kind but `created`) per origin with a seq after
    /// `from` (missing origins: after 0) up to the head held, oldest first, at most `limit`
    /// in all. Also returns, per origin searched, how far the search got, so that the next
    /// call starts there: every journal row is searched once.
    pub async fn pending_priority_events(
        &self,
        from: &BTreeMap<String, i64>,
        limit: u64,
    ) -> Result<(Vec<journal::JournalEvent>, BTreeMap<String, i64>), StoreError> {
        let mut out = Vec::new();
        let mut scanned_to = BTreeMap::new();
        for (origin, head) in self.journal_heads() {
            let after = from.get(&origin).copied().unwrap_or(0);
            let remaining = limit.saturating_sub(out.len() as u64);
            if after >= head || remaining == 0 {
                continue;
            }
            let rows = journal_events::Entity::find()
                .filter(journal_events::Column::Origin.eq(origin.as_str()))
                .filter(journal_events::Column::Seq.gt(after))
                .filter(journal_events::Column::Seq.lte(head))
                .filter(journal_events::Column::ChangeKind.ne(ChangeKind::Created.as_str()))
                .order_by_asc(journal_events::Column::Seq)
                .limit(remaining)
                .all(&self.db)
                .await?;
            let reached = if rows.len() as u64 == remaining {
                rows.last().map_or(head, |row| row.seq)
            } else {
                head
            };
            let seqs: Vec<i64> = rows.iter().map(|row| row.seq).collect();
            let skipped = self.skipped_seqs(&origin, &seqs).await?;
            scanned_to.insert(origin, reached);
            for row in rows {
                // A discarded event never goes up, not even ahead of its turn.
                if !skipped.contains(&row.seq) {
                    out.push(journal::to_event(row)?);
                }
            }
        }
        Ok((out, scanned_to))
    }
}
