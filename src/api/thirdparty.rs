//! Third-party submissions (seeds 000, 001, 003, 004): evaluations of government integrity by
//! agencies, and monitoring findings of government dishonesty. Findings are supplementary and
//! stored apart from official records, with the agency as their source.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::Date;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{AppJson, Authorized, Caller, RequestId, WriteEvaluations, WriteFindings};
use crate::domain::record::{FieldError, date_field, required_text};
use crate::domain::region::RegionCode;
use crate::domain::uscc::Uscc;
use crate::domain::vocab::Domain;
use crate::error::{ApiError, Problem};
use crate::gateway::ActiveKey;
use crate::state::AppState;
use crate::store::keys::{Evaluation, Finding};

/// One indicator of an evaluation.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IndicatorIn {
    /// Indicator name (e.g. 依法行政, 政务公开, 守信践诺).
    pub name: String,
    /// Score 0–100.
    pub score: f64,
    /// Weight 0–1 (optional).
    pub weight: Option<f64>,
}

/// An agency's evaluation of a region or department.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "target_kind": "region", "target_code": "445122", "target_name": "饶平县",
    "period_start": "2025-01-01", "period_end": "2025-12-31",
    "score": 86.5, "grade": "A",
    "indicators": [{"name": "依法行政", "score": 88.0, "weight": 0.3}, {"name": "政务公开", "score": 84.0, "weight": 0.2}],
    "method": "问卷调查、公开数据比对与实地核查相结合"
}))]
pub struct EvaluationIn {
    /// `region` (GB/T 2260 code) or `department` (USCC).
    pub target_kind: String,
    /// The region code or department USCC.
    pub target_code: String,
    /// Name of the region or department.
    pub target_name: String,
    /// First day evaluated.
    pub period_start: String,
    /// Last day evaluated; not in the future.
    pub period_end: String,
    /// Overall score 0–100.
    pub score: f64,
    /// Grade (1–16 characters).
    pub grade: String,
    /// Indicator scores (up to 100).
    #[serde(default)]
    pub indicators: Vec<IndicatorIn>,
    /// Method (1–2,000 characters).
    pub method: String,
    /// Valid until; default one year after submission.
    pub valid_until: Option<String>,
}

/// A stored evaluation.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvaluationOut {
    /// Id.
    pub id: Uuid,
    /// Agency USCC (the key holder).
    pub agency_uscc: String,
    /// Agency name.
    pub agency_name: String,
    /// `region` or `department`.
    pub target_kind: String,
    /// Target code.
    pub target_code: String,
    /// Target name.
    pub target_name: String,
    /// Period start.
    pub period_start: String,
    /// Period end.
    pub period_end: String,
    /// Score.
    pub score: f64,
    /// Grade.
    pub grade: String,
    /// Valid until.
    pub valid_until: String,
    /// Stored at.
    pub created_at: String,
}

/// A monitoring finding of government dishonesty.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "subject_code": "114451220070545543", "subject_name": "饶平县某局",
    "domain": "government_procurement", "observed_on": "2026-05-20",
    "summary": "政府采购合同约定的付款期限届满六个月仍未支付中小企业账款",
    "evidence": "合同编号 RP-CG-2025-031；企业投诉材料；付款记录截图"
}))]
pub struct FindingIn {
    /// The government body concerned (USCC).
    pub subject_code: String,
    /// Its name.
    pub subject_name: String,
    /// Domain wire value.
    pub domain: String,
    /// When the behaviour was observed; not in the future.
    pub observed_on: String,
    /// What was found (1–5,000 characters).
    pub summary: String,
    /// Evidence: documents, links (1–5,000 characters).
    pub evidence: String,
}

/// A stored finding: supplementary, from a third party, never an official record.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingOut {
    /// Id.
    pub id: Uuid,
    /// Always `third_party`.
    pub source: String,
    /// Always false: findings are supplementary, not official records.
    pub official: bool,
    /// Agency USCC (the key holder).
    pub agency_uscc: String,
    /// Agency name.
    pub agency_name: String,
    /// Subject USCC.
    pub subject_code: String,
    /// Subject name.
    pub subject_name: String,
    /// Domain.
    pub domain: String,
    /// Observed on.
    pub observed_on: String,
    /// Summary.
    pub summary: String,
    /// Stored at.
    pub created_at: String,
}

fn text(name: &'static str, value: &str, max: usize, errors: &mut Vec<FieldError>) -> String {
    // An invalid value has pushed its error; the empty string is never stored because the
    // handler returns the errors first.
    required_text(name, Some(value), max, errors).unwrap_or_default()
}

fn not_future(name: &'static str, value: Option<Date>, today: Date, errors: &mut Vec<FieldError>) {
    if let Some(value) = value
        && value > today
    {
        errors.push(FieldError::new(
            name,
            "date_in_future",
            format!(
                "{name} {value} is in the future (today is {today}); report only what has happened"
            ),
            format!("{name} {value} 晚于今天（{today}），只能报送已发生的情况"),
        ));
    }
}

fn holder(caller: &Caller) -> Result<&ActiveKey, ApiError> {
    match caller {
        Caller::ApiKey { key } => Ok(key),
        _ => Err(ApiError::internal(
            "third-party policy admitted a non-key caller",
        )),
    }
}

/// Submit an evaluation of a region's or department's integrity (scope `evaluations:write`).
///
/// The agency is the key holder. The evaluated period must have ended; the evaluation is valid
/// for one year unless `valid_until` says otherwise.
#[utoipa::path(
    post, path = "/api/v1/evaluations", tag = "third parties", operation_id = "create_evaluation",
    security(("api_key" = ["evaluations:write"])),
    request_body = EvaluationIn,
    responses(
        (status = 201, description = "Stored", body = EvaluationOut),
        (status = 401, description = "No, unknown, revoked or expired key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Key without evaluations:write", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (period in the future, score out of range …)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate or daily quota exceeded", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_evaluation(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<WriteEvaluations>,
    request_id: RequestId,
    AppJson(body): AppJson<EvaluationIn>,
) -> Result<Response, ApiError> {
    let key = holder(&caller)?;
    let now = state.clock.now();
    let today = state.clock.today_shanghai();
    let mut errors = Vec::new();
    let target_code = body.target_code.trim().to_owned();
    match body.target_kind.as_str() {
        "region" => {
            if let Err(error) = RegionCode::parse(&target_code) {
                errors.push(FieldError::new(
                    "target_code",
                    error.code(),
                    error.to_string(),
                    error.message_zh(),
                ));
            }
        }
        "department" => {
            if let Err(error) = Uscc::parse(&target_code) {
                errors.push(FieldError::new(
                    "target_code",
                    error.code(),
                    error.to_string(),
                    error.message_zh(),
                ));
            }
        }
        _ => errors.push(FieldError::new(
            "target_kind",
            "unknown_target_kind",
            "target_kind must be 'region' or 'department'".into(),
            "target_kind 须为 region 或 department".into(),
        )),
    }
    let target_name = text("target_name", &body.target_name, 200, &mut errors);
    let grade = text("grade", &body.grade, 16, &mut errors);
    let method = text("method", &body.method, 2_000, &mut errors);
    let period_start = date_field("period_start", &body.period_start, &mut errors);
    let period_end = date_field("period_end", &body.period_end, &mut errors);
    not_future("period_end", period_end, today, &mut errors);
    not_future("period_start", period_start, today, &mut errors);
    if let (Some(start), Some(end)) = (period_start, period_end)
        && end < start
    {
        errors.push(FieldError::new(
            "period_end",
            "period_end_before_start",
            format!("period_end {end} is before period_start {start}"),
            format!("结束日期 {end} 早于开始日期 {start}"),
        ));
    }
    let score_ok = |score: f64| score.is_finite() && (0.0..=100.0).contains(&score);
    if !score_ok(body.score) {
        errors.push(FieldError::new(
            "score",
            "invalid_score",
            "score must be between 0 and 100".into(),
            "score 须在 0 至 100 之间".into(),
        ));
    }
    if body.indicators.len() > 100
        || body.indicators.iter().any(|i| {
            !score_ok(i.score)
                || i.name.trim().is_empty()
                || i.name.chars().count() > 100
                || i.weight
                    .is_some_and(|w| !w.is_finite() || !(0.0..=1.0).contains(&w))
        })
    {
        errors.push(FieldError::new(
            "indicators",
            "invalid_indicators",
            "at most 100 indicators, each with a name (1–100 characters), a score 0–100 and an optional weight 0–1".into(),
            "指标最多 100 项，每项须有名称（1–100 字）、0–100 的分数和可选的 0–1 权重".into(),
        ));
    }
    let valid_until = match body.valid_until.as_deref() {
        Some(value) => date_field("valid_until", value, &mut errors),
        None => today.replace_year(today.year() + 1).ok().or(Some(today)),
    };
    let (Some(period_start), Some(period_end), Some(valid_until)) =
        (period_start, period_end, valid_until)
    else {
        return Err(ApiError::validation(&errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(&errors));
    }
    let evaluation = Evaluation {
        id: Uuid::now_v7(),
        key_id: key.key.id,
        agency_uscc: key.key.holder_uscc.as_str().to_owned(),
        agency_name: key.key.holder_name.clone(),
        target_kind: body.target_kind,
        target_code,
        target_name,
        period_start,
        period_end,
        score: body.score,
        grade,
        indicators: serde_json::to_value(&body.indicators).unwrap_or_default(),
        method,
        valid_until,
        created_at: now,
    };
    let audit = caller.audit(
        "evaluations.create",
        format!("evaluation:{}", evaluation.id),
        &request_id,
    );
    state.store.insert_evaluation(&evaluation, audit).await?;
    let out = EvaluationOut {
        id: evaluation.id,
        agency_uscc: evaluation.agency_uscc,
        agency_name: evaluation.agency_name,
        target_kind: evaluation.target_kind,
        target_code: evaluation.target_code,
        target_name: evaluation.target_name,
        period_start: evaluation.period_start.to_string(),
        period_end: evaluation.period_end.to_string(),
        score: evaluation.score,
        grade: evaluation.grade,
        valid_until: evaluation.valid_until.to_string(),
        created_at: now.format(&Rfc3339).unwrap_or_default(),
    };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// Submit a monitoring finding of government dishonesty (scope `findings:write`).
///
/// Stored as a supplementary third-party finding with the agency as source, never as an
/// official record.
#[utoipa::path(
    post, path = "/api/v1/findings", tag = "third parties", operation_id = "create_finding",
    security(("api_key" = ["findings:write"])),
    request_body = FindingIn,
    responses(
        (status = 201, description = "Stored", body = FindingOut),
        (status = 401, description = "No, unknown, revoked or expired key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Key without findings:write", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate or daily quota exceeded", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_finding(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<WriteFindings>,
    request_id: RequestId,
    AppJson(body): AppJson<FindingIn>,
) -> Result<Response, ApiError> {
    let key = holder(&caller)?;
    let now = state.clock.now();
    let today = state.clock.today_shanghai();
    let mut errors = Vec::new();
    let subject = match Uscc::parse(&body.subject_code) {
        Ok(uscc) => Some(uscc),
        Err(error) => {
            errors.push(FieldError::new(
                "subject_code",
                error.code(),
                error.to_string(),
                error.message_zh(),
            ));
            None
        }
    };
    let subject_name = text("subject_name", &body.subject_name, 200, &mut errors);
    if let Err(error) = body.domain.parse::<Domain>() {
        errors.push(FieldError::new(
            "domain",
            error.code(),
            error.to_string(),
            error.message_zh(),
        ));
    }
    let observed_on = date_field("observed_on", &body.observed_on, &mut errors);
    not_future("observed_on", observed_on, today, &mut errors);
    let summary = text("summary", &body.summary, 5_000, &mut errors);
    let evidence = text("evidence", &body.evidence, 5_000, &mut errors);
    let (Some(subject), Some(observed_on)) = (subject, observed_on) else {
        return Err(ApiError::validation(&errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(&errors));
    }
    let finding = Finding {
        id: Uuid::now_v7(),
        key_id: key.key.id,
        agency_uscc: key.key.holder_uscc.as_str().to_owned(),
        agency_name: key.key.holder_name.clone(),
        subject_code: subject.as_str().to_owned(),
        subject_name,
        domain: body.domain,
        observed_on,
        summary,
        evidence,
        created_at: now,
    };
    let audit = caller.audit(
        "findings.create",
        format!("finding:{}", finding.id),
        &request_id,
    );
    state.store.insert_finding(&finding, audit).await?;
    Ok((
        StatusCode::CREATED,
        Json(FindingOut {
            id: finding.id,
            source: "third_party".into(),
            official: false,
            agency_uscc: finding.agency_uscc,
            agency_name: finding.agency_name,
            subject_code: finding.subject_code,
            subject_name: finding.subject_name,
            domain: finding.domain,
            observed_on: finding.observed_on.to_string(),
            summary: finding.summary,
            created_at: now.format(&Rfc3339).unwrap_or_default(),
        }),
    )
        .into_response())
}
