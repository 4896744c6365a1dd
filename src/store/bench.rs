//! Raw-SQL baselines for `integrity-node bench` (see `crate::bench`): the fastest the database
//! takes the rows the ingest path stores, without HTTP, validation, the existing-key lookup or the
//! audit trail — PostgreSQL `COPY … FROM STDIN`, SQLite one transaction of multi-row `INSERT`s —
//! plus the scratch-database housekeeping the benchmark needs.
//!
//! Nothing here runs in a serving node. It lives in `store/` because it is the only module that
//! may speak SQL; it reaches sqlx through sea-orm's re-export.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::sqlx::{self, Arguments as _, AssertSqlSafe};
use sea_orm::{
    ConnectionTrait, Database, DbBackend, DbErr, EntityTrait, PaginatorTrait, RuntimeErr,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::entities::{audit_log, journal_events, record_versions, records};
use super::{Store, StoreError};
use crate::domain::record::RecordData;
use crate::domain::region::RegionCode;
use crate::domain::vocab::{ChangeKind, RecordStatus};

/// Columns of `records`, in the order of [`BaselineRow::bind_record`] and the COPY text.
const RECORD_COLUMNS: [&str; 23] = [
    "id",
    "version",
    "subject_code",
    "subject_kind",
    "subject_name",
    "kind",
    "category",
    "domain",
    "source_dept",
    "source_record_id",
    "document_no",
    "decision_date",
    "legal_basis",
    "content",
    "severity",
    "period_start",
    "period_end",
    "publication_level",
    "status",
    "origin_region",
    "origin_record_id",
    "created_at",
    "updated_at",
];

/// Columns of `record_versions`, in the order of [`BaselineRow::bind_version`] and the COPY text.
const VERSION_COLUMNS: [&str; 7] = [
    "record_id",
    "version",
    "change_kind",
    "reason",
    "actor",
    "at",
    "snapshot",
];

/// Rows per SQLite `INSERT` (23 × 1,000 bound parameters stays under SQLite's 32,766), the same
/// chunk the ingest path uses.
const SQLITE_CHUNK: usize = 1_000;

/// Bytes per COPY data message sent to PostgreSQL.
const COPY_MESSAGE_BYTES: usize = 1 << 20;

/// One record as the ingest path stores it: the `records` row of version 1 and its
/// `record_versions` row (with the same JSON snapshot `insert_records` writes).
#[derive(Clone, Debug)]
pub struct BaselineRow {
    record: records::Model,
    actor: String,
    at: OffsetDateTime,
    snapshot: serde_json::Value,
}

impl BaselineRow {
    /// Builds the rows `insert_records` would write for `data`, created by `actor` at `at` on a
    /// node of `origin_region` (a fresh UUIDv7 id, version 1, status active).
    pub(crate) fn new(
        data: RecordData,
        origin_region: RegionCode,
        actor: &str,
        at: OffsetDateTime,
    ) -> Result<BaselineRow, StoreError> {
        let id = Uuid::now_v7().to_string();
        let record = records::Model {
            id: id.clone(),
            version: 1,
            subject_code: data.subject.storage_key().to_owned(),
            subject_kind: data.subject.kind_str().to_owned(),
            subject_name: data.subject_name,
            kind: data.kind.as_str().to_owned(),
            category: data.category.map(|c| c.as_str().to_owned()),
            domain: data.domain.as_str().to_owned(),
            source_dept: data.source_dept.as_str().to_owned(),
            source_record_id: data.source_record_id,
            document_no: data.document_no,
            decision_date: data.decision_date,
            legal_basis: data.legal_basis,
            content: data.content,
            severity: data.severity.as_str().to_owned(),
            period_start: data.period_start,
            period_end: data.period_end,
            publication_level: data.publication_level.as_str().to_owned(),
            status: RecordStatus::Active.as_str().to_owned(),
            origin_region: origin_region.to_string(),
            origin_record_id: id,
            created_at: at,
            updated_at: at,
        };
        let snapshot = serde_json::to_value(&record)
            .map_err(|error| StoreError::Corrupt(format!("snapshot: {error}")))?;
        Ok(BaselineRow {
            record,
            actor: actor.to_owned(),
            at,
            snapshot,
        })
    }

    fn bind_record(&self, args: &mut sqlx::sqlite::SqliteArguments) -> Result<(), StoreError> {
        let r = &self.record;
        let results = [
            args.add(r.id.as_str()),
            args.add(r.version),
            args.add(r.subject_code.as_str()),
            args.add(r.subject_kind.as_str()),
            args.add(r.subject_name.as_str()),
            args.add(r.kind.as_str()),
            args.add(r.category.as_deref()),
            args.add(r.domain.as_str()),
            args.add(r.source_dept.as_str()),
            args.add(r.source_record_id.as_str()),
            args.add(r.document_no.as_str()),
            args.add(r.decision_date),
            args.add(r.legal_basis.as_str()),
            args.add(r.content.as_str()),
            args.add(r.severity.as_str()),
            args.add(r.period_start),
            args.add(r.period_end),
            args.add(r.publication_level.as_str()),
            args.add(r.status.as_str()),
            args.add(r.origin_region.as_str()),
            args.add(r.origin_record_id.as_str()),
            args.add(r.created_at),
            args.add(r.updated_at),
        ];
        results
            .into_iter()
            .try_for_each(|result| result.map_err(encode_error))
    }

    fn bind_version(&self, args: &mut sqlx::sqlite::SqliteArguments) -> Result<(), StoreError> {
        let results = [
            args.add(self.record.id.as_str()),
            args.add(self.record.version),
            args.add(ChangeKind::Created.as_str()),
            args.add(None::<String>),
            args.add(self.actor.as_str()),
            args.add(self.at),
            args.add(&self.snapshot),
        ];
        results
            .into_iter()
            .try_for_each(|result| result.map_err(encode_error))
    }

    /// Appends the `records` line of this row in COPY text format.
    fn copy_record(&self, out: &mut String) -> Result<(), StoreError> {
        let r = &self.record;
        let fields: [Option<String>; 23] = [
            Some(r.id.clone()),
            Some(r.version.to_string()),
            Some(r.subject_code.clone()),
            Some(r.subject_kind.clone()),
            Some(r.subject_name.clone()),
            Some(r.kind.clone()),
            r.category.clone(),
            Some(r.domain.clone()),
            Some(r.source_dept.clone()),
            Some(r.source_record_id.clone()),
            Some(r.document_no.clone()),
            Some(r.decision_date.to_string()),
            Some(r.legal_basis.clone()),
            Some(r.content.clone()),
            Some(r.severity.clone()),
            r.period_start.map(|d| d.to_string()),
            r.period_end.map(|d| d.to_string()),
            Some(r.publication_level.clone()),
            Some(r.status.clone()),
            Some(r.origin_region.clone()),
            Some(r.origin_record_id.clone()),
            Some(timestamp(r.created_at)?),
            Some(timestamp(r.updated_at)?),
        ];
        copy_line(out, &fields);
        Ok(())
    }

    /// Appends the `record_versions` line of this row in COPY text format.
    fn copy_version(&self, out: &mut String) -> Result<(), StoreError> {
        let fields: [Option<String>; 7] = [
            Some(self.record.id.clone()),
            Some(self.record.version.to_string()),
            Some(ChangeKind::Created.as_str().to_owned()),
            None,
            Some(self.actor.clone()),
            Some(timestamp(self.at)?),
            Some(self.snapshot.to_string()),
        ];
        copy_line(out, &fields);
        Ok(())
    }
}

/// What the baseline measured.
#[derive(Clone, Debug)]
pub struct BaselineTiming {
    /// How the rows were written, for the report.
    pub method: &'static str,
    /// Wall-clock time of the database work (payload encoding excluded).
    pub elapsed: Duration,
    /// Time spent encoding the COPY payload before the clock started (zero for SQLite, whose
    /// parameters are bound inside the timed transaction).
    pub prepare: Duration,
}

/// Row counts of the tables a write touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableCounts {
    /// Rows in `records`.
    pub records: u64,
    /// Rows in `record_versions`.
    pub record_versions: u64,
    /// Rows in `audit_log`.
    pub audit_log: u64,
    /// Rows in `journal_events`.
    pub journal_events: u64,
}

fn sqlx_error(error: sqlx::Error) -> StoreError {
    StoreError::from(DbErr::Exec(RuntimeErr::SqlxError(error.into())))
}

fn encode_error(error: sqlx::error::BoxDynError) -> StoreError {
    StoreError::Corrupt(format!("cannot bind a baseline value: {error}"))
}

fn timestamp(at: OffsetDateTime) -> Result<String, StoreError> {
    at.format(&Rfc3339)
        .map_err(|error| StoreError::Corrupt(format!("timestamp: {error}")))
}

/// Writes one line of PostgreSQL COPY text format: tab-separated, `\N` for NULL, backslash,
/// tab, newline and carriage return escaped.
fn copy_line(out: &mut String, fields: &[Option<String>]) {
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push('\t');
        }
        match field {
            None => out.push_str("\\N"),
            Some(value) => {
                for c in value.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\t' => out.push_str("\\t"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        other => out.push(other),
                    }
                }
            }
        }
    }
    out.push('\n');
}

/// Encodes `rows` for one table as COPY data messages of about [`COPY_MESSAGE_BYTES`].
fn copy_payload(
    rows: &[BaselineRow],
    line: fn(&BaselineRow, &mut String) -> Result<(), StoreError>,
) -> Result<Vec<String>, StoreError> {
    let mut messages = Vec::new();
    let mut current = String::with_capacity(COPY_MESSAGE_BYTES + 4096);
    for row in rows {
        line(row, &mut current)?;
        if current.len() >= COPY_MESSAGE_BYTES {
            messages.push(std::mem::replace(
                &mut current,
                String::with_capacity(COPY_MESSAGE_BYTES + 4096),
            ));
        }
    }
    if !current.is_empty() {
        messages.push(current);
    }
    Ok(messages)
}

fn insert_sql(table: &str, columns: &[&str], n_rows: usize) -> String {
    let placeholders = format!("({})", vec!["?"; columns.len()].join(", "));
    format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(", "),
        vec![placeholders.as_str(); n_rows].join(", ")
    )
}

/// A database name the benchmark may create and drop: lower-case ASCII letters, digits and `_`,
/// starting with `bench_`, so that a typo can never drop a real database.
fn check_scratch_name(name: &str) -> Result<(), StoreError> {
    let valid = name.starts_with("bench_")
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "'{name}' is not a benchmark scratch database name"
        )))
    }
}

/// Creates the empty PostgreSQL database `name` (which must start with `bench_`) on the server
/// `admin_url` points at.
pub(crate) async fn create_scratch_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
    check_scratch_name(name)?;
    let admin = Database::connect(admin_url).await?;
    let result = admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await;
    admin.close().await?;
    result?;
    Ok(())
}

/// Whether the PostgreSQL database `name` (which must start with `bench_`) exists on the
/// server `admin_url` points at.
pub(crate) async fn scratch_database_exists(
    admin_url: &str,
    name: &str,
) -> Result<bool, StoreError> {
    check_scratch_name(name)?;
    let admin = Database::connect(admin_url).await?;
    let result = admin
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 FROM pg_database WHERE datname = $1",
            [name.into()],
        ))
        .await;
    admin.close().await?;
    Ok(result?.is_some())
}

/// Drops the PostgreSQL database `name` (which must start with `bench_`), disconnecting
/// anything still connected to it.
pub(crate) async fn drop_scratch_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
    check_scratch_name(name)?;
    let admin = Database::connect(admin_url).await?;
    let result = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await;
    admin.close().await?;
    result?;
    Ok(())
}

impl Store {
    /// Writes `rows` the fastest raw way the backend offers and returns how long the database
    /// work took: PostgreSQL `COPY records` then `COPY record_versions` in one transaction (text
    /// format, payload encoded before the clock starts); SQLite one transaction of 1,000-row
    /// `INSERT`s into both tables. No existing-key lookup, no audit row.
    pub(crate) async fn copy_baseline(
        &self,
        rows: &[BaselineRow],
    ) -> Result<BaselineTiming, StoreError> {
        match self.db.get_database_backend() {
            DbBackend::Postgres => self.copy_postgres(rows).await,
            DbBackend::Sqlite => self.insert_sqlite(rows).await,
            _ => Err(StoreError::Corrupt(
                "the baseline supports PostgreSQL and SQLite only".to_owned(),
            )),
        }
    }

    async fn copy_postgres(&self, rows: &[BaselineRow]) -> Result<BaselineTiming, StoreError> {
        let prepare_started = Instant::now();
        let record_data = copy_payload(rows, BaselineRow::copy_record)?;
        let version_data = copy_payload(rows, BaselineRow::copy_version)?;
        let prepare = prepare_started.elapsed();
        let records_statement = format!(
            "COPY records ({}) FROM STDIN (FORMAT text)",
            RECORD_COLUMNS.join(", ")
        );
        let versions_statement = format!(
            "COPY record_versions ({}) FROM STDIN (FORMAT text)",
            VERSION_COLUMNS.join(", ")
        );
        let pool = self.db.get_postgres_connection_pool();
        let started = Instant::now();
        let mut connection = pool.acquire().await.map_err(sqlx_error)?;
        sqlx::query("BEGIN")
            .execute(&mut *connection)
            .await
            .map_err(sqlx_error)?;
        for (statement, data) in [
            (&records_statement, &record_data),
            (&versions_statement, &version_data),
        ] {
            let mut copy = connection
                .copy_in_raw(statement)
                .await
                .map_err(sqlx_error)?;
            for message in data {
                if let Err(error) = copy.send(message.as_bytes()).await {
                    let _ = copy.abort("benchmark baseline failed").await;
                    return Err(sqlx_error(error));
                }
            }
            let copied = copy.finish().await.map_err(sqlx_error)?;
            if copied != rows.len() as u64 {
                return Err(StoreError::Corrupt(format!(
                    "COPY wrote {copied} rows, expected {}",
                    rows.len()
                )));
            }
        }
        sqlx::query("COMMIT")
            .execute(&mut *connection)
            .await
            .map_err(sqlx_error)?;
        Ok(BaselineTiming {
            method: "COPY records + COPY record_versions (text format), one transaction",
            elapsed: started.elapsed(),
            prepare,
        })
    }

    async fn insert_sqlite(&self, rows: &[BaselineRow]) -> Result<BaselineTiming, StoreError> {
        let pool = self.db.get_sqlite_connection_pool();
        let full_records_sql: Arc<str> =
            insert_sql("records", &RECORD_COLUMNS, SQLITE_CHUNK).into();
        let full_versions_sql: Arc<str> =
            insert_sql("record_versions", &VERSION_COLUMNS, SQLITE_CHUNK).into();
        let started = Instant::now();
        let mut transaction = pool.begin().await.map_err(sqlx_error)?;
        for chunk in rows.chunks(SQLITE_CHUNK) {
            let (records_sql, versions_sql) = if chunk.len() == SQLITE_CHUNK {
                (
                    Arc::clone(&full_records_sql),
                    Arc::clone(&full_versions_sql),
                )
            } else {
                (
                    insert_sql("records", &RECORD_COLUMNS, chunk.len()).into(),
                    insert_sql("record_versions", &VERSION_COLUMNS, chunk.len()).into(),
                )
            };
            let mut record_args = sqlx::sqlite::SqliteArguments::default();
            let mut version_args = sqlx::sqlite::SqliteArguments::default();
            for row in chunk {
                row.bind_record(&mut record_args)?;
                row.bind_version(&mut version_args)?;
            }
            sqlx::query_with(AssertSqlSafe(records_sql), record_args)
                .execute(&mut *transaction)
                .await
                .map_err(sqlx_error)?;
            sqlx::query_with(AssertSqlSafe(versions_sql), version_args)
                .execute(&mut *transaction)
                .await
                .map_err(sqlx_error)?;
        }
        transaction.commit().await.map_err(sqlx_error)?;
        Ok(BaselineTiming {
            method: "one transaction of 1,000-row INSERTs into records + record_versions (sqlx, bound parameters)",
            elapsed: started.elapsed(),
            prepare: Duration::ZERO,
        })
    }

    /// Row counts of the tables an ingest writes (to check a benchmark wrote what it claims).
    pub(crate) async fn table_counts(&self) -> Result<TableCounts, StoreError> {
        Ok(TableCounts {
            records: records::Entity::find().count(&self.db).await?,
            record_versions: record_versions::Entity::find().count(&self.db).await?,
            audit_log: audit_log::Entity::find().count(&self.db).await?,
            journal_events: journal_events::Entity::find().count(&self.db).await?,
        })
    }

    /// The database server's version string, for the benchmark report.
    pub(crate) async fn server_version(&self) -> Result<String, StoreError> {
        let sql = match self.db.get_database_backend() {
            DbBackend::Postgres => "SELECT current_setting('server_version') AS v",
            _ => "SELECT sqlite_version() AS v",
        };
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                sql,
            ))
            .await?
            .ok_or_else(|| StoreError::Corrupt("no version row".to_owned()))?;
        Ok(row.try_get::<String>("", "v")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_special_characters_and_nulls() {
        let mut out = String::new();
        copy_line(
            &mut out,
            &[
                Some("a\\b\tc\nd\re".to_owned()),
                None,
                Some("饶平".to_owned()),
            ],
        );
        assert_eq!(out, "a\\\\b\\tc\\nd\\re\t\\N\t饶平\n");
    }

    #[test]
    fn insert_sql_has_one_placeholder_group_per_row() {
        let sql = insert_sql("t", &["a", "b"], 3);
        assert_eq!(sql, "INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)");
    }

    #[test]
    fn scratch_names_are_guarded() {
        assert!(check_scratch_name("bench_0193a1b27c3d7e4f").is_ok());
        for bad in ["postgres", "bench_x\"; DROP", "Bench_1", "integrity"] {
            assert!(check_scratch_name(bad).is_err(), "{bad}");
        }
    }
}
