//! Storage: the only module that imports sea-orm. It returns domain types.
//!
//! Invariant: every query over records takes a [`Visibility`] derived from the caller, so tenant
//! scoping is part of how a query is written, not a filter a handler might forget.
//! Invariant: writes and their audit row commit in one transaction; there is no write without
//! its audit row and no audit row for a write that did not happen.
//! Invariant: one node process writes to a database at a time (the audit chain head is held in
//! memory); a second writer collides on the audit primary key rather than forking the chain.

pub mod audit;
pub mod bench;
pub mod bench_match;
pub mod entities;
pub mod federation;
pub mod journal;
pub mod keys;
pub mod lists;
pub mod matches;
pub mod monitors;
pub mod prewarm;
pub mod records;
pub mod stats;
pub mod webhooks;

use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
    TransactionTrait,
};
use tokio::sync::Mutex;

pub use records::{
    Counts, InsertOutcome, NewRecord, RecordChange, RecordFilter, RecordPage, Visibility,
};

/// What the store can fail with. Mapped to HTTP in exactly one place (`error.rs`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist (or is not visible to the caller, which must look the same).
    #[error("not found")]
    NotFound,
    /// A named unique constraint was violated.
    #[error("conflict on {0}")]
    Conflict(&'static str),
    /// Optimistic concurrency: the caller expected another version.
    #[error("record is at version {current}, not {expected}")]
    VersionMismatch {
        /// Version the caller sent.
        expected: i32,
        /// Version stored.
        current: i32,
    },
    /// The record's status does not allow the change.
    #[error("record status '{status}' does not allow this change")]
    InvalidState {
        /// Current status.
        status: String,
    },
    /// The database could not be reached.
    #[error("database unavailable")]
    Unavailable(#[source] DbErr),
    /// Stored data that does not parse into domain types (should never happen: every write is
    /// validated first).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Anything else the database said.
    #[error("database error")]
    Database(#[source] DbErr),
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        match &error {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => StoreError::Unavailable(error),
            _ => {
                let text = error.to_string();
                if text.contains("uq_records_source")
                    || (text.contains("UNIQUE constraint failed")
                        && text.contains("records.source_dept"))
                {
                    StoreError::Conflict("uq_records_source")
                } else if text.contains("audit_log") && text.to_lowercase().contains("unique")
                    || text.contains("audit_log_pkey")
                {
                    StoreError::Conflict("audit_log_pkey")
                } else if is_unavailable(&text) {
                    StoreError::Unavailable(error)
                } else {
                    StoreError::Database(error)
                }
            }
        }
    }
}

fn is_unavailable(text: &str) -> bool {
    // sqlx reports a dropped pool or socket through several error shapes; these substrings are
    // the stable parts of them.
    [
        "pool timed out",
        "connection refused",
        "broken pipe",
        "pool closed",
        "Connection reset",
        "database is locked",
        "unable to open database",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// `MAX(seq)` of a gap-free sequence per `group` value (origin, issuer …), for every group or
/// for the one named by `only`. The journals, the skip markers and the list changes all keep
/// their heads this way.
pub(crate) async fn max_seq_per<E: sea_orm::EntityTrait>(
    db: &impl ConnectionTrait,
    group: E::Column,
    seq: E::Column,
    only: Option<&str>,
) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
    use sea_orm::sea_query::{Expr, Func};
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    let mut query = E::find()
        .select_only()
        .column(group)
        .column_as(Expr::expr(Func::max(Expr::col(seq))), "last")
        .group_by(group);
    if let Some(only) = only {
        query = query.filter(group.eq(only));
    }
    let rows: Vec<(String, Option<i64>)> = query.into_tuple().all(db).await?;
    Ok(rows
        .into_iter()
        .map(|(group, last)| (group, last.unwrap_or(0)))
        .collect())
}

/// Database handle plus the in-memory head of the audit chain.
pub struct Store {
    db: DatabaseConnection,
    /// Where the decision log's database copy commits: on SQLite a connection of its own
    /// with `synchronous=NORMAL` (the write-ahead decision journal is what makes an answered
    /// decision durable; the copy is flushed only at the projector's durability barriers, see
    /// `insert_decisions`), on PostgreSQL the pool (every commit is flushed).
    decisions_db: DatabaseConnection,
    /// True when `decisions_db` is that SQLite connection, whose commits are not flushed
    /// unless asked.
    decisions_deferred_sync: bool,
    audit_head: Mutex<audit::ChainHead>,
    journal: std::sync::OnceLock<journal::JournalWriter>,
    /// Highest journal sequence number held per origin, loaded once by `enable_journal` and
    /// advanced after each commit, so the push loop does not scan the journal every round.
    journal_heads: std::sync::Mutex<std::collections::BTreeMap<String, i64>>,
    /// Bumped after every committed list change (see `lists::subscribe_lists`).
    lists_version: tokio::sync::watch::Sender<u64>,
    /// Bumped after every commit that moved a journal head: wakes the push loop and batches
    /// waiting for their predecessor (`wait_for_heads`).
    journal_advanced: tokio::sync::watch::Sender<u64>,
}

/// How to connect.
#[derive(Clone, Debug)]
pub struct ConnectSettings {
    /// sea-orm URL (`sqlite://…?mode=rwc` or `postgres://…`).
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// How long to wait for a pooled connection before answering 503.
    pub acquire_timeout: Duration,
}

impl Store {
    /// Connects (SQLite in WAL mode with a busy timeout) and loads the audit chain head.
    /// Does not migrate.
    pub async fn connect(settings: &ConnectSettings) -> Result<Store, StoreError> {
        let mut options = ConnectOptions::new(settings.url.clone());
        options
            .max_connections(settings.max_connections)
            .min_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .connect_timeout(settings.acquire_timeout)
            .sqlx_logging(false)
            // Set on every pooled connection as it opens (a pragma run on the pool would reach
            // one connection only). WAL lets readers proceed during a write. synchronous=FULL
            // syncs the WAL at every commit: a record, an audit row or a federation cursor is
            // on disk before its answer, so a power loss never undoes what a caller or a peer
            // node was told is stored (NORMAL could lose the last commits). The decision copy
            // below is the one exception, because the decision journal makes it durable.
            // busy_timeout makes concurrent writers wait instead of failing.
            .map_sqlx_sqlite_opts(|options| {
                options
                    .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
            });
        let db = Database::connect(options).await?;
        // An in-memory SQLite database is private to its connection: no second one there.
        let in_memory = settings.url.contains(":memory:") || settings.url.contains("mode=memory");
        let (decisions_db, decisions_deferred_sync) =
            if db.get_database_backend() == DbBackend::Sqlite && !in_memory {
                let mut options = ConnectOptions::new(settings.url.clone());
                options
                    .max_connections(1)
                    .min_connections(1)
                    .acquire_timeout(settings.acquire_timeout)
                    .connect_timeout(settings.acquire_timeout)
                    .sqlx_logging(false)
                    .map_sqlx_sqlite_opts(|options| {
                        options
                            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                            .busy_timeout(Duration::from_secs(5))
                    });
                (Database::connect(options).await?, true)
            } else {
                (db.clone(), false)
            };
        Ok(Store {
            db,
            decisions_db,
            decisions_deferred_sync,
            audit_head: Mutex::new(audit::ChainHead::genesis()),
            journal: std::sync::OnceLock::new(),
            journal_heads: std::sync::Mutex::new(std::collections::BTreeMap::new()),
            lists_version: tokio::sync::watch::Sender::new(0),
            journal_advanced: tokio::sync::watch::Sender::new(0),
        })
    }

    /// Starts a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: a deferred
    /// transaction that reads first and writes later cannot upgrade to a writer once another
    /// connection has committed since its read (`SQLITE_BUSY_SNAPSHOT`, which `busy_timeout`
    /// does not wait out), and the push loop's cursor updates commit concurrently with record
    /// writes. Taking the write lock at `BEGIN` makes such a transaction wait instead. Other
    /// backends ignore the mode.
    pub(crate) async fn begin_write(&self) -> Result<sea_orm::DatabaseTransaction, StoreError> {
        Ok(self
            .db
            .begin_with_options(sea_orm::TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?)
    }

    /// The main connection, for tests that look at what is stored.
    #[cfg(test)]
    pub(crate) fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Starts a write transaction of the decision log on its own connection (`BEGIN
    /// IMMEDIATE` on SQLite, like `begin_write`).
    pub(crate) async fn begin_decisions(&self) -> Result<sea_orm::DatabaseTransaction, StoreError> {
        Ok(self
            .decisions_db
            .begin_with_options(sea_orm::TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?)
    }

    /// Applies pending migrations, then reloads the audit head.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await?;
        self.load_audit_head().await
    }

    /// Number of migrations not yet applied.
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        Ok(Migrator::get_pending_migrations(&self.db).await?.len())
    }

    /// Reads the last audit row into memory (call after migrating).
    pub async fn load_audit_head(&self) -> Result<(), StoreError> {
        let head = audit::read_head(&self.db).await?;
        *self.audit_head.lock().await = head;
        Ok(())
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(StoreError::Unavailable)
    }

    /// Which backend this is ("sqlite" or "postgres"), for logs and metrics.
    pub fn backend_name(&self) -> &'static str {
        match self.db.get_database_backend() {
            DbBackend::Sqlite => "sqlite",
            DbBackend::Postgres => "postgres",
            _ => "other",
        }
    }

    /// Closes the pool (used at shutdown and by tests that simulate a lost database).
    pub async fn close(&self) -> Result<(), StoreError> {
        self.db.clone().close().await?;
        // On PostgreSQL (and in-memory SQLite) it is the same pool, closed above.
        let _ = self.decisions_db.clone().close().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, TransactionTrait};

    /// What `PRAGMA name` answers on this transaction's connection, as text.
    #[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
    async fn pragma(txn: &sea_orm::DatabaseTransaction, name: &str) -> String {
        let row = txn
            .query_one_raw(sea_orm::Statement::from_string(
                DbBackend::Sqlite,
                format!("PRAGMA {name}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0)
            .map(|n| n.to_string())
            .or_else(|_| row.try_get_by_index::<String>(0))
            .unwrap()
    }

    #[tokio::test]
    #[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
    async fn every_pooled_sqlite_connection_syncs_each_commit_and_waits_when_busy() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&ConnectSettings {
            url: format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("node.sqlite3").display()
            ),
            max_connections: 3,
            acquire_timeout: Duration::from_secs(5),
        })
        .await
        .unwrap();
        // Three transactions held at once: three distinct connections, each answering for
        // itself (a pragma run once on the pool used to reach only the first).
        let mut open = Vec::new();
        for _ in 0..3 {
            open.push(store.db.begin().await.unwrap());
        }
        for txn in &open {
            assert_eq!(
                pragma(txn, "synchronous").await,
                "2",
                "FULL on every connection"
            );
            assert_eq!(pragma(txn, "busy_timeout").await, "5000");
            assert_eq!(pragma(txn, "foreign_keys").await, "1");
            assert_eq!(pragma(txn, "journal_mode").await, "wal");
        }
        // The decision copy's own connection: NORMAL (the decision journal makes it durable).
        let copy = store.decisions_db.begin().await.unwrap();
        assert_eq!(pragma(&copy, "synchronous").await, "1");
        assert_eq!(pragma(&copy, "busy_timeout").await, "5000");
    }
}
