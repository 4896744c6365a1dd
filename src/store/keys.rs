//! API keys, their daily usage, and third-party submissions (evaluations, findings).

use std::collections::{BTreeSet, HashMap};

use sea_orm::sea_query::{Expr, Func, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::entities::{api_key_usage, api_keys, evaluations, findings};
use super::{Store, StoreError, audit};
use crate::audit::AuditEntry;
use crate::domain::uscc::Uscc;
use crate::gateway::keys::{ApiKey, Scope};
use crate::gateway::{DayUsage, KeyFingerprint, UsageRow};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn to_key(model: api_keys::Model) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: Uuid::parse_str(&model.id).map_err(|_| corrupt("api_keys.id"))?,
        prefix: model.prefix,
        secret_hash: model.secret_hash,
        holder_name: model.holder_name,
        holder_uscc: Uscc::parse(&model.holder_uscc).map_err(|_| corrupt("holder_uscc"))?,
        contact: model.contact,
        scopes: model
            .scopes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| Scope::parse(s).ok_or_else(|| corrupt("scopes")))
            .collect::<Result<BTreeSet<_>, _>>()?,
        rate_per_second: u32::try_from(model.rate_per_second).map_err(|_| corrupt("rate"))?,
        burst: u32::try_from(model.burst).map_err(|_| corrupt("burst"))?,
        daily_quota: u64::try_from(model.daily_quota).map_err(|_| corrupt("quota"))?,
        expires_at: model.expires_at,
        revoked_at: model.revoked_at,
        replaced_by: model
            .replaced_by
            .as_deref()
            .map(Uuid::parse_str)
            .transpose()
            .map_err(|_| corrupt("replaced_by"))?,
        created_at: model.created_at,
        created_by: model.created_by,
    })
}

fn to_active(key: &ApiKey, updated_at: OffsetDateTime) -> api_keys::ActiveModel {
    api_keys::ActiveModel {
        id: Set(key.id.to_string()),
        prefix: Set(key.prefix.clone()),
        secret_hash: Set(key.secret_hash.clone()),
        holder_name: Set(key.holder_name.clone()),
        holder_uscc: Set(key.holder_uscc.as_str().to_owned()),
        contact: Set(key.contact.clone()),
        scopes: Set(key
            .scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")),
        rate_per_second: Set(i32::try_from(key.rate_per_second).unwrap_or(i32::MAX)),
        burst: Set(i32::try_from(key.burst).unwrap_or(i32::MAX)),
        daily_quota: Set(i64::try_from(key.daily_quota).unwrap_or(i64::MAX)),
        expires_at: Set(key.expires_at),
        revoked_at: Set(key.revoked_at),
        replaced_by: Set(key.replaced_by.map(|id| id.to_string())),
        created_at: Set(key.created_at),
        created_by: Set(key.created_by.clone()),
        updated_at: Set(updated_at),
    }
}

/// A third-party evaluation of a region or department.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Id.
    pub id: Uuid,
    /// Key that submitted it.
    pub key_id: Uuid,
    /// Agency USCC and name.
    pub agency_uscc: String,
    /// Agency name.
    pub agency_name: String,
    /// `region` or `department`.
    pub target_kind: String,
    /// Region code or department USCC.
    pub target_code: String,
    /// Target name.
    pub target_name: String,
    /// Evaluated period.
    pub period_start: Date,
    /// Evaluated period end.
    pub period_end: Date,
    /// Score 0–100.
    pub score: f64,
    /// Grade (e.g. A, B, C, D or 优秀).
    pub grade: String,
    /// Indicator scores as submitted.
    pub indicators: serde_json::Value,
    /// Method.
    pub method: String,
    /// Valid until.
    pub valid_until: Date,
    /// Stored at.
    pub created_at: OffsetDateTime,
}

/// A third-party monitoring finding of government dishonesty: supplementary, never official.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Id.
    pub id: Uuid,
    /// Key that submitted it.
    pub key_id: Uuid,
    /// Agency USCC.
    pub agency_uscc: String,
    /// Agency name.
    pub agency_name: String,
    /// The government body concerned (USCC).
    pub subject_code: String,
    /// Its name.
    pub subject_name: String,
    /// Domain wire value.
    pub domain: String,
    /// When observed.
    pub observed_on: Date,
    /// What was found.
    pub summary: String,
    /// Evidence (links, document references).
    pub evidence: String,
    /// Stored at.
    pub created_at: OffsetDateTime,
}

impl Store {
    /// Every key, with the table fingerprint.
    pub async fn load_keys(&self) -> Result<(Vec<ApiKey>, KeyFingerprint), StoreError> {
        let rows = api_keys::Entity::find()
            .order_by_asc(api_keys::Column::CreatedAt)
            .all(&self.db)
            .await?;
        let latest = rows.iter().map(|row| row.updated_at).max();
        let count = rows.len() as u64;
        let keys = rows
            .into_iter()
            .map(to_key)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((keys, (count, latest)))
    }

    /// The key table's fingerprint: row count and latest change (one cheap query).
    pub async fn key_fingerprint(&self) -> Result<KeyFingerprint, StoreError> {
        let row: Option<(i64, Option<OffsetDateTime>)> = api_keys::Entity::find()
            .select_only()
            .column_as(
                Expr::expr(Func::count(Expr::col(api_keys::Column::Id))),
                "n",
            )
            .column_as(
                Expr::expr(Func::max(Expr::col(api_keys::Column::UpdatedAt))),
                "latest",
            )
            .into_tuple()
            .one(&self.db)
            .await?;
        let (count, latest) = row.unwrap_or((0, None));
        Ok((u64::try_from(count).unwrap_or(0), latest))
    }

    /// Usage of every key on one day.
    pub async fn usage_on(&self, day: Date) -> Result<HashMap<Uuid, DayUsage>, StoreError> {
        let rows = api_key_usage::Entity::find()
            .filter(api_key_usage::Column::Day.eq(day))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                Some((
                    Uuid::parse_str(&row.key_id).ok()?,
                    DayUsage {
                        day: Some(row.day),
                        requests: u64::try_from(row.requests).unwrap_or(0),
                        refused_rate: u64::try_from(row.refused_rate).unwrap_or(0),
                        refused_quota: u64::try_from(row.refused_quota).unwrap_or(0),
                    },
                ))
            })
            .collect())
    }

    /// Usage history of one key, newest day first.
    pub async fn key_usage(&self, key_id: Uuid, days: u64) -> Result<Vec<DayUsage>, StoreError> {
        let rows = api_key_usage::Entity::find()
            .filter(api_key_usage::Column::KeyId.eq(key_id.to_string()))
            .order_by_desc(api_key_usage::Column::Day)
            .limit(days)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| DayUsage {
                day: Some(row.day),
                requests: u64::try_from(row.requests).unwrap_or(0),
                refused_rate: u64::try_from(row.refused_rate).unwrap_or(0),
                refused_quota: u64::try_from(row.refused_quota).unwrap_or(0),
            })
            .collect())
    }

    /// Writes the day's totals (absolute values: the gateway holds the day's totals, loaded
    /// from here at start).
    pub async fn save_usage(&self, rows: &[UsageRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let models = rows.iter().filter_map(|row| {
            Some(api_key_usage::ActiveModel {
                key_id: Set(row.key_id.to_string()),
                day: Set(row.usage.day?),
                requests: Set(i64::try_from(row.usage.requests).unwrap_or(i64::MAX)),
                refused_rate: Set(i64::try_from(row.usage.refused_rate).unwrap_or(i64::MAX)),
                refused_quota: Set(i64::try_from(row.usage.refused_quota).unwrap_or(i64::MAX)),
            })
        });
        api_key_usage::Entity::insert_many(models)
            .on_conflict(
                OnConflict::columns([api_key_usage::Column::KeyId, api_key_usage::Column::Day])
                    .update_columns([
                        api_key_usage::Column::Requests,
                        api_key_usage::Column::RefusedRate,
                        api_key_usage::Column::RefusedQuota,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// Stores a new key (audited in the same transaction).
    pub async fn insert_key(
        &self,
        key: &ApiKey,
        at: OffsetDateTime,
        audit_entry: AuditEntry,
    ) -> Result<(), StoreError> {
        let mut head = self.audit_head.lock().await;
        let txn = self.begin_write().await?;
        api_keys::Entity::insert(to_active(key, at))
            .exec_without_returning(&txn)
            .await?;
        let new_head = audit::insert_after(&txn, &head, at, &audit_entry).await?;
        txn.commit().await?;
        *head = new_head;
        Ok(())
    }

    /// One key by id.
    pub async fn get_key(&self, id: Uuid) -> Result<ApiKey, StoreError> {
        let row = api_keys::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        to_key(row)
    }

    /// Updates a key's state (revocation, expiry, replacement) and optionally inserts its
    /// successor, audited in the same transaction.
    pub async fn update_key(
        &self,
        key: &ApiKey,
        successor: Option<&ApiKey>,
        at: OffsetDateTime,
        audit_entry: AuditEntry,
    ) -> Result<(), StoreError> {
        let mut head = self.audit_head.lock().await;
        let txn = self.begin_write().await?;
        if let Some(successor) = successor {
            api_keys::Entity::insert(to_active(successor, at))
                .exec_without_returning(&txn)
                .await?;
        }
        api_keys::Entity::update(to_active(key, at))
            .exec(&txn)
            .await?;
        let new_head = audit::insert_after(&txn, &head, at, &audit_entry).await?;
        txn.commit().await?;
        *head = new_head;
        Ok(())
    }

    /// Stores an evaluation (audited in the same transaction).
    pub async fn insert_evaluation(
        &self,
        evaluation: &Evaluation,
        audit_entry: AuditEntry,
    ) -> Result<(), StoreError> {
        let mut head = self.audit_head.lock().await;
        let txn = self.begin_write().await?;
        evaluations::Entity::insert(evaluations::ActiveModel {
            id: Set(evaluation.id.to_string()),
            key_id: Set(evaluation.key_id.to_string()),
            agency_uscc: Set(evaluation.agency_uscc.clone()),
            agency_name: Set(evaluation.agency_name.clone()),
            target_kind: Set(evaluation.target_kind.clone()),
            target_code: Set(evaluation.target_code.clone()),
            target_name: Set(evaluation.target_name.clone()),
            period_start: Set(evaluation.period_start),
            period_end: Set(evaluation.period_end),
            score: Set(evaluation.score),
            grade: Set(evaluation.grade.clone()),
            indicators: Set(evaluation.indicators.clone()),
            method: Set(evaluation.method.clone()),
            valid_until: Set(evaluation.valid_until),
            created_at: Set(evaluation.created_at),
        })
        .exec_without_returning(&txn)
        .await?;
        let new_head =
            audit::insert_after(&txn, &head, evaluation.created_at, &audit_entry).await?;
        txn.commit().await?;
        *head = new_head;
        Ok(())
    }

    /// Stores a finding (audited in the same transaction).
    pub async fn insert_finding(
        &self,
        finding: &Finding,
        audit_entry: AuditEntry,
    ) -> Result<(), StoreError> {
        let mut head = self.audit_head.lock().await;
        let txn = self.begin_write().await?;
        findings::Entity::insert(findings::ActiveModel {
            id: Set(finding.id.to_string()),
            key_id: Set(finding.key_id.to_string()),
            agency_uscc: Set(finding.agency_uscc.clone()),
            agency_name: Set(finding.agency_name.clone()),
            subject_code: Set(finding.subject_code.clone()),
            subject_name: Set(finding.subject_name.clone()),
            domain: Set(finding.domain.clone()),
            observed_on: Set(finding.observed_on),
            summary: Set(finding.summary.clone()),
            evidence: Set(finding.evidence.clone()),
            created_at: Set(finding.created_at),
        })
        .exec_without_returning(&txn)
        .await?;
        let new_head = audit::insert_after(&txn, &head, finding.created_at, &audit_entry).await?;
        txn.commit().await?;
        *head = new_head;
        Ok(())
    }
}
