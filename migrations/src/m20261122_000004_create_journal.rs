//! The upward journal: every record change, signed by its origin node, with a gap-free sequence
//! number per origin. The payload is kept as the exact text that was signed (not a JSON column,
//! whose key order PostgreSQL's jsonb would not preserve), so a signature stays verifiable
//! offline for as long as the row exists.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000004_create_journal"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(JournalEvents::Table)
                    .col(
                        ColumnDef::new(JournalEvents::Origin)
                            .string_len(6)
                            .not_null(),
                    )
                    .col(ColumnDef::new(JournalEvents::Seq).big_integer().not_null())
                    .col(
                        ColumnDef::new(JournalEvents::RecordId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(JournalEvents::RecordVersion)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(JournalEvents::ChangeKind)
                            .string_len(24)
                            .not_null(),
                    )
                    .col(ColumnDef::new(JournalEvents::Payload).text().not_null())
                    .col(
                        ColumnDef::new(JournalEvents::Signature)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(JournalEvents::SignerKey)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(JournalEvents::JournaledAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("pk_journal_events")
                            .col(JournalEvents::Origin)
                            .col(JournalEvents::Seq),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_journal_record_version")
                    .table(JournalEvents::Table)
                    .col(JournalEvents::RecordId)
                    .col(JournalEvents::RecordVersion)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(JournalEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum JournalEvents {
    Table,
    Origin,
    Seq,
    RecordId,
    RecordVersion,
    ChangeKind,
    Payload,
    Signature,
    SignerKey,
    JournaledAt,
}
