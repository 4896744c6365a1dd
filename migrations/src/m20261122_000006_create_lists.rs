//! Lists (名单) and their downward replication.
//!
//! `list_entries` holds the current version of every entry this node knows: issued here or
//! received from an ancestor. `list_changes` is the downward journal: every issuance, end or
//! withdrawal, signed by the issuing node, with a gap-free sequence number per issuer (the
//! issuer's *epoch*); the payload is the exact signed text, so a change stays verifiable
//! offline and is relayed unchanged to descendants. `list_cursors` is how far this node has
//! applied each issuer's changes, and what its parent last said it holds (for staleness).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000006_create_lists"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ListEntries::Table)
                    .col(
                        ColumnDef::new(ListEntries::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ListEntries::ListCode)
                            .string_len(48)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListEntries::IssuerRegion)
                            .string_len(6)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ListEntries::Version).integer().not_null())
                    .col(ColumnDef::new(ListEntries::Seq).big_integer().not_null())
                    .col(
                        ColumnDef::new(ListEntries::SubjectCode)
                            .string_len(18)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListEntries::SubjectKind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListEntries::SubjectName)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListEntries::DocumentNo)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListEntries::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ListEntries::EffectiveFrom).date().not_null())
                    .col(ColumnDef::new(ListEntries::EffectiveTo).date().null())
                    // What the match index needs, so that building it reads narrow rows:
                    // subject and former names ('\n'-separated), measure codes (','-separated)
                    // and the legal representative's ID.
                    .col(ColumnDef::new(ListEntries::Names).text().not_null())
                    .col(
                        ColumnDef::new(ListEntries::Measures)
                            .string_len(512)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ListEntries::RepId).string_len(18).null())
                    // The whole entry as signed by its issuer (reason, authority, linked
                    // records …): the columns above are the ones queried.
                    .col(ColumnDef::new(ListEntries::Payload).text().not_null())
                    .col(
                        ColumnDef::new(ListEntries::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_list_entries_list_id")
                    .table(ListEntries::Table)
                    .col(ListEntries::ListCode)
                    .col(ListEntries::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_list_entries_subject")
                    .table(ListEntries::Table)
                    .col(ListEntries::SubjectCode)
                    .to_owned(),
            )
            .await?;
        // Idempotency of issuance: the same authority's document for the same subject on the
        // same list is one entry.
        manager
            .create_index(
                Index::create()
                    .name("uq_list_entries_document")
                    .table(ListEntries::Table)
                    .col(ListEntries::IssuerRegion)
                    .col(ListEntries::ListCode)
                    .col(ListEntries::SubjectCode)
                    .col(ListEntries::DocumentNo)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ListChanges::Table)
                    .col(ColumnDef::new(ListChanges::Issuer).string_len(6).not_null())
                    .col(ColumnDef::new(ListChanges::Seq).big_integer().not_null())
                    .col(
                        ColumnDef::new(ListChanges::ListCode)
                            .string_len(48)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListChanges::EntryId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListChanges::EntryVersion)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListChanges::ChangeKind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ListChanges::Payload).text().not_null())
                    .col(
                        ColumnDef::new(ListChanges::Signature)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListChanges::SignerKey)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListChanges::ReceivedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("pk_list_changes")
                            .col(ListChanges::Issuer)
                            .col(ListChanges::Seq),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ListCursors::Table)
                    .col(
                        ColumnDef::new(ListCursors::Issuer)
                            .string_len(6)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ListCursors::HeldSeq)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListCursors::ParentSeq)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ListCursors::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ListCursors::Table.into_iden(),
            ListChanges::Table.into_iden(),
            ListEntries::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ListEntries {
    Table,
    Id,
    ListCode,
    IssuerRegion,
    Version,
    Seq,
    SubjectCode,
    SubjectKind,
    SubjectName,
    DocumentNo,
    Status,
    EffectiveFrom,
    EffectiveTo,
    Names,
    Measures,
    RepId,
    Payload,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ListChanges {
    Table,
    Issuer,
    Seq,
    ListCode,
    EntryId,
    EntryVersion,
    ChangeKind,
    Payload,
    Signature,
    SignerKey,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum ListCursors {
    Table,
    Issuer,
    HeldSeq,
    ParentSeq,
    UpdatedAt,
}
