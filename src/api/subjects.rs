//! Subjects (主体): the profile of one USCC or citizen ID and its records.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Authorized, Caller, ReadRecords, RequestId};
use super::records::{RecordOut, record_out};
use crate::domain::subject::SubjectCode;
use crate::domain::vocab::{Domain, RecordKind, RecordStatus};
use crate::error::{ApiError, Problem};
use crate::state::AppState;
use crate::store::RecordFilter;

/// Default page size.
pub const DEFAULT_PAGE: u64 = 50;
/// Largest page size.
pub const MAX_PAGE: u64 = 500;

/// Path parameter of one subject.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SubjectPath {
    /// USCC (统一社会信用代码) or citizen ID (身份证号码).
    pub code: String,
}

/// One count.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountOut {
    /// Wire value (kind, domain or status).
    pub key: String,
    /// Chinese name.
    pub name_zh: String,
    /// Number of records.
    pub count: u64,
}

/// Counts of a subject's records visible to the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectCountsOut {
    /// All visible records.
    pub total: u64,
    /// By kind.
    pub by_kind: Vec<CountOut>,
    /// By domain.
    pub by_domain: Vec<CountOut>,
    /// By status.
    pub by_status: Vec<CountOut>,
}

/// What the code itself says about the subject (USCC only).
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationOut {
    /// Subject type from the first two characters (e.g. enterprise).
    pub subject_type: String,
    /// The same in Chinese (e.g. 企业).
    pub subject_type_zh: String,
    /// Registering region code (characters 3–8).
    pub region_code: String,
    /// Embedded organisation code (characters 9–17).
    pub organization_code: String,
}

/// A subject's profile.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "code": "91445122MA4W123460", "kind": "uscc", "name": "饶平县某某建筑工程有限公司",
    "registration": {"subject_type": "enterprise", "subject_type_zh": "企业", "region_code": "445122", "organization_code": "MA4W12346"},
    "counts": {"total": 1, "by_kind": [{"key": "dishonesty", "name_zh": "失信", "count": 1}],
               "by_domain": [{"key": "bidding", "name_zh": "招标投标领域", "count": 1}],
               "by_status": [{"key": "active", "name_zh": "有效", "count": 1}]}
}))]
pub struct SubjectOut {
    /// The code; a citizen ID is masked unless the caller is a supervisor or administrator.
    pub code: String,
    /// `uscc` or `citizen_id`.
    pub kind: String,
    /// Name on the most recent visible record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What a USCC encodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<RegistrationOut>,
    /// Record counts.
    pub counts: SubjectCountsOut,
}

/// Filters and paging of a subject's records.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListRecordsQuery {
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this domain.
    pub domain: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Decision date on or after (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Decision date on or before (`YYYY-MM-DD`).
    pub to: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u64>,
}

/// One page of records.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordListOut {
    /// Records in submission order.
    pub items: Vec<RecordOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn parse_subject(code: &str) -> Result<SubjectCode, ApiError> {
    SubjectCode::parse(code).map_err(|error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            error.code(),
            error.to_string(),
            error.message_zh(),
        )
    })
}

fn shown_code(caller: &Caller, subject: &SubjectCode) -> String {
    match (caller, subject) {
        (Caller::Supervisor { .. } | Caller::Admin { .. }, _) | (_, SubjectCode::Uscc(_)) => {
            subject.storage_key().to_owned()
        }
        _ => subject.display_masked(),
    }
}

fn counts(
    rows: Vec<(String, u64)>,
    name_zh: impl Fn(&str) -> Option<&'static str>,
) -> Vec<CountOut> {
    rows.into_iter()
        .map(|(key, count)| CountOut {
            name_zh: name_zh(&key).unwrap_or_default().to_owned(),
            key,
            count,
        })
        .collect()
}

/// Read a subject's profile: what its code says and how many records the caller can see, by
/// kind, domain and status.
///
/// A subject without visible records answers 200 with zero counts (that is an answer, not an
/// error). Authenticated reads are audited.
#[utoipa::path(
    get,
    path = "/api/v1/subjects/{code}",
    tag = "subjects",
    operation_id = "get_subject",
    security((), ("bearer" = []), ("api_key" = ["records:read:public"])),
    params(SubjectPath),
    responses(
        (status = 200, description = "The profile", body = SubjectOut),
        (status = 401, description = "Malformed, forged or expired token or key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "API key without records:read:public", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate or daily quota exceeded", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid USCC or citizen ID", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_subject(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<ReadRecords>,
    request_id: RequestId,
    Path(path): Path<SubjectPath>,
) -> Result<Json<SubjectOut>, ApiError> {
    let subject = parse_subject(&path.code)?;
    let found = state
        .store
        .subject_counts(&subject, &caller.visibility())
        .await?;
    let registration = match &subject {
        SubjectCode::Uscc(uscc) => Some(RegistrationOut {
            subject_type: uscc.subject_type().as_str().to_owned(),
            subject_type_zh: uscc.subject_type().name_zh().to_owned(),
            region_code: uscc.region_part().to_owned(),
            organization_code: uscc.organization_code().to_owned(),
        }),
        SubjectCode::Citizen(_) => None,
    };
    if caller.reads_non_public() {
        state
            .store
            .audit(
                state.clock.now(),
                &caller.audit(
                    "subjects.read",
                    format!("subject:{}", subject.display_masked()),
                    &request_id,
                ),
            )
            .await?;
    }
    Ok(Json(SubjectOut {
        code: shown_code(&caller, &subject),
        kind: subject.kind_str().to_owned(),
        name: found.latest_name,
        registration,
        counts: SubjectCountsOut {
            total: found.total,
            by_kind: counts(found.by_kind, |key| {
                key.parse::<RecordKind>().ok().map(RecordKind::name_zh)
            }),
            by_domain: counts(found.by_domain, |key| {
                key.parse::<Domain>().ok().map(Domain::name_zh)
            }),
            by_status: counts(found.by_status, |key| {
                key.parse::<RecordStatus>().ok().map(RecordStatus::name_zh)
            }),
        },
    }))
}

fn bad_query(code: &'static str, detail: String, detail_zh: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, detail, detail_zh)
}

fn check_term<T: std::str::FromStr<Err = crate::domain::vocab::UnknownTerm>>(
    value: &Option<String>,
) -> Result<Option<String>, ApiError> {
    match value {
        None => Ok(None),
        Some(value) => value
            .parse::<T>()
            .map(|_| Some(value.clone()))
            .map_err(|error| bad_query(error.code(), error.to_string(), error.message_zh())),
    }
}

fn query_date(name: &str, value: &Option<String>) -> Result<Option<time::Date>, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    value
        .as_deref()
        .map(|value| {
            time::Date::parse(value, format).map_err(|_| {
                bad_query(
                    "invalid_date",
                    format!("{name} must be a date written YYYY-MM-DD"),
                    format!("{name} 必须是 YYYY-MM-DD 格式的日期"),
                )
            })
        })
        .transpose()
}

impl ListRecordsQuery {
    fn into_filter(self) -> Result<RecordFilter, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(bad_query(
                "invalid_limit",
                format!("limit must be between 1 and {MAX_PAGE}"),
                format!("limit 必须在 1 到 {MAX_PAGE} 之间"),
            ));
        }
        let after_id = self
            .cursor
            .as_deref()
            .map(|cursor| {
                URL_SAFE_NO_PAD
                    .decode(cursor)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .filter(|id| uuid::Uuid::parse_str(id).is_ok())
                    .ok_or_else(|| {
                        bad_query(
                            "invalid_cursor",
                            "cursor is not one this node issued; pass next_cursor from the previous page unchanged".into(),
                            "cursor 无效，请原样传入上一页返回的 next_cursor".into(),
                        )
                    })
            })
            .transpose()?;
        let decided_from = query_date("from", &self.from)?;
        let decided_to = query_date("to", &self.to)?;
        if let (Some(from), Some(to)) = (decided_from, decided_to)
            && to < from
        {
            return Err(bad_query(
                "invalid_date_range",
                format!("to ({to}) is before from ({from})"),
                format!("结束日期 {to} 早于开始日期 {from}"),
            ));
        }
        Ok(RecordFilter {
            kind: check_term::<RecordKind>(&self.kind)?,
            domain: check_term::<Domain>(&self.domain)?,
            status: check_term::<RecordStatus>(&self.status)?,
            decided_from,
            decided_to,
            after_id,
            limit,
        })
    }
}

/// List a subject's records visible to the caller, filtered, in pages.
///
/// Pages follow submission order; pass `next_cursor` as `cursor` for the next page.
#[utoipa::path(
    get,
    path = "/api/v1/subjects/{code}/records",
    tag = "subjects",
    operation_id = "list_subject_records",
    security((), ("bearer" = []), ("api_key" = ["records:read:public"])),
    params(SubjectPath, ListRecordsQuery),
    responses(
        (status = 200, description = "One page of records", body = RecordListOut),
        (status = 400, description = "Unknown filter value, bad date, limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Malformed, forged or expired token or key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "API key without records:read:public", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate or daily quota exceeded", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid USCC or citizen ID", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_subject_records(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<ReadRecords>,
    request_id: RequestId,
    Path(path): Path<SubjectPath>,
    query: Result<Query<ListRecordsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RecordListOut>, ApiError> {
    let subject = parse_subject(&path.code)?;
    let Query(query) = query.map_err(|rejection| {
        bad_query(
            "invalid_query",
            format!(
                "the query string is not valid: {}",
                crate::error::redact_identifiers(&rejection.body_text())
            ),
            "查询参数无效，允许的参数：kind、domain、status、from、to、cursor、limit".into(),
        )
    })?;
    let filter = query.into_filter()?;
    let page = state
        .store
        .subject_records(&subject, &caller.visibility(), &filter)
        .await?;
    if caller.reads_non_public() {
        let mut entry = caller.audit(
            "subjects.list_records",
            format!("subject:{}", subject.display_masked()),
            &request_id,
        );
        entry.detail = format!("returned={}", page.records.len());
        state.store.audit(state.clock.now(), &entry).await?;
    }
    Ok(Json(RecordListOut {
        items: page
            .records
            .iter()
            .map(|record| record_out(&caller, record))
            .collect(),
        next_cursor: page
            .next_after_id
            .map(|id| URL_SAFE_NO_PAD.encode(id.as_bytes())),
    }))
}
