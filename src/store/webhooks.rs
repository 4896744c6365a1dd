//! The webhook outbox: deliveries written with the decision that causes them, attempted until
//! delivered or out of attempts, every state visible.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use time::OffsetDateTime;

use super::entities::webhook_deliveries;
use super::{Store, StoreError};

pub use webhook_deliveries::Model as Delivery;

/// Unix microseconds of a time.
pub fn unix_micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// A delivery to enqueue.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct NewDelivery {
    /// Id.
    pub id: String,
    /// Endpoint.
    pub url: String,
    /// block or verdict_changed.
    pub event: String,
    /// The decision behind it.
    pub match_id: Option<String>,
    /// The monitor behind it.
    pub monitor_id: Option<String>,
    /// JSON body, as signed.
    pub body: String,
    /// Node signature of the body (base64).
    pub signature: String,
    /// When enqueued.
    pub created_at: OffsetDateTime,
}

/// Inserts deliveries on `db` (the decision's transaction).
pub(super) async fn insert_deliveries(
    db: &impl ConnectionTrait,
    deliveries: &[NewDelivery],
) -> Result<(), StoreError> {
    for chunk in deliveries.chunks(500) {
        webhook_deliveries::Entity::insert_many(chunk.iter().map(|d| {
            webhook_deliveries::ActiveModel {
                id: Set(d.id.clone()),
                url: Set(d.url.clone()),
                event: Set(d.event.clone()),
                match_id: Set(d.match_id.clone()),
                monitor_id: Set(d.monitor_id.clone()),
                body: Set(d.body.clone()),
                signature: Set(d.signature.clone()),
                created_at: Set(d.created_at),
                attempts: Set(0),
                next_attempt_us: Set(unix_micros(d.created_at)),
                state: Set("pending".to_owned()),
                last_error: Set(None),
                delivered_at: Set(None),
            }
        }))
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Pending deliveries due at `now`, oldest first.
    pub async fn due_deliveries(
        &self,
        now: OffsetDateTime,
        limit: u64,
    ) -> Result<Vec<Delivery>, StoreError> {
        Ok(webhook_deliveries::Entity::find()
            .filter(webhook_deliveries::Column::State.eq("pending"))
            .filter(webhook_deliveries::Column::NextAttemptUs.lte(unix_micros(now)))
            .order_by_asc(webhook_deliveries::Column::NextAttemptUs)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Records an attempt: delivered, or failed with the next attempt (or none left).
    pub async fn record_attempt(
        &self,
        id: &str,
        outcome: Result<OffsetDateTime, (String, Option<OffsetDateTime>)>,
    ) -> Result<(), StoreError> {
        let update = webhook_deliveries::Entity::update_many()
            .col_expr(
                webhook_deliveries::Column::Attempts,
                Expr::col(webhook_deliveries::Column::Attempts).add(1),
            )
            .filter(webhook_deliveries::Column::Id.eq(id));
        let update = match outcome {
            Ok(at) => update
                .col_expr(webhook_deliveries::Column::State, Expr::value("delivered"))
                .col_expr(webhook_deliveries::Column::DeliveredAt, Expr::value(at))
                .col_expr(
                    webhook_deliveries::Column::LastError,
                    Expr::value(Option::<String>::None),
                ),
            Err((error, next)) => {
                let update = update.col_expr(
                    webhook_deliveries::Column::LastError,
                    Expr::value(error.chars().take(1_000).collect::<String>()),
                );
                match next {
                    Some(next) => update.col_expr(
                        webhook_deliveries::Column::NextAttemptUs,
                        Expr::value(unix_micros(next)),
                    ),
                    None => {
                        update.col_expr(webhook_deliveries::Column::State, Expr::value("failed"))
                    }
                }
            }
        };
        update.exec(&self.db).await?;
        Ok(())
    }

    /// Deliveries, newest first, optionally of one state, match or monitor.
    pub async fn list_deliveries(
        &self,
        state: Option<&str>,
        match_id: Option<&str>,
        monitor_id: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut query = webhook_deliveries::Entity::find();
        if let Some(state) = state {
            query = query.filter(webhook_deliveries::Column::State.eq(state));
        }
        if let Some(id) = match_id {
            query = query.filter(webhook_deliveries::Column::MatchId.eq(id));
        }
        if let Some(id) = monitor_id {
            query = query.filter(webhook_deliveries::Column::MonitorId.eq(id));
        }
        Ok(query
            .order_by_desc(webhook_deliveries::Column::CreatedAt)
            .limit(limit)
            .all(&self.db)
            .await?)
    }
}
