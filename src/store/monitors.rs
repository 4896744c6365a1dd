//! Monitors of the match API: a project's bidders watched until a date.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};
use time::{Date, OffsetDateTime};

use super::entities::monitors;
use super::{Store, StoreError};

pub use monitors::Model as Monitor;

impl Store {
    /// Stores a new monitor.
    pub async fn insert_monitor(&self, monitor: Monitor) -> Result<(), StoreError> {
        monitors::Entity::insert(monitor.into_active_model())
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// One monitor.
    pub async fn get_monitor(&self, id: &str) -> Result<Option<Monitor>, StoreError> {
        Ok(monitors::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?)
    }

    /// Monitors still running on `today`.
    pub async fn active_monitors(&self, today: Date) -> Result<Vec<Monitor>, StoreError> {
        Ok(monitors::Entity::find()
            .filter(monitors::Column::Until.gte(today))
            .order_by_asc(monitors::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// Monitors, newest first, optionally of one caller.
    pub async fn list_monitors(
        &self,
        caller: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Monitor>, StoreError> {
        let mut query = monitors::Entity::find();
        if let Some(caller) = caller {
            query = query.filter(monitors::Column::Caller.eq(caller));
        }
        Ok(query
            .order_by_desc(monitors::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Records a monitor's new verdicts.
    pub async fn update_monitor(
        &self,
        id: &str,
        verdicts: String,
        match_id: String,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        monitors::Entity::update(monitors::ActiveModel {
            id: Set(id.to_owned()),
            verdicts: Set(verdicts),
            last_match_id: Set(match_id),
            updated_at: Set(at),
            ..Default::default()
        })
        .exec(&self.db)
        .await?;
        Ok(())
    }
}
