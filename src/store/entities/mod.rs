//! sea-orm entities, in the exact shape `sea-orm-cli generate entity` emits for the schema in
//! `migrations/`. Hand-written code lives beside this folder (in `store/`), never inside it.
//! (They were written by hand in that shape to keep sea-orm-cli, a large build, out of the
//! toolchain; regenerating them must give the same files.)

pub mod api_key_usage;
pub mod api_keys;
pub mod audit_log;
pub mod evaluations;
pub mod federation_cursors;
pub mod federation_peer_keys;
pub mod federation_problems;
pub mod findings;
pub mod journal_events;
pub mod journal_skips;
pub mod list_changes;
pub mod list_cursors;
pub mod list_entries;
pub mod list_snapshot_staging;
pub mod match_decisions;
pub mod monitors;
pub mod record_versions;
pub mod records;
pub mod webhook_deliveries;
