//! The decision log of the match API (see `matching::receipt` for the chain).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use time::OffsetDateTime;

use super::entities::match_decisions;
use super::webhooks::unix_micros;
use super::{Store, StoreError};

pub use match_decisions::Model as DecisionRow;

/// Filters of the supervisors' query.
#[derive(Clone, Debug, Default)]
pub struct DecisionFilter {
    /// Project id.
    pub project: Option<String>,
    /// Only decisions with at least one bidder of this verdict.
    pub verdict: Option<String>,
    /// Decided at or after.
    pub from: Option<OffsetDateTime>,
    /// Decided before.
    pub to: Option<OffsetDateTime>,
    /// Only decisions of this caller (a key holder reading its own).
    pub caller: Option<String>,
    /// Sequence numbers below this (cursor: newest first).
    pub before_seq: Option<i64>,
}

impl Store {
    /// The last decision's (seq, hash), or (0, genesis).
    pub async fn last_decision(&self) -> Result<(i64, String), StoreError> {
        let last = match_decisions::Entity::find()
            .order_by_desc(match_decisions::Column::Seq)
            .one(&self.db)
            .await?;
        Ok(last.map_or_else(
            || (0, crate::matching::receipt::GENESIS.to_owned()),
            |row| (row.seq, row.hash),
        ))
    }

    /// True when `insert_decisions` commits are on disk only if asked for (`flush`): the
    /// embedded database's decision connection. On PostgreSQL every commit is flushed.
    pub fn decision_commits_deferred(&self) -> bool {
        self.decisions_deferred_sync
    }

    /// Writes decisions and the webhook deliveries they cause in one transaction (the
    /// decision log's copy of journal groups).
    ///
    /// With `flush`, the commit is on disk when this returns, and so is every earlier one:
    /// on SQLite the connection runs `synchronous=NORMAL`, whose WAL commits are atomic and
    /// ordered but reach the disk only at a checkpoint, and a `flush` commit runs with
    /// `synchronous=FULL`, which syncs the WAL file and with it every frame before its own.
    /// The projector flushes about once a second and releases journal segments only up to a
    /// flushed decision, so a power loss can cost the copy its last second, never the journal
    /// its replay (journal segments held until then replay it at the next start).
    pub async fn insert_decisions(
        &self,
        rows: &[DecisionRow],
        deliveries: &[super::webhooks::NewDelivery],
        flush: bool,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let switch = flush && self.decisions_deferred_sync;
        if switch {
            self.decisions_db
                .execute_unprepared("PRAGMA synchronous=FULL")
                .await?;
        }
        let written = self.insert_decisions_txn(rows, deliveries).await;
        if switch {
            // Also after a failure: the connection must not stay in FULL.
            self.decisions_db
                .execute_unprepared("PRAGMA synchronous=NORMAL")
                .await?;
        }
        written
    }

    /// Makes every decision the database holds durable (a no-op where every commit already
    /// is). On SQLite a `TRUNCATE` checkpoint: the WAL is synced, copied into the database
    /// file, that file synced; the busy timeout waits out readers of older snapshots.
    ///
    /// # Errors
    /// The checkpoint failed or could not finish (readers kept it busy past the timeout).
    pub async fn flush_decisions(&self) -> Result<(), StoreError> {
        if !self.decisions_deferred_sync {
            return Ok(());
        }
        // The first column is `busy`: 0 when the checkpoint finished.
        let busy = self
            .decisions_pragma("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?
            .unwrap_or(1);
        if busy == 0 {
            Ok(())
        } else {
            Err(StoreError::Corrupt(
                "the database stayed busy; its decision copy could not be flushed".into(),
            ))
        }
    }

    /// The decision connection's `PRAGMA synchronous` (1 NORMAL, 2 FULL), for tests.
    #[cfg(test)]
    pub(crate) async fn decisions_synchronous(&self) -> Result<i32, StoreError> {
        self.decisions_pragma("PRAGMA synchronous")
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// The first column of what a pragma answers on the decision connection (SQLite).
    async fn decisions_pragma(&self, pragma: &str) -> Result<Option<i32>, StoreError> {
        let row = self
            .decisions_db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                pragma,
            ))
            .await?;
        Ok(row.map(|row| row.try_get_by_index(0)).transpose()?)
    }

    async fn insert_decisions_txn(
        &self,
        rows: &[DecisionRow],
        deliveries: &[super::webhooks::NewDelivery],
    ) -> Result<(), StoreError> {
        let txn = self.begin_decisions().await?;
        let written = async {
            if txn.get_database_backend() == sea_orm::DbBackend::Sqlite {
                insert_decisions_sqlite(&txn, rows).await?;
            } else {
                // 20 columns: 500 rows stay under PostgreSQL's parameter limit.
                for chunk in rows.chunks(500) {
                    match_decisions::Entity::insert_many(
                        chunk
                            .iter()
                            .cloned()
                            .map(sea_orm::IntoActiveModel::into_active_model),
                    )
                    .exec_without_returning(&txn)
                    .await?;
                }
            }
            super::webhooks::insert_deliveries(&txn, deliveries).await
        }
        .await;
        match written {
            Ok(()) => Ok(txn.commit().await?),
            Err(error) => {
                let _ = txn.rollback().await;
                Err(error)
            }
        }
    }

    /// Decisions matching `filter`, newest first.
    pub async fn find_decisions(
        &self,
        filter: &DecisionFilter,
        limit: u64,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        let mut query = match_decisions::Entity::find();
        if let Some(project) = &filter.project {
            query = query.filter(match_decisions::Column::ProjectId.eq(project.as_str()));
        }
        if let Some(caller) = &filter.caller {
            query = query.filter(match_decisions::Column::Caller.eq(caller.as_str()));
        }
        if let Some(from) = filter.from {
            query = query.filter(match_decisions::Column::CreatedUs.gte(unix_micros(from)));
        }
        if let Some(to) = filter.to {
            query = query.filter(match_decisions::Column::CreatedUs.lt(unix_micros(to)));
        }
        if let Some(seq) = filter.before_seq {
            query = query.filter(match_decisions::Column::Seq.lt(seq));
        }
        query = match filter.verdict.as_deref() {
            Some("block") => query.filter(match_decisions::Column::NBlock.gt(0)),
            Some("review") => query.filter(match_decisions::Column::NReview.gt(0)),
            Some("clear") => query.filter(match_decisions::Column::NClear.gt(0)),
            Some("invalid") => query.filter(match_decisions::Column::NInvalid.gt(0)),
            _ => query,
        };
        Ok(query
            .order_by_desc(match_decisions::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// One decision.
    pub async fn get_decision(&self, id: &str) -> Result<Option<DecisionRow>, StoreError> {
        Ok(match_decisions::Entity::find()
            .filter(match_decisions::Column::Id.eq(id))
            .one(&self.db)
            .await?)
    }

    /// Decisions after `after_seq`, in chain order (for verification).
    pub async fn decisions_after(
        &self,
        after_seq: i64,
        limit: u64,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        Ok(match_decisions::Entity::find()
            .filter(match_decisions::Column::Seq.gt(after_seq))
            .order_by_asc(match_decisions::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?)
    }
}

/// The columns of `match_decisions`, in the order [`row_values`] gives them.
const DECISION_COLUMNS: &str = "seq, id, created_at, created_us, caller, project_id, \
     project_kind, as_of, n_block, n_review, n_clear, n_invalid, request_hash, epochs, \
     decision, prev_hash, hash, signature, signer_key, proof";

/// Inserts `rows` on SQLite through a few statements of fixed text: runs of 32, 16, 8, 4, 2
/// and 1 rows, so that a copy of `n` rows is at most `n / 32 + 5` statements.
///
/// Hand-rolled rather than sea-orm's `insert_many`, whose building was about a quarter of
/// the CPU of a decision's database copy (perf, bench match, 1 M entries): sea-query builds
/// a new statement of 20 placeholders a row for every run of groups through the active
/// models, and its text differs with the number of rows, so SQLite prepares one for each
/// length it meets. Here the six texts are prepared once and cached, and the values
/// are bound as sea-orm binds them, so rows are stored exactly as its insert stores them
/// (`decisions_copied_on_sqlite_are_stored_as_sea_orm_stores_them`). Tried first: one JSON
/// parameter unpacked by SQLite (`json_each`, `->>`): the runtime's share fell as much, but
/// SQLite's thread spent more unpacking 20 columns a row than binding them (85 against
/// 55 µs a request).
async fn insert_decisions_sqlite(
    txn: &sea_orm::DatabaseTransaction,
    rows: &[DecisionRow],
) -> Result<(), StoreError> {
    static TEXTS: std::sync::OnceLock<Vec<(usize, String)>> = std::sync::OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        let row = format!("({})", vec!["?"; 20].join(", "));
        [32, 16, 8, 4, 2, 1]
            .into_iter()
            .map(|n| {
                (
                    n,
                    format!(
                        "INSERT INTO match_decisions ({DECISION_COLUMNS}) VALUES {}",
                        vec![row.as_str(); n].join(", ")
                    ),
                )
            })
            .collect()
    });
    let mut rest = rows;
    for (n, text) in texts {
        while rest.len() >= *n {
            let (run, after) = rest.split_at(*n);
            rest = after;
            let values: Vec<sea_orm::Value> = run.iter().flat_map(row_values).collect();
            txn.execute_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Sqlite,
                text.as_str(),
                values,
            ))
            .await?;
        }
    }
    Ok(())
}

/// The values of a row, in [`DECISION_COLUMNS`] order.
fn row_values(row: &DecisionRow) -> [sea_orm::Value; 20] {
    [
        row.seq.into(),
        row.id.clone().into(),
        row.created_at.into(),
        row.created_us.into(),
        row.caller.clone().into(),
        row.project_id.clone().into(),
        row.project_kind.clone().into(),
        row.as_of.into(),
        row.n_block.into(),
        row.n_review.into(),
        row.n_clear.into(),
        row.n_invalid.into(),
        row.request_hash.clone().into(),
        row.epochs.clone().into(),
        row.decision.clone().into(),
        row.prev_hash.clone().into(),
        row.hash.clone().into(),
        row.signature.clone().into(),
        row.signer_key.clone().into(),
        row.proof.clone().into(),
    ]
}
