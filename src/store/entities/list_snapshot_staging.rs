use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "list_snapshot_staging")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub issuer: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub entry_id: String,
    pub epoch: i64,
    pub seq: i64,
    pub list_code: String,
    pub entry_version: i32,
    pub change_kind: String,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub signature: String,
    pub signer_key: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
