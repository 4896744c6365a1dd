//! Records and their versions. A record row holds the current version; every version (including
//! the first) is kept in `record_versions` as a full snapshot, so history never depends on the
//! current row.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000001_create_records"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Records::Table)
                    .col(
                        ColumnDef::new(Records::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Records::Version).integer().not_null())
                    .col(
                        ColumnDef::new(Records::SubjectCode)
                            .string_len(18)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Records::SubjectKind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Records::SubjectName)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Records::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(Records::Category).string_len(40).null())
                    .col(ColumnDef::new(Records::Domain).string_len(48).not_null())
                    .col(
                        ColumnDef::new(Records::SourceDept)
                            .string_len(18)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Records::SourceRecordId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Records::DocumentNo)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Records::DecisionDate).date().not_null())
                    .col(ColumnDef::new(Records::LegalBasis).text().not_null())
                    .col(ColumnDef::new(Records::Content).text().not_null())
                    .col(ColumnDef::new(Records::Severity).string_len(16).not_null())
                    .col(ColumnDef::new(Records::PeriodStart).date().null())
                    .col(ColumnDef::new(Records::PeriodEnd).date().null())
                    .col(
                        ColumnDef::new(Records::PublicationLevel)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Records::Status).string_len(24).not_null())
                    .col(
                        ColumnDef::new(Records::OriginRegion)
                            .string_len(6)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Records::OriginRecordId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Records::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Records::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Idempotency key of submissions: a department's own record id is unique per department.
        manager
            .create_index(
                Index::create()
                    .name("uq_records_source")
                    .table(Records::Table)
                    .col(Records::SourceDept)
                    .col(Records::SourceRecordId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_records_subject")
                    .table(Records::Table)
                    .col(Records::SubjectCode)
                    .col(Records::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecordVersions::Table)
                    .col(
                        ColumnDef::new(RecordVersions::RecordId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(ColumnDef::new(RecordVersions::Version).integer().not_null())
                    .col(
                        ColumnDef::new(RecordVersions::ChangeKind)
                            .string_len(24)
                            .not_null(),
                    )
                    .col(ColumnDef::new(RecordVersions::Reason).text().null())
                    .col(
                        ColumnDef::new(RecordVersions::Actor)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RecordVersions::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RecordVersions::Snapshot).json().not_null())
                    .primary_key(
                        Index::create()
                            .name("pk_record_versions")
                            .col(RecordVersions::RecordId)
                            .col(RecordVersions::Version),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RecordVersions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Records::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Records {
    Table,
    Id,
    Version,
    SubjectCode,
    SubjectKind,
    SubjectName,
    Kind,
    Category,
    Domain,
    SourceDept,
    SourceRecordId,
    DocumentNo,
    DecisionDate,
    LegalBasis,
    Content,
    Severity,
    PeriodStart,
    PeriodEnd,
    PublicationLevel,
    Status,
    OriginRegion,
    OriginRecordId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RecordVersions {
    Table,
    RecordId,
    Version,
    ChangeKind,
    Reason,
    Actor,
    At,
    Snapshot,
}
