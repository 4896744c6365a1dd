//! Receipts v2: the decision log signs one Merkle root per commit group instead of every
//! decision, and each decision keeps its audit path to that root (`proof`). Rows written
//! before this migration keep `proof` NULL: their signature covers their own hash (v1), and
//! both kinds verify (`matching::receipt::verify_receipt`).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000010_receipt_proofs"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(MatchDecisions::Table)
                    .add_column(ColumnDef::new(MatchDecisions::Proof).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(MatchDecisions::Table)
                    .drop_column(MatchDecisions::Proof)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum MatchDecisions {
    Table,
    Proof,
}
