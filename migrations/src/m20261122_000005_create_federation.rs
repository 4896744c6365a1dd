//! Federation bookkeeping: how far the parent has acknowledged each origin's events (the
//! child's cursor, per origin, never a wall-clock time), the signing key pinned for each origin,
//! and the problem queue of events a parent refused.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000005_create_federation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FederationCursors::Table)
                    .col(
                        ColumnDef::new(FederationCursors::Peer)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FederationCursors::Origin)
                            .string_len(6)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FederationCursors::AckedSeq)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FederationCursors::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("pk_federation_cursors")
                            .col(FederationCursors::Peer)
                            .col(FederationCursors::Origin),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FederationPeerKeys::Table)
                    .col(
                        ColumnDef::new(FederationPeerKeys::Origin)
                            .string_len(6)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(FederationPeerKeys::SignerKey)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FederationPeerKeys::FirstSeenAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FederationProblems::Table)
                    .col(
                        ColumnDef::new(FederationProblems::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(FederationProblems::Origin)
                            .string_len(6)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FederationProblems::Seq)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FederationProblems::Code)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(FederationProblems::Detail).text().not_null())
                    .col(
                        ColumnDef::new(FederationProblems::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FederationProblems::ResolvedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(FederationProblems::Resolution).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FederationProblems::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(FederationPeerKeys::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(FederationCursors::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum FederationCursors {
    Table,
    Peer,
    Origin,
    AckedSeq,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum FederationPeerKeys {
    Table,
    Origin,
    SignerKey,
    FirstSeenAt,
}

#[derive(DeriveIden)]
enum FederationProblems {
    Table,
    Id,
    Origin,
    Seq,
    Code,
    Detail,
    CreatedAt,
    ResolvedAt,
    Resolution,
}
