use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "journal_skips")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub origin: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub record_id: String,
    pub record_version: i32,
    pub signer_region: String,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub signature: String,
    pub signer_key: String,
    pub journaled_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
