//! The open API gateway: who holds which key, how fast and how much each may call.
//!
//! Boundary: this module alone knows keys, scopes, rates and quotas. It keeps every active key,
//! its token bucket (governor) and today's usage in memory, so a request is admitted or refused
//! before any database work; usage is written behind (every second and at shutdown) and read back
//! at start, so quotas survive restarts. Keys changed by another process (the `keys` CLI) are
//! picked up by polling a cheap fingerprint of the key table.

pub mod keys;

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock};

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::clock::SHANGHAI_OFFSET;
use keys::{ApiKey, KeyState, parse_presented, secret_matches};

/// Today's usage of one key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayUsage {
    /// Shanghai calendar day.
    pub day: Option<Date>,
    /// Requests admitted.
    pub requests: u64,
    /// Requests refused by the rate limit.
    pub refused_rate: u64,
    /// Requests refused by the daily quota.
    pub refused_quota: u64,
}

/// One usage row to persist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageRow {
    /// Key id.
    pub key_id: Uuid,
    /// The day's totals.
    pub usage: DayUsage,
}

struct UsageCell {
    usage: DayUsage,
    dirty: bool,
}

/// A key as the gateway holds it: the stored key, its token bucket and today's usage.
pub struct ActiveKey {
    /// The stored key.
    pub key: ApiKey,
    limiter: Arc<DefaultDirectRateLimiter>,
    usage: Arc<Mutex<UsageCell>>,
}

impl std::fmt::Debug for ActiveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveKey")
            .field("id", &self.key.id)
            .finish_non_exhaustive()
    }
}

impl ActiveKey {
    /// Today's usage as held in memory.
    pub fn usage(&self) -> DayUsage {
        self.usage.lock().map(|cell| cell.usage).unwrap_or_default()
    }
}

/// Why a request was refused before reaching a handler.
#[derive(Debug)]
pub enum Refusal {
    /// The header is not a key of this node's format.
    Malformed,
    /// No such key, or the secret does not match (indistinguishable on purpose).
    Unknown,
    /// The key was revoked.
    Revoked(Arc<ActiveKey>),
    /// The key expired (or its rotation grace period ended).
    Expired(Arc<ActiveKey>),
    /// Too fast; retry after the given seconds.
    RateLimited(Arc<ActiveKey>, u64),
    /// Today's quota is used up; it resets at midnight Asia/Shanghai.
    QuotaExhausted(Arc<ActiveKey>, u64),
    /// An unauthenticated client is too fast.
    AnonymousRateLimited(u64),
}

/// An admitted key request.
#[derive(Clone, Debug)]
pub struct Admission {
    /// The key.
    pub key: Arc<ActiveKey>,
    /// Requests left today after this one.
    pub remaining_quota: u64,
    /// Seconds until the quota resets.
    pub reset_secs: u64,
}

/// Limits of unauthenticated callers.
#[derive(Clone, Copy, Debug)]
pub struct AnonymousLimits {
    /// Sustained requests per second per client IP.
    pub rate_per_second: u32,
    /// Burst per client IP.
    pub burst: u32,
}

/// A fingerprint of the key table; when it changes, keys are reloaded.
pub type KeyFingerprint = (u64, Option<OffsetDateTime>);

/// The gateway's state.
pub struct Gateway {
    keys: RwLock<HashMap<String, Arc<ActiveKey>>>,
    anonymous: DefaultKeyedRateLimiter<IpAddr>,
    fingerprint: Mutex<Option<KeyFingerprint>>,
    refusal_audits: Mutex<HashMap<String, OffsetDateTime>>,
}

/// Refusals of one kind by one caller are audited at most this often.
const REFUSAL_AUDIT_EVERY: time::Duration = time::Duration::minutes(1);

fn nonzero(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value.max(1)).unwrap_or(NonZeroU32::MIN)
}

fn key_limiter(key: &ApiKey) -> DefaultDirectRateLimiter {
    RateLimiter::direct(
        Quota::per_second(nonzero(key.rate_per_second)).allow_burst(nonzero(key.burst)),
    )
}

/// The Shanghai calendar day of an instant, and the seconds until its end.
pub fn shanghai_day(now: OffsetDateTime) -> (Date, u64) {
    let local = now.to_offset(SHANGHAI_OFFSET);
    let day = local.date();
    let seconds_into_day =
        u64::from(local.hour()) * 3600 + u64::from(local.minute()) * 60 + u64::from(local.second());
    (day, 86_400 - seconds_into_day.min(86_399))
}

impl Gateway {
    /// A gateway with no keys.
    pub fn new(anonymous: AnonymousLimits) -> Gateway {
        Gateway {
            keys: RwLock::new(HashMap::new()),
            anonymous: RateLimiter::keyed(
                Quota::per_second(nonzero(anonymous.rate_per_second))
                    .allow_burst(nonzero(anonymous.burst)),
            ),
            fingerprint: Mutex::new(None),
            refusal_audits: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a refusal of this kind by this caller should be audited now (once a minute).
    pub fn should_audit_refusal(&self, what: &str, now: OffsetDateTime) -> bool {
        let Ok(mut seen) = self.refusal_audits.lock() else {
            return true;
        };
        match seen.get(what) {
            Some(last) if now - *last < REFUSAL_AUDIT_EVERY => false,
            _ => {
                seen.insert(what.to_owned(), now);
                true
            }
        }
    }

    /// Replaces the key set, keeping token buckets and usage of keys that stay. `usage` gives
    /// stored usage for keys not yet held (at start, and for keys created by another process).
    pub fn load(
        &self,
        stored: Vec<ApiKey>,
        usage: &HashMap<Uuid, DayUsage>,
        fingerprint: KeyFingerprint,
    ) {
        let Ok(mut keys) = self.keys.write() else {
            return;
        };
        let previous: HashMap<Uuid, Arc<ActiveKey>> = keys
            .values()
            .map(|entry| (entry.key.id, entry.clone()))
            .collect();
        let mut next = HashMap::with_capacity(stored.len());
        for key in stored {
            let entry = match previous.get(&key.id) {
                Some(old) => ActiveKey {
                    limiter: if old.key.rate_per_second == key.rate_per_second
                        && old.key.burst == key.burst
                    {
                        old.limiter.clone()
                    } else {
                        Arc::new(key_limiter(&key))
                    },
                    usage: old.usage.clone(),
                    key,
                },
                None => ActiveKey {
                    limiter: Arc::new(key_limiter(&key)),
                    usage: Arc::new(Mutex::new(UsageCell {
                        usage: usage.get(&key.id).copied().unwrap_or_default(),
                        dirty: false,
                    })),
                    key,
                },
            };
            next.insert(entry.key.prefix.clone(), Arc::new(entry));
        }
        *keys = next;
        if let Ok(mut current) = self.fingerprint.lock() {
            *current = Some(fingerprint);
        }
    }

    /// The fingerprint of the last load.
    pub fn fingerprint(&self) -> Option<KeyFingerprint> {
        self.fingerprint.lock().ok().and_then(|f| *f)
    }

    /// The key with this id, if held.
    pub fn key(&self, id: Uuid) -> Option<Arc<ActiveKey>> {
        self.keys
            .read()
            .ok()?
            .values()
            .find(|entry| entry.key.id == id)
            .cloned()
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.keys.read().map(|keys| keys.len()).unwrap_or(0)
    }

    /// True when no keys are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks a presented key: format, secret, state, daily quota, then rate. Admitted requests
    /// count against the quota.
    pub fn admit_key(&self, presented: &str, now: OffsetDateTime) -> Result<Admission, Refusal> {
        let presented = parse_presented(presented).ok_or(Refusal::Malformed)?;
        let entry = self
            .keys
            .read()
            .ok()
            .and_then(|keys| keys.get(presented.prefix).cloned())
            .ok_or(Refusal::Unknown)?;
        if !secret_matches(presented.secret, &entry.key.secret_hash) {
            return Err(Refusal::Unknown);
        }
        match entry.key.state_at(now) {
            KeyState::Active => {}
            KeyState::Revoked => return Err(Refusal::Revoked(entry)),
            KeyState::Expired => return Err(Refusal::Expired(entry)),
        }
        let (today, reset_secs) = shanghai_day(now);
        let Ok(mut cell) = entry.usage.lock() else {
            return Err(Refusal::Unknown);
        };
        if cell.usage.day != Some(today) {
            cell.usage = DayUsage {
                day: Some(today),
                ..DayUsage::default()
            };
        }
        cell.dirty = true;
        if cell.usage.requests >= entry.key.daily_quota {
            cell.usage.refused_quota += 1;
            drop(cell);
            return Err(Refusal::QuotaExhausted(entry, reset_secs));
        }
        if let Err(not_until) = entry.limiter.check() {
            cell.usage.refused_rate += 1;
            drop(cell);
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(Refusal::RateLimited(entry, wait.as_secs() + 1));
        }
        cell.usage.requests += 1;
        let remaining_quota = entry.key.daily_quota - cell.usage.requests;
        drop(cell);
        Ok(Admission {
            key: entry,
            remaining_quota,
            reset_secs,
        })
    }

    /// Checks an unauthenticated client's rate.
    pub fn admit_anonymous(&self, ip: IpAddr) -> Result<(), Refusal> {
        self.anonymous.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Refusal::AnonymousRateLimited(wait.as_secs() + 1)
        })
    }

    /// Forgets idle per-IP buckets (call periodically; keyed state grows otherwise).
    pub fn prune(&self) {
        self.anonymous.retain_recent();
        self.anonymous.shrink_to_fit();
        if let Ok(mut seen) = self.refusal_audits.lock() {
            seen.clear();
        }
    }

    /// Usage changed since the last call, to persist.
    pub fn take_dirty_usage(&self) -> Vec<UsageRow> {
        let Ok(keys) = self.keys.read() else {
            return Vec::new();
        };
        keys.values()
            .filter_map(|entry| {
                let mut cell = entry.usage.lock().ok()?;
                if !cell.dirty || cell.usage.day.is_none() {
                    return None;
                }
                cell.dirty = false;
                Some(UsageRow {
                    key_id: entry.key.id,
                    usage: cell.usage,
                })
            })
            .collect()
    }

    /// Marks usage rows dirty again after a failed write, so the next flush retries them.
    pub fn restore_dirty(&self, rows: &[UsageRow]) {
        for row in rows {
            if let Some(entry) = self.key(row.key_id)
                && let Ok(mut cell) = entry.usage.lock()
            {
                cell.dirty = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_quota_day_ends_at_shanghai_midnight() {
        let (day, secs) = shanghai_day(datetime!(2026-06-15 15:59:00 UTC));
        assert_eq!(day, time::macros::date!(2026 - 06 - 15));
        assert_eq!(secs, 60);
        let (day, _) = shanghai_day(datetime!(2026-06-15 16:00:00 UTC));
        assert_eq!(day, time::macros::date!(2026 - 06 - 16));
    }
}
