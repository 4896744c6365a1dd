//! Schema migrations for the integrity-exchange node (sea-orm-migration).
//!
//! Never edit a migration that has been released: add a new one. Breaking changes are split into
//! expand and contract steps across releases. `integrity-node migrate` runs these before a release
//! serves traffic; only embedded SQLite auto-migrates at start.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_records;
mod m20261122_000002_create_audit_log;
mod m20261122_000003_create_gateway;
mod m20261122_000004_create_journal;
mod m20261122_000005_create_federation;
mod m20261122_000006_create_lists;
mod m20261122_000007_create_match_decisions;
mod m20261122_000008_create_webhooks_monitors;
mod m20261122_000009_index_list_entries_for_matching;
mod m20261201_000009_discards_and_snapshots;
mod m20261202_000010_receipt_proofs;

/// All migrations of the node, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_records::Migration),
            Box::new(m20261122_000002_create_audit_log::Migration),
            Box::new(m20261122_000003_create_gateway::Migration),
            Box::new(m20261122_000004_create_journal::Migration),
            Box::new(m20261122_000005_create_federation::Migration),
            Box::new(m20261122_000006_create_lists::Migration),
            Box::new(m20261122_000007_create_match_decisions::Migration),
            Box::new(m20261122_000008_create_webhooks_monitors::Migration),
            Box::new(m20261122_000009_index_list_entries_for_matching::Migration),
            Box::new(m20261201_000009_discards_and_snapshots::Migration),
            Box::new(m20261202_000010_receipt_proofs::Migration),
        ]
    }
}
