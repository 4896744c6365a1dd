//! Records and their versions.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, DbBackend, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::entities::{record_versions, records};
use super::{Store, StoreError, audit};
use crate::audit::AuditEntry;
use crate::domain::record::{Record, RecordData, RecordVersion};
use crate::domain::region::RegionCode;
use crate::domain::subject::SubjectCode;
use crate::domain::uscc::Uscc;
use crate::domain::vocab::{ChangeKind, PublicationLevel, RecordStatus};

/// Rows per INSERT statement: 23 columns × 1,000 stays under SQLite's 32,766 bound parameters
/// and PostgreSQL's 65,535.
const INSERT_CHUNK: usize = 1_000;

/// What a caller may see. Built from the caller's credentials in `api/extract.rs` and required
/// by every read query here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// The public: public level, publicly visible status.
    Public,
    /// A government department: public and shared levels, plus everything of its own.
    Government {
        /// The department's USCC.
        dept: String,
    },
    /// A government key holder (API key with `records:read:shared`): public and shared levels,
    /// publicly visible statuses; no department of its own.
    Shared,
    /// Supervisors and administrators of this node: everything.
    Full,
}

impl Visibility {
    fn condition(&self) -> Condition {
        let public_statuses: Vec<&str> = RecordStatus::ALL
            .iter()
            .filter(|status| status.is_publicly_visible())
            .map(|status| status.as_str())
            .collect();
        match self {
            Visibility::Public => Condition::all()
                .add(records::Column::PublicationLevel.eq(PublicationLevel::Public.as_str()))
                .add(records::Column::Status.is_in(public_statuses)),
            Visibility::Government { dept } => Condition::any()
                .add(records::Column::PublicationLevel.is_in([
                    PublicationLevel::Public.as_str(),
                    PublicationLevel::Shared.as_str(),
                ]))
                .add(records::Column::SourceDept.eq(dept.as_str())),
            Visibility::Shared => Condition::all()
                .add(records::Column::PublicationLevel.is_in([
                    PublicationLevel::Public.as_str(),
                    PublicationLevel::Shared.as_str(),
                ]))
                .add(records::Column::Status.is_in(public_statuses)),
            Visibility::Full => Condition::all(),
        }
    }

    /// Whether this caller may read the version history (the public sees the current version
    /// only: superseded versions may hold content that was corrected for being wrong).
    pub fn sees_history(&self) -> bool {
        matches!(self, Visibility::Government { .. } | Visibility::Full)
    }
}

/// A record about to be stored.
#[derive(Clone, Debug)]
pub struct NewRecord {
    /// Validated content.
    pub data: RecordData,
}

/// What happened to one submitted record.
#[derive(Clone, Debug)]
pub struct InsertOutcome {
    /// The stored record (new, or the one stored by an earlier submission).
    pub record: Record,
    /// False when the (source department, source record id) pair existed already.
    pub created: bool,
}

/// Filters of a subject's record list.
#[derive(Clone, Debug, Default)]
pub struct RecordFilter {
    /// Kind wire value.
    pub kind: Option<String>,
    /// Domain wire value.
    pub domain: Option<String>,
    /// Status wire value.
    pub status: Option<String>,
    /// Decision date on or after.
    pub decided_from: Option<Date>,
    /// Decision date on or before.
    pub decided_to: Option<Date>,
    /// Return records with ids greater than this (cursor).
    pub after_id: Option<String>,
    /// Page size.
    pub limit: u64,
}

/// One page of records.
#[derive(Clone, Debug)]
pub struct RecordPage {
    /// Records, ordered by id (creation order).
    pub records: Vec<Record>,
    /// Id to continue after, when there may be more.
    pub next_after_id: Option<String>,
}

/// Counts of a subject's visible records.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// All visible records.
    pub total: u64,
    /// By kind wire value.
    pub by_kind: Vec<(String, u64)>,
    /// By domain wire value.
    pub by_domain: Vec<(String, u64)>,
    /// By status wire value.
    pub by_status: Vec<(String, u64)>,
    /// The name on the most recent visible record.
    pub latest_name: Option<String>,
}

/// A change to an existing record.
#[derive(Clone, Debug)]
pub struct RecordChange {
    /// Record id.
    pub id: Uuid,
    /// The version the caller based the change on (optimistic concurrency).
    pub expected_version: i32,
    /// New content, or `None` to keep it.
    pub data: Option<RecordData>,
    /// New status.
    pub status: RecordStatus,
    /// Kind of change, kept in the history.
    pub change_kind: ChangeKind,
    /// Why.
    pub reason: String,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn parse_term<T: std::str::FromStr>(value: &str, what: &str) -> Result<T, StoreError> {
    value.parse().map_err(|_| corrupt(what))
}

pub(super) fn to_record(model: records::Model) -> Result<Record, StoreError> {
    let data = RecordData {
        subject: SubjectCode::parse(&model.subject_code).map_err(|_| corrupt("subject_code"))?,
        subject_name: model.subject_name,
        kind: parse_term(&model.kind, "kind")?,
        category: model
            .category
            .as_deref()
            .map(|value| parse_term(value, "category"))
            .transpose()?,
        domain: parse_term(&model.domain, "domain")?,
        source_dept: Uscc::parse(&model.source_dept).map_err(|_| corrupt("source_dept"))?,
        source_record_id: model.source_record_id,
        document_no: model.document_no,
        decision_date: model.decision_date,
        legal_basis: model.legal_basis,
        content: model.content,
        severity: parse_term(&model.severity, "severity")?,
        period_start: model.period_start,
        period_end: model.period_end,
        publication_level: parse_term(&model.publication_level, "publication_level")?,
    };
    Ok(Record {
        id: Uuid::parse_str(&model.id).map_err(|_| corrupt("id"))?,
        version: model.version,
        data,
        status: parse_term(&model.status, "status")?,
        origin_region: RegionCode::parse(&model.origin_region)
            .map_err(|_| corrupt("origin_region"))?,
        origin_record_id: Uuid::parse_str(&model.origin_record_id)
            .map_err(|_| corrupt("origin_record_id"))?,
        created_at: model.created_at,
        updated_at: model.updated_at,
    })
}

fn to_model(record: &Record) -> records::Model {
    let data = &record.data;
    records::Model {
        id: record.id.to_string(),
        version: record.version,
        subject_code: data.subject.storage_key().to_owned(),
        subject_kind: data.subject.kind_str().to_owned(),
        subject_name: data.subject_name.clone(),
        kind: data.kind.as_str().to_owned(),
        category: data.category.map(|c| c.as_str().to_owned()),
        domain: data.domain.as_str().to_owned(),
        source_dept: data.source_dept.as_str().to_owned(),
        source_record_id: data.source_record_id.clone(),
        document_no: data.document_no.clone(),
        decision_date: data.decision_date,
        legal_basis: data.legal_basis.clone(),
        content: data.content.clone(),
        severity: data.severity.as_str().to_owned(),
        period_start: data.period_start,
        period_end: data.period_end,
        publication_level: data.publication_level.as_str().to_owned(),
        status: record.status.as_str().to_owned(),
        origin_region: record.origin_region.to_string(),
        origin_record_id: record.origin_record_id.to_string(),
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

fn version_row(
    model: &records::Model,
    change_kind: ChangeKind,
    reason: Option<String>,
    actor: &str,
    at: OffsetDateTime,
) -> Result<record_versions::ActiveModel, StoreError> {
    Ok(record_versions::ActiveModel {
        record_id: Set(model.id.clone()),
        version: Set(model.version),
        change_kind: Set(change_kind.as_str().to_owned()),
        reason: Set(reason),
        actor: Set(actor.to_owned()),
        at: Set(at),
        snapshot: Set(serde_json::to_value(model).map_err(|_| corrupt("snapshot"))?),
    })
}

/// A new record of a batch, built before the write lock is taken.
struct PreparedRecord {
    record: Record,
    row: NewRow,
}

/// What the write of one new record needs.
struct NewRow {
    id: Uuid,
    model: records::Model,
    /// The model as JSON text: the journal event's payload (signed) and, on PostgreSQL, the
    /// version snapshot (sent as `json` text, not re-encoded as `jsonb`).
    payload: String,
    /// SHA-256 of `payload`.
    payload_digest: [u8; 32],
    /// The version snapshot as a JSON value, for the portable (SQLite) insert only.
    snapshot: Option<serde_json::Value>,
}

impl PreparedRecord {
    fn new(
        data: RecordData,
        origin_region: RegionCode,
        at: OffsetDateTime,
        backend: DbBackend,
    ) -> Result<PreparedRecord, StoreError> {
        let id = Uuid::now_v7();
        let record = Record {
            id,
            version: 1,
            data,
            status: RecordStatus::Active,
            origin_region,
            origin_record_id: id,
            created_at: at,
            updated_at: at,
        };
        let model = to_model(&record);
        let payload = serde_json::to_string(&model).map_err(|_| corrupt("journal payload"))?;
        let payload_digest = crate::federation::journal::payload_digest(&payload);
        let snapshot = if backend == DbBackend::Postgres {
            None
        } else {
            Some(serde_json::to_value(&model).map_err(|_| corrupt("snapshot"))?)
        };
        Ok(PreparedRecord {
            record,
            row: NewRow {
                id,
                model,
                payload,
                payload_digest,
                snapshot,
            },
        })
    }
}

fn created_version_row(
    row: &NewRow,
    actor: &str,
    at: OffsetDateTime,
) -> Result<record_versions::ActiveModel, StoreError> {
    Ok(record_versions::ActiveModel {
        record_id: Set(row.model.id.clone()),
        version: Set(row.model.version),
        change_kind: Set(ChangeKind::Created.as_str().to_owned()),
        reason: Set(None),
        actor: Set(actor.to_owned()),
        at: Set(at),
        // Built in `PreparedRecord::new` for every backend that writes through here.
        snapshot: Set(row.snapshot.clone().ok_or_else(|| corrupt("snapshot"))?),
    })
}

/// One column of a batch as a PostgreSQL array parameter.
fn pg_column<T>(rows: &[NewRow], column: impl Fn(&NewRow) -> T) -> sea_orm::Value
where
    Vec<T>: Into<sea_orm::Value>,
{
    rows.iter().map(column).collect::<Vec<T>>().into()
}

/// A nullable date column as text ('' for NULL; the SQL turns it back with `NULLIF`).
fn pg_date(date: Option<Date>) -> String {
    date.map(|date| date.to_string()).unwrap_or_default()
}

/// Writes new records and their first versions on PostgreSQL: one `INSERT … SELECT FROM
/// unnest(…)` per table with one array parameter per column. The portable multi-row `VALUES`
/// insert binds 23,000 parameters per 1,000 records, costs about 40 ms of statement building
/// in the node under the write lock, and sends each snapshot as `jsonb` for the server to parse
/// and convert back to `json` (BENCHMARKS.md, "Where a PostgreSQL batch goes").
async fn pg_insert_created(
    txn: &DatabaseTransaction,
    rows: &[NewRow],
    actor: &str,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    // Every new record of a batch is stamped `at` (see `PreparedRecord::new`); it is bound once.
    debug_assert!(
        rows.iter()
            .all(|row| row.model.created_at == at && row.model.updated_at == at)
    );
    let insert_records = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO records (id, version, subject_code, subject_kind, subject_name, kind, \
         category, domain, source_dept, source_record_id, document_no, decision_date, \
         legal_basis, content, severity, period_start, period_end, publication_level, status, \
         origin_region, origin_record_id, created_at, updated_at) \
         SELECT id, version, subject_code, subject_kind, subject_name, kind, \
         NULLIF(category, ''), domain, source_dept, source_record_id, document_no, \
         decision_date::date, legal_basis, content, severity, NULLIF(period_start, '')::date, \
         NULLIF(period_end, '')::date, publication_level, status, origin_region, \
         origin_record_id, $22, $22 \
         FROM unnest($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], $6::text[], \
         $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
         $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], \
         $19::text[], $20::text[], $21::text[]) \
         AS t(id, version, subject_code, subject_kind, subject_name, kind, category, domain, \
         source_dept, source_record_id, document_no, decision_date, legal_basis, content, \
         severity, period_start, period_end, publication_level, status, origin_region, \
         origin_record_id)",
        [
            pg_column(rows, |row| row.model.id.clone()),
            pg_column(rows, |row| row.model.version),
            pg_column(rows, |row| row.model.subject_code.clone()),
            pg_column(rows, |row| row.model.subject_kind.clone()),
            pg_column(rows, |row| row.model.subject_name.clone()),
            pg_column(rows, |row| row.model.kind.clone()),
            pg_column(rows, |row| row.model.category.clone().unwrap_or_default()),
            pg_column(rows, |row| row.model.domain.clone()),
            pg_column(rows, |row| row.model.source_dept.clone()),
            pg_column(rows, |row| row.model.source_record_id.clone()),
            pg_column(rows, |row| row.model.document_no.clone()),
            pg_column(rows, |row| row.model.decision_date.to_string()),
            pg_column(rows, |row| row.model.legal_basis.clone()),
            pg_column(rows, |row| row.model.content.clone()),
            pg_column(rows, |row| row.model.severity.clone()),
            pg_column(rows, |row| pg_date(row.model.period_start)),
            pg_column(rows, |row| pg_date(row.model.period_end)),
            pg_column(rows, |row| row.model.publication_level.clone()),
            pg_column(rows, |row| row.model.status.clone()),
            pg_column(rows, |row| row.model.origin_region.clone()),
            pg_column(rows, |row| row.model.origin_record_id.clone()),
            at.into(),
        ],
    );
    txn.execute_raw(insert_records).await?;
    let insert_versions = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO record_versions (record_id, version, change_kind, reason, actor, at, \
         snapshot) \
         SELECT record_id, version, $3, NULL, $4, $5, snapshot::json \
         FROM unnest($1::text[], $2::int4[], $6::text[]) AS t(record_id, version, snapshot)",
        [
            pg_column(rows, |row| row.model.id.clone()),
            pg_column(rows, |row| row.model.version),
            ChangeKind::Created.as_str().into(),
            actor.into(),
            at.into(),
            pg_column(rows, |row| row.payload.clone()),
        ],
    );
    txn.execute_raw(insert_versions).await?;
    Ok(())
}

/// Writes the signed `Created` journal events of a batch on PostgreSQL (one array statement,
/// like [`pg_insert_created`]); `signatures` are in sequence order from `first_seq`.
async fn pg_insert_created_events(
    txn: &DatabaseTransaction,
    origin: &str,
    first_seq: i64,
    rows: &[NewRow],
    signatures: Vec<String>,
    signer_key: &str,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    if signatures.len() != rows.len() {
        return Err(corrupt("journal signatures"));
    }
    let seqs: Vec<i64> = (0..rows.len() as i64).map(|i| first_seq + i).collect();
    let insert_events = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO journal_events (origin, seq, record_id, record_version, change_kind, \
         payload, signature, signer_key, journaled_at) \
         SELECT $1, seq, record_id, version, $2, payload, signature, $3, $4 \
         FROM unnest($5::int8[], $6::text[], $7::int4[], $8::text[], $9::text[]) \
         AS t(seq, record_id, version, payload, signature)",
        [
            origin.into(),
            ChangeKind::Created.as_str().into(),
            signer_key.into(),
            at.into(),
            seqs.into(),
            pg_column(rows, |row| row.model.id.clone()),
            pg_column(rows, |row| row.model.version),
            pg_column(rows, |row| row.payload.clone()),
            signatures.into(),
        ],
    );
    txn.execute_raw(insert_events).await?;
    Ok(())
}

/// The stored records of `dept` whose source record id is one of `keys`.
///
/// On PostgreSQL this probes the unique index `uq_records_source` once per key (a LATERAL join
/// over the key array), whatever the statistics say. The plain `source_dept = $1 AND
/// source_record_id IN ($2, …)` lets the planner, when the table has no or stale statistics (a
/// new or bulk-loaded table before autovacuum analyses it), use the index for the department
/// only and filter every row of the department against the 1,000 parameters: seconds per batch
/// at 10^5 rows (`integrity-node bench ingest`, BENCHMARKS.md). SQLite always uses the index for
/// the IN list.
async fn find_by_source(
    txn: &DatabaseTransaction,
    dept: &Uscc,
    keys: &[String],
) -> Result<Vec<records::Model>, StoreError> {
    if txn.get_database_backend() == DbBackend::Postgres {
        let lookup = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT r.* FROM unnest($2::text[]) AS k(source_record_id) \
             CROSS JOIN LATERAL (SELECT * FROM records WHERE source_dept = $1 \
             AND source_record_id = k.source_record_id LIMIT 1) AS r",
            [dept.as_str().into(), keys.to_vec().into()],
        );
        return Ok(records::Entity::find()
            .from_raw_sql(lookup)
            .all(txn)
            .await?);
    }
    Ok(records::Entity::find()
        .filter(records::Column::SourceDept.eq(dept.as_str()))
        .filter(records::Column::SourceRecordId.is_in(keys.iter().cloned()))
        .all(txn)
        .await?)
}

impl Store {
    /// Stores a batch of records from one department, all or nothing, idempotently: a record
    /// whose (source department, source record id) exists already is returned as it is.
    /// The audit entry is committed in the same transaction.
    #[tracing::instrument(skip_all, fields(n_records = items.len()))]
    pub async fn insert_records(
        &self,
        dept: &Uscc,
        items: Vec<NewRecord>,
        origin_region: RegionCode,
        actor: &str,
        at: OffsetDateTime,
        audit_entry: AuditEntry,
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        // Everything that does not depend on what is stored is built before the write lock is
        // taken (writers are serialised by it): rows, the JSON payload each journal event and
        // version snapshot carries, and the digest the event signature covers. Replays found
        // under the lock simply drop their prepared row.
        let backend = self.db.get_database_backend();
        let prepared = items
            .into_iter()
            .map(|item| PreparedRecord::new(item.data, origin_region, at, backend))
            .collect::<Result<Vec<_>, _>>()?;

        let mut head = self.audit_head.lock().await;
        let txn = self.begin_write().await?;
        let keys: Vec<String> = prepared
            .iter()
            .map(|row| row.row.model.source_record_id.clone())
            .collect();
        let mut existing: HashMap<String, records::Model> = HashMap::new();
        for chunk in keys.chunks(INSERT_CHUNK) {
            let found = find_by_source(&txn, dept, chunk).await?;
            existing.extend(
                found
                    .into_iter()
                    .map(|model| (model.source_record_id.clone(), model)),
            );
        }
        let mut outcomes = Vec::with_capacity(prepared.len());
        let mut new_rows = Vec::new();
        for row in prepared {
            if let Some(model) = existing.get(&row.row.model.source_record_id) {
                outcomes.push(InsertOutcome {
                    record: to_record(model.clone())?,
                    created: false,
                });
                continue;
            }
            let PreparedRecord { record, row } = row;
            outcomes.push(InsertOutcome {
                record,
                created: true,
            });
            new_rows.push(row);
        }
        let journal = self.journal.get();
        let first_seq = journal.map_or(0, |journal| journal.next_seq());
        // Signing runs on the blocking pool while the records and versions are written.
        let signing = journal.map(|journal| {
            journal.sign_created(
                first_seq,
                new_rows
                    .iter()
                    .map(|row| (row.id, row.payload_digest))
                    .collect(),
            )
        });
        if backend == DbBackend::Postgres {
            pg_insert_created(&txn, &new_rows, actor, at).await?;
        } else {
            for chunk in new_rows.chunks(INSERT_CHUNK) {
                records::Entity::insert_many(
                    chunk
                        .iter()
                        .map(|row| row.model.clone().into_active_model()),
                )
                .exec_without_returning(&txn)
                .await?;
                record_versions::Entity::insert_many(
                    chunk
                        .iter()
                        .map(|row| created_version_row(row, actor, at))
                        .collect::<Result<Vec<_>, _>>()?,
                )
                .exec_without_returning(&txn)
                .await?;
            }
        }
        if let (Some(journal), Some(signing)) = (journal, signing) {
            let signatures = signing.finish().await?;
            if backend == DbBackend::Postgres {
                pg_insert_created_events(
                    &txn,
                    &journal.origin().to_string(),
                    first_seq,
                    &new_rows,
                    signatures,
                    journal.signer().public_key_b64(),
                    at,
                )
                .await?;
            } else {
                let events = new_rows
                    .iter()
                    .zip(signatures)
                    .enumerate()
                    .map(|(i, (row, signature))| {
                        journal.row(
                            first_seq + i as i64,
                            &row.model,
                            ChangeKind::Created,
                            row.payload.clone(),
                            signature,
                            at,
                        )
                    })
                    .collect();
                super::journal::insert_events(&txn, events).await?;
            }
        }
        let mut entry = audit_entry;
        let n_created = new_rows.len();
        entry.detail = format!(
            "created={n_created} existing={}{}",
            outcomes.len() - n_created,
            if entry.detail.is_empty() {
                String::new()
            } else {
                format!(" {}", entry.detail)
            }
        );
        let new_head = audit::insert_after(&txn, &head, at, &entry).await?;
        txn.commit().await?;
        *head = new_head;
        if let Some(journal) = journal
            && n_created > 0
        {
            let last = first_seq + n_created as i64 - 1;
            journal.committed_up_to(last);
            self.journal_committed(&journal.origin().to_string(), last);
        }
        metrics::counter!("integrity_records_created_total").increment(n_created as u64);
        Ok(outcomes)
    }

    /// Reads one record as `visibility` allows.
    #[tracing::instrument(skip_all, fields(record.id = %id))]
    pub async fn get_record(
        &self,
        id: Uuid,
        visibility: &Visibility,
    ) -> Result<Record, StoreError> {
        let model = records::Entity::find_by_id(id.to_string())
            .filter(visibility.condition())
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        to_record(model)
    }

    /// Reads a record's history, oldest first. Callers check [`Visibility::sees_history`] and
    /// that the record itself is visible first.
    pub async fn record_versions(&self, id: Uuid) -> Result<Vec<RecordVersion>, StoreError> {
        let rows = record_versions::Entity::find()
            .filter(record_versions::Column::RecordId.eq(id.to_string()))
            .order_by_asc(record_versions::Column::Version)
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|row| {
                let model: records::Model =
                    serde_json::from_value(row.snapshot).map_err(|_| corrupt("snapshot"))?;
                Ok(RecordVersion {
                    version: row.version,
                    change_kind: parse_term(&row.change_kind, "change_kind")?,
                    reason: row.reason,
                    actor: row.actor,
                    at: row.at,
                    record: to_record(model)?,
                })
            })
            .collect()
    }

    /// Applies a correction, revocation or other status change as a new version, only if the
    /// record belongs to `dept` and is still at `expected_version`. Audited in the same
    /// transaction.
    #[tracing::instrument(skip_all, fields(record.id = %change.id))]
    pub async fn change_record(
        &self,
        dept: &Uscc,
        change: RecordChange,
        actor: &str,
        at: OffsetDateTime,
        audit_entry: AuditEntry,
    ) -> Result<Record, StoreError> {
        let mut head = self.audit_head.lock().await;
        let txn = self.begin_write().await?;
        let Some(current) = records::Entity::find_by_id(change.id.to_string())
            .filter(records::Column::SourceDept.eq(dept.as_str()))
            .one(&txn)
            .await?
        else {
            let _ = txn.rollback().await;
            return Err(StoreError::NotFound);
        };
        if current.version != change.expected_version {
            let _ = txn.rollback().await;
            return Err(StoreError::VersionMismatch {
                expected: change.expected_version,
                current: current.version,
            });
        }
        let mut record = to_record(current)?;
        if record.status == RecordStatus::Revoked {
            let _ = txn.rollback().await;
            return Err(StoreError::InvalidState {
                status: record.status.as_str().to_owned(),
            });
        }
        if let Some(data) = change.data {
            record.data = data;
        }
        record.version += 1;
        record.status = change.status;
        record.updated_at = at;
        let model = to_model(&record);
        // Guarded update: the WHERE on version makes a concurrent writer (another process) lose
        // cleanly instead of overwriting.
        let updated = records::Entity::update_many()
            .set(model.clone().into_active_model().reset_all())
            .filter(records::Column::Id.eq(model.id.clone()))
            .filter(records::Column::Version.eq(change.expected_version))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            let _ = txn.rollback().await;
            return Err(StoreError::VersionMismatch {
                expected: change.expected_version,
                current: change.expected_version + 1,
            });
        }
        record_versions::Entity::insert(version_row(
            &model,
            change.change_kind,
            Some(change.reason),
            actor,
            at,
        )?)
        .exec(&txn)
        .await?;
        let journal = self.journal.get();
        let seq = journal.map_or(0, |journal| journal.next_seq());
        if let Some(journal) = journal {
            let event = journal.event(seq, &model, change.change_kind, at)?;
            super::journal::insert_events(&txn, vec![event]).await?;
        }
        let new_head = audit::insert_after(&txn, &head, at, &audit_entry).await?;
        txn.commit().await?;
        *head = new_head;
        if let Some(journal) = journal {
            journal.committed_up_to(seq);
            self.journal_committed(&journal.origin().to_string(), seq);
        }
        Ok(record)
    }

    /// One page of a subject's records, as `visibility` allows.
    #[tracing::instrument(skip_all)]
    pub async fn subject_records(
        &self,
        subject: &SubjectCode,
        visibility: &Visibility,
        filter: &RecordFilter,
    ) -> Result<RecordPage, StoreError> {
        let mut query = records::Entity::find()
            .filter(records::Column::SubjectCode.eq(subject.storage_key()))
            .filter(visibility.condition());
        if let Some(kind) = &filter.kind {
            query = query.filter(records::Column::Kind.eq(kind.as_str()));
        }
        if let Some(domain) = &filter.domain {
            query = query.filter(records::Column::Domain.eq(domain.as_str()));
        }
        if let Some(status) = &filter.status {
            query = query.filter(records::Column::Status.eq(status.as_str()));
        }
        if let Some(from) = filter.decided_from {
            query = query.filter(records::Column::DecisionDate.gte(from));
        }
        if let Some(to) = filter.decided_to {
            query = query.filter(records::Column::DecisionDate.lte(to));
        }
        if let Some(after) = &filter.after_id {
            query = query.filter(records::Column::Id.gt(after.as_str()));
        }
        let limit = filter.limit.max(1);
        let mut rows = query
            .order_by_asc(records::Column::Id)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_after_id = if more {
            rows.last().map(|row| row.id.clone())
        } else {
            None
        };
        Ok(RecordPage {
            records: rows.into_iter().map(to_record).collect::<Result<_, _>>()?,
            next_after_id,
        })
    }

    /// Counts of a subject's records by kind, domain and status, as `visibility` allows.
    #[tracing::instrument(skip_all)]
    pub async fn subject_counts(
        &self,
        subject: &SubjectCode,
        visibility: &Visibility,
    ) -> Result<Counts, StoreError> {
        let scoped = || {
            records::Entity::find()
                .filter(records::Column::SubjectCode.eq(subject.storage_key()))
                .filter(visibility.condition())
        };
        let group = |column: records::Column| {
            scoped()
                .select_only()
                .column(column)
                .column_as(Expr::expr(Func::count(Expr::col(records::Column::Id))), "n")
                .group_by(column)
                .order_by_asc(column)
                .into_tuple::<(String, i64)>()
        };
        let as_u64 = |rows: Vec<(String, i64)>| {
            rows.into_iter()
                .map(|(key, n)| (key, u64::try_from(n).unwrap_or(0)))
                .collect::<Vec<_>>()
        };
        let by_kind = as_u64(group(records::Column::Kind).all(&self.db).await?);
        let by_domain = as_u64(group(records::Column::Domain).all(&self.db).await?);
        let by_status = as_u64(group(records::Column::Status).all(&self.db).await?);
        let latest_name = scoped()
            .order_by_desc(records::Column::Id)
            .one(&self.db)
            .await?
            .map(|row| row.subject_name);
        Ok(Counts {
            total: by_kind.iter().map(|(_, n)| n).sum(),
            by_kind,
            by_domain,
            by_status,
            latest_name,
        })
    }
}
