//! The upward journal's format: what an event says and how its origin signs it.
//!
//! An event is one record change (create, correction, revocation …) at its origin node. Its
//! signature covers the origin region, the per-origin sequence number, the record id and
//! version, the kind of change and the SHA-256 of the payload text, each length-prefixed, so
//! the event can be verified offline with the origin's Ed25519 public key long after it was
//! relayed through every level above it.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ring::signature::{ED25519, UnparsedPublicKey};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// File name of the generated development signing key inside the data directory.
pub const DEV_SIGNING_KEY_FILE: &str = "dev-signing-ed25519.pem";

/// A node's Ed25519 event-signing key.
pub struct SigningKey {
    /// Signing uses ed25519-dalek (already in the tree through jsonwebtoken): Ed25519 is
    /// deterministic, so its signatures are the same bytes ring would produce and verify with
    /// ring, but on this project's machine it signs in ~30 µs where ring takes ~48 µs, and a
    /// 1,000-record batch signs 1,000 journal events under the write lock (BENCHMARKS.md).
    pair: ed25519_dalek::SigningKey,
    public_b64: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public_b64)
            .finish_non_exhaustive()
    }
}

/// Problems with a signing key.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    /// The file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What happened.
        message: String,
    },
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> SigningKeyError {
    SigningKeyError::File {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

impl SigningKey {
    /// Reads a PKCS#8 PEM Ed25519 private key.
    pub fn from_pem_file(path: &Path) -> Result<SigningKey, SigningKeyError> {
        let pem = std::fs::read(path).map_err(|e| file_error(path, e))?;
        Self::from_pem(&pem).map_err(|message| file_error(path, message))
    }

    fn from_pem(pem: &[u8]) -> Result<SigningKey, String> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem)
            .map_err(|_| "not a PKCS#8 PEM private key".to_owned())?;
        // rcgen and openssl write PKCS#8 v1 (no embedded public key); it is derived from the seed.
        let pair = ed25519_dalek::SigningKey::from_pkcs8_der(der.secret_pkcs8_der())
            .map_err(|_| "not an Ed25519 private key".to_owned())?;
        let public_b64 = STANDARD.encode(pair.verifying_key().as_bytes());
        Ok(SigningKey { pair, public_b64 })
    }

    /// Reads the development key from `data_dir`, creating it (mode 0600) on first use.
    pub fn development(data_dir: &Path) -> Result<(SigningKey, PathBuf), SigningKeyError> {
        let path = data_dir.join(DEV_SIGNING_KEY_FILE);
        if path.exists() {
            return Ok((Self::from_pem_file(&path)?, path));
        }
        std::fs::create_dir_all(data_dir).map_err(|e| file_error(data_dir, e))?;
        let key =
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|e| file_error(&path, e))?;
        crate::auth::write_private(&path, &key.serialize_pem())
            .map_err(|e| file_error(&path, e))?;
        Ok((Self::from_pem_file(&path)?, path))
    }

    /// Signs bytes.
    pub fn sign(&self, message: &[u8]) -> String {
        STANDARD.encode(self.pair.sign(message).to_bytes())
    }

    /// The public key, base64 (32 bytes).
    pub fn public_key_b64(&self) -> &str {
        &self.public_b64
    }
}

/// The fields an event signature covers.
#[derive(Clone, Copy, Debug)]
pub struct EventHeader<'a> {
    /// Origin region code (6 digits).
    pub origin: &'a str,
    /// Sequence number at the origin (1, 2, 3 … without gaps).
    pub seq: i64,
    /// Record id.
    pub record_id: Uuid,
    /// Record version after the change.
    pub record_version: i32,
    /// Kind of change.
    pub change_kind: &'a str,
}

/// Which journal a signature belongs to. The stream's tag is part of the signed bytes, so a
/// list change can never be replayed as a record event or the other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The upward journal of record changes (header: origin, seq, record id and version).
    Records,
    /// The downward journal of list changes (header: issuer, seq, entry id and version).
    Lists,
    /// Skip markers: a discarding node's signed statement that the event at (origin, seq)
    /// was refused above it and discarded (header: origin, seq, the discarded event's record
    /// id and version, change kind `discarded`). Signed by the discarding node, not the origin.
    Skips,
}

impl Stream {
    const fn tag(self) -> &'static [u8] {
        match self {
            Stream::Records => b"integrity-exchange/event/v1",
            Stream::Lists => b"integrity-exchange/list-change/v1",
            Stream::Skips => b"integrity-exchange/skip/v1",
        }
    }
}

/// The exact bytes an origin signs for an event of `stream`.
pub fn stream_signing_bytes(stream: Stream, header: EventHeader<'_>, payload: &str) -> Vec<u8> {
    stream_signing_bytes_for_digest(stream, header, &payload_digest(payload))
}

/// SHA-256 of an event payload: what a signature covers of it.
pub fn payload_digest(payload: &str) -> [u8; 32] {
    Sha256::digest(payload.as_bytes()).into()
}

/// [`stream_signing_bytes`] from the payload's [`payload_digest`], so that a writer can hash
/// payloads before it takes the write lock and assigns sequence numbers.
pub fn stream_signing_bytes_for_digest(
    stream: Stream,
    header: EventHeader<'_>,
    payload_digest: &[u8; 32],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let mut field = |bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    field(stream.tag());
    field(header.origin.as_bytes());
    field(&header.seq.to_be_bytes());
    field(header.record_id.as_bytes());
    field(&header.record_version.to_be_bytes());
    field(header.change_kind.as_bytes());
    field(payload_digest);
    out
}

/// The exact bytes an origin signs for a record event.
pub fn signing_bytes(header: EventHeader<'_>, payload: &str) -> Vec<u8> {
    stream_signing_bytes(Stream::Records, header, payload)
}

/// Verifies a signature of `stream` with a base64 Ed25519 public key.
pub fn verify_stream(
    stream: Stream,
    public_key_b64: &str,
    header: EventHeader<'_>,
    payload: &str,
    signature_b64: &str,
) -> bool {
    verify_bytes(
        public_key_b64,
        &stream_signing_bytes(stream, header, payload),
        signature_b64,
    )
}

/// Verifies an Ed25519 signature (base64) of `message` with a base64 public key.
pub fn verify_bytes(public_key_b64: &str, message: &[u8], signature_b64: &str) -> bool {
    let (Ok(public), Ok(signature)) = (
        STANDARD.decode(public_key_b64),
        STANDARD.decode(signature_b64),
    ) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, public)
        .verify(message, &signature)
        .is_ok()
}

/// Verifies a record event signature with a base64 Ed25519 public key.
pub fn verify(
    public_key_b64: &str,
    header: EventHeader<'_>,
    payload: &str,
    signature_b64: &str,
) -> bool {
    verify_stream(
        Stream::Records,
        public_key_b64,
        header,
        payload,
        signature_b64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_covers_every_header_field_and_the_payload() {
        let dir = tempfile::TempDir::new().unwrap();
        let (key, _) = SigningKey::development(dir.path()).unwrap();
        let id = Uuid::now_v7();
        let header = EventHeader {
            origin: "445122",
            seq: 7,
            record_id: id,
            record_version: 2,
            change_kind: "corrected",
        };
        let signature = key.sign(&signing_bytes(header, "{\"a\":1}"));
        assert!(verify(
            key.public_key_b64(),
            header,
            "{\"a\":1}",
            &signature
        ));
        assert!(!verify(
            key.public_key_b64(),
            header,
            "{\"a\":2}",
            &signature
        ));
        for changed in [
            EventHeader {
                origin: "445100",
                ..header
            },
            EventHeader { seq: 8, ..header },
            EventHeader {
                record_version: 3,
                ..header
            },
            EventHeader {
                change_kind: "revoked",
                ..header
            },
        ] {
            assert!(!verify(
                key.public_key_b64(),
                changed,
                "{\"a\":1}",
                &signature
            ));
        }
        assert!(
            !verify_stream(
                Stream::Lists,
                key.public_key_b64(),
                header,
                "{\"a\":1}",
                &signature
            ),
            "a record event signature is not a list change signature"
        );
        let (again, _) = SigningKey::development(dir.path()).unwrap();
        assert_eq!(
            again.public_key_b64(),
            key.public_key_b64(),
            "the key persists"
        );
    }
}
