//! The decision log of the match API (see `matching::receipt` for the chain).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
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

    /// Writes decisions and the webhook deliveries they cause in one transaction (the group
    /// commit of the decision log).
    pub async fn insert_decisions(
        &self,
        rows: &[DecisionRow],
        deliveries: &[super::webhooks::NewDelivery],
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let txn = self.begin_decisions().await?;
        let written = async {
            // 19 columns: 500 rows stay under both backends' parameter limits.
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
