//! What nodes send each other. Versioned by path (`/federation/v1/…`); unknown fields are
//! refused so that a peer speaking another version fails loudly instead of half-applying.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most events in one pushed batch.
pub const MAX_BATCH_EVENTS: usize = 2_000;

/// One journal event on the wire: exactly what the origin signed, plus the signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireEvent {
    /// Origin region code.
    pub origin: String,
    /// Sequence number at the origin.
    pub seq: i64,
    /// Record id.
    pub record_id: Uuid,
    /// Record version after the change.
    pub record_version: i32,
    /// Kind of change.
    pub change_kind: String,
    /// The record at that version (JSON text, exactly as signed).
    pub payload: String,
    /// Ed25519 signature, base64.
    pub signature: String,
    /// Origin's public key, base64.
    pub signer_key: String,
}

/// A batch pushed from a child to its parent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// The sending node's region (must match its certificate).
    pub sender: String,
    /// Events, in journal order per origin.
    pub events: Vec<WireEvent>,
    /// The priority lane: changes to existing records sent ahead of their origin's backlog
    /// (see `federation/outbox.rs`). Absent on the wire when false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub priority: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &usize) -> bool {
    *value == 0
}

/// The parent's answer to a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchAck {
    /// Per origin, the highest sequence number applied here without gaps.
    pub high_watermarks: BTreeMap<String, i64>,
    /// Events applied by this batch.
    pub applied: usize,
    /// Events already applied before (replays after a lost acknowledgement).
    pub duplicates: usize,
    /// Priority-lane events applied to their record ahead of sequence (not yet journaled
    /// here; the high-watermarks do not count them). Absent on the wire when zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub early: usize,
    /// Skip markers applied by this batch (discarded events, see `SkipMarker`): they advance
    /// the high-watermarks like events but change no record. Absent on the wire when zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: usize,
    /// What the levels above the parent hold of the sender's origins, per ancestor region
    /// (the parent's own parent first learned it from its acknowledgements): so the origin
    /// knows when each correction reached each level, e.g. the province.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reached: BTreeMap<String, BTreeMap<String, i64>>,
}

/// Most list changes in one page served to a child.
pub const MAX_LIST_PAGE: usize = 1_000;

/// One list change on the wire: exactly what the issuer signed, plus the signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireListChange {
    /// Issuing node's region code.
    pub issuer: String,
    /// The issuer's sequence number (its lists' epoch after this change).
    pub seq: i64,
    /// List code.
    pub list: String,
    /// Entry id.
    pub entry_id: Uuid,
    /// Entry version after the change.
    pub entry_version: i32,
    /// issued, ended or withdrawn.
    pub change_kind: String,
    /// The entry at that version (JSON text, exactly as signed).
    pub payload: String,
    /// Ed25519 signature, base64.
    pub signature: String,
    /// Issuer's public key, base64.
    pub signer_key: String,
}

/// A page of list changes a parent serves its child: for each issuer, the changes after the
/// child's cursor, contiguous and in order, so that after applying a page the child holds
/// exactly the issuer's lists at some epoch (never a mixture).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListChangesPage {
    /// The parent's epoch per issuer (the highest sequence number it holds).
    pub heads: BTreeMap<String, i64>,
    /// Changes, ordered by issuer then sequence number.
    pub changes: Vec<WireListChange>,
    /// Issuers for which the child should take a snapshot instead of changes, with the epoch
    /// to take it at (the parent's head): asked for with `snapshot=true`. No changes of these
    /// issuers are in the page. Absent on the wire when empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub snapshot: BTreeMap<String, i64>,
}

/// Most entries in one snapshot page.
pub const MAX_SNAPSHOT_PAGE: usize = 1_000;

/// One page of an issuer's snapshot at a fixed epoch: for each entry the issuer had at that
/// epoch (ended and withdrawn ones included, as tombstones), in entry id order, the signed
/// change that produced its state at the epoch. After the last page the child holds the
/// issuer's lists exactly at `epoch`, verifiable change by change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSnapshotPage {
    /// Issuing node.
    pub issuer: String,
    /// The epoch of the snapshot (the issuer's sequence number).
    pub epoch: i64,
    /// The parent's head for the issuer now (may be beyond `epoch`).
    pub head: i64,
    /// Entries' changes, by entry id.
    pub entries: Vec<WireListChange>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<Uuid>,
}

/// The change kind of a skip marker in the upward journal.
pub const DISCARDED: &str = "discarded";

/// The payload of a skip marker: a node's signed statement that the event at (`origin`,
/// `seq`), which its parent refused as invalid, was discarded by one of its administrators,
/// and why. It travels in a `WireEvent` with change kind `discarded`, signed (stream
/// `Skips`) by the discarding node's key, and stands in that event's place at every level
/// above, so the origin's sequence stays gap-free.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkipMarker {
    /// Origin of the discarded event.
    pub origin: String,
    /// Its sequence number.
    pub seq: i64,
    /// The record it changed.
    pub record_id: Uuid,
    /// The record version it carried.
    pub record_version: i32,
    /// Its change kind (created, corrected …).
    pub discarded_change_kind: String,
    /// SHA-256 (hex) of the discarded event's signed bytes (`journal::signing_bytes`), so the
    /// event can be matched against the marker wherever it is still held.
    pub discarded_event_sha256: String,
    /// Why it was discarded (mandatory).
    pub reason: String,
    /// Region of the node that discarded it (the signer).
    pub discarded_by: String,
    /// Who at that node discarded it (the administrator's token subject).
    pub actor: String,
    /// When (RFC 3339).
    pub discarded_at: String,
}
