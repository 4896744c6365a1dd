//! Discarding a refused event, and list snapshots.
//!
//! - `journal_skips`: signed skip markers. A skip stands in the upward journal in place of an
//!   event that a parent refused and an administrator discarded with a reason: the origin's
//!   sequence stays gap-free (every seq is an event or a skip). At the discarding node the
//!   discarded event stays in `journal_events` beside its skip; above it only the skip exists.
//! - `federation_problems.refused_event`: whether the problem names the very event the parent
//!   refused (only those can be discarded), and `outcome` (delivered or discarded).
//! - `list_cursors.base_seq`: the issuer epoch of the snapshot this node's copy starts from;
//!   deltas can be served from there on only.
//! - `list_snapshot_staging`: the pages of a snapshot being fetched, swapped in at once.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000009_discards_and_snapshots"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(JournalSkips::Table)
                    .col(
                        ColumnDef::new(JournalSkips::Origin)
                            .string_len(6)
                            .not_null(),
                    )
                    .col(ColumnDef::new(JournalSkips::Seq).big_integer().not_null())
                    .col(
                        ColumnDef::new(JournalSkips::RecordId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(JournalSkips::RecordVersion)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(JournalSkips::SignerRegion)
                            .string_len(6)
                            .not_null(),
                    )
                    .col(ColumnDef::new(JournalSkips::Payload).text().not_null())
                    .col(
                        ColumnDef::new(JournalSkips::Signature)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(JournalSkips::SignerKey)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(JournalSkips::JournaledAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("pk_journal_skips")
                            .col(JournalSkips::Origin)
                            .col(JournalSkips::Seq),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(FederationProblems::Table)
                    .add_column(
                        ColumnDef::new(FederationProblems::RefusedEvent)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(FederationProblems::Table)
                    .add_column(
                        ColumnDef::new(FederationProblems::Outcome)
                            .string_len(16)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ListCursors::Table)
                    .add_column(
                        ColumnDef::new(ListCursors::BaseSeq)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ListSnapshotStaging::Table)
                    .col(
                        ColumnDef::new(ListSnapshotStaging::Issuer)
                            .string_len(6)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListSnapshotStaging::EntryId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListSnapshotStaging::Epoch)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListSnapshotStaging::Seq)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListSnapshotStaging::ListCode)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListSnapshotStaging::EntryVersion)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListSnapshotStaging::ChangeKind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListSnapshotStaging::Payload)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListSnapshotStaging::Signature)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListSnapshotStaging::SignerKey)
                            .string_len(64)
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("pk_list_snapshot_staging")
                            .col(ListSnapshotStaging::Issuer)
                            .col(ListSnapshotStaging::EntryId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ListSnapshotStaging::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ListCursors::Table)
                    .drop_column(ListCursors::BaseSeq)
                    .to_owned(),
            )
            .await?;
        for column in [
            FederationProblems::Outcome,
            FederationProblems::RefusedEvent,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(FederationProblems::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(JournalSkips::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum JournalSkips {
    Table,
    Origin,
    Seq,
    RecordId,
    RecordVersion,
    SignerRegion,
    Payload,
    Signature,
    SignerKey,
    JournaledAt,
}

#[derive(DeriveIden)]
enum FederationProblems {
    Table,
    RefusedEvent,
    Outcome,
}

#[derive(DeriveIden)]
enum ListCursors {
    Table,
    BaseSeq,
}

#[derive(DeriveIden)]
enum ListSnapshotStaging {
    Table,
    Issuer,
    EntryId,
    Epoch,
    Seq,
    ListCode,
    EntryVersion,
    ChangeKind,
    Payload,
    Signature,
    SignerKey,
}
