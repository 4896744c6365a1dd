use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "monitors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub caller: String,
    pub project_id: String,
    #[sea_orm(column_type = "Text")]
    pub request: String,
    pub until: TimeDate,
    pub webhook_url: String,
    #[sea_orm(column_type = "Text")]
    pub verdicts: String,
    pub last_match_id: String,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
