//! Offline administration: `integrity-node keys create|list|revoke|rotate`, operating on the
//! database directly (audited like the API). A running node picks the change up within
//! `gateway.key_reload_interval_ms` by polling the key table.

use clap::Subcommand;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::audit::AuditEntry;
use crate::config::Settings;
use crate::gateway::keys::{ApiKey, KeySpec, KeyState};
use crate::store::Store;

/// `integrity-node keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Issue a key; prints the secret once.
    Create {
        /// Holder (agency or platform) name.
        #[arg(long)]
        holder: String,
        /// Holder USCC.
        #[arg(long)]
        holder_uscc: String,
        /// Contact person and phone or e-mail.
        #[arg(long)]
        contact: String,
        /// Comma-separated scopes, e.g. records:read:public,evaluations:write.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Requests per second (default gateway.default_rate_per_second).
        #[arg(long)]
        rate: Option<u32>,
        /// Burst (default gateway.default_burst).
        #[arg(long)]
        burst: Option<u32>,
        /// Requests per day (default gateway.default_daily_quota).
        #[arg(long)]
        daily_quota: Option<u64>,
        /// Validity in days (default gateway.default_validity_days).
        #[arg(long)]
        valid_days: Option<u32>,
    },
    /// List keys (never secrets).
    List,
    /// Revoke a key.
    Revoke {
        /// Key id.
        id: Uuid,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Issue a successor with the same grants; the old key stays valid for the grace period.
    Rotate {
        /// Key id.
        id: Uuid,
        /// Hours both keys are valid.
        #[arg(long, default_value_t = 24)]
        grace_hours: u32,
    },
}

fn entry(action: &str, resource: String, detail: String) -> AuditEntry {
    AuditEntry {
        actor_kind: "cli".to_owned(),
        actor_id: std::env::var("USER").unwrap_or_else(|_| "operator".to_owned()),
        action: action.to_owned(),
        resource,
        outcome: "ok".to_owned(),
        request_id: String::new(),
        detail,
    }
}

fn describe(key: &ApiKey, now: OffsetDateTime) -> String {
    let state = match key.state_at(now) {
        KeyState::Active => "active",
        KeyState::Revoked => "revoked",
        KeyState::Expired => "expired",
    };
    format!(
        "{}  ixk_{}_…  {:<8} {} ({})  scopes={}  rate={}/s burst={} quota={}/day  expires={}",
        key.id,
        key.prefix,
        state,
        key.holder_name,
        key.holder_uscc.as_str(),
        key.scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(","),
        key.rate_per_second,
        key.burst,
        key.daily_quota,
        key.expires_at.format(&Rfc3339).unwrap_or_default()
    )
}

fn spec_errors(errors: Vec<crate::gateway::keys::SpecError>) -> anyhow::Error {
    anyhow::anyhow!(
        "{}",
        errors
            .into_iter()
            .map(|(field, _, message, _)| format!("--{}: {message}", field.replace('_', "-")))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// Runs a `keys` command against the configured database.
pub async fn keys(
    command: KeysCommand,
    settings: &Settings,
    store: &Store,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let defaults = &settings.gateway;
    match command {
        KeysCommand::Create {
            holder,
            holder_uscc,
            contact,
            scopes,
            rate,
            burst,
            daily_quota,
            valid_days,
        } => {
            let spec = KeySpec {
                holder_name: holder,
                holder_uscc,
                contact,
                scopes,
                rate_per_second: rate.unwrap_or(defaults.default_rate_per_second),
                burst: burst.unwrap_or(defaults.default_burst),
                daily_quota: daily_quota.unwrap_or(defaults.default_daily_quota),
                expires_at: now
                    + time::Duration::days(i64::from(
                        valid_days.unwrap_or(defaults.default_validity_days),
                    )),
            };
            let (key, secret) = spec.issue(now, "cli").map_err(spec_errors)?;
            store
                .insert_key(
                    &key,
                    now,
                    entry("keys.create", format!("key:{}", key.id), String::new()),
                )
                .await?;
            println!("{}", describe(&key, now));
            println!("secret (shown once, give it to the holder): {secret}");
        }
        KeysCommand::List => {
            let (keys, _) = store.load_keys().await?;
            for key in &keys {
                println!("{}", describe(key, now));
            }
            if keys.is_empty() {
                println!("no keys");
            }
        }
        KeysCommand::Revoke { id, reason } => {
            let mut key = store.get_key(id).await?;
            anyhow::ensure!(key.revoked_at.is_none(), "key {id} is already revoked");
            anyhow::ensure!(!reason.trim().is_empty(), "--reason must not be empty");
            key.revoked_at = Some(now);
            store
                .update_key(
                    &key,
                    None,
                    now,
                    entry("keys.revoke", format!("key:{id}"), reason),
                )
                .await?;
            println!("{}", describe(&key, now));
        }
        KeysCommand::Rotate { id, grace_hours } => {
            anyhow::ensure!(grace_hours <= 720, "--grace-hours must be at most 720");
            let mut old = store.get_key(id).await?;
            anyhow::ensure!(
                old.state_at(now) == KeyState::Active,
                "only an active key can be rotated"
            );
            let (new, secret) = old.respec().issue(now, "cli").map_err(spec_errors)?;
            old.expires_at = old
                .expires_at
                .min(now + time::Duration::hours(i64::from(grace_hours)));
            old.replaced_by = Some(new.id);
            store
                .update_key(
                    &old,
                    Some(&new),
                    now,
                    entry(
                        "keys.rotate",
                        format!("key:{id}"),
                        format!("replaced_by={} grace_hours={grace_hours}", new.id),
                    ),
                )
                .await?;
            println!("old: {}", describe(&old, now));
            println!("new: {}", describe(&new, now));
            println!("secret (shown once, give it to the holder): {secret}");
        }
    }
    Ok(())
}
