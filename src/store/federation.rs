//! Applying events received from children, and the child's per-origin cursors.
//!
//! Invariant: a parent applies an origin's events strictly in sequence (seq = high-watermark +
//! 1), each at most once (the journal's primary key is (origin, seq)), and a record never goes
//! back to an older version (an event for a version not newer than the stored one only joins
//! the journal). Each batch commits as a whole with its audit row.

use std::collections::{BTreeMap, HashMap};

use sea_orm::sea_query::{Expr, Func, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect, TransactionTrait,
};
use time::OffsetDateTime;

use super::entities::{
    federation_cursors, federation_peer_keys, federation_problems, journal_events, record_versions,
    records,
};
use super::{Store, StoreError, audit, journal};
use crate::audit::AuditEntry;
use crate::domain::region::RegionCode;
use crate::federation::journal::{EventHeader, verify};
use crate::federation::wire::{BatchAck, WireEvent};

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

async fn high_watermark(db: &impl ConnectionTrait, origin: &str) -> Result<i64, StoreError> {
    let last: Option<Option<i64>> = journal_events::Entity::find()
        .select_only()
        .column_as(
            Expr::expr(Func::max(Expr::col(journal_events::Column::Seq))),
            "last",
        )
        .filter(journal_events::Column::Origin.eq(origin))
        .into_tuple()
        .one(db)
        .await?;
    Ok(last.flatten().unwrap_or(0))
}

fn malformed(event: &WireEvent, reason: &'static str) -> ApplyError {
    ApplyError::Malformed {
        origin: event.origin.clone(),
        seq: event.seq,
        reason,
    }
}

impl Store {
    /// Applies a batch pushed by the child `sender` (already authenticated by its certificate).
    pub async fn apply_events(
        &self,
        me: RegionCode,
        sender: RegionCode,
        events: Vec<WireEvent>,
        at: OffsetDateTime,
        audit_entry: AuditEntry,
    ) -> Result<BatchAck, ApplyError> {
        let mut head = self.audit_head.lock().await;
        let txn = self.db.begin().await?;
        // Run the batch inside a block so that any refusal rolls the transaction back
        // explicitly (a dropped transaction would hold SQLite's write lock until the pool
        // gets round to rolling it back).
        let applied: Result<(BatchAck, AuditEntry), ApplyError> = async {
            let mut watermarks: BTreeMap<String, i64> = BTreeMap::new();
            let mut pinned: HashMap<String, Option<String>> = HashMap::new();
            let mut ack = BatchAck::default();
            let mut to_journal = Vec::new();
            for event in events {
                let origin = RegionCode::parse(&event.origin)
                    .map_err(|_| malformed(&event, "origin is not a region code"))?;
                if origin == me || !sender.is_same_or_ancestor_of(origin) {
                    return Err(ApplyError::OutOfScope {
                        origin: event.origin.clone(),
                        seq: event.seq,
                        sender: sender.to_string(),
                    });
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
                if !pinned.contains_key(&event.origin) {
                    let key = federation_peer_keys::Entity::find_by_id(event.origin.clone())
                        .one(&txn)
                        .await?
                        .map(|row| row.signer_key);
                    pinned.insert(event.origin.clone(), key);
                }
                match pinned.get(&event.origin).cloned().flatten() {
                    Some(key) if key != event.signer_key => {
                        return Err(ApplyError::BadSignature {
                            origin: event.origin.clone(),
                            seq: event.seq,
                            reason: "signed with a key other than the one pinned for this origin",
                        });
                    }
                    Some(_) => {}
                    None => {
                        // Trust on first use, over a channel already authenticated by the
                        // federation CA; later events from this origin must use the same key.
                        federation_peer_keys::Entity::insert(federation_peer_keys::ActiveModel {
                            origin: Set(event.origin.clone()),
                            signer_key: Set(event.signer_key.clone()),
                            first_seen_at: Set(at),
                        })
                        .exec_without_returning(&txn)
                        .await?;
                        pinned.insert(event.origin.clone(), Some(event.signer_key.clone()));
                    }
                }
                let hwm = match watermarks.get(&event.origin) {
                    Some(hwm) => *hwm,
                    None => high_watermark(&txn, &event.origin).await?,
                };
                if event.seq <= hwm {
                    ack.duplicates += 1;
                    watermarks.insert(event.origin.clone(), hwm);
                    continue;
                }
                if event.seq != hwm + 1 {
                    return Err(ApplyError::OutOfOrder {
                        origin: event.origin.clone(),
                        seq: event.seq,
                        expected: hwm + 1,
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
                let stored = records::Entity::find_by_id(model.id.clone())
                    .one(&txn)
                    .await?;
                match stored {
                    None => {
                        records::Entity::insert(model.clone().into_active_model())
                            .exec_without_returning(&txn)
                            .await?;
                    }
                    Some(stored) if stored.version < model.version => {
                        records::Entity::update(model.clone().into_active_model().reset_all())
                            .exec(&txn)
                            .await?;
                    }
                    // Never back to an older version.
                    Some(_) => {}
                }
                record_versions::Entity::insert(record_versions::ActiveModel {
                    record_id: Set(model.id.clone()),
                    version: Set(model.version),
                    change_kind: Set(event.change_kind.clone()),
                    reason: Set(None),
                    actor: Set(format!("origin:{}", event.origin)),
                    at: Set(model.updated_at),
                    snapshot: Set(
                        serde_json::to_value(&model).map_err(|_| malformed(&event, "payload"))?
                    ),
                })
                .on_conflict(
                    OnConflict::columns([
                        record_versions::Column::RecordId,
                        record_versions::Column::Version,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .or_else(|error| match error {
                    sea_orm::DbErr::RecordNotInserted => Ok(0),
                    other => Err(other),
                })?;
                to_journal.push(journal_events::ActiveModel {
                    origin: Set(event.origin.clone()),
                    seq: Set(event.seq),
                    record_id: Set(model.id.clone()),
                    record_version: Set(event.record_version),
                    change_kind: Set(event.change_kind.clone()),
                    payload: Set(event.payload),
                    signature: Set(event.signature),
                    signer_key: Set(event.signer_key),
                    journaled_at: Set(at),
                });
                watermarks.insert(event.origin.clone(), event.seq);
                ack.applied += 1;
            }
            journal::insert_events(&txn, to_journal).await?;
            let mut entry = audit_entry;
            entry.detail = format!("applied={} duplicates={}", ack.applied, ack.duplicates);
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
        txn.commit().await?;
        *head = new_head;
        for (origin, seq) in &ack.high_watermarks {
            self.journal_committed(origin, *seq);
        }
        Ok(ack)
    }

    /// The highest contiguous sequence number held for each origin in the journal.
    pub async fn journal_watermarks(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        let rows: Vec<(String, Option<i64>)> = journal_events::Entity::find()
            .select_only()
            .column(journal_events::Column::Origin)
            .column_as(
                Expr::expr(Func::max(Expr::col(journal_events::Column::Seq))),
                "last",
            )
            .group_by(journal_events::Column::Origin)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(origin, last)| (origin, last.unwrap_or(0)))
            .collect())
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

    /// Records that the parent refused the batch starting at `origin`/`seq` (once per event
    /// and code while unresolved), so the refusal is visible until an operator resolves it.
    pub async fn record_problem(
        &self,
        origin: &str,
        seq: i64,
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
                .filter(federation_problems::Column::Origin.eq(origin.as_str()))
                .filter(federation_problems::Column::Seq.lte(*seq))
                .filter(federation_problems::Column::ResolvedAt.is_null())
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }

    /// Unresolved problems: (origin, seq, code, detail), oldest first.
    pub async fn open_problems(&self) -> Result<Vec<(String, i64, String, String)>, StoreError> {
        Ok(federation_problems::Entity::find()
            .filter(federation_problems::Column::ResolvedAt.is_null())
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| (row.origin, row.seq, row.code, row.detail))
            .collect())
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
            out.extend(self.journal_events(origin, acked, share).await?);
        }
        Ok(out)
    }
}
