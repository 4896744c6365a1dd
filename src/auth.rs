//! Bearer tokens: who a caller is. JWTs signed with Ed25519 (EdDSA) only; RSA is not accepted
//! (RUSTSEC-2023-0071 affects the RSA implementation behind jsonwebtoken's pure-Rust backend),
//! and `alg: none` or any other algorithm is refused by construction of the `Validation`.
//!
//! Expiry is checked against the node's `Clock`, not inside jsonwebtoken, so that the same clock
//! governs tokens, deadlines and tests.

use std::path::{Path, PathBuf};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::AuthSettings;

/// File name of the generated development key inside the data directory.
pub const DEV_KEY_FILE: &str = "dev-jwt-ed25519.pem";

/// Roles a token can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A data-providing department of the node's region (bound to one department USCC).
    Provider,
    /// Credit office or discipline inspection: reads everything, the audit trail included.
    Supervisor,
    /// Node administrator.
    Admin,
}

impl Role {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Provider => "provider",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

/// The claims of a node token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Subject: the person or system the token was issued to.
    pub sub: String,
    /// Role.
    pub role: Role,
    /// Department USCC (required for providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dept: Option<String>,
    /// Region code the token is issued for.
    pub region: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
}

/// Why a token was refused. Messages never contain the token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not a well-formed JWT, wrong algorithm, bad signature, wrong issuer or audience.
    #[error("token is not valid: {0}")]
    Invalid(&'static str),
    /// Past its `exp`.
    #[error("token has expired")]
    Expired,
}

/// Where the verification keys came from (printed at start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// Configured public keys.
    Configured(usize),
    /// The development key in this file.
    Development(PathBuf),
}

/// Verification (and, when a private key is at hand, signing) keys.
pub struct TokenKeys {
    decoding: Vec<DecodingKey>,
    encoding: Option<EncodingKey>,
    validation: Validation,
    leeway_secs: i64,
    issuer: String,
    audience: String,
    /// Where the keys came from.
    pub source: KeySource,
}

/// Problems loading keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// No keys and development keys not allowed.
    #[error("no token keys configured (auth.jwt_public_keys) and auth.allow_dev_key is false")]
    NoKeys,
    /// Minting needs a private key.
    #[error("no signing key: set auth.jwt_signing_key, or use the development key")]
    NoSigningKey,
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> KeyError {
    KeyError::File {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

/// Reads the development key, creating it (mode 0600) on first use.
fn dev_key_pem(data_dir: &Path) -> Result<(PathBuf, String), KeyError> {
    let path = data_dir.join(DEV_KEY_FILE);
    if let Ok(pem) = std::fs::read_to_string(&path) {
        return Ok((path, pem));
    }
    std::fs::create_dir_all(data_dir).map_err(|e| file_error(data_dir, e))?;
    let key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|e| file_error(&path, e))?;
    let pem = key.serialize_pem();
    write_private(&path, &pem)?;
    Ok((path, pem))
}

/// Writes a private key readable by the owner only.
pub fn write_private(path: &Path, pem: &str) -> Result<(), KeyError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).map_err(|e| file_error(path, e))?;
    file.write_all(pem.as_bytes())
        .map_err(|e| file_error(path, e))
}

fn public_pem_of(private_pem: &str, path: &Path) -> Result<String, KeyError> {
    let key = rcgen::KeyPair::from_pem(private_pem).map_err(|e| file_error(path, e))?;
    Ok(key.public_key_pem())
}

impl TokenKeys {
    /// Loads keys as configured, generating the development key if allowed and needed.
    pub fn load(settings: &AuthSettings, data_dir: &Path) -> Result<TokenKeys, KeyError> {
        let mut decoding = Vec::new();
        let mut encoding = None;
        let source;
        if settings.jwt_public_keys.is_empty() {
            if !settings.allow_dev_key {
                return Err(KeyError::NoKeys);
            }
            let (path, private_pem) = dev_key_pem(data_dir)?;
            let public_pem = public_pem_of(&private_pem, &path)?;
            decoding.push(
                DecodingKey::from_ed_pem(public_pem.as_bytes())
                    .map_err(|e| file_error(&path, e))?,
            );
            encoding = Some(
                EncodingKey::from_ed_pem(private_pem.as_bytes())
                    .map_err(|e| file_error(&path, e))?,
            );
            source = KeySource::Development(path);
        } else {
            for path in &settings.jwt_public_keys {
                let pem = std::fs::read(path).map_err(|e| file_error(path, e))?;
                decoding.push(DecodingKey::from_ed_pem(&pem).map_err(|e| file_error(path, e))?);
            }
            source = KeySource::Configured(decoding.len());
        }
        let signing = &settings.jwt_signing_key;
        if !signing.as_os_str().is_empty() {
            let pem = std::fs::read(signing).map_err(|e| file_error(signing, e))?;
            encoding = Some(EncodingKey::from_ed_pem(&pem).map_err(|e| file_error(signing, e))?);
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_audience(&[settings.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against the node's Clock in `verify`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Ok(TokenKeys {
            decoding,
            encoding,
            validation,
            leeway_secs: i64::try_from(settings.leeway_secs).unwrap_or(60),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            source,
        })
    }

    /// Verifies a token and returns its claims.
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<Claims, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid("malformed"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid("algorithm must be EdDSA"));
        }
        let mut last = TokenError::Invalid("signature");
        for key in &self.decoding {
            match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
                Ok(data) => {
                    if data.claims.exp + self.leeway_secs < now.unix_timestamp() {
                        return Err(TokenError::Expired);
                    }
                    if data.claims.iat - self.leeway_secs > now.unix_timestamp() {
                        return Err(TokenError::Invalid("issued in the future"));
                    }
                    return Ok(data.claims);
                }
                Err(error) => {
                    use jsonwebtoken::errors::ErrorKind;
                    last = match error.kind() {
                        ErrorKind::InvalidSignature => TokenError::Invalid("signature"),
                        ErrorKind::InvalidIssuer => TokenError::Invalid("issuer"),
                        ErrorKind::InvalidAudience => TokenError::Invalid("audience"),
                        ErrorKind::MissingRequiredClaim(_) => TokenError::Invalid("missing claim"),
                        ErrorKind::Json(_) => TokenError::Invalid("claims"),
                        ErrorKind::InvalidAlgorithm => {
                            TokenError::Invalid("algorithm must be EdDSA")
                        }
                        _ => TokenError::Invalid("malformed"),
                    };
                }
            }
        }
        Err(last)
    }

    /// Signs a token for `sub` with `role`, valid for `ttl` from `now`.
    pub fn mint(
        &self,
        sub: &str,
        role: Role,
        dept: Option<&str>,
        region: &str,
        now: OffsetDateTime,
        ttl: time::Duration,
    ) -> Result<String, KeyError> {
        let key = self.encoding.as_ref().ok_or(KeyError::NoSigningKey)?;
        let claims = Claims {
            sub: sub.to_owned(),
            role,
            dept: dept.map(str::to_owned),
            region: region.to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now.unix_timestamp(),
            exp: (now + ttl).unix_timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, key)
            .map_err(|e| file_error(Path::new("<signing key>"), e))
    }
}
