use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "match_decisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    #[sea_orm(unique)]
    pub id: String,
    pub created_at: TimeDateTimeWithTimeZone,
    pub created_us: i64,
    pub caller: String,
    pub project_id: String,
    pub project_kind: String,
    pub as_of: TimeDateTimeWithTimeZone,
    pub n_block: i32,
    pub n_review: i32,
    pub n_clear: i32,
    pub n_invalid: i32,
    pub request_hash: String,
    #[sea_orm(column_type = "Text")]
    pub epochs: String,
    #[sea_orm(column_type = "Text")]
    pub decision: String,
    pub prev_hash: String,
    pub hash: String,
    pub signature: String,
    pub signer_key: String,
    /// Audit path from `hash` to the signed root of its commit group (v2 receipts,
    /// `matching::receipt::encode_proof`); `None` for v1 receipts, whose signature covers the
    /// hash itself.
    #[sea_orm(column_type = "Text", nullable)]
    pub proof: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
