use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "list_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub list_code: String,
    pub issuer_region: String,
    pub version: i32,
    pub seq: i64,
    pub subject_code: String,
    pub subject_kind: String,
    pub subject_name: String,
    pub document_no: String,
    pub status: String,
    pub effective_from: TimeDate,
    pub effective_to: Option<TimeDate>,
    #[sea_orm(column_type = "Text")]
    pub names: String,
    pub measures: String,
    pub rep_id: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
