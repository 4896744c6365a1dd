//! The decision log of the match API: every screening, written before its answer, chained by
//! hash and signed by the node, so a supervisor can later prove that a check ran before an
//! award and what it said.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000007_create_match_decisions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MatchDecisions::Table)
                    .col(
                        ColumnDef::new(MatchDecisions::Seq)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MatchDecisions::Id)
                            .string_len(36)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(MatchDecisions::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // Unix microseconds of created_at, for range queries (SQLite compares
                    // timestamps as text).
                    .col(
                        ColumnDef::new(MatchDecisions::CreatedUs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MatchDecisions::Caller)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MatchDecisions::ProjectId)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MatchDecisions::ProjectKind)
                            .string_len(48)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MatchDecisions::AsOf)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(MatchDecisions::NBlock).integer().not_null())
                    .col(ColumnDef::new(MatchDecisions::NReview).integer().not_null())
                    .col(ColumnDef::new(MatchDecisions::NClear).integer().not_null())
                    .col(
                        ColumnDef::new(MatchDecisions::NInvalid)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MatchDecisions::RequestHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(MatchDecisions::Epochs).text().not_null())
                    // The decision as answered (JSON text, exactly as hashed).
                    .col(ColumnDef::new(MatchDecisions::Decision).text().not_null())
                    .col(
                        ColumnDef::new(MatchDecisions::PrevHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MatchDecisions::Hash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MatchDecisions::Signature)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MatchDecisions::SignerKey)
                            .string_len(64)
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("ix_match_decisions_project", MatchDecisions::ProjectId),
            ("ix_match_decisions_created", MatchDecisions::CreatedUs),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(MatchDecisions::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MatchDecisions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum MatchDecisions {
    Table,
    Seq,
    Id,
    CreatedAt,
    CreatedUs,
    Caller,
    ProjectId,
    ProjectKind,
    AsOf,
    NBlock,
    NReview,
    NClear,
    NInvalid,
    RequestHash,
    Epochs,
    Decision,
    PrevHash,
    Hash,
    Signature,
    SignerKey,
}
