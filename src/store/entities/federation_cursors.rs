use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "federation_cursors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub peer: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub origin: String,
    pub acked_seq: i64,
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
