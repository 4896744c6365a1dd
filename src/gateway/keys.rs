//! API keys: their format, scopes, and how a presented key is checked against a stored hash.
//!
//! A key looks like `ixk_<prefix>_<secret>`: the 12-hex-digit prefix finds the stored key, the
//! 43-character secret (256 random bits, base64url) is checked against its SHA-256. A fast hash is
//! correct here because the secret is random and long; a password hash would only slow every
//! request down.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::uscc::{SubjectType, Uscc};

/// What a key may do. Every endpoint declares the scope it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read the public view of records (`records:read:public`).
    RecordsReadPublic,
    /// Read records shared between governments (`records:read:shared`); government holders only.
    RecordsReadShared,
    /// Call the match API (`match`).
    Match,
    /// Submit third-party evaluations (`evaluations:write`).
    EvaluationsWrite,
    /// Submit monitoring findings (`findings:write`).
    FindingsWrite,
    /// Download and verify special credit reports (`reports:read`).
    ReportsRead,
    /// Read aggregate statistics (`stats:read`).
    StatsRead,
}

impl Scope {
    /// Every scope.
    pub const ALL: &'static [Scope] = &[
        Scope::RecordsReadPublic,
        Scope::RecordsReadShared,
        Scope::Match,
        Scope::EvaluationsWrite,
        Scope::FindingsWrite,
        Scope::ReportsRead,
        Scope::StatsRead,
    ];

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::RecordsReadPublic => "records:read:public",
            Scope::RecordsReadShared => "records:read:shared",
            Scope::Match => "match",
            Scope::EvaluationsWrite => "evaluations:write",
            Scope::FindingsWrite => "findings:write",
            Scope::ReportsRead => "reports:read",
            Scope::StatsRead => "stats:read",
        }
    }

    /// Parses a wire name.
    pub fn parse(value: &str) -> Option<Scope> {
        Scope::ALL.iter().copied().find(|s| s.as_str() == value)
    }
}

/// A stored API key (never the secret itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// Key id.
    pub id: Uuid,
    /// Public prefix, part of the key string.
    pub prefix: String,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    /// Holder (agency or platform) name.
    pub holder_name: String,
    /// Holder USCC.
    pub holder_uscc: Uscc,
    /// Contact (person, phone or e-mail) of the holder.
    pub contact: String,
    /// Granted scopes.
    pub scopes: BTreeSet<Scope>,
    /// Sustained requests per second.
    pub rate_per_second: u32,
    /// Burst size.
    pub burst: u32,
    /// Requests per day (Asia/Shanghai).
    pub daily_quota: u64,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// When revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// The key that replaced this one by rotation.
    pub replaced_by: Option<Uuid>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Who created it.
    pub created_by: String,
}

impl ApiKey {
    /// Government organs and public institutions may hold `records:read:shared`.
    pub fn holder_is_government(&self) -> bool {
        is_government(&self.holder_uscc)
    }

    /// Whether the key may be used at `now`.
    pub fn state_at(&self, now: OffsetDateTime) -> KeyState {
        // Revocation is effective at once, whatever clock stamped it (the CLI and the node may
        // disagree by a few milliseconds).
        if self.revoked_at.is_some() {
            KeyState::Revoked
        } else if self.expires_at <= now {
            KeyState::Expired
        } else {
            KeyState::Active
        }
    }
}

/// Whether a USCC belongs to a government organ or public institution.
pub fn is_government(uscc: &Uscc) -> bool {
    matches!(
        uscc.subject_type(),
        SubjectType::GovernmentOrgan | SubjectType::PublicInstitution
    )
}

/// Lifecycle state of a key at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Usable.
    Active,
    /// Revoked.
    Revoked,
    /// Past its expiry (or its rotation grace period).
    Expired,
}

/// A freshly generated key: the string to hand over once, and what to store.
pub struct GeneratedKey {
    /// The full key, shown once.
    pub full: String,
    /// Its prefix.
    pub prefix: String,
    /// SHA-256 of its secret, hex.
    pub secret_hash: String,
}

/// Generates a key from the operating system's random source.
pub fn generate() -> Result<GeneratedKey, getrandom::Error> {
    let mut prefix = [0u8; 6];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut prefix)?;
    getrandom::fill(&mut secret)?;
    let prefix = hex::encode(prefix);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    Ok(GeneratedKey {
        full: format!("ixk_{prefix}_{secret}"),
        secret_hash: hash_secret(&secret),
        prefix,
    })
}

/// SHA-256 of a secret, hex.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A presented key split into its parts, not yet checked.
#[derive(Debug, PartialEq, Eq)]
pub struct PresentedKey<'a> {
    /// Prefix.
    pub prefix: &'a str,
    /// Secret.
    pub secret: &'a str,
}

/// Splits `ixk_<12 hex>_<43 base64url>`; `None` for anything else.
pub fn parse_presented(value: &str) -> Option<PresentedKey<'_>> {
    let rest = value.trim().strip_prefix("ixk_")?;
    let (prefix, secret) = rest.split_once('_')?;
    let prefix_ok = prefix.len() == 12 && prefix.bytes().all(|b| b.is_ascii_hexdigit());
    let secret_ok = secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (prefix_ok && secret_ok).then_some(PresentedKey { prefix, secret })
}

/// Compares a presented secret with a stored hash in constant time.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    hash_secret(secret)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_match_only_their_own_hash() {
        let key = generate().unwrap();
        let presented = parse_presented(&key.full).unwrap();
        assert_eq!(presented.prefix, key.prefix);
        assert!(secret_matches(presented.secret, &key.secret_hash));
        let other = generate().unwrap();
        assert!(!secret_matches(presented.secret, &other.secret_hash));
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        for bad in [
            "",
            "ixk_",
            "ixk_abc_def",
            "key_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "ixk_0123456789ag_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "ixk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "ixk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
        ] {
            assert!(parse_presented(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn scopes_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(*scope));
        }
        assert_eq!(Scope::parse("records:write"), None);
    }
}

/// What an issuer asks for; validated into an [`ApiKey`] by [`KeySpec::issue`].
#[derive(Clone, Debug)]
pub struct KeySpec {
    /// Holder name.
    pub holder_name: String,
    /// Holder USCC.
    pub holder_uscc: String,
    /// Contact.
    pub contact: String,
    /// Scope wire names.
    pub scopes: Vec<String>,
    /// Requests per second.
    pub rate_per_second: u32,
    /// Burst.
    pub burst: u32,
    /// Daily quota.
    pub daily_quota: u64,
    /// Expiry.
    pub expires_at: OffsetDateTime,
}

/// One problem with a key request: (field, code, English, Chinese).
pub type SpecError = (&'static str, &'static str, String, String);

impl KeySpec {
    /// Validates the request and generates the key; the full key string is returned once.
    pub fn issue(
        &self,
        now: OffsetDateTime,
        created_by: &str,
    ) -> Result<(ApiKey, String), Vec<SpecError>> {
        let mut errors: Vec<SpecError> = Vec::new();
        let holder_name = self.holder_name.trim();
        if holder_name.is_empty() || holder_name.chars().count() > 200 {
            errors.push((
                "holder_name",
                "invalid_holder_name",
                "holder_name must have 1 to 200 characters".into(),
                "holder_name 须为 1 至 200 个字符".into(),
            ));
        }
        let contact = self.contact.trim();
        if contact.is_empty() || contact.chars().count() > 200 {
            errors.push((
                "contact",
                "invalid_contact",
                "contact must have 1 to 200 characters (a person and a phone number or e-mail)"
                    .into(),
                "contact 须为 1 至 200 个字符（联系人及电话或邮箱）".into(),
            ));
        }
        let holder_uscc = match Uscc::parse(&self.holder_uscc) {
            Ok(uscc) => Some(uscc),
            Err(error) => {
                errors.push((
                    "holder_uscc",
                    error.code(),
                    error.to_string(),
                    error.message_zh(),
                ));
                None
            }
        };
        let mut scopes = BTreeSet::new();
        for name in &self.scopes {
            match Scope::parse(name.trim()) {
                Some(scope) => {
                    scopes.insert(scope);
                }
                None => errors.push((
                    "scopes",
                    "unknown_scope",
                    format!(
                        "unknown scope '{}'; known scopes: {}",
                        name.chars().take(40).collect::<String>(),
                        Scope::ALL
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    format!("未知权限“{}”", name.chars().take(40).collect::<String>()),
                )),
            }
        }
        if self.scopes.is_empty() {
            errors.push((
                "scopes",
                "missing_scopes",
                "grant at least one scope".into(),
                "请至少授予一项权限".into(),
            ));
        }
        if scopes.contains(&Scope::RecordsReadShared)
            && holder_uscc
                .as_ref()
                .is_some_and(|uscc| !is_government(uscc))
        {
            errors.push((
                "scopes",
                "shared_scope_needs_government",
                "records:read:shared can be granted only to government organs and public institutions (USCC starting 11 or 12)".into(),
                "records:read:shared 仅可授予机关和事业单位（统一社会信用代码以 11 或 12 开头）".into(),
            ));
        }
        if !(1..=10_000).contains(&self.rate_per_second) {
            errors.push((
                "rate_per_second",
                "invalid_rate",
                "rate_per_second must be between 1 and 10000".into(),
                "rate_per_second 须在 1 至 10000 之间".into(),
            ));
        }
        if !(1..=100_000).contains(&self.burst) {
            errors.push((
                "burst",
                "invalid_burst",
                "burst must be between 1 and 100000".into(),
                "burst 须在 1 至 100000 之间".into(),
            ));
        }
        if !(1..=100_000_000).contains(&self.daily_quota) {
            errors.push((
                "daily_quota",
                "invalid_quota",
                "daily_quota must be between 1 and 100000000".into(),
                "daily_quota 须在 1 至 100000000 之间".into(),
            ));
        }
        if self.expires_at <= now || self.expires_at > now + time::Duration::days(5 * 366) {
            errors.push((
                "expires_at",
                "invalid_expiry",
                "expires_at must be in the future and at most five years ahead".into(),
                "expires_at 须晚于当前时间且不超过五年".into(),
            ));
        }
        let generated = generate().map_err(|_| {
            vec![(
                "key",
                "random_unavailable",
                "the operating system's random source is unavailable".to_owned(),
                "操作系统随机源不可用".to_owned(),
            )]
        })?;
        match holder_uscc {
            Some(holder_uscc) if errors.is_empty() => Ok((
                ApiKey {
                    id: Uuid::now_v7(),
                    prefix: generated.prefix,
                    secret_hash: generated.secret_hash,
                    holder_name: holder_name.to_owned(),
                    holder_uscc,
                    contact: contact.to_owned(),
                    scopes,
                    rate_per_second: self.rate_per_second,
                    burst: self.burst,
                    daily_quota: self.daily_quota,
                    expires_at: self.expires_at,
                    revoked_at: None,
                    replaced_by: None,
                    created_at: now,
                    created_by: created_by.to_owned(),
                },
                generated.full,
            )),
            _ => Err(errors),
        }
    }
}

impl ApiKey {
    /// The request that would issue a key with the same grants (for rotation).
    pub fn respec(&self) -> KeySpec {
        KeySpec {
            holder_name: self.holder_name.clone(),
            holder_uscc: self.holder_uscc.as_str().to_owned(),
            contact: self.contact.clone(),
            scopes: self.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            rate_per_second: self.rate_per_second,
            burst: self.burst,
            daily_quota: self.daily_quota,
            expires_at: self.expires_at,
        }
    }
}
