//! Bulk loading of synthetic list entries for `integrity-node bench match` (see
//! `crate::bench_match`): rows go straight into `list_entries`, as a child node holds entries
//! replicated from above, with the same columns `lists::entry_row` writes (the narrow index
//! columns and the signed-payload JSON), so the node serves them like any other entry.
//!
//! Nothing here runs in a serving node. No `list_changes` rows are written: the match index is
//! built from `list_entries`, and signing ten million journal entries would measure Ed25519,
//! not the match API.

use sea_orm::sqlx::{self, Arguments as _, AssertSqlSafe};
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

fn bind_entry(
    args: &mut sqlx::sqlite::SqliteArguments,
    entry: &ListEntry,
    seq: i64,
    payload: &str,
) -> Result<(), StoreError> {
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

fn insert_sql(n_rows: usize) -> String {
    let placeholders = format!("({})", vec!["?"; COLUMNS.len()].join(", "));
    format!(
        "INSERT INTO list_entries ({}) VALUES {}",
        COLUMNS.join(", "),
        vec![placeholders.as_str(); n_rows].join(", ")
    )
}

impl Store {
    /// Inserts `entries` (each with its payload, the entry's JSON) into `list_entries` in one
    /// transaction of 1,000-row `INSERT`s; the `seq` column counts from `first_seq`. Embedded
    /// SQLite only: the benchmark's database is a fresh file.
    pub(crate) async fn insert_list_entries_for_benchmark(
        &self,
        entries: &[(ListEntry, String)],
        first_seq: i64,
    ) -> Result<(), StoreError> {
        if self.db.get_database_backend() != DbBackend::Sqlite {
            return Err(StoreError::Corrupt(
                "bench match loads embedded SQLite only".to_owned(),
            ));
        }
        let pool = self.db.get_sqlite_connection_pool();
        let mut transaction = pool.begin().await.map_err(sqlx_error)?;
        // A large page cache keeps the random inserts into the subject and document indexes
        // in memory (this connection only; the loading store is closed before the node starts).
        sqlx::query("PRAGMA cache_size = -1048576")
            .execute(&mut *transaction)
            .await
            .map_err(sqlx_error)?;
        let full_sql = insert_sql(CHUNK);
        let mut seq = first_seq;
        for chunk in entries.chunks(CHUNK) {
            let mut args = sqlx::sqlite::SqliteArguments::default();
            for (entry, payload) in chunk {
                bind_entry(&mut args, entry, seq, payload)?;
                seq += 1;
            }
            let sql = if chunk.len() == CHUNK {
                full_sql.clone()
            } else {
                insert_sql(chunk.len())
            };
            sqlx::query_with(AssertSqlSafe(sql), args)
                .execute(&mut *transaction)
                .await
                .map_err(sqlx_error)?;
        }
        transaction.commit().await.map_err(sqlx_error)?;
        Ok(())
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
        let sql = insert_sql(2);
        assert_eq!(sql.matches('?').count(), 2 * COLUMNS.len());
        assert!(sql.starts_with("INSERT INTO list_entries (id, list_code,"));
    }
}
