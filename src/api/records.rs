//! Records (信用记录): submit one or a batch, read one with its history, correct, revoke.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{AppJson, Authorized, Caller, ReadRecords, RequestId, WriteRecords};
use crate::domain::record::{
    FieldError, Record, RecordDraft, RecordPatchDraft, RecordVersion, validate_reason,
};
use crate::domain::subject::SubjectCode;
use crate::domain::uscc::Uscc;
use crate::domain::vocab::{ChangeKind, RecordStatus};
use crate::error::{ApiError, Problem, ProblemItem};
use crate::state::AppState;
use crate::store::{NewRecord, RecordChange, StoreError};

/// Most records in one batch.
pub const MAX_BATCH: usize = 1_000;

/// A record as a department submits it.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "subject_code": "91445122MA4W123460",
    "subject_name": "饶平县某某建筑工程有限公司",
    "kind": "dishonesty",
    "category": "contract_breach",
    "domain": "bidding",
    "source_record_id": "RP-2026-000123",
    "document_no": "饶建罚〔2026〕12号",
    "decision_date": "2026-03-18",
    "legal_basis": "《中华人民共和国招标投标法》第五十四条",
    "content": "在饶平县某道路工程招标中弄虚作假骗取中标，处中标项目金额千分之五罚款。",
    "severity": "serious",
    "period_start": "2026-03-18",
    "period_end": "2029-03-17",
    "publication_level": "public"
}))]
pub struct RecordIn {
    /// Subject: USCC (统一社会信用代码) or citizen ID (身份证号码).
    #[schema(required = true)]
    pub subject_code: Option<String>,
    /// Subject's name as the decision states it (1–200 characters).
    #[schema(required = true)]
    pub subject_name: Option<String>,
    /// Kind: dishonesty, administrative_licence, administrative_penalty, honour, commitment,
    /// fulfilment, evaluation, complaint.
    #[schema(required = true)]
    pub kind: Option<String>,
    /// Dishonesty category (only for kind `dishonesty`).
    pub category: Option<String>,
    /// Domain (领域): one of the 45 special-credit-report domains or a focus area.
    #[schema(required = true)]
    pub domain: Option<String>,
    /// Source department USCC; defaults to the caller's department and must equal it.
    pub source_dept: Option<String>,
    /// The department's own id of this record: the idempotency key (a replay returns the
    /// stored record).
    #[schema(required = true)]
    pub source_record_id: Option<String>,
    /// Decision document number (决定文书号).
    #[schema(required = true)]
    pub document_no: Option<String>,
    /// Decision date, `YYYY-MM-DD`, not in the future.
    #[schema(required = true)]
    pub decision_date: Option<String>,
    /// Legal basis (法律依据).
    #[schema(required = true)]
    pub legal_basis: Option<String>,
    /// Content of the decision.
    #[schema(required = true)]
    pub content: Option<String>,
    /// minor, general or serious.
    #[schema(required = true)]
    pub severity: Option<String>,
    /// First day of the punishment or publication period, `YYYY-MM-DD`.
    pub period_start: Option<String>,
    /// Last day of the punishment or publication period, `YYYY-MM-DD`.
    pub period_end: Option<String>,
    /// public, shared (between governments) or restricted.
    #[schema(required = true)]
    pub publication_level: Option<String>,
    /// The case was accepted under tolerance and error correction (容错纠错); such cases
    /// cannot be dishonesty records.
    #[serde(default)]
    pub tolerance_case: bool,
}

impl RecordIn {
    fn into_draft(self) -> RecordDraft {
        RecordDraft {
            subject_code: self.subject_code,
            subject_name: self.subject_name,
            kind: self.kind,
            category: self.category,
            domain: self.domain,
            source_dept: self.source_dept,
            source_record_id: self.source_record_id,
            document_no: self.document_no,
            decision_date: self.decision_date,
            legal_basis: self.legal_basis,
            content: self.content,
            severity: self.severity,
            period_start: self.period_start,
            period_end: self.period_end,
            publication_level: self.publication_level,
            tolerance_case: self.tolerance_case,
        }
    }
}

/// A batch of up to 1,000 records, stored all or nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordBatchIn {
    /// The records (1–1,000).
    pub records: Vec<RecordIn>,
}

/// A record as a caller may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordOut {
    /// Node-assigned id.
    pub id: Uuid,
    /// Current version (1 = as submitted).
    pub version: i32,
    /// Subject code; a citizen ID is masked unless the caller may see it.
    pub subject_code: String,
    /// `uscc` or `citizen_id`.
    pub subject_kind: String,
    /// Subject name.
    pub subject_name: String,
    /// Kind.
    pub kind: String,
    /// Kind in Chinese.
    pub kind_zh: String,
    /// Dishonesty category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Domain.
    pub domain: String,
    /// Domain in Chinese.
    pub domain_zh: String,
    /// Source department USCC.
    pub source_dept: String,
    /// The department's own record id (absent in the public view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_record_id: Option<String>,
    /// Decision document number.
    pub document_no: String,
    /// Decision date.
    pub decision_date: String,
    /// Legal basis.
    pub legal_basis: String,
    /// Content.
    pub content: String,
    /// Severity.
    pub severity: String,
    /// Period start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_start: Option<String>,
    /// Period end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_end: Option<String>,
    /// Publication level.
    pub publication_level: String,
    /// Status: active, under_objection, corrected, revoked, repaired, expired.
    pub status: String,
    /// Status in Chinese.
    pub status_zh: String,
    /// Region of the node where the record was submitted.
    pub origin_region: String,
    /// Id at the origin node (absent in the public view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_record_id: Option<Uuid>,
    /// When version 1 was stored (RFC 3339).
    pub created_at: String,
    /// When the current version was stored (RFC 3339).
    pub updated_at: String,
    /// History, oldest first (absent in the public view).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub versions: Option<Vec<RecordVersionOut>>,
}

/// One version of a record.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordVersionOut {
    /// Version number.
    pub version: i32,
    /// created, corrected, revoked, repaired, expired …
    pub change_kind: String,
    /// Why the change was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who made it.
    pub actor: String,
    /// When (RFC 3339).
    pub at: String,
    /// The record as it stood at this version.
    pub record: Box<RecordOut>,
}

/// The outcome of one batch item.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItemOut {
    /// Position in the submitted batch.
    pub index: usize,
    /// Record id.
    pub id: Uuid,
    /// Current version.
    pub version: i32,
    /// False when the record existed already (idempotent replay).
    pub created: bool,
}

/// The outcome of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordBatchOut {
    /// Records created by this request.
    pub created: usize,
    /// Records that existed already.
    pub existing: usize,
    /// One entry per submitted record, in order.
    pub results: Vec<BatchItemOut>,
}

/// Fields a correction may change (identity fields cannot be corrected: revoke and resubmit).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPatch {
    /// New subject name.
    pub subject_name: Option<String>,
    /// New kind.
    pub kind: Option<String>,
    /// New dishonesty category.
    pub category: Option<String>,
    /// New domain.
    pub domain: Option<String>,
    /// New document number.
    pub document_no: Option<String>,
    /// New decision date.
    pub decision_date: Option<String>,
    /// New legal basis.
    pub legal_basis: Option<String>,
    /// New content.
    pub content: Option<String>,
    /// New severity.
    pub severity: Option<String>,
    /// New period start.
    pub period_start: Option<String>,
    /// New period end.
    pub period_end: Option<String>,
    /// New publication level.
    pub publication_level: Option<String>,
}

/// A correction (更正): a new version with changed fields and a reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "reason": "异议核实：处罚期限录入错误，依原决定书更正",
    "expected_version": 1,
    "changes": {"period_end": "2028-03-17"}
}))]
pub struct CorrectionIn {
    /// Why (required).
    #[schema(required = true)]
    pub reason: Option<String>,
    /// The version the correction is based on; a mismatch answers 409 version_conflict.
    pub expected_version: Option<i32>,
    /// Changed fields.
    pub changes: RecordPatch,
}

/// A revocation (撤销): the record stays, marked revoked, with a reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "原处罚决定已被行政复议撤销", "expected_version": 2}))]
pub struct RevocationIn {
    /// Why (required).
    #[schema(required = true)]
    pub reason: Option<String>,
    /// The version the revocation is based on.
    pub expected_version: Option<i32>,
}

/// Path parameter of one record.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RecordPath {
    /// Record id.
    pub id: String,
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// Whether the caller may see this record's subject code unmasked and its internal fields.
fn sees_restricted(caller: &Caller, record: &Record) -> bool {
    match caller {
        Caller::Anonymous => false,
        Caller::Provider { dept, .. } => dept == &record.data.source_dept,
        Caller::Supervisor { .. } | Caller::Admin { .. } => true,
        Caller::ApiKey { .. } => false,
    }
}

/// Renders a record for a caller: personal IDs masked and internal fields dropped unless the
/// caller is entitled to them.
pub fn record_out(caller: &Caller, record: &Record) -> RecordOut {
    let privileged = sees_restricted(caller, record);
    let data = &record.data;
    let subject_code = match &data.subject {
        SubjectCode::Citizen(_) if !privileged => data.subject.display_masked(),
        other => other.storage_key().to_owned(),
    };
    let government = caller.reads_non_public();
    RecordOut {
        id: record.id,
        version: record.version,
        subject_code,
        subject_kind: data.subject.kind_str().to_owned(),
        subject_name: data.subject_name.clone(),
        kind: data.kind.as_str().to_owned(),
        kind_zh: data.kind.name_zh().to_owned(),
        category: data.category.map(|c| c.as_str().to_owned()),
        domain: data.domain.as_str().to_owned(),
        domain_zh: data.domain.name_zh().to_owned(),
        source_dept: data.source_dept.as_str().to_owned(),
        source_record_id: government.then(|| data.source_record_id.clone()),
        document_no: data.document_no.clone(),
        decision_date: data.decision_date.to_string(),
        legal_basis: data.legal_basis.clone(),
        content: data.content.clone(),
        severity: data.severity.as_str().to_owned(),
        period_start: data.period_start.map(|d| d.to_string()),
        period_end: data.period_end.map(|d| d.to_string()),
        publication_level: data.publication_level.as_str().to_owned(),
        status: record.status.as_str().to_owned(),
        status_zh: record.status.name_zh().to_owned(),
        origin_region: record.origin_region.to_string(),
        origin_record_id: government.then_some(record.origin_record_id),
        created_at: rfc3339(record.created_at),
        updated_at: rfc3339(record.updated_at),
        versions: None,
    }
}

fn version_out(caller: &Caller, version: &RecordVersion) -> RecordVersionOut {
    RecordVersionOut {
        version: version.version,
        change_kind: version.change_kind.as_str().to_owned(),
        reason: version.reason.clone(),
        actor: version.actor.clone(),
        at: rfc3339(version.at),
        record: Box::new(record_out(caller, &version.record)),
    }
}

/// Runs a write on its own task, so that a client disconnect or the request timeout cannot
/// cancel it between commit and the in-memory audit-chain update.
async fn run_write<T: Send + 'static>(
    write: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::spawn(write)
        .await
        .map_err(|error| ApiError::internal(format!("write task failed: {error}")))?
        .map_err(ApiError::from)
}

/// Refuses (403) a request in which any item names a source department other than the
/// caller's: that is a question of authority, not of a field's form, so it is answered before
/// validation and for the whole request.
fn check_departments(dept: &Uscc, items: &[RecordIn]) -> Result<(), ApiError> {
    for (index, item) in items.iter().enumerate() {
        let Some(named) = item
            .source_dept
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        if let Ok(named) = Uscc::parse(named)
            && &named != dept
        {
            return Err(ApiError::forbidden(
                "dept_mismatch",
                format!(
                    "record {index} names source_dept {} but the token is bound to department {}; a department submits only its own records",
                    named.as_str(),
                    dept.as_str()
                ),
                format!(
                    "第 {index} 条记录的 source_dept 为 {}，而令牌绑定的部门为 {}；部门只能报送本部门的记录（谁提供谁负责）",
                    named.as_str(),
                    dept.as_str()
                ),
            ));
        }
    }
    Ok(())
}

/// Validates submissions: field errors and duplicates inside the batch.
fn validate_items(
    state: &AppState,
    dept: &Uscc,
    items: Vec<RecordIn>,
) -> Result<Vec<NewRecord>, Vec<ProblemItem>> {
    let today = state.clock.today_shanghai();
    let mut problems = Vec::new();
    let mut records = Vec::with_capacity(items.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, mut item) in items.into_iter().enumerate() {
        if item
            .source_dept
            .as_deref()
            .map(str::trim)
            .is_none_or(str::is_empty)
        {
            item.source_dept = Some(dept.as_str().to_owned());
        }
        match item.into_draft().validate(today) {
            Ok(data) => {
                if let Some(first) = seen.insert(data.source_record_id.clone(), index) {
                    problems.push(ProblemItem {
                        index: Some(index),
                        field: Some("source_record_id".into()),
                        code: "duplicate_in_batch".into(),
                        detail: format!(
                            "source_record_id {} also appears at index {first} of this batch",
                            data.source_record_id
                        ),
                        detail_zh: format!(
                            "source_record_id {} 与本批第 {first} 条重复",
                            data.source_record_id
                        ),
                    });
                    continue;
                }
                records.push(NewRecord { data });
            }
            Err(errors) => problems.extend(
                errors
                    .iter()
                    .map(|error: &FieldError| ProblemItem::from_field(error, Some(index))),
            ),
        }
    }
    if problems.is_empty() {
        Ok(records)
    } else {
        Err(problems)
    }
}

fn location(id: Uuid) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&format!("/api/v1/records/{id}")) {
        headers.insert(header::LOCATION, value);
    }
    headers
}

/// Submit one record.
///
/// Only a providing department (role `provider`) submits, and only records whose source is its
/// own department. Idempotent on (source department, `source_record_id`): a replay answers 200
/// with the stored record instead of creating a duplicate.
#[utoipa::path(
    post,
    path = "/api/v1/records",
    tag = "records",
    operation_id = "create_record",
    security(("bearer" = [])),
    request_body = RecordIn,
    responses(
        (status = 201, description = "Record created", body = RecordOut, headers(("Location" = String, description = "URL of the record"))),
        (status = 200, description = "A record with this source_record_id exists already; it is returned unchanged", body = RecordOut),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a provider, wrong region, an API key, or source_dept of another department", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each listed in `errors`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable; nothing was written", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_record(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<WriteRecords>,
    request_id: RequestId,
    AppJson(body): AppJson<RecordIn>,
) -> Result<Response, ApiError> {
    let dept = caller.require_provider()?.clone();
    check_departments(&dept, std::slice::from_ref(&body))?;
    let records = validate_items(&state, &dept, vec![body]).map_err(|problems| {
        let n = problems.len();
        let mut error = ApiError::validation(&[]);
        error.detail = format!(
            "the record has {n} invalid field{}",
            if n == 1 { "" } else { "s" }
        );
        error.detail_zh = format!("记录有 {n} 个字段不合格");
        error.with_items(
            problems
                .into_iter()
                .map(|mut problem| {
                    problem.index = None;
                    problem
                })
                .collect(),
        )
    })?;
    let audit = caller.audit(
        "records.create",
        format!("dept:{}", dept.as_str()),
        &request_id,
    );
    let store = state.store.clone();
    let actor = caller.actor_id();
    let at = state.clock.now();
    let region = state.region;
    let mut outcomes = run_write(async move {
        store
            .insert_records(&dept, records, region, &actor, at, audit)
            .await
    })
    .await?;
    let outcome = outcomes
        .pop()
        .ok_or_else(|| ApiError::internal("insert returned no outcome"))?;
    let body = Json(record_out(&caller, &outcome.record));
    Ok(if outcome.created {
        (StatusCode::CREATED, location(outcome.record.id), body).into_response()
    } else {
        (StatusCode::OK, body).into_response()
    })
}

/// Submit up to 1,000 records, all or nothing.
///
/// Every item is validated first; if any is invalid nothing is written and the answer lists
/// every problem with the item's `index`. Items whose `source_record_id` exists already are
/// returned as `created: false` (idempotent replay).
#[utoipa::path(
    post,
    path = "/api/v1/records/batch",
    tag = "records",
    operation_id = "create_records_batch",
    security(("bearer" = [])),
    request_body = RecordBatchIn,
    responses(
        (status = 201, description = "At least one record created", body = RecordBatchOut),
        (status = 200, description = "Every record existed already", body = RecordBatchOut),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a provider, wrong region, or an item's source_dept of another department", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty or oversized batch, or invalid items (listed with their index); nothing written", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable; nothing was written", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_records_batch(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<WriteRecords>,
    request_id: RequestId,
    AppJson(body): AppJson<RecordBatchIn>,
) -> Result<Response, ApiError> {
    let dept = caller.require_provider()?.clone();
    let n_items = body.records.len();
    if n_items == 0 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_batch",
            "the batch has no records; send 1 to 1,000",
            "批量中没有记录，请提交 1 至 1000 条",
        ));
    }
    if n_items > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "batch_too_large",
            format!("the batch has {n_items} records; at most {MAX_BATCH} are accepted, split it"),
            format!("批量有 {n_items} 条记录，最多 {MAX_BATCH} 条，请拆分"),
        ));
    }
    check_departments(&dept, &body.records)?;
    let records = validate_items(&state, &dept, body.records).map_err(|problems| {
        let n_bad: std::collections::BTreeSet<_> = problems.iter().filter_map(|p| p.index).collect();
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "batch_invalid",
            format!(
                "{} of {n_items} records are invalid; nothing was written. Fix the items listed in `errors` and resend the whole batch",
                n_bad.len()
            ),
            format!("{n_items} 条中有 {} 条不合格，整批未写入；请按 errors 修正后重新提交整批", n_bad.len()),
        )
        .with_items(problems)
    })?;
    let audit = caller.audit(
        "records.create_batch",
        format!("dept:{}", dept.as_str()),
        &request_id,
    );
    let store = state.store.clone();
    let actor = caller.actor_id();
    let at = state.clock.now();
    let region = state.region;
    let outcomes = run_write(async move {
        store
            .insert_records(&dept, records, region, &actor, at, audit)
            .await
    })
    .await?;
    let created = outcomes.iter().filter(|o| o.created).count();
    let body = RecordBatchOut {
        created,
        existing: outcomes.len() - created,
        results: outcomes
            .iter()
            .enumerate()
            .map(|(index, outcome)| BatchItemOut {
                index,
                id: outcome.record.id,
                version: outcome.record.version,
                created: outcome.created,
            })
            .collect(),
    };
    let status = if created > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(body)).into_response())
}

/// Parses a record id from the path; a malformed id is "not found" in substance, but the
/// client gets a precise code.
fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_record_id",
            "a record id is a UUID such as 0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b",
            "记录编号应为 UUID 格式",
        )
    })
}

/// Read one record, with its history for government callers.
///
/// The public sees only public, in-force records, with personal IDs masked and no history.
/// Departments see public and shared records and all of their own; supervisors see everything.
/// Every authenticated read is audited.
#[utoipa::path(
    get,
    path = "/api/v1/records/{id}",
    tag = "records",
    operation_id = "get_record",
    security((), ("bearer" = []), ("api_key" = ["records:read:public"])),
    params(RecordPath),
    responses(
        (status = 200, description = "The record", body = RecordOut),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Malformed, forged or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "API key without records:read:public", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate or daily quota exceeded", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_record(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<ReadRecords>,
    request_id: RequestId,
    Path(path): Path<RecordPath>,
) -> Result<Json<RecordOut>, ApiError> {
    let id = parse_id(&path.id)?;
    let visibility = caller.visibility();
    let record = state.store.get_record(id, &visibility).await?;
    let mut out = record_out(&caller, &record);
    if visibility.sees_history() {
        let versions = state.store.record_versions(id).await?;
        out.versions = Some(versions.iter().map(|v| version_out(&caller, v)).collect());
    }
    if caller.reads_non_public() {
        state
            .store
            .audit(
                state.clock.now(),
                &caller.audit("records.read", format!("record:{id}"), &request_id),
            )
            .await?;
    }
    Ok(Json(out))
}

/// Loads a record the provider may change: 404 when it cannot see it, 403 when it is another
/// department's.
async fn owned_record(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<(Uscc, Record), ApiError> {
    let dept = caller.require_provider()?.clone();
    let record = state.store.get_record(id, &caller.visibility()).await?;
    if record.origin_region != state.region {
        // Replicated records are read-only above their origin: a correction made here would
        // fork the record's history from the one its origin journals.
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "record_not_local",
            format!(
                "the record was submitted at node {}; correct or revoke it there and the change travels up",
                record.origin_region
            ),
            format!(
                "该记录报送于节点 {}，请在该节点更正或撤销，变更会自动上报",
                record.origin_region
            ),
        ));
    }
    if record.data.source_dept != dept {
        return Err(ApiError::forbidden(
            "not_record_owner",
            format!(
                "the record was submitted by department {}; only that department can correct or revoke it",
                record.data.source_dept.as_str()
            ),
            format!(
                "该记录由部门 {} 报送，只有该部门可以更正或撤销",
                record.data.source_dept.as_str()
            ),
        ));
    }
    Ok((dept, record))
}

fn reason_or_error(reason: Option<&str>) -> Result<String, ApiError> {
    validate_reason(reason).map_err(|error| ApiError::validation(&[error]))
}

/// Correct a record (更正): a new version with the changed fields and a reason.
///
/// Only the department that submitted the record may correct it. The whole corrected record is
/// validated again. Send `expected_version` to avoid overwriting a concurrent change.
#[utoipa::path(
    post,
    path = "/api/v1/records/{id}/corrections",
    tag = "records",
    operation_id = "correct_record",
    security(("bearer" = [])),
    params(RecordPath),
    request_body = CorrectionIn,
    responses(
        (status = 200, description = "The corrected record", body = RecordOut),
        (status = 400, description = "Malformed id or JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a provider, or another department's record", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict, the record is revoked, or it was submitted at another node", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid reason or fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn correct_record(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<WriteRecords>,
    request_id: RequestId,
    Path(path): Path<RecordPath>,
    AppJson(body): AppJson<CorrectionIn>,
) -> Result<Json<RecordOut>, ApiError> {
    let id = parse_id(&path.id)?;
    let (dept, record) = owned_record(&state, &caller, id).await?;
    let reason = reason_or_error(body.reason.as_deref())?;
    let changes = body.changes;
    let patch = RecordPatchDraft {
        subject_name: changes.subject_name,
        kind: changes.kind,
        category: changes.category,
        domain: changes.domain,
        document_no: changes.document_no,
        decision_date: changes.decision_date,
        legal_basis: changes.legal_basis,
        content: changes.content,
        severity: changes.severity,
        period_start: changes.period_start,
        period_end: changes.period_end,
        publication_level: changes.publication_level,
    };
    if patch.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_correction",
            "the correction changes no field; put the corrected fields in `changes`",
            "更正未修改任何字段，请在 changes 中填写更正后的字段",
        ));
    }
    let data = record
        .data
        .corrected(&patch, state.clock.today_shanghai())
        .map_err(|errors| ApiError::validation(&errors))?;
    let change = RecordChange {
        id,
        expected_version: body.expected_version.unwrap_or(record.version),
        data: Some(data),
        status: RecordStatus::Corrected,
        change_kind: ChangeKind::Corrected,
        reason,
    };
    let audit = caller.audit("records.correct", format!("record:{id}"), &request_id);
    let store = state.store.clone();
    let actor = caller.actor_id();
    let at = state.clock.now();
    let updated =
        run_write(async move { store.change_record(&dept, change, &actor, at, audit).await })
            .await?;
    Ok(Json(record_out(&caller, &updated)))
}

/// Revoke a record (撤销): it stays, marked revoked, with the reason in its history.
///
/// Only the department that submitted the record may revoke it. A revoked record is no longer
/// shown to the public and cannot be changed again.
#[utoipa::path(
    post,
    path = "/api/v1/records/{id}/revocations",
    tag = "records",
    operation_id = "revoke_record",
    security(("bearer" = [])),
    params(RecordPath),
    request_body = RevocationIn,
    responses(
        (status = 200, description = "The revoked record", body = RecordOut),
        (status = 400, description = "Malformed id or JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a provider, or another department's record", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict, already revoked, or submitted at another node", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing reason", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_record(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<WriteRecords>,
    request_id: RequestId,
    Path(path): Path<RecordPath>,
    AppJson(body): AppJson<RevocationIn>,
) -> Result<Json<RecordOut>, ApiError> {
    let id = parse_id(&path.id)?;
    let (dept, record) = owned_record(&state, &caller, id).await?;
    let reason = reason_or_error(body.reason.as_deref())?;
    let change = RecordChange {
        id,
        expected_version: body.expected_version.unwrap_or(record.version),
        data: None,
        status: RecordStatus::Revoked,
        change_kind: ChangeKind::Revoked,
        reason,
    };
    let audit = caller.audit("records.revoke", format!("record:{id}"), &request_id);
    let store = state.store.clone();
    let actor = caller.actor_id();
    let at = state.clock.now();
    let updated =
        run_write(async move { store.change_record(&dept, change, &actor, at, audit).await })
            .await?;
    Ok(Json(record_out(&caller, &updated)))
}
