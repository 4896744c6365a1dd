use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "evaluations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub key_id: String,
    pub agency_uscc: String,
    pub agency_name: String,
    pub target_kind: String,
    pub target_code: String,
    pub target_name: String,
    pub period_start: TimeDate,
    pub period_end: TimeDate,
    #[sea_orm(column_type = "Double")]
    pub score: f64,
    pub grade: String,
    pub indicators: Json,
    #[sea_orm(column_type = "Text")]
    pub method: String,
    pub valid_until: TimeDate,
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
