//! List entries and the downward journal of list changes.
//!
//! Invariants:
//! - Every change to an entry issued here gets the next gap-free sequence number of this node
//!   as issuer (its *epoch*), is signed, and commits with the entry and its audit row.
//! - A node applies an issuer's changes strictly in sequence, each at most once, a page at a
//!   time in one transaction: after any commit it holds exactly the issuer's lists at one epoch.
//! - An entry never goes back to an older version.
//! - Changes are stored as signed and relayed unchanged, so every level can verify them.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::entities::{
    federation_peer_keys, list_changes, list_cursors, list_entries, list_snapshot_staging, records,
};
use super::federation::ApplyError;
use super::{Store, StoreError, audit};
use crate::audit::AuditEntry;
use crate::domain::lists::{EntryEnd, EntryStatus, ListChangeKind, ListEntry};
use crate::domain::region::RegionCode;
use crate::federation::journal::{EventHeader, Stream, stream_signing_bytes, verify_stream};
use crate::federation::wire::{ListSnapshotPage, WireListChange};

/// Rows per INSERT (at most 14 columns: far below both backends' parameter limits).
const INSERT_CHUNK: usize = 1_000;

/// Why ending an entry failed.
#[derive(Debug, thiserror::Error)]
pub enum EndError {
    /// No such entry (or not issued by this authority here).
    #[error("not found")]
    NotFound,
    /// The entry was issued at another node; only its issuer can change it.
    #[error("issued by node {issuer}")]
    IssuedElsewhere {
        /// The issuing node's region.
        issuer: String,
    },
    /// The entry was issued by another authority.
    #[error("issued by another authority")]
    OtherAuthority,
    /// The entry cannot end as asked.
    #[error("{0:?}")]
    Invalid(crate::domain::record::FieldError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for EndError {
    fn from(error: sea_orm::DbErr) -> Self {
        EndError::Store(error.into())
    }
}

/// Filters of an entry listing.
#[derive(Clone, Debug, Default)]
pub struct EntryFilter {
    /// Only this subject code.
    pub subject: Option<String>,
    /// Only this status.
    pub status: Option<EntryStatus>,
    /// Only entries issued at this node.
    pub issuer: Option<String>,
}

/// What a node holds of one list from one issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListHolding {
    /// List code.
    pub list: String,
    /// Issuing node.
    pub issuer: String,
    /// The issuer's epoch of the newest change of this list held here.
    pub epoch: i64,
    /// Entries by status.
    pub active: u64,
    /// Ended entries.
    pub ended: u64,
    /// Withdrawn entries.
    pub withdrawn: u64,
}

/// How far this node has applied an issuer's changes, and what its parent last said it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListCursor {
    /// Issuing node.
    pub issuer: String,
    /// Highest sequence number applied here.
    pub held: i64,
    /// Highest sequence number the parent reported.
    pub parent: i64,
    /// When the parent last answered.
    pub updated_at: OffsetDateTime,
    /// The epoch of the snapshot this node's copy starts from (0: it holds every change from
    /// the first). Changes can be served to children from here on only.
    pub base: i64,
}

fn to_entry(row: &list_entries::Model) -> Result<ListEntry, StoreError> {
    entry_from_payload(&row.payload)
}

/// An entry from its stored payload (the whole signed entry, as JSON).
fn entry_from_payload(payload: &str) -> Result<ListEntry, StoreError> {
    serde_json::from_str(payload).map_err(|_| StoreError::Corrupt("list entry".into()))
}

/// The narrow columns the match index is built from: names (subject name first, then former
/// names, `'\n'`-separated), measure codes (`','`-separated) and the legal representative's ID.
pub(super) fn index_columns(entry: &ListEntry) -> (String, String, Option<String>) {
    (
        std::iter::once(entry.subject_name.as_str())
            .chain(entry.former_names.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        entry.measures.join(","),
        entry
            .legal_representative
            .as_ref()
            .and_then(|rep| rep.id_number.clone()),
    )
}

fn entry_row(entry: &ListEntry, seq: i64, payload: String) -> list_entries::ActiveModel {
    let (names, measures, rep_id) = index_columns(entry);
    list_entries::ActiveModel {
        id: Set(entry.id.to_string()),
        list_code: Set(entry.list.clone()),
        issuer_region: Set(entry.issuer_region.clone()),
        version: Set(entry.version),
        seq: Set(seq),
        subject_code: Set(entry.subject_code.clone()),
        subject_kind: Set(entry.subject_kind.clone()),
        subject_name: Set(entry.subject_name.clone()),
        document_no: Set(entry.document_no.clone()),
        status: Set(entry.status.as_str().to_owned()),
        effective_from: Set(entry.effective_from),
        effective_to: Set(entry.effective_to),
        names: Set(names),
        measures: Set(measures),
        rep_id: Set(rep_id),
        payload: Set(payload),
        updated_at: Set(entry.updated_at),
    }
}

fn change_row(change: WireListChange, at: OffsetDateTime) -> list_changes::ActiveModel {
    list_changes::ActiveModel {
        issuer: Set(change.issuer),
        seq: Set(change.seq),
        list_code: Set(change.list),
        entry_id: Set(change.entry_id.to_string()),
        entry_version: Set(change.entry_version),
        change_kind: Set(change.change_kind),
        payload: Set(change.payload),
        signature: Set(change.signature),
        signer_key: Set(change.signer_key),
        received_at: Set(at),
    }
}

fn to_wire(row: list_changes::Model) -> Result<WireListChange, StoreError> {
    Ok(WireListChange {
        entry_id: Uuid::parse_str(&row.entry_id)
            .map_err(|_| StoreError::Corrupt("list change entry id".into()))?,
        issuer: row.issuer,
        seq: row.seq,
        list: row.list_code,
        entry_version: row.entry_version,
        change_kind: row.change_kind,
        payload: row.payload,
        signature: row.signature,
        signer_key: row.signer_key,
    })
}

async fn issuer_head(db: &impl ConnectionTrait, issuer: &str) -> Result<i64, StoreError> {
    Ok(super::max_seq_per::<list_changes::Entity>(
        db,
        list_changes::Column::Issuer,
        list_changes::Column::Seq,
        Some(issuer),
    )
    .await?
    .get(issuer)
    .copied()
    .unwrap_or(0))
}

async fn insert_chunked<A, E>(db: &impl ConnectionTrait, rows: Vec<A>) -> Result<(), StoreError>
where
    A: ActiveModelTrait<Entity = E> + Send,
    E: EntityTrait,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(INSERT_CHUNK).collect();
        E::insert_many(chunk).exec_without_returning(db).await?;
    }
    Ok(())
}

fn malformed(change: &WireListChange, reason: &'static str) -> ApplyError {
    ApplyError::Malformed {
        origin: change.issuer.clone(),
        seq: change.seq,
        reason,
    }
}

/// Checks one list change received from `parent` without the database: the issuer is a
/// strict ancestor of `me`, the change kind is known, the signature verifies over the header
/// and payload, and the payload is an entry matching the signed header.
fn check_change(
    me: RegionCode,
    parent: RegionCode,
    change: &WireListChange,
) -> Result<ListEntry, ApplyError> {
    let issuer = RegionCode::parse(&change.issuer)
        .map_err(|_| malformed(change, "issuer is not a region code"))?;
    if issuer == me || !issuer.is_same_or_ancestor_of(me) {
        return Err(ApplyError::OutOfScope {
            origin: change.issuer.clone(),
            seq: change.seq,
            sender: parent.to_string(),
        });
    }
    let kind = ListChangeKind::parse(&change.change_kind)
        .ok_or_else(|| malformed(change, "unknown change kind"))?;
    let header = EventHeader {
        origin: &change.issuer,
        seq: change.seq,
        record_id: change.entry_id,
        record_version: change.entry_version,
        change_kind: &change.change_kind,
    };
    if !verify_stream(
        Stream::Lists,
        &change.signer_key,
        header,
        &change.payload,
        &change.signature,
    ) {
        return Err(ApplyError::BadSignature {
            origin: change.issuer.clone(),
            seq: change.seq,
            reason: "signature does not verify",
        });
    }
    let entry: ListEntry = serde_json::from_str(&change.payload)
        .map_err(|_| malformed(change, "payload is not a list entry"))?;
    let expected_status = match kind {
        ListChangeKind::Issued => EntryStatus::Active,
        ListChangeKind::Ended => EntryStatus::Ended,
        ListChangeKind::Withdrawn => EntryStatus::Withdrawn,
    };
    if entry.id != change.entry_id
        || entry.version != change.entry_version
        || entry.issuer_region != change.issuer
        || entry.list != change.list
        || entry.status != expected_status
    {
        return Err(malformed(
            change,
            "payload does not match the signed header",
        ));
    }
    Ok(entry)
}

impl Store {
    /// A receiver that sees a new value after every committed list change (issued here or
    /// replicated): long-polling children and the match index wait on it.
    pub fn subscribe_lists(&self) -> tokio::sync::watch::Receiver<u64> {
        self.lists_version.subscribe()
    }

    /// Wakes every waiting long poll (they re-read and answer): used at shutdown so that
    /// children's open pulls do not hold the graceful shutdown for their whole wait.
    pub fn wake_list_waiters(&self) {
        self.lists_changed();
    }

    fn lists_changed(&self) {
        self.lists_version.send_modify(|version| *version += 1);
    }

    /// Signs and stores one change of an entry issued here, with the entry and the audit row;
    /// returns the change's sequence number in the issuer's stream.
    async fn commit_own_change(
        &self,
        entry: &ListEntry,
        kind: ListChangeKind,
        at: OffsetDateTime,
        audit_entry: &AuditEntry,
        existing: bool,
    ) -> Result<i64, StoreError> {
        let journal = self
            .journal
            .get()
            .ok_or_else(|| StoreError::Corrupt("journal not enabled".into()))?;
        let mut head = self.audit_head.lock().await;
        let txn = self.begin_write().await?;
        let written: Result<(audit::ChainHead, i64), StoreError> = async {
            let issuer = entry.issuer_region.clone();
            let seq = issuer_head(&txn, &issuer).await? + 1;
            let payload = serde_json::to_string(entry)
                .map_err(|_| StoreError::Corrupt("list entry".into()))?;
            let header = EventHeader {
                origin: &issuer,
                seq,
                record_id: entry.id,
                record_version: entry.version,
                change_kind: kind.as_str(),
            };
            let signature =
                journal
                    .signer()
                    .sign(&stream_signing_bytes(Stream::Lists, header, &payload));
            let row = entry_row(entry, seq, payload.clone());
            if existing {
                // Guarded on the version read by the caller: a concurrent change loses.
                let updated = list_entries::Entity::update_many()
                    .set(row.into_active_model())
                    .filter(list_entries::Column::Id.eq(entry.id.to_string()))
                    .filter(list_entries::Column::Version.eq(entry.version - 1))
                    .exec(&txn)
                    .await?;
                if updated.rows_affected != 1 {
                    return Err(StoreError::VersionMismatch {
                        expected: entry.version - 1,
                        current: entry.version,
                    });
                }
            } else {
                list_entries::Entity::insert(row)
                    .exec_without_returning(&txn)
                    .await?;
            }
            list_changes::Entity::insert(change_row(
                WireListChange {
                    issuer: issuer.clone(),
                    seq,
                    list: entry.list.clone(),
                    entry_id: entry.id,
                    entry_version: entry.version,
                    change_kind: kind.as_str().to_owned(),
                    payload,
                    signature,
                    signer_key: journal.signer().public_key_b64().to_owned(),
                },
                at,
            ))
            .exec_without_returning(&txn)
            .await?;
            Ok((
                audit::insert_after(&txn, &head, at, audit_entry).await?,
                seq,
            ))
        }
        .await;
        match written {
            Ok((new_head, seq)) => {
                txn.commit().await?;
                *head = new_head;
                drop(head);
                self.lists_changed();
                Ok(seq)
            }
            Err(error) => {
                let _ = txn.rollback().await;
                Err(error)
            }
        }
    }

    /// Issues an entry (version 1, issued at this node). Idempotent on (list, subject,
    /// document number): a replay returns the stored entry and `None`; a new entry returns
    /// the sequence number of its change.
    pub async fn issue_list_entry(
        &self,
        entry: ListEntry,
        at: OffsetDateTime,
        audit_entry: AuditEntry,
    ) -> Result<(ListEntry, Option<i64>), StoreError> {
        let existing = list_entries::Entity::find()
            .filter(list_entries::Column::IssuerRegion.eq(entry.issuer_region.as_str()))
            .filter(list_entries::Column::ListCode.eq(entry.list.as_str()))
            .filter(list_entries::Column::SubjectCode.eq(entry.subject_code.as_str()))
            .filter(list_entries::Column::DocumentNo.eq(entry.document_no.as_str()))
            .one(&self.db)
            .await?;
        if let Some(row) = existing {
            return Ok((to_entry(&row)?, None));
        }
        match self
            .commit_own_change(&entry, ListChangeKind::Issued, at, &audit_entry, false)
            .await
        {
            Ok(seq) => Ok((entry, Some(seq))),
            // A concurrent replay of the same issuance won the unique index.
            Err(StoreError::Database(error)) if error.to_string().contains("uq_list_entries") => {
                Err(StoreError::Conflict("uq_list_entries_document"))
            }
            Err(StoreError::Database(error))
                if error.to_string().contains("UNIQUE constraint failed") =>
            {
                Err(StoreError::Conflict("uq_list_entries_document"))
            }
            Err(error) => Err(error),
        }
    }

    /// Ends or withdraws an entry issued at this node (`me`) by `authority_code`; returns the
    /// entry after the change and the change's sequence number.
    pub async fn end_list_entry(
        &self,
        me: RegionCode,
        id: Uuid,
        authority_code: &str,
        end: &EntryEnd,
        at: OffsetDateTime,
        audit_entry: AuditEntry,
    ) -> Result<(ListEntry, i64), EndError> {
        let row = list_entries::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .ok_or(EndError::NotFound)?;
        if row.issuer_region != me.to_string() {
            return Err(EndError::IssuedElsewhere {
                issuer: row.issuer_region,
            });
        }
        let entry = to_entry(&row)?;
        if entry.authority_code != authority_code {
            return Err(EndError::OtherAuthority);
        }
        let next = end.apply(&entry, at).map_err(EndError::Invalid)?;
        let kind = if end.withdrawn {
            ListChangeKind::Withdrawn
        } else {
            ListChangeKind::Ended
        };
        let seq = self
            .commit_own_change(&next, kind, at, &audit_entry, true)
            .await?;
        Ok((next, seq))
    }

    /// One entry.
    pub async fn list_entry(&self, id: Uuid) -> Result<Option<ListEntry>, StoreError> {
        list_entries::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .as_ref()
            .map(to_entry)
            .transpose()
    }

    /// Entries of `list` after `after` (by id, which is time-ordered), at most `limit`.
    pub async fn list_entries_page(
        &self,
        list: &str,
        filter: &EntryFilter,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<ListEntry>, StoreError> {
        let mut query =
            list_entries::Entity::find().filter(list_entries::Column::ListCode.eq(list));
        if let Some(subject) = &filter.subject {
            query = query.filter(list_entries::Column::SubjectCode.eq(subject.as_str()));
        }
        if let Some(status) = filter.status {
            query = query.filter(list_entries::Column::Status.eq(status.as_str()));
        }
        if let Some(issuer) = &filter.issuer {
            query = query.filter(list_entries::Column::IssuerRegion.eq(issuer.as_str()));
        }
        if let Some(after) = after {
            query = query.filter(list_entries::Column::Id.gt(after.to_string()));
        }
        query
            .order_by_asc(list_entries::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .iter()
            .map(to_entry)
            .collect()
    }

    /// Every entry held (for building the match index).
    pub async fn all_list_entries(&self) -> Result<Vec<ListEntry>, StoreError> {
        list_entries::Entity::find()
            .all(&self.db)
            .await?
            .iter()
            .map(to_entry)
            .collect()
    }

    /// What this node holds, per list and issuer.
    pub async fn list_holdings(&self) -> Result<Vec<ListHolding>, StoreError> {
        let rows: Vec<(String, String, String, i64, Option<i64>)> = list_entries::Entity::find()
            .select_only()
            .column(list_entries::Column::ListCode)
            .column(list_entries::Column::IssuerRegion)
            .column(list_entries::Column::Status)
            .column_as(
                Expr::expr(Func::count(Expr::col(list_entries::Column::Id))),
                "n",
            )
            .column_as(
                Expr::expr(Func::max(Expr::col(list_entries::Column::Seq))),
                "epoch",
            )
            .group_by(list_entries::Column::ListCode)
            .group_by(list_entries::Column::IssuerRegion)
            .group_by(list_entries::Column::Status)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut out: BTreeMap<(String, String), ListHolding> = BTreeMap::new();
        for (list, issuer, status, n, epoch) in rows {
            let holding = out
                .entry((list.clone(), issuer.clone()))
                .or_insert_with(|| ListHolding {
                    list,
                    issuer,
                    epoch: 0,
                    active: 0,
                    ended: 0,
                    withdrawn: 0,
                });
            holding.epoch = holding.epoch.max(epoch.unwrap_or(0));
            let n = u64::try_from(n).unwrap_or(0);
            match status.as_str() {
                "active" => holding.active += n,
                "ended" => holding.ended += n,
                _ => holding.withdrawn += n,
            }
        }
        Ok(out.into_values().collect())
    }

    /// The highest sequence number held per issuer.
    pub async fn list_heads(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        super::max_seq_per::<list_changes::Entity>(
            &self.db,
            list_changes::Column::Issuer,
            list_changes::Column::Seq,
            None,
        )
        .await
    }

    /// Changes after the child's cursors (issuers it does not mention: from the start), at
    /// most `limit`, ordered by issuer then sequence.
    pub async fn list_changes_after(
        &self,
        after: &BTreeMap<String, i64>,
        limit: u64,
    ) -> Result<(BTreeMap<String, i64>, Vec<WireListChange>), StoreError> {
        let heads = self.list_heads().await?;
        let changes = self.changes_up_to(&heads, after, limit).await?;
        Ok((heads, changes))
    }

    /// The changes of `list_changes_after`, bounded by `heads`: a page never carries an issuer
    /// or a sequence number beyond the heads reported with it (a change committed meanwhile
    /// waits for the next page), so a child's record of what its parent holds covers the page.
    async fn changes_up_to(
        &self,
        heads: &BTreeMap<String, i64>,
        after: &BTreeMap<String, i64>,
        limit: u64,
    ) -> Result<Vec<WireListChange>, StoreError> {
        let mut out = Vec::new();
        for (issuer, head) in heads {
            let from = after.get(issuer).copied().unwrap_or(0);
            let room = limit.saturating_sub(out.len() as u64);
            if from >= *head || room == 0 {
                continue;
            }
            let rows = list_changes::Entity::find()
                .filter(list_changes::Column::Issuer.eq(issuer.as_str()))
                .filter(list_changes::Column::Seq.gt(from))
                .filter(list_changes::Column::Seq.lte(*head))
                .order_by_asc(list_changes::Column::Seq)
                .limit(room)
                .all(&self.db)
                .await?;
            for row in rows {
                out.push(to_wire(row)?);
            }
        }
        Ok(out)
    }

    /// This node's cursors of its ancestors' lists.
    pub async fn list_cursors(&self) -> Result<Vec<ListCursor>, StoreError> {
        Ok(list_cursors::Entity::find()
            .order_by_asc(list_cursors::Column::Issuer)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| ListCursor {
                issuer: row.issuer,
                held: row.held_seq,
                parent: row.parent_seq,
                updated_at: row.updated_at,
                base: row.base_seq,
            })
            .collect())
    }

    /// Every entry for the match index, sent a page of at most `page` entries at a time, in
    /// no particular order (slot numbers do not depend on it), each entry once; the next page
    /// is read while the receiver works on this one. The reading stops when the receiver is
    /// dropped.
    ///
    /// On SQLite the pages are keyset pages of the covering index `ix_list_entries_match`
    /// (migration `m20261122_000009`), in `id` order: the table's rows carry the signed
    /// payload, so at ten million entries the table is 16 GB and the index about 2.5 GB. On
    /// PostgreSQL it is one streamed sequential scan of `list_entries` (one statement, so one
    /// snapshot and no entry twice): PostgreSQL keeps the ~1.6 KB signed payload inline (a
    /// row stays below its 2 KB TOAST threshold, and `toast_tuple_target` cannot lower that),
    /// and entry ids are UUIDv7 of the issuing time, not of the insertion, so paging in `id`
    /// order through the primary key read the 9 GB heap of 10 M entries in random order,
    /// ~125 MB/s from a virtual disk (89 s build). The sequential scan reads it in order.
    pub fn index_pages(
        self: &std::sync::Arc<Self>,
        page: usize,
    ) -> tokio::sync::mpsc::Receiver<Result<Vec<crate::matching::index::IndexEntry>, StoreError>>
    {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let store = self.clone();
        let page = page.max(1);
        tokio::spawn(async move {
            if store.db.get_database_backend() == sea_orm::DbBackend::Postgres {
                if let Err(error) = store.index_scan_postgres(page, &tx).await {
                    let _ = tx.send(Err(error)).await;
                }
                return;
            }
            let mut after: Option<String> = None;
            loop {
                match store.index_rows_sqlite(after.as_deref(), page as u64).await {
                    Ok((entries, next)) => {
                        // A full last page is followed by an empty one; that is not sent.
                        if !entries.is_empty() && tx.send(Ok(entries)).await.is_err() {
                            return;
                        }
                        match next {
                            Some(next) => after = Some(next),
                            None => return,
                        }
                    }
                    Err(error) => {
                        let _ = tx.send(Err(error)).await;
                        return;
                    }
                }
            }
        });
        rx
    }

    async fn index_scan_postgres(
        &self,
        page: usize,
        tx: &tokio::sync::mpsc::Sender<Result<Vec<crate::matching::index::IndexEntry>, StoreError>>,
    ) -> Result<(), StoreError> {
        use futures_util::TryStreamExt as _;
        use sea_orm::sqlx::Row as _;
        let mut rows = sea_orm::sqlx::query(
            "SELECT id, list_code, version, status, subject_code, subject_kind, names, \
             measures, rep_id, effective_from, effective_to FROM list_entries",
        )
        .fetch(self.db.get_postgres_connection_pool());
        let mut entries = Vec::with_capacity(page);
        while let Some(row) = rows.try_next().await.map_err(sqlx_error)? {
            entries.push(index_entry(IndexRow {
                id: row.try_get(0).map_err(sqlx_error)?,
                list: row.try_get(1).map_err(sqlx_error)?,
                version: row.try_get(2).map_err(sqlx_error)?,
                status: row.try_get(3).map_err(sqlx_error)?,
                subject_code: row.try_get(4).map_err(sqlx_error)?,
                subject_kind: row.try_get(5).map_err(sqlx_error)?,
                names: row.try_get(6).map_err(sqlx_error)?,
                measures: row.try_get(7).map_err(sqlx_error)?,
                rep_id: row.try_get(8).map_err(sqlx_error)?,
                from: row.try_get(9).map_err(sqlx_error)?,
                to: row.try_get(10).map_err(sqlx_error)?,
            })?);
            if entries.len() == page {
                let full = std::mem::replace(&mut entries, Vec::with_capacity(page));
                if tx.send(Ok(full)).await.is_err() {
                    return Ok(());
                }
            }
        }
        if !entries.is_empty() {
            let _ = tx.send(Ok(entries)).await;
        }
        Ok(())
    }

    /// Starts reading the covering index that [`Store::index_pages`] scans into the page cache
    /// with many reads in flight (see `store::prewarm`), for the build at start. `None` on
    /// PostgreSQL, for an in-memory database, or when the index cannot be found (the build
    /// then reads as before).
    pub async fn prewarm_match_index(&self) -> Option<super::prewarm::Prewarm> {
        if self.db.get_database_backend() != sea_orm::DbBackend::Sqlite {
            return None;
        }
        let pool = self.db.get_sqlite_connection_pool();
        let files: Vec<(i64, String, String)> = sea_orm::sqlx::query_as("PRAGMA database_list")
            .fetch_all(pool)
            .await
            .ok()?;
        let file = files
            .into_iter()
            .find(|(_, name, _)| name == "main")
            .map(|(_, _, file)| file)
            .filter(|file| !file.is_empty())?;
        let (root,): (i64,) = sea_orm::sqlx::query_as(
            "SELECT rootpage FROM sqlite_schema WHERE type = 'index' AND name = 'ix_list_entries_match'",
        )
        .fetch_optional(pool)
        .await
        .ok()??;
        let root = u32::try_from(root).ok()?;
        super::prewarm::Prewarm::start(file.into(), root, super::prewarm::page_cache_budget())
            .map_err(|error| tracing::warn!(error = %error, "could not start reading the match index ahead"))
            .ok()
    }

    /// One keyset page of the covering index after the entry id `after`, at most `limit`
    /// entries, and the id the next page starts after (`None` after the last page).
    async fn index_rows_sqlite(
        &self,
        after: Option<&str>,
        limit: u64,
    ) -> Result<(Vec<crate::matching::index::IndexEntry>, Option<String>), StoreError> {
        // The whole page comes back as one JSON array of row arrays, built by SQLite: sqlx's
        // SQLite driver hands every result row from its worker thread to the async side as a
        // message of its own, about 9 µs a row, which at ten million entries was longer than
        // the whole build may take. One value per page costs SQLite about a microsecond a row
        // and serde_json less. `INDEXED BY` so that the planner never falls back to the table
        // (an error instead if the index were missing, which the migrations rule out).
        let page: Option<String> = sea_orm::sqlx::query_scalar(
            "SELECT json_group_array(json_array(id, list_code, version, status, subject_code, \
             subject_kind, names, measures, rep_id, effective_from, effective_to)) \
             FROM (SELECT * FROM list_entries INDEXED BY ix_list_entries_match \
             WHERE id > ? ORDER BY id LIMIT ?)",
        )
        .bind(after.unwrap_or(""))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_one(self.db.get_sqlite_connection_pool())
        .await
        .map_err(sqlx_error)?;
        let page = page.unwrap_or_else(|| "[]".to_owned());
        let rows: Vec<JsonIndexRow<'_>> = serde_json::from_str(&page)
            .map_err(|error| StoreError::Corrupt(format!("a page of list entries: {error}")))?;
        let date = time::macros::format_description!("[year]-[month]-[day]");
        let day = |text: &str| {
            time::Date::parse(text, date)
                .map_err(|_| StoreError::Corrupt(format!("a list entry date: {text}")))
        };
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            entries.push(index_entry(IndexRow {
                id: &row.0,
                list: &row.1,
                version: row.2,
                status: &row.3,
                subject_code: &row.4,
                subject_kind: &row.5,
                names: &row.6,
                measures: &row.7,
                rep_id: row.8.as_deref(),
                from: day(&row.9)?,
                to: row.10.as_deref().map(day).transpose()?,
            })?);
        }
        let next = (rows.len() as u64 == limit)
            .then(|| rows.last().map(|row| row.0.to_string()))
            .flatten();
        Ok((entries, next))
    }

    /// The entries with these ids (those that exist), read in chunks of 500 ids per query:
    /// one round trip for the hits of a whole screening request instead of one per hit.
    pub async fn list_entries_by_ids(
        &self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, ListEntry>, StoreError> {
        // A large set (a 1,000-bidder batch at ten million entries asks for ~50) is read as two
        // halves at once: each pooled SQLite connection steps its statement on a thread of its
        // own, so the halves overlap on two cores, and one half's JSON is parsed while the
        // other is still being read. With the payload-only select below: about a quarter off
        // that read (BENCHMARKS.md, 2026-12-07).
        let (first, second) = if ids.len() >= 16 {
            ids.split_at(ids.len() / 2)
        } else {
            (ids, &[][..])
        };
        let (mut out, rest) = tokio::try_join!(
            self.list_entries_by_ids_in(first),
            self.list_entries_by_ids_in(second)
        )?;
        out.extend(rest);
        Ok(out)
    }

    async fn list_entries_by_ids_in(
        &self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, ListEntry>, StoreError> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            // The payload only: it is the whole entry, and the row's other columns are its
            // indexed copies, not worth decoding here.
            let payloads: Vec<String> = list_entries::Entity::find()
                .select_only()
                .column(list_entries::Column::Payload)
                .filter(list_entries::Column::Id.is_in(chunk.iter().map(Uuid::to_string)))
                .into_tuple()
                .all(&self.db)
                .await?;
            for payload in &payloads {
                let entry = entry_from_payload(payload)?;
                out.insert(entry.id, entry);
            }
        }
        Ok(out)
    }

    /// Which of the records are under objection (异议处理中), in chunks of 500 ids per query.
    pub async fn records_under_objection(&self, ids: &[Uuid]) -> Result<HashSet<Uuid>, StoreError> {
        let mut out = HashSet::new();
        for chunk in ids.chunks(500) {
            let found: Vec<String> = records::Entity::find()
                .select_only()
                .column(records::Column::Id)
                .filter(records::Column::Id.is_in(chunk.iter().map(Uuid::to_string)))
                .filter(records::Column::Status.eq("under_objection"))
                .into_tuple()
                .all(&self.db)
                .await?;
            out.extend(found.iter().filter_map(|id| Uuid::parse_str(id).ok()));
        }
        Ok(out)
    }

    /// Which of `ids` name no record held here.
    pub async fn missing_records(&self, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let found: HashSet<String> = records::Entity::find()
            .select_only()
            .column(records::Column::Id)
            .filter(records::Column::Id.is_in(ids.iter().map(Uuid::to_string)))
            .into_tuple::<String>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        Ok(ids
            .iter()
            .filter(|id| !found.contains(&id.to_string()))
            .copied()
            .collect())
    }

    /// Applies a page of list changes served by the parent (`parent`, authenticated by its
    /// certificate). Every change must be issued by an ancestor of `me`, verify against the key
    /// pinned for its issuer, and continue the issuer's sequence. All or nothing.
    pub async fn apply_list_changes(
        &self,
        me: RegionCode,
        parent: RegionCode,
        heads: &BTreeMap<String, i64>,
        changes: Vec<WireListChange>,
        at: OffsetDateTime,
        audit_entry: AuditEntry,
    ) -> Result<usize, ApplyError> {
        // Check everything that needs no database first, outside the write lock.
        let mut entries = Vec::with_capacity(changes.len());
        for change in &changes {
            entries.push(check_change(me, parent, change)?);
        }

        let mut head = self.audit_head.lock().await;
        let txn = self.begin_write().await?;
        let applied: Result<(usize, audit::ChainHead), ApplyError> = async {
            let mut held: HashMap<String, i64> = HashMap::new();
            let mut pinned: HashMap<String, String> = HashMap::new();
            let ids: Vec<String> = entries.iter().map(|e| e.id.to_string()).collect();
            let mut stored: HashMap<String, i32> = HashMap::new();
            for chunk in ids.chunks(INSERT_CHUNK) {
                let rows: Vec<(String, i32)> = list_entries::Entity::find()
                    .select_only()
                    .column(list_entries::Column::Id)
                    .column(list_entries::Column::Version)
                    .filter(list_entries::Column::Id.is_in(chunk.iter().cloned()))
                    .into_tuple()
                    .all(&txn)
                    .await?;
                stored.extend(rows);
            }
            let mut new_rows = Vec::new();
            let mut change_rows = Vec::new();
            // The newest version of each entry in this page wins (per-entry order).
            let mut newest: HashMap<String, (ListEntry, i64, String)> = HashMap::new();
            for (change, entry) in changes.into_iter().zip(entries) {
                if !pinned.contains_key(&change.issuer) {
                    let key = federation_peer_keys::Entity::find_by_id(change.issuer.clone())
                        .one(&txn)
                        .await?
                        .map(|row| row.signer_key);
                    match key {
                        Some(key) => {
                            pinned.insert(change.issuer.clone(), key);
                        }
                        None => {
                            // Trust on first use over a channel authenticated by the
                            // federation CA, as for record events.
                            federation_peer_keys::Entity::insert(
                                federation_peer_keys::ActiveModel {
                                    origin: Set(change.issuer.clone()),
                                    signer_key: Set(change.signer_key.clone()),
                                    first_seen_at: Set(at),
                                },
                            )
                            .exec_without_returning(&txn)
                            .await?;
                            pinned.insert(change.issuer.clone(), change.signer_key.clone());
                        }
                    }
                }
                if pinned.get(&change.issuer) != Some(&change.signer_key) {
                    return Err(ApplyError::BadSignature {
                        origin: change.issuer.clone(),
                        seq: change.seq,
                        reason: "signed with a key other than the one pinned for this issuer",
                    });
                }
                let last = match held.get(&change.issuer) {
                    Some(last) => *last,
                    None => issuer_head(&txn, &change.issuer).await?,
                };
                held.insert(change.issuer.clone(), last);
                if change.seq <= last {
                    continue; // replay of a page already applied
                }
                if change.seq != last + 1 {
                    return Err(ApplyError::OutOfOrder {
                        origin: change.issuer.clone(),
                        seq: change.seq,
                        expected: last + 1,
                    });
                }
                held.insert(change.issuer.clone(), change.seq);
                let id = entry.id.to_string();
                let older_than_stored = stored.get(&id).is_some_and(|v| *v >= entry.version);
                let older_than_page = newest
                    .get(&id)
                    .is_some_and(|(e, _, _)| e.version >= entry.version);
                if !older_than_stored && !older_than_page {
                    newest.insert(id, (entry, change.seq, change.payload.clone()));
                }
                change_rows.push(change_row(change, at));
            }
            let applied = change_rows.len();
            for (id, (entry, seq, payload)) in newest {
                let row = entry_row(&entry, seq, payload);
                if stored.contains_key(&id) {
                    list_entries::Entity::update(row).exec(&txn).await?;
                } else {
                    new_rows.push(row);
                }
            }
            insert_chunked(&txn, new_rows).await?;
            insert_chunked(&txn, change_rows).await?;
            let mut cursors: BTreeMap<&String, (i64, i64)> = BTreeMap::new();
            for (issuer, parent_head) in heads {
                let held_now = match held.get(issuer) {
                    Some(seq) => *seq,
                    None => issuer_head(&txn, issuer).await?,
                };
                cursors.insert(issuer, (held_now, *parent_head));
            }
            for (issuer, (held_seq, parent_seq)) in cursors {
                list_cursors::Entity::insert(list_cursors::ActiveModel {
                    issuer: Set(issuer.clone()),
                    held_seq: Set(held_seq),
                    parent_seq: Set(parent_seq),
                    updated_at: Set(at),
                    base_seq: sea_orm::ActiveValue::NotSet,
                })
                .on_conflict(
                    sea_orm::sea_query::OnConflict::column(list_cursors::Column::Issuer)
                        .update_columns([
                            list_cursors::Column::HeldSeq,
                            list_cursors::Column::ParentSeq,
                            list_cursors::Column::UpdatedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
            }
            let new_head = if applied > 0 {
                let mut entry = audit_entry;
                entry.detail = format!("applied={applied}");
                audit::insert_after(&txn, &head, at, &entry).await?
            } else {
                head.clone()
            };
            Ok((applied, new_head))
        }
        .await;
        match applied {
            Ok((applied, new_head)) => {
                txn.commit().await?;
                *head = new_head;
                drop(head);
                if applied > 0 {
                    self.lists_changed();
                }
                Ok(applied)
            }
            Err(error) => {
                let _ = txn.rollback().await;
                Err(error)
            }
        }
    }
}

/// How a child's pull is answered, per issuer.
#[derive(Clone, Copy, Debug)]
pub struct SnapshotPolicy {
    /// Whether the child can take snapshots (`snapshot=true`).
    pub child_can_snapshot: bool,
    /// At least this many changes behind before a snapshot is offered.
    pub min_changes: u64,
}

impl Store {
    /// Per issuer, the oldest cursor this node can serve changes after: the epoch of the
    /// snapshot its copy started from (absent: every change from the first is held).
    pub async fn list_floors(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        Ok(list_cursors::Entity::find()
            .filter(list_cursors::Column::BaseSeq.gt(0))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| (row.issuer, row.base_seq))
            .collect())
    }

    /// What a child's pull gets: like `list_changes_after`, but per issuer it may answer "take
    /// a snapshot at epoch E" instead of changes. That is forced when the child's cursor is
    /// older than this node's floor for the issuer (those changes are not held here), and
    /// chosen when the child can take snapshots, is at least `min_changes` behind, and
    /// either starts from nothing or lacks more changes than the issuer has entries here.
    pub async fn list_changes_for_child(
        &self,
        after: &BTreeMap<String, i64>,
        limit: u64,
        policy: SnapshotPolicy,
    ) -> Result<
        (
            BTreeMap<String, i64>,
            Vec<WireListChange>,
            BTreeMap<String, i64>,
        ),
        StoreError,
    > {
        let heads = self.list_heads().await?;
        let floors = self.list_floors().await?;
        let mut snapshot = BTreeMap::new();
        for (issuer, head) in &heads {
            let from = after.get(issuer).copied().unwrap_or(0);
            if from >= *head {
                continue;
            }
            let floor = floors.get(issuer).copied().unwrap_or(0);
            let behind = u64::try_from(head - from).unwrap_or(0);
            let take_snapshot = if from < floor {
                true
            } else if policy.child_can_snapshot && behind >= policy.min_changes {
                from == 0 || {
                    let entries: u64 = list_entries::Entity::find()
                        .filter(list_entries::Column::IssuerRegion.eq(issuer.as_str()))
                        .count(&self.db)
                        .await?;
                    behind > entries
                }
            } else {
                false
            };
            if take_snapshot {
                snapshot.insert(issuer.clone(), *head);
            }
        }
        // Issuers to snapshot are left out of the changes: mark them as caught up.
        let mut cursors = after.clone();
        for (issuer, head) in &snapshot {
            cursors.insert(issuer.clone(), *head);
        }
        // The heads read above bound the page (see `changes_up_to`).
        let changes = self.changes_up_to(&heads, &cursors, limit).await?;
        Ok((heads, changes, snapshot))
    }

    /// One page of `issuer`'s snapshot at `epoch`: entries after `after` (by id), each as the
    /// signed change that produced its state at `epoch`. `None` when this node cannot serve
    /// that epoch (beyond its head, or before its own floor).
    pub async fn list_snapshot_page(
        &self,
        issuer: &str,
        epoch: i64,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Option<ListSnapshotPage>, StoreError> {
        let head = issuer_head(&self.db, issuer).await?;
        let floor = self.list_floors().await?.get(issuer).copied().unwrap_or(0);
        if epoch < 1 || epoch > head || epoch < floor {
            return Ok(None);
        }
        let mut query = list_entries::Entity::find()
            .select_only()
            .column(list_entries::Column::Id)
            .column(list_entries::Column::Seq)
            .filter(list_entries::Column::IssuerRegion.eq(issuer))
            .order_by_asc(list_entries::Column::Id)
            .limit(limit);
        if let Some(after) = after {
            query = query.filter(list_entries::Column::Id.gt(after.to_string()));
        }
        let rows: Vec<(String, i64)> = query.into_tuple().all(&self.db).await?;
        let next_after = if rows.len() as u64 == limit {
            rows.last()
                .map(|(id, _)| Uuid::parse_str(id))
                .transpose()
                .map_err(|_| StoreError::Corrupt("list entry id".into()))?
        } else {
            None
        };
        // Entries unchanged since the epoch: their current change is their state at it.
        let current: Vec<i64> = rows
            .iter()
            .filter(|(_, seq)| *seq <= epoch)
            .map(|(_, seq)| *seq)
            .collect();
        let mut by_id: BTreeMap<String, WireListChange> = BTreeMap::new();
        for chunk in current.chunks(500) {
            for row in list_changes::Entity::find()
                .filter(list_changes::Column::Issuer.eq(issuer))
                .filter(list_changes::Column::Seq.is_in(chunk.iter().copied()))
                .all(&self.db)
                .await?
            {
                by_id.insert(row.entry_id.clone(), to_wire(row)?);
            }
        }
        // Entries changed (or issued) after the epoch: their last change up to it, if any.
        // Rare while a snapshot is being paged: only what changed since it began.
        for (id, _) in rows.iter().filter(|(_, seq)| *seq > epoch) {
            let older = list_changes::Entity::find()
                .filter(list_changes::Column::Issuer.eq(issuer))
                .filter(list_changes::Column::EntryId.eq(id.as_str()))
                .filter(list_changes::Column::Seq.lte(epoch))
                .order_by_desc(list_changes::Column::Seq)
                .one(&self.db)
                .await?;
            if let Some(row) = older {
                by_id.insert(row.entry_id.clone(), to_wire(row)?);
            }
        }
        Ok(Some(ListSnapshotPage {
            issuer: issuer.to_owned(),
            epoch,
            head,
            entries: by_id.into_values().collect(),
            next_after,
        }))
    }

    /// Verifies one snapshot page from the parent and stages it (`list_snapshot_staging`),
    /// nothing of it visible yet. `after` is the id the page was asked after: entries must
    /// come in increasing id order beyond it, each at or before the epoch. The first page
    /// (`after` = None) clears what an earlier, unfinished snapshot of the issuer staged.
    pub async fn stage_snapshot_page(
        &self,
        me: RegionCode,
        parent: RegionCode,
        page: &ListSnapshotPage,
        after: Option<Uuid>,
    ) -> Result<usize, ApplyError> {
        let mut last = after;
        for change in &page.entries {
            check_change(me, parent, change)?;
            if change.issuer != page.issuer || change.seq > page.epoch || change.seq < 1 {
                return Err(malformed(
                    change,
                    "snapshot entry is not of the issuer, or beyond the snapshot's epoch",
                ));
            }
            if last.is_some_and(|last| change.entry_id <= last) {
                return Err(malformed(
                    change,
                    "snapshot entries must come once each, in increasing id order",
                ));
            }
            last = Some(change.entry_id);
        }
        let txn = self.begin_write().await?;
        let staged: Result<(), StoreError> = async {
            if after.is_none() {
                list_snapshot_staging::Entity::delete_many()
                    .filter(list_snapshot_staging::Column::Issuer.eq(page.issuer.as_str()))
                    .exec(&txn)
                    .await?;
            }
            let rows: Vec<list_snapshot_staging::ActiveModel> = page
                .entries
                .iter()
                .map(|change| list_snapshot_staging::ActiveModel {
                    issuer: Set(change.issuer.clone()),
                    entry_id: Set(change.entry_id.to_string()),
                    epoch: Set(page.epoch),
                    seq: Set(change.seq),
                    list_code: Set(change.list.clone()),
                    entry_version: Set(change.entry_version),
                    change_kind: Set(change.change_kind.clone()),
                    payload: Set(change.payload.clone()),
                    signature: Set(change.signature.clone()),
                    signer_key: Set(change.signer_key.clone()),
                })
                .collect();
            insert_chunked(&txn, rows).await
        }
        .await;
        match staged {
            Ok(()) => {
                txn.commit().await?;
                Ok(page.entries.len())
            }
            Err(error) => {
                let _ = txn.rollback().await;
                Err(error.into())
            }
        }
    }

    /// Swaps a fully staged snapshot of `issuer` at `epoch` in, in one transaction with its
    /// audit row: the issuer's entries and changes held here are replaced by the staged ones,
    /// and the cursor becomes `epoch` (also this node's floor for its own children). Every
    /// staged change must be signed with the key pinned for the issuer, and the change at
    /// `epoch` itself must be among them. A node already at or beyond `epoch` keeps what it
    /// holds (never back to an older epoch). Returns the number of entries swapped in.
    pub async fn swap_snapshot(
        &self,
        issuer: &str,
        epoch: i64,
        parent_head: i64,
        at: OffsetDateTime,
        audit_entry: AuditEntry,
    ) -> Result<usize, ApplyError> {
        let mut head = self.audit_head.lock().await;
        let txn = self.begin_write().await?;
        let swapped: Result<(usize, audit::ChainHead), ApplyError> = async {
            let n_staged = list_snapshot_staging::Entity::find()
                .filter(list_snapshot_staging::Column::Issuer.eq(issuer))
                .filter(list_snapshot_staging::Column::Epoch.eq(epoch))
                .count(&txn)
                .await?;
            let n_all = list_snapshot_staging::Entity::find()
                .filter(list_snapshot_staging::Column::Issuer.eq(issuer))
                .count(&txn)
                .await?;
            let held = issuer_head(&txn, issuer).await?;
            if held >= epoch {
                list_snapshot_staging::Entity::delete_many()
                    .filter(list_snapshot_staging::Column::Issuer.eq(issuer))
                    .exec(&txn)
                    .await?;
                return Ok((0, head.clone()));
            }
            let snapshot_error = |reason: &'static str| ApplyError::Malformed {
                origin: issuer.to_owned(),
                seq: epoch,
                reason,
            };
            let has_epoch_change = list_snapshot_staging::Entity::find()
                .filter(list_snapshot_staging::Column::Issuer.eq(issuer))
                .filter(list_snapshot_staging::Column::Seq.eq(epoch))
                .count(&txn)
                .await?
                == 1;
            if n_all != n_staged {
                return Err(snapshot_error(
                    "staged pages of another epoch are mixed into the snapshot",
                ));
            }
            if !has_epoch_change {
                return Err(snapshot_error(
                    "the snapshot does not contain the change of its own epoch",
                ));
            }
            let keys: Vec<String> = list_snapshot_staging::Entity::find()
                .select_only()
                .column(list_snapshot_staging::Column::SignerKey)
                .distinct()
                .filter(list_snapshot_staging::Column::Issuer.eq(issuer))
                .into_tuple()
                .all(&txn)
                .await?;
            let pinned = federation_peer_keys::Entity::find_by_id(issuer.to_owned())
                .one(&txn)
                .await?
                .map(|row| row.signer_key);
            match (pinned, keys.as_slice()) {
                (Some(pinned), [key]) if *key == pinned => {}
                (None, [key]) => {
                    // Trust on first use, as for changes.
                    federation_peer_keys::Entity::insert(federation_peer_keys::ActiveModel {
                        origin: Set(issuer.to_owned()),
                        signer_key: Set(key.clone()),
                        first_seen_at: Set(at),
                    })
                    .exec_without_returning(&txn)
                    .await?;
                }
                _ => {
                    return Err(ApplyError::BadSignature {
                        origin: issuer.to_owned(),
                        seq: epoch,
                        reason: "snapshot signed with a key other than the one pinned for this issuer",
                    });
                }
            }
            list_entries::Entity::delete_many()
                .filter(list_entries::Column::IssuerRegion.eq(issuer))
                .exec(&txn)
                .await?;
            list_changes::Entity::delete_many()
                .filter(list_changes::Column::Issuer.eq(issuer))
                .exec(&txn)
                .await?;
            let mut last: Option<String> = None;
            loop {
                let mut query = list_snapshot_staging::Entity::find()
                    .filter(list_snapshot_staging::Column::Issuer.eq(issuer))
                    .order_by_asc(list_snapshot_staging::Column::EntryId)
                    .limit(INSERT_CHUNK as u64);
                if let Some(last) = &last {
                    query = query.filter(list_snapshot_staging::Column::EntryId.gt(last.as_str()));
                }
                let rows = query.all(&txn).await?;
                let Some(tail) = rows.last() else { break };
                last = Some(tail.entry_id.clone());
                let mut entry_rows = Vec::with_capacity(rows.len());
                let mut change_rows = Vec::with_capacity(rows.len());
                for row in rows {
                    let entry: ListEntry = serde_json::from_str(&row.payload)
                        .map_err(|_| snapshot_error("staged entry is not a list entry"))?;
                    entry_rows.push(entry_row(&entry, row.seq, row.payload.clone()));
                    change_rows.push(list_changes::ActiveModel {
                        issuer: Set(row.issuer),
                        seq: Set(row.seq),
                        list_code: Set(row.list_code),
                        entry_id: Set(row.entry_id),
                        entry_version: Set(row.entry_version),
                        change_kind: Set(row.change_kind),
                        payload: Set(row.payload),
                        signature: Set(row.signature),
                        signer_key: Set(row.signer_key),
                        received_at: Set(at),
                    });
                }
                insert_chunked(&txn, entry_rows).await?;
                insert_chunked(&txn, change_rows).await?;
            }
            list_cursors::Entity::insert(list_cursors::ActiveModel {
                issuer: Set(issuer.to_owned()),
                held_seq: Set(epoch),
                parent_seq: Set(parent_head),
                updated_at: Set(at),
                base_seq: Set(epoch),
            })
            .on_conflict(
                sea_orm::sea_query::OnConflict::column(list_cursors::Column::Issuer)
                    .update_columns([
                        list_cursors::Column::HeldSeq,
                        list_cursors::Column::ParentSeq,
                        list_cursors::Column::UpdatedAt,
                        list_cursors::Column::BaseSeq,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
            list_snapshot_staging::Entity::delete_many()
                .filter(list_snapshot_staging::Column::Issuer.eq(issuer))
                .exec(&txn)
                .await?;
            let mut entry = audit_entry;
            entry.detail = format!("snapshot issuer={issuer} epoch={epoch} entries={n_staged}");
            let new_head = audit::insert_after(&txn, &head, at, &entry).await?;
            Ok((usize::try_from(n_staged).unwrap_or(usize::MAX), new_head))
        }
        .await;
        match swapped {
            Ok((n, new_head)) => {
                txn.commit().await?;
                *head = new_head;
                drop(head);
                if n > 0 {
                    self.lists_changed();
                }
                Ok(n)
            }
            Err(error) => {
                let _ = txn.rollback().await;
                Err(error)
            }
        }
    }
}

/// One narrow row of `list_entries` in a page read as JSON (`index_rows_sqlite`), borrowed
/// from the page's text where it holds no escapes.
#[derive(serde::Deserialize)]
struct JsonIndexRow<'a>(
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    i32,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Option<Cow<'a, str>>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Option<Cow<'a, str>>,
);

/// One narrow row of `list_entries`, borrowed.
struct IndexRow<'a> {
    id: &'a str,
    list: &'a str,
    version: i32,
    status: &'a str,
    subject_code: &'a str,
    subject_kind: &'a str,
    names: &'a str,
    measures: &'a str,
    rep_id: Option<&'a str>,
    from: time::Date,
    to: Option<time::Date>,
}

fn index_entry(row: IndexRow<'_>) -> Result<crate::matching::index::IndexEntry, StoreError> {
    Ok(crate::matching::index::IndexEntry {
        id: Uuid::parse_str(row.id).map_err(|_| StoreError::Corrupt("list entry id".into()))?,
        list: row.list.to_owned(),
        version: row.version,
        status: match row.status {
            "active" => EntryStatus::Active,
            "ended" => EntryStatus::Ended,
            _ => EntryStatus::Withdrawn,
        },
        subject_code: row.subject_code.to_owned(),
        subject_kind: row.subject_kind.to_owned(),
        names: row.names.split('\n').map(str::to_owned).collect(),
        measures: row
            .measures
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect(),
        rep_id: row.rep_id.map(str::to_owned),
        effective_from: row.from,
        effective_to: row.to,
    })
}

fn sqlx_error(error: sea_orm::sqlx::Error) -> StoreError {
    StoreError::from(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(
        error.into(),
    )))
}
