use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub prefix: String,
    pub secret_hash: String,
    pub holder_name: String,
    pub holder_uscc: String,
    pub contact: String,
    #[sea_orm(column_type = "Text")]
    pub scopes: String,
    pub rate_per_second: i32,
    pub burst: i32,
    pub daily_quota: i64,
    pub expires_at: TimeDateTimeWithTimeZone,
    pub revoked_at: Option<TimeDateTimeWithTimeZone>,
    pub replaced_by: Option<String>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub created_by: String,
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
