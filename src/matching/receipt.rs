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

/// Whether `signature` (base64) by `signer_key` (base64) signs `hash` (a v1 receipt: one
/// signature per decision, no proof).
pub fn verify_signature(signer_key: &str, hash: &str, signature: &str) -> bool {
    verify_bytes(signer_key, &signed_message(hash), signature)
}

// ---------------------------------------------------------------------------------------------
// v2: one signature per group commit
// ---------------------------------------------------------------------------------------------
//
// The decision log commits decisions in groups. Instead of one Ed25519 signature per decision
// (30 µs each, the largest CPU item of a screening at load), the writer builds a Merkle tree
// over the receipt hashes of the group (RFC 6962 shape: leaf = SHA-256(0x00 ‖ hash), node =
// SHA-256(0x01 ‖ left ‖ right), an odd last node promoted unchanged), signs the root once, and
// gives every receipt its audit path. A receipt still verifies on its own: recompute its hash
// from its fields, fold the path to the root, check the signature of the root. The chain
// (`prev_hash`) is unchanged, so deletions and reordering are still detected.

/// Domain tag of a group signature (v2 receipts).
const TAG_V2: &[u8] = b"integrity-exchange/match-receipt-batch/v2";

/// One step of an audit path: the sibling's hash (hex) and on which side it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProofStep {
    /// The sibling is on the left: parent = H(0x01 ‖ sibling ‖ current).
    Left(String),
    /// The sibling is on the right: parent = H(0x01 ‖ current ‖ sibling).
    Right(String),
}

impl ProofStep {
    /// Wire form: `l:<hex>` or `r:<hex>`.
    pub fn encode(&self) -> String {
        match self {
            ProofStep::Left(hash) => format!("l:{hash}"),
            ProofStep::Right(hash) => format!("r:{hash}"),
        }
    }

    /// Parses the wire form.
    pub fn decode(text: &str) -> Option<ProofStep> {
        let (side, hash) = text.split_once(':')?;
        (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(())?;
        match side {
            "l" => Some(ProofStep::Left(hash.to_owned())),
            "r" => Some(ProofStep::Right(hash.to_owned())),
            _ => None,
        }
    }
}

/// Encodes an audit path for storage (`l:<hex>,r:<hex>…`; empty for a group of one).
pub fn encode_proof(proof: &[ProofStep]) -> String {
    proof
        .iter()
        .map(ProofStep::encode)
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses a stored audit path.
pub fn decode_proof(text: &str) -> Option<Vec<ProofStep>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',').map(ProofStep::decode).collect()
}

fn merkle_leaf(hash_hex: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(hash_hex.as_bytes());
    hasher.finalize().into()
}

fn merkle_node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The Merkle root (hex) over a group's receipt hashes and each receipt's audit path.
pub fn merkle_group(hashes: &[String]) -> (String, Vec<Vec<ProofStep>>) {
    let mut proofs = vec![Vec::new(); hashes.len()];
    // positions[i]: where receipt i's ancestor stands on the current level.
    let mut positions: Vec<usize> = (0..hashes.len()).collect();
    let mut level: Vec<[u8; 32]> = hashes.iter().map(|h| merkle_leaf(h)).collect();
    while level.len() > 1 {
        for (proof, position) in proofs.iter_mut().zip(positions.iter_mut()) {
            let i = *position;
            if i % 2 == 1 {
                proof.push(ProofStep::Left(hex::encode(level[i - 1])));
            } else if i + 1 < level.len() {
                proof.push(ProofStep::Right(hex::encode(level[i + 1])));
            }
            *position = i / 2;
        }
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => merkle_node(left, right),
                [only] => *only,
                _ => unreachable!("chunks(2) yields one or two"),
            })
            .collect();
    }
    let root = level.first().map(hex::encode).unwrap_or_default();
    (root, proofs)
}

/// The root (hex) an audit path leads to from a receipt hash.
pub fn merkle_root_from(hash_hex: &str, proof: &[ProofStep]) -> Option<String> {
    let mut current = merkle_leaf(hash_hex);
    for step in proof {
        let (ProofStep::Left(sibling) | ProofStep::Right(sibling)) = step;
        let sibling: [u8; 32] = hex::decode(sibling).ok()?.try_into().ok()?;
        current = match step {
            ProofStep::Left(_) => merkle_node(&sibling, &current),
            ProofStep::Right(_) => merkle_node(&current, &sibling),
        };
    }
    Some(hex::encode(current))
}

/// The bytes a node signs for a group root (v2 receipts).
pub fn signed_root_message(root_hex: &str) -> Vec<u8> {
    [TAG_V2, b"\n", root_hex.as_bytes()].concat()
}

/// Whether a receipt verifies: v1 (no proof) signs the hash itself; v2 signs the group's
/// Merkle root, reached from the hash through `proof`.
pub fn verify_receipt(signer_key: &str, hash: &str, proof: Option<&str>, signature: &str) -> bool {
    match proof {
        None => verify_signature(signer_key, hash, signature),
        Some(proof) => decode_proof(proof)
            .and_then(|proof| merkle_root_from(hash, &proof))
            .is_some_and(|root| verify_bytes(signer_key, &signed_root_message(&root), signature)),
    }
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

    fn hashes(n: usize) -> Vec<String> {
        (0..n).map(|i| sha256_hex(&i.to_be_bytes())).collect()
    }

    #[test]
    fn every_receipt_of_a_group_proves_its_way_to_the_signed_root() {
        for n in [1usize, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 100, 256] {
            let hashes = hashes(n);
            let (root, proofs) = merkle_group(&hashes);
            assert_eq!(proofs.len(), n);
            for (hash, proof) in hashes.iter().zip(&proofs) {
                assert!(proof.len() <= 9, "log2 steps at most");
                assert_eq!(
                    merkle_root_from(hash, proof).as_deref(),
                    Some(root.as_str())
                );
                // Stored and parsed back unchanged.
                let stored = encode_proof(proof);
                assert_eq!(decode_proof(&stored).as_deref(), Some(proof.as_slice()));
            }
            if n > 1 {
                // Another group member's hash with this one's path leads elsewhere.
                assert_ne!(
                    merkle_root_from(&hashes[1], &proofs[0]).as_deref(),
                    Some(root.as_str())
                );
            }
        }
        // A group of one: the root is the leaf hash, never the receipt hash itself (a v1
        // signature of the hash cannot pass for a v2 one).
        let one = hashes(1);
        assert_ne!(merkle_group(&one).0, one[0]);
    }

    #[test]
    fn signatures_of_v1_and_v2_receipts_verify_and_do_not_mix() {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = crate::federation::journal::SigningKey::development(dir.path()).unwrap();
        let hashes = hashes(5);
        let (root, proofs) = merkle_group(&hashes);
        let v2 = key.sign(&signed_root_message(&root));
        let pk = key.public_key_b64();
        for (hash, proof) in hashes.iter().zip(&proofs) {
            let proof = encode_proof(proof);
            assert!(verify_receipt(pk, hash, Some(&proof), &v2));
            assert!(
                !verify_receipt(pk, hash, None, &v2),
                "a v2 signature is no v1 one"
            );
        }
        let tampered = encode_proof(&proofs[1]).replacen("r:", "l:", 1);
        assert!(!verify_receipt(pk, &hashes[1], Some(&tampered), &v2));
        assert!(!verify_receipt(pk, &hashes[1], Some("x:00"), &v2));
        let v1 = key.sign(&signed_message(&hashes[0]));
        assert!(verify_receipt(pk, &hashes[0], None, &v1));
        assert!(!verify_receipt(pk, &hashes[0], Some(""), &v1));
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
            } else if !verify_receipt(
                &row.signer_key,
                &row.hash,
                row.proof.as_deref(),
                &row.signature,
            ) {
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
