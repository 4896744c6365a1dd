use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub version: i32,
    pub subject_code: String,
    pub subject_kind: String,
    pub subject_name: String,
    pub kind: String,
    pub category: Option<String>,
    pub domain: String,
    pub source_dept: String,
    pub source_record_id: String,
    pub document_no: String,
    pub decision_date: TimeDate,
    #[sea_orm(column_type = "Text")]
    pub legal_basis: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub severity: String,
    pub period_start: Option<TimeDate>,
    pub period_end: Option<TimeDate>,
    pub publication_level: String,
    pub status: String,
    pub origin_region: String,
    pub origin_record_id: String,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
