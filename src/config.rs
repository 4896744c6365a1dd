//! Settings: typed, layered (defaults -> file -> `INTEGRITY_*` env), validated once at start.
//!
//! Settings are passed into `Application::build`; nothing reads them globally. Secrets are
//! `SecretString` and are printed only as `[redacted]`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use crate::domain::region::RegionCode;

/// The compiled-in defaults (`config/default.toml`).
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// All settings of a node.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// This node.
    pub node: NodeSettings,
    /// HTTP listener.
    pub http: HttpSettings,
    /// TLS for the listener.
    pub tls: TlsSettings,
    /// Database.
    pub database: DatabaseSettings,
    /// Bearer-token authentication.
    pub auth: AuthSettings,
    /// API keys, rates and quotas.
    pub gateway: GatewaySettings,
    /// Node-to-node exchange.
    pub federation: FederationSettings,
    /// Lists beyond the built-in catalogue.
    pub lists: ListsSettings,
    /// Bid screening (the match API).
    #[serde(rename = "match")]
    pub matching: MatchSettings,
    /// Logging.
    pub log: LogSettings,
    /// Prometheus endpoint.
    pub metrics: MetricsSettings,
}

/// `[node]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// GB/T 2260 region code of this node.
    #[serde(deserialize_with = "string_or_number")]
    pub region: String,
    /// Data directory (SQLite file, development key).
    pub data_dir: PathBuf,
}

/// `[http]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Allow plain HTTP on a non-loopback address.
    pub allow_insecure_http: bool,
    /// Request body limit in bytes.
    pub body_limit_bytes: usize,
    /// Request timeout in seconds.
    pub request_timeout_secs: u64,
    /// Public base URL; empty = derived.
    pub public_url: String,
}

/// `[tls]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain; empty = none.
    pub cert_path: PathBuf,
    /// PEM private key; empty = none.
    pub key_path: PathBuf,
}

/// `[database]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// sea-orm URL; empty = embedded SQLite.
    #[serde(serialize_with = "redact")]
    pub url: SecretString,
    /// Pool size.
    pub max_connections: u32,
    /// Pool acquire timeout in seconds.
    pub acquire_timeout_secs: u64,
    /// Migrate embedded SQLite at start.
    pub auto_migrate: bool,
}

/// `[auth]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Ed25519 public keys (PEM files) that verify tokens.
    pub jwt_public_keys: Vec<PathBuf>,
    /// Ed25519 private key (PEM file) used by `integrity-node token`.
    pub jwt_signing_key: PathBuf,
    /// Use a generated development key when no public keys are configured.
    pub allow_dev_key: bool,
    /// Expected issuer.
    pub issuer: String,
    /// Expected audience.
    pub audience: String,
    /// Tolerated clock skew in seconds.
    pub leeway_secs: u64,
}

/// `[gateway]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySettings {
    /// Unauthenticated requests per second per client IP.
    pub anonymous_rate_per_second: u32,
    /// Unauthenticated burst per client IP.
    pub anonymous_burst: u32,
    /// Usage write-behind interval.
    pub usage_flush_interval_ms: u64,
    /// Key-table polling interval.
    pub key_reload_interval_ms: u64,
    /// Default rate of a new key.
    pub default_rate_per_second: u32,
    /// Default burst of a new key.
    pub default_burst: u32,
    /// Default daily quota of a new key.
    pub default_daily_quota: u64,
    /// Default validity of a new key in days.
    pub default_validity_days: u32,
}

/// `[federation]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FederationSettings {
    /// Ed25519 event-signing key (PEM); empty = development key.
    pub signing_key: PathBuf,
    /// Federation CA (PEM); empty = no node-to-node TLS.
    pub ca_path: PathBuf,
    /// Parent node base URL; empty = none.
    pub parent_url: String,
    /// Regions allowed to push here; empty = direct children in GB/T 2260.
    pub children: Vec<String>,
    /// Idle poll interval of the push loop.
    pub push_interval_ms: u64,
    /// Events per pushed batch.
    pub batch_size: u64,
    /// Batches on their way to the parent at once (pipelining).
    pub in_flight: usize,
    /// Cap of the push back-off.
    pub max_backoff_secs: u64,
    /// How long the parent may hold a list pull open when nothing is new (long poll).
    pub list_wait_secs: u64,
    /// A child's copy of its ancestors' lists counts as stale after this long without a
    /// successful pull.
    pub list_stale_after_secs: u64,
    /// A child this many list changes or more behind an issuer is sent a snapshot of the
    /// issuer's entries instead of the changes, when it starts from nothing or the changes
    /// outnumber the entries (`ARCHITECTURE.md`, "Snapshots").
    pub list_snapshot_min_changes: u64,
    /// Working days within which a correction or revocation must reach the provincial
    /// platform (seed 000: 5).
    pub correction_deadline_working_days: u32,
    /// A pending correction is flagged `due_soon` when this many working days or fewer are
    /// left.
    pub correction_warning_working_days: u32,
}

/// `[match]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSettings {
    /// Project kinds and the measures that restrict each: an in-force entry carrying one of
    /// them blocks a bidder of that kind of project.
    pub restrictions: std::collections::BTreeMap<String, Vec<String>>,
    /// An entry that starts or ends within this many days of `as_of` gives `review`, not
    /// `block` (the period may be disputed or not yet recorded everywhere).
    pub boundary_days: u32,
    /// Decisions written per database transaction at most (group commit).
    pub log_batch: usize,
    /// Embedded SQLite: while the index is built at start, read the pages of the list
    /// entries' covering index into the page cache ahead of the build, sixteen reads in
    /// flight (at most half of the available memory). Off: the build reads one page at a time.
    pub prewarm_index: bool,
    /// Supervisors' endpoints that receive every `block` (signed with the node's key).
    pub webhooks: Vec<WebhookSettings>,
    /// Attempts per delivery before it is marked failed (visible, never silently dropped).
    pub webhook_max_attempts: i32,
    /// Cap of the exponential back-off between attempts.
    pub webhook_max_backoff_secs: u64,
}

/// One `[[match.webhooks]]` endpoint.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// https URL (http only on loopback, for tests and local tools).
    pub url: String,
}

/// Whether `url` may receive webhooks: https, or http to a loopback address.
pub fn webhook_url_allowed(url: &str) -> bool {
    match url.split_once("://") {
        Some(("https", rest)) => !rest.is_empty(),
        Some(("http", rest)) => {
            let host = rest.split(['/', '?']).next().unwrap_or_default();
            let host = host.rsplit_once(':').map_or(host, |(host, _)| host);
            matches!(host, "127.0.0.1" | "localhost" | "[::1]")
        }
        _ => false,
    }
}

/// `[lists]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListsSettings {
    /// Extra list types (`[[lists.extra]]` tables: code, name_zh, name_en, nature,
    /// default_measures).
    pub extra: Vec<crate::domain::lists::ListType>,
}

/// `[log]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// "pretty" or "json".
    pub format: String,
    /// EnvFilter directives.
    pub filter: String,
}

/// `[metrics]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Bearer token required by /metrics; empty = open.
    #[serde(serialize_with = "redact")]
    pub bearer_token: SecretString,
}

/// Environment values that look like numbers reach serde as numbers
/// (`INTEGRITY_NODE__REGION=445100`); a region code is text either way.
fn string_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Text(String),
        Number(u64),
    }
    Ok(match Text::deserialize(deserializer)? {
        Text::Text(text) => text,
        Text::Number(number) => number.to_string(),
    })
}

fn redact<S: Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    if secret.expose_secret().is_empty() {
        serializer.serialize_str("")
    } else {
        serializer.serialize_str("[redacted]")
    }
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The layers did not merge into `Settings` (unknown key, wrong type …).
    #[error("configuration: {0}")]
    Load(String),
    /// A value is present but not acceptable.
    #[error("configuration key {key}: {message}")]
    Invalid {
        /// Dotted key, e.g. `node.region`.
        key: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

impl Settings {
    /// Merges the defaults, an optional file and the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::Load(format!(
                    "configuration file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("INTEGRITY_").split("__").ignore(&["config"]));
        figment
            .extract()
            .map_err(|error| ConfigError::Load(error.to_string()))
    }

    /// Checks every value that can be checked without side effects; returns the region code.
    pub fn validate(&self) -> Result<RegionCode, ConfigError> {
        let region = RegionCode::parse(&self.node.region).map_err(|error| {
            invalid(
                "node.region",
                format!(
                    "'{}' is not a GB/T 2260 region code ({error}); use e.g. 445122 for a county, 445100 for a city, 440000 for a province, 100000 for the national node",
                    self.node.region
                ),
            )
        })?;
        let tls = self.tls_paths()?;
        if tls.is_none() && !self.http.listen.ip().is_loopback() && !self.http.allow_insecure_http {
            return Err(invalid(
                "http.listen",
                format!(
                    "{} is not a loopback address and no TLS is configured; set tls.cert_path and tls.key_path, or http.allow_insecure_http = true behind a TLS-terminating proxy",
                    self.http.listen
                ),
            ));
        }
        if let Some((cert, key)) = &tls {
            for (name, path) in [("tls.cert_path", cert), ("tls.key_path", key)] {
                if std::fs::metadata(path).is_err() {
                    return Err(invalid(name, format!("{} cannot be read", path.display())));
                }
            }
        }
        if self.http.body_limit_bytes < 1024 {
            return Err(invalid("http.body_limit_bytes", "must be at least 1024"));
        }
        if self.http.request_timeout_secs == 0 {
            return Err(invalid("http.request_timeout_secs", "must be at least 1"));
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        let url = self.database.url.expose_secret();
        let known_scheme = ["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme));
        if !url.is_empty() && !known_scheme {
            return Err(invalid(
                "database.url",
                "must start with sqlite:, postgres:// or postgresql:// (or be empty for embedded SQLite)",
            ));
        }
        for path in &self.auth.jwt_public_keys {
            if std::fs::metadata(path).is_err() {
                return Err(invalid(
                    "auth.jwt_public_keys",
                    format!("{} cannot be read", path.display()),
                ));
            }
        }
        if self.auth.jwt_public_keys.is_empty() && !self.auth.allow_dev_key {
            return Err(invalid(
                "auth.jwt_public_keys",
                "no token verification keys are configured and auth.allow_dev_key is false",
            ));
        }
        let gateway = &self.gateway;
        if gateway.anonymous_rate_per_second == 0 || gateway.anonymous_burst == 0 {
            return Err(invalid(
                "gateway.anonymous_rate_per_second",
                "anonymous rate and burst must be at least 1",
            ));
        }
        if gateway.usage_flush_interval_ms < 100 || gateway.key_reload_interval_ms < 100 {
            return Err(invalid(
                "gateway.usage_flush_interval_ms",
                "flush and reload intervals must be at least 100 ms",
            ));
        }
        let signing_key = &self.federation.signing_key;
        if signing_key.as_os_str().is_empty() {
            if !self.auth.allow_dev_key {
                return Err(invalid(
                    "federation.signing_key",
                    "no event-signing key is configured and auth.allow_dev_key is false; create one with `integrity-node pki issue`",
                ));
            }
        } else if std::fs::metadata(signing_key).is_err() {
            return Err(invalid(
                "federation.signing_key",
                format!("{} cannot be read", signing_key.display()),
            ));
        }
        for (kind, measures) in &self.matching.restrictions {
            if let Some(unknown) = measures
                .iter()
                .find(|m| !crate::domain::lists::is_measure(m))
            {
                return Err(invalid(
                    "match.restrictions",
                    format!("project kind '{kind}': unknown measure '{unknown}'"),
                ));
            }
        }
        for webhook in &self.matching.webhooks {
            if !webhook_url_allowed(&webhook.url) || webhook.url.len() > 512 {
                return Err(invalid(
                    "match.webhooks",
                    format!(
                        "'{}' must be an https URL (http only to a loopback address), at most 512 characters",
                        webhook.url
                    ),
                ));
            }
        }
        if self.matching.webhook_max_attempts < 1 || self.matching.webhook_max_backoff_secs == 0 {
            return Err(invalid(
                "match.webhook_max_attempts",
                "attempts and back-off cap must be at least 1",
            ));
        }
        if self.matching.log_batch == 0 {
            return Err(invalid("match.log_batch", "must be at least 1"));
        }
        if let Err(message) = crate::domain::lists::ListCatalogue::new(&self.lists.extra) {
            return Err(invalid("lists.extra", message));
        }
        let federation = &self.federation;
        if federation.list_wait_secs + 5 > self.http.request_timeout_secs {
            return Err(invalid(
                "federation.list_wait_secs",
                "must be at least 5 s shorter than http.request_timeout_secs (the parent answers before its own timeout)",
            ));
        }
        if federation.list_stale_after_secs == 0 {
            return Err(invalid(
                "federation.list_stale_after_secs",
                "must be at least 1",
            ));
        }
        if !federation.ca_path.as_os_str().is_empty() {
            if std::fs::metadata(&federation.ca_path).is_err() {
                return Err(invalid(
                    "federation.ca_path",
                    format!("{} cannot be read", federation.ca_path.display()),
                ));
            }
            if tls.is_none() {
                return Err(invalid(
                    "federation.ca_path",
                    "node-to-node TLS needs this node's certificate: set tls.cert_path and tls.key_path",
                ));
            }
        }
        if !federation.parent_url.is_empty() {
            if !federation.parent_url.starts_with("https://") {
                return Err(invalid(
                    "federation.parent_url",
                    "the parent is reached over mutual TLS: use an https:// URL",
                ));
            }
            if federation.ca_path.as_os_str().is_empty() {
                return Err(invalid(
                    "federation.parent_url",
                    "pushing to a parent needs federation.ca_path (the federation CA)",
                ));
            }
        }
        for child in &federation.children {
            if RegionCode::parse(child).is_err() {
                return Err(invalid(
                    "federation.children",
                    format!("'{child}' is not a GB/T 2260 region code"),
                ));
            }
        }
        if federation.batch_size == 0 || federation.batch_size > 2_000 {
            return Err(invalid(
                "federation.batch_size",
                "must be between 1 and 2000",
            ));
        }
        if federation.in_flight == 0 || federation.in_flight > 64 {
            return Err(invalid("federation.in_flight", "must be between 1 and 64"));
        }
        if federation.push_interval_ms < 10 || federation.max_backoff_secs == 0 {
            return Err(invalid(
                "federation.push_interval_ms",
                "push_interval_ms must be at least 10 and max_backoff_secs at least 1",
            ));
        }
        if !matches!(self.log.format.as_str(), "pretty" | "json") {
            return Err(invalid("log.format", "must be \"pretty\" or \"json\""));
        }
        Ok(region)
    }

    /// The TLS certificate and key paths, if TLS is configured.
    pub fn tls_paths(&self) -> Result<Option<(PathBuf, PathBuf)>, ConfigError> {
        let cert = &self.tls.cert_path;
        let key = &self.tls.key_path;
        match (cert.as_os_str().is_empty(), key.as_os_str().is_empty()) {
            (true, true) => Ok(None),
            (false, false) => Ok(Some((cert.clone(), key.clone()))),
            _ => Err(invalid(
                "tls.cert_path",
                "tls.cert_path and tls.key_path must be set together",
            )),
        }
    }

    /// Where the decision log's write-ahead journal lives (`matching::journal`), on every
    /// backend: `<node.data_dir>/decision-journal`.
    pub fn decision_journal_dir(&self) -> PathBuf {
        self.node.data_dir.join("decision-journal")
    }

    /// The database URL to connect to (embedded SQLite when none is configured).
    pub fn database_url(&self) -> String {
        let url = self.database.url.expose_secret();
        if url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.node.data_dir.join("integrity.sqlite3").display()
            )
        } else {
            url.to_owned()
        }
    }

    /// True when the database is embedded SQLite (which auto-migrates).
    pub fn is_sqlite(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn redacted_toml(&self) -> String {
        toml_string(self)
    }
}

fn toml_string(settings: &Settings) -> String {
    // figment's toml dependency is not re-exported, so render through serde_json into a small
    // TOML writer: the settings are two levels deep with scalar or array leaves.
    let value = serde_json::to_value(settings).unwrap_or_default();
    let mut out = String::new();
    if let serde_json::Value::Object(sections) = value {
        for (section, fields) in sections {
            out.push_str(&format!("[{section}]\n"));
            if let serde_json::Value::Object(fields) = fields {
                for (key, value) in fields {
                    out.push_str(&format!("{key} = {value}\n"));
                }
            }
            out.push('\n');
        }
    }
    out
}
