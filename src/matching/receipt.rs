//! Receipts of the decision log: each decision is chained to the previous one by SHA-256 and
//! the chain link is signed with the node's Ed25519 key, so a supervisor can prove later that
//! a screening ran, when, against which list epochs, and what it answered — and any edit,
//! deletion or reordering of the log is detected.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::federation::journal::verify_bytes;

/// Hash of the chain before the first decision.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain tag of a receipt signature.
const TAG: &[u8] = b"integrity-exchange/match-receipt/v1";

/// What a receipt's hash covers.
#[derive(Clone, Copy, Debug)]
pub struct ReceiptFields<'a> {
    /// Position in the chain (1, 2, 3 …).
    pub seq: i64,
    /// Match id.
    pub id: &'a str,
    /// When decided.
    pub created_at: OffsetDateTime,
    /// SHA-256 (hex) of the request as parsed and re-serialised (compact JSON).
    pub request_hash: &'a str,
    /// The list epochs used (JSON text).
    pub epochs: &'a str,
    /// The decision (JSON text, as stored and answered).
    pub decision: &'a str,
    /// Hash of the previous receipt ([`GENESIS`] for the first).
    pub prev_hash: &'a str,
}

/// SHA-256 (hex) of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The receipt hash: every field length-prefixed, so no two field lists hash alike.
pub fn receipt_hash(fields: ReceiptFields<'_>) -> String {
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    field(TAG);
    field(&fields.seq.to_be_bytes());
    field(fields.id.as_bytes());
    field(
        fields
            .created_at
            .format(&Rfc3339)
            .unwrap_or_default()
            .as_bytes(),
    );
    field(fields.request_hash.as_bytes());
    field(fields.epochs.as_bytes());
    field(sha256_hex(fields.decision.as_bytes()).as_bytes());
    field(fields.prev_hash.as_bytes());
    hex::encode(hasher.finalize())
}

/// The bytes a node signs for a receipt hash.
pub fn signed_message(hash: &str) -> Vec<u8> {
    [TAG, b"\n", hash.as_bytes()].concat()
}

/// Whether `signature` (base64) by `signer_key` (base64) signs `hash`.
pub fn verify_signature(signer_key: &str, hash: &str, signature: &str) -> bool {
    verify_bytes(signer_key, &signed_message(hash), signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn every_field_changes_the_hash() {
        let base = ReceiptFields {
            seq: 1,
            id: "m",
            created_at: datetime!(2026-06-15 2:00 UTC),
            request_hash: "r",
            epochs: "{}",
            decision: "{\"a\":1}",
            prev_hash: GENESIS,
        };
        let hash = receipt_hash(base);
        for changed in [
            ReceiptFields { seq: 2, ..base },
            ReceiptFields { id: "n", ..base },
            ReceiptFields {
                created_at: datetime!(2026-06-15 2:01 UTC),
                ..base
            },
            ReceiptFields {
                request_hash: "s",
                ..base
            },
            ReceiptFields {
                epochs: "{\"100000\":1}",
                ..base
            },
            ReceiptFields {
                decision: "{\"a\":2}",
                ..base
            },
            ReceiptFields {
                prev_hash: "x",
                ..base
            },
        ] {
            assert_ne!(receipt_hash(changed), hash);
        }
        assert_eq!(receipt_hash(base), hash, "deterministic");
    }
}

/// The outcome of checking the whole decision chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// Decisions checked and found intact.
    pub verified: u64,
    /// The first broken decision: (seq, what is wrong).
    pub broken: Option<(i64, String)>,
    /// Public keys that signed the chain (base64), in order of first use.
    pub signers: Vec<String>,
}

/// Checks every decision from the first: sequence without gaps, each hash recomputed from
/// the stored fields, each link to the previous hash, each signature.
///
/// # Errors
/// The database failed.
pub async fn verify_chain(
    store: &crate::store::Store,
) -> Result<ChainReport, crate::store::StoreError> {
    let mut report = ChainReport {
        verified: 0,
        broken: None,
        signers: Vec::new(),
    };
    let (mut seq, mut prev) = (0i64, GENESIS.to_owned());
    loop {
        let rows = store.decisions_after(seq, 1_000).await?;
        if rows.is_empty() {
            return Ok(report);
        }
        for row in rows {
            let problem = if row.seq != seq + 1 {
                Some(format!("decision {} is missing", seq + 1))
            } else if row.prev_hash != prev {
                Some("its link to the previous decision does not match".to_owned())
            } else if receipt_hash(ReceiptFields {
                seq: row.seq,
                id: &row.id,
                created_at: row.created_at,
                request_hash: &row.request_hash,
                epochs: &row.epochs,
                decision: &row.decision,
                prev_hash: &row.prev_hash,
            }) != row.hash
            {
                Some("its content does not match its hash (the row was changed)".to_owned())
            } else if !verify_signature(&row.signer_key, &row.hash, &row.signature) {
                Some("its signature does not verify".to_owned())
            } else {
                None
            };
            if let Some(problem) = problem {
                report.broken = Some((row.seq.min(seq + 1), problem));
                return Ok(report);
            }
            if !report.signers.contains(&row.signer_key) {
                report.signers.push(row.signer_key.clone());
            }
            report.verified += 1;
            seq = row.seq;
            prev = row.hash;
        }
    }
}
