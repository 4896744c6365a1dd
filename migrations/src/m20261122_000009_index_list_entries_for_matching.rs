//! A covering index of what the match index is built from (SQLite only).
//!
//! `list_entries` rows carry the issuer's signed payload (about 1.6 KB each), so reading the
//! narrow columns from the table still reads every payload from disk: at ten million entries
//! that is 16 GB, and the build of the match index at start was bound by the disk. SQLite
//! stores the payload in the row, so an index holding the narrow columns, in `id` order, lets
//! the build read about 250 bytes an entry instead (`Store::index_pages`). PostgreSQL gets no
//! such index: its B-tree entries are limited to about 2.7 KB, which a long list of former
//! names could exceed, failing the issuance. (Its rows keep the payload inline too, below the
//! 2 KB TOAST threshold, which `toast_tuple_target` cannot lower; its build reads the table
//! with one sequential scan instead, see `Store::index_pages`.)

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000009_index_list_entries_for_matching"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS ix_list_entries_match ON list_entries \
                 (id, list_code, version, status, subject_code, subject_kind, names, measures, \
                 rep_id, effective_from, effective_to)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS ix_list_entries_match")
            .await?;
        Ok(())
    }
}
