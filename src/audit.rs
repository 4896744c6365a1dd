//! The tamper-evident audit trail: what an audit entry says and how entries chain.
//!
//! Every write and every non-public read appends one entry. Each row's hash covers its own
//! fields and the previous row's hash (SHA-256), so editing, deleting or reordering any row
//! breaks every hash after it; `integrity-node audit verify` names the first broken row.
//! Persistence lives in `store::audit`; this module owns only the format, so the hash can be
//! recomputed offline from an export.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The hash that precedes the first row.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One thing that happened, from the point of view of the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Caller kind: `anonymous`, `provider`, `supervisor`, `admin`, `cli`.
    pub actor_kind: String,
    /// Caller id (token subject / department), never a token or a personal ID.
    pub actor_id: String,
    /// What was done, e.g. `records.create`, `records.read`.
    pub action: String,
    /// What it was done to, e.g. `record:0193…` or `subject:91…`. Citizen IDs appear masked.
    pub resource: String,
    /// `ok` or a problem code.
    pub outcome: String,
    /// Request id, to join with the request log.
    pub request_id: String,
    /// Short free text (counts, filters); never personal data.
    pub detail: String,
}

/// A stored audit row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When it was appended.
    pub at: OffsetDateTime,
    /// The entry.
    pub entry: AuditEntry,
    /// Hash of the previous row ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// Hash of this row.
    pub hash: String,
}

/// Computes a row's hash. Fields are length-prefixed so no two different rows serialise alike.
pub fn row_hash(seq: i64, at: OffsetDateTime, entry: &AuditEntry, prev_hash: &str) -> String {
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    field(prev_hash.as_bytes());
    field(&seq.to_be_bytes());
    field(&at.unix_timestamp_nanos().to_be_bytes());
    field(entry.actor_kind.as_bytes());
    field(entry.actor_id.as_bytes());
    field(entry.action.as_bytes());
    field(entry.resource.as_bytes());
    field(entry.outcome.as_bytes());
    field(entry.request_id.as_bytes());
    field(entry.detail.as_bytes());
    hex::encode(hasher.finalize())
}

/// Why a chain does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    /// A row's sequence number is not the previous one plus one (a row was removed or inserted).
    #[error("audit row {seq}: expected sequence number {expected}")]
    Gap {
        /// The row's seq.
        seq: i64,
        /// The seq that should have been there.
        expected: i64,
    },
    /// A row's `prev_hash` is not the previous row's hash.
    #[error("audit row {seq}: prev_hash does not match the hash of row {}", seq - 1)]
    BrokenLink {
        /// The row's seq.
        seq: i64,
    },
    /// A row's content does not hash to its stored hash (the row was edited).
    #[error("audit row {seq}: content does not match its hash (row was altered)")]
    Altered {
        /// The row's seq.
        seq: i64,
    },
}

/// Incremental verifier: feed rows in `seq` order.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
        }
    }
}

impl ChainVerifier {
    /// Checks the next row.
    pub fn check(&mut self, row: &AuditRow) -> Result<(), ChainError> {
        if row.seq != self.expected_seq {
            return Err(ChainError::Gap {
                seq: row.seq,
                expected: self.expected_seq,
            });
        }
        if row.prev_hash != self.prev_hash {
            return Err(ChainError::BrokenLink { seq: row.seq });
        }
        if row_hash(row.seq, row.at, &row.entry, &row.prev_hash) != row.hash {
            return Err(ChainError::Altered { seq: row.seq });
        }
        self.expected_seq += 1;
        self.prev_hash = row.hash.clone();
        Ok(())
    }

    /// Number of rows verified so far.
    pub fn verified(&self) -> i64 {
        self.expected_seq - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            actor_kind: "provider".into(),
            actor_id: "dept".into(),
            action: action.into(),
            resource: "record:1".into(),
            outcome: "ok".into(),
            request_id: "r".into(),
            detail: String::new(),
        }
    }

    fn chain(n: i64) -> Vec<AuditRow> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let at = OffsetDateTime::from_unix_timestamp(1_700_000_000 + seq).unwrap();
                let entry = entry(&format!("a{seq}"));
                let hash = row_hash(seq, at, &entry, &prev);
                let row = AuditRow {
                    seq,
                    at,
                    entry,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                row
            })
            .collect()
    }

    fn verify(rows: &[AuditRow]) -> Result<(), ChainError> {
        let mut verifier = ChainVerifier::default();
        rows.iter().try_for_each(|row| verifier.check(row))
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(()));
    }

    #[test]
    fn edited_row_is_named() {
        let mut rows = chain(5);
        rows[2].entry.actor_id = "someone else".into();
        assert_eq!(verify(&rows), Err(ChainError::Altered { seq: 3 }));
    }

    #[test]
    fn deleted_row_is_named() {
        let mut rows = chain(5);
        rows.remove(1);
        assert_eq!(
            verify(&rows),
            Err(ChainError::Gap {
                seq: 3,
                expected: 2
            })
        );
    }

    #[test]
    fn rehashed_row_breaks_the_next_link() {
        let mut rows = chain(5);
        rows[1].entry.outcome = "forged".into();
        rows[1].hash = row_hash(rows[1].seq, rows[1].at, &rows[1].entry, &rows[1].prev_hash);
        assert_eq!(verify(&rows), Err(ChainError::BrokenLink { seq: 3 }));
    }
}
