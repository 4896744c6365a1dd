//! Persistence of the hash-chained audit trail (format in `crate::audit`).

use sea_orm::{
    ActiveValue::Set, ConnectionTrait, EntityTrait, PaginatorTrait, QueryOrder, QuerySelect,
};
use time::OffsetDateTime;

use super::entities::audit_log;
use super::{Store, StoreError};
use crate::audit::{AuditEntry, AuditRow, ChainError, ChainVerifier, GENESIS_HASH, row_hash};

/// The last row of the chain, kept in memory so appending needs no read.
#[derive(Clone, Debug)]
pub struct ChainHead {
    /// Seq of the last row (0 when empty).
    pub seq: i64,
    /// Hash of the last row ([`GENESIS_HASH`] when empty).
    pub hash: String,
}

impl ChainHead {
    /// The head of an empty chain.
    pub fn genesis() -> Self {
        Self {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }
}

pub(super) async fn read_head(db: &impl ConnectionTrait) -> Result<ChainHead, StoreError> {
    let last = audit_log::Entity::find()
        .order_by_desc(audit_log::Column::Seq)
        .one(db)
        .await?;
    Ok(match last {
        Some(row) => ChainHead {
            seq: row.seq,
            hash: row.hash,
        },
        None => ChainHead::genesis(),
    })
}

/// Inserts one row after `head` on `db` (usually a transaction) and returns the new head. The
/// caller commits and then stores the new head.
pub(super) async fn insert_after(
    db: &impl ConnectionTrait,
    head: &ChainHead,
    at: OffsetDateTime,
    entry: &AuditEntry,
) -> Result<ChainHead, StoreError> {
    // The head is read again inside the caller's transaction rather than trusted from memory:
    // another process (the `keys` CLI, `migrate`) may have appended since. The in-memory head
    // only serialises this process's writers; two processes racing collide on the primary key
    // and one of them answers 409 and is retried, the chain never forks.
    let current = read_head(db).await?;
    if current.seq != head.seq {
        tracing::debug!(
            audit.memory_seq = head.seq,
            audit.stored_seq = current.seq,
            "audit head moved outside this process"
        );
    }
    let head = &current;
    // The hash must cover exactly what the database keeps (microseconds on PostgreSQL).
    let at = crate::domain::clock::to_micros(at);
    let seq = head.seq + 1;
    let hash = row_hash(seq, at, entry, &head.hash);
    audit_log::Entity::insert(audit_log::ActiveModel {
        seq: Set(seq),
        at: Set(at),
        actor_kind: Set(entry.actor_kind.clone()),
        actor_id: Set(entry.actor_id.clone()),
        action: Set(entry.action.clone()),
        resource: Set(entry.resource.clone()),
        outcome: Set(entry.outcome.clone()),
        request_id: Set(entry.request_id.clone()),
        detail: Set(entry.detail.clone()),
        prev_hash: Set(head.hash.clone()),
        hash: Set(hash.clone()),
    })
    .exec(db)
    .await?;
    Ok(ChainHead { seq, hash })
}

fn to_row(model: audit_log::Model) -> AuditRow {
    AuditRow {
        seq: model.seq,
        at: model.at,
        entry: AuditEntry {
            actor_kind: model.actor_kind,
            actor_id: model.actor_id,
            action: model.action,
            resource: model.resource,
            outcome: model.outcome,
            request_id: model.request_id,
            detail: model.detail,
        },
        prev_hash: model.prev_hash,
        hash: model.hash,
    }
}

/// Result of verifying the whole chain.
#[derive(Debug)]
pub struct VerifyReport {
    /// Rows that verified before the first problem (or all of them).
    pub verified: i64,
    /// The first problem, if any.
    pub first_error: Option<ChainError>,
}

impl Store {
    /// Appends an audit entry on its own (for reads, which have no data transaction).
    pub async fn audit(&self, at: OffsetDateTime, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut head = self.audit_head.lock().await;
        let new_head = insert_after(&self.db, &head, at, entry).await?;
        *head = new_head;
        Ok(())
    }

    /// Walks the chain in pages and reports the first broken row.
    pub async fn verify_audit_chain(&self) -> Result<VerifyReport, StoreError> {
        const PAGE: u64 = 5_000;
        let mut verifier = ChainVerifier::default();
        let mut pages = audit_log::Entity::find()
            .order_by_asc(audit_log::Column::Seq)
            .paginate(&self.db, PAGE);
        while let Some(rows) = pages.fetch_and_next().await? {
            for model in rows {
                if let Err(error) = verifier.check(&to_row(model)) {
                    return Ok(VerifyReport {
                        verified: verifier.verified(),
                        first_error: Some(error),
                    });
                }
            }
        }
        Ok(VerifyReport {
            verified: verifier.verified(),
            first_error: None,
        })
    }

    /// The most recent audit rows, newest first (for supervisors and tests).
    pub async fn recent_audit(&self, limit: u64) -> Result<Vec<AuditRow>, StoreError> {
        Ok(audit_log::Entity::find()
            .order_by_desc(audit_log::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_row)
            .collect())
    }
}
