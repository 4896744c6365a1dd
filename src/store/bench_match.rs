//! Bulk loading of synthetic list entries for `integrity-node bench match` (see
//! `crate::bench_match`): rows go straight into `list_entries`, as a child node holds entries
//! replicated from above, with the same columns `lists::entry_row` writes (the narrow index
//! columns and the signed-payload JSON), so the node serves them like any other entry.
//!
//! Nothing here runs in a serving node. No `list_changes` rows are written: the match index is
//! built from `list_entries`, and signing ten million journal entries would measure Ed25519,
//! not the match API.

use sea_orm::sqlx::{self, AssertSqlSafe};
use sea_orm::{DbBackend, DbErr, EntityTrait, PaginatorTrait, RuntimeErr};

use super::entities::list_entries;
use super::lists::index_columns;
use super::{Store, StoreError};
use crate::domain::lists::ListEntry;

/// Columns of `list_entries`, in the order of [`bind_entry`].
const COLUMNS: [&str; 17] = [
    "id",
    "list_code",
    "issuer_region",
    "version",
    "seq",
    "subject_code",
    "subject_kind",
    "subject_name",
    "document_no",
    "status",
    "effective_from",
    "effective_to",
    "names",
    "measures",
    "rep_id",
    "payload",
    "updated_at",
];

/// Rows per `INSERT` (17 × 1,000 bound parameters, under SQLite's 32,766).
const CHUNK: usize = 1_000;

fn sqlx_error(error: sqlx::Error) -> StoreError {
    StoreError::from(DbErr::Exec(RuntimeErr::SqlxError(error.into())))
}

fn bind_entry<'q, A>(
    args: &mut A,
    entry: &'q ListEntry,
    seq: i64,
    payload: &'q str,
) -> Result<(), StoreError>
where
    A: sqlx::Arguments,
    String: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    &'q str: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    Option<String>: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    i32: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    i64: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    time::Date: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    Option<time::Date>: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
    time::OffsetDateTime: sqlx::Encode<'q, A::Database> + sqlx::Type<A::Database>,
{
    let (names, measures, rep_id) = index_columns(entry);
    let results = [
        args.add(entry.id.to_string()),
        args.add(entry.list.as_str()),
        args.add(entry.issuer_region.as_str()),
        args.add(entry.version),
        args.add(seq),
        args.add(entry.subject_code.as_str()),
        args.add(entry.subject_kind.as_str()),
        args.add(entry.subject_name.as_str()),
        args.add(entry.document_no.as_str()),
        args.add(entry.status.as_str()),
        args.add(entry.effective_from),
        args.add(entry.effective_to),
        args.add(names),
        args.add(measures),
        args.add(rep_id),
        args.add(payload),
        args.add(entry.updated_at),
    ];
    results.into_iter().try_for_each(|result| {
        result.map_err(|error| StoreError::Corrupt(format!("cannot bind an entry: {error}")))
    })
}

/// One multi-row `INSERT` of `n_rows` rows: `?` placeholders for SQLite, numbered `$n` ones
/// for PostgreSQL.
fn insert_sql(n_rows: usize, numbered: bool) -> String {
    let rows: Vec<String> = (0..n_rows)
        .map(|row| {
            let marks: Vec<String> = (1..=COLUMNS.len())
                .map(|column| {
                    if numbered {
                        format!("${}", row * COLUMNS.len() + column)
                    } else {
                        "?".to_owned()
                    }
                })
                .collect();
            format!("({})", marks.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO list_entries ({}) VALUES {}",
        COLUMNS.join(", "),
        rows.join(", ")
    )
}

/// `entries` as `CHUNK`-row `INSERT`s on `transaction`, `seq` counting from `first_seq`;
/// `numbered`: PostgreSQL's `$n` placeholders.
async fn insert_chunks<DB>(
    transaction: &mut sqlx::Transaction<'_, DB>,
    entries: &[(ListEntry, String)],
    first_seq: i64,
    numbered: bool,
) -> Result<(), StoreError>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> time::Date: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<time::Date>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> time::OffsetDateTime: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let full_sql = insert_sql(CHUNK, numbered);
    let mut seq = first_seq;
    for chunk in entries.chunks(CHUNK) {
        let mut args = DB::Arguments::default();
        for (entry, payload) in chunk {
            bind_entry(&mut args, entry, seq, payload)?;
            seq += 1;
        }
        let sql = if chunk.len() == CHUNK {
            full_sql.clone()
        } else {
            insert_sql(chunk.len(), numbered)
        };
        sqlx::query_with::<DB, _>(AssertSqlSafe(sql), args)
            .execute(&mut **transaction)
            .await
            .map_err(sqlx_error)?;
    }
    Ok(())
}

impl Store {
    /// Inserts `entries` (each with its payload, the entry's JSON) into `list_entries` in one
    /// transaction of 1,000-row `INSERT`s; the `seq` column counts from `first_seq`. The
    /// benchmark's database is a fresh SQLite file or a fresh PostgreSQL database.
    pub(crate) async fn insert_list_entries_for_benchmark(
        &self,
        entries: &[(ListEntry, String)],
        first_seq: i64,
    ) -> Result<(), StoreError> {
        match self.db.get_database_backend() {
            DbBackend::Sqlite => self.insert_entries_sqlite(entries, first_seq).await,
            DbBackend::Postgres => self.insert_entries_postgres(entries, first_seq).await,
            _ => Err(StoreError::Corrupt(
                "bench match loads SQLite or PostgreSQL only".to_owned(),
            )),
        }
    }

    async fn insert_entries_sqlite(
        &self,
        entries: &[(ListEntry, String)],
        first_seq: i64,
    ) -> Result<(), StoreError> {
        let pool = self.db.get_sqlite_connection_pool();
        let mut transaction = pool.begin().await.map_err(sqlx_error)?;
        // A large page cache keeps the random inserts into the subject and document indexes
        // in memory (this connection only; the loading store is closed before the node starts).
        sqlx::query("PRAGMA cache_size = -1048576")
            .execute(&mut *transaction)
            .await
            .map_err(sqlx_error)?;
        insert_chunks(&mut transaction, entries, first_seq, false).await?;
        transaction.commit().await.map_err(sqlx_error)
    }

    async fn insert_entries_postgres(
        &self,
        entries: &[(ListEntry, String)],
        first_seq: i64,
    ) -> Result<(), StoreError> {
        let pool = self.db.get_postgres_connection_pool();
        let mut transaction = pool.begin().await.map_err(sqlx_error)?;
        insert_chunks(&mut transaction, entries, first_seq, true).await?;
        transaction.commit().await.map_err(sqlx_error)
    }

    /// Size of the PostgreSQL database on disk (`pg_database_size`).
    pub(crate) async fn database_bytes(&self) -> Result<u64, StoreError> {
        let pool = self.db.get_postgres_connection_pool();
        let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(pool)
            .await
            .map_err(sqlx_error)?;
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    /// Rows in `list_entries`.
    pub(crate) async fn count_list_entries(&self) -> Result<u64, StoreError> {
        Ok(list_entries::Entity::find().count(&self.db).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_placeholder_group_per_row() {
        let sql = insert_sql(2, false);
        assert_eq!(sql.matches('?').count(), 2 * COLUMNS.len());
        assert!(sql.starts_with("INSERT INTO list_entries (id, list_code,"));
        let numbered = insert_sql(2, true);
        assert!(numbered.contains("($1, $2,"), "{numbered}");
        assert!(
            numbered.contains("), ($18, $19,"),
            "the second row starts at $18: {numbered}"
        );
        assert!(numbered.ends_with("$34)"), "{numbered}");
    }
}
