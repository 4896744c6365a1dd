//! An integrity record (政务诚信 / 公共信用信息记录): what one source department says about one
//! subject in one domain. Records never disappear; corrections and revocations are new versions.
//!
//! This module validates submissions field by field (so a batch can report every problem at
//! once) and applies corrections. It never reads the clock: callers pass `today`.

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::region::RegionCode;
use crate::domain::subject::SubjectCode;
use crate::domain::uscc::Uscc;
use crate::domain::vocab::{
    DishonestyCategory, Domain, PublicationLevel, RecordKind, RecordStatus, Severity,
};

/// Longest subject name accepted (characters).
pub const MAX_SUBJECT_NAME_CHARS: usize = 200;
/// Longest decision text (characters).
pub const MAX_CONTENT_CHARS: usize = 10_000;
/// Longest legal basis (characters).
pub const MAX_LEGAL_BASIS_CHARS: usize = 2_000;
/// Longest decision document number (characters).
pub const MAX_DOCUMENT_NO_CHARS: usize = 128;
/// Longest source record id (characters).
pub const MAX_SOURCE_RECORD_ID_CHARS: usize = 64;
/// Longest reason for a correction or revocation (characters).
pub const MAX_REASON_CHARS: usize = 2_000;

/// The validated content of one record version: everything a department asserts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordData {
    /// Who the record is about (USCC or citizen ID).
    pub subject: SubjectCode,
    /// The subject's name as the decision states it.
    pub subject_name: String,
    /// Kind of record.
    pub kind: RecordKind,
    /// Category of a dishonesty record; `None` for other kinds.
    pub category: Option<DishonestyCategory>,
    /// Domain (领域) from the special-credit-report annex or a focus area.
    pub domain: Domain,
    /// Source department (谁生成谁提供、谁提供谁负责).
    pub source_dept: Uscc,
    /// The department's own id of this record; unique per department (idempotency key).
    pub source_record_id: String,
    /// Decision document number (决定文书号).
    pub document_no: String,
    /// Date of the decision.
    pub decision_date: Date,
    /// Legal basis (法律依据).
    pub legal_basis: String,
    /// Content of the decision.
    pub content: String,
    /// Severity.
    pub severity: Severity,
    /// First day of the punishment or publication period.
    pub period_start: Option<Date>,
    /// Last day of the punishment or publication period.
    pub period_end: Option<Date>,
    /// Who may see it.
    pub publication_level: PublicationLevel,
}

/// A stored record: its current version plus identity, status and origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Node-assigned id (UUIDv7, time-ordered).
    pub id: Uuid,
    /// Current version, starting at 1.
    pub version: i32,
    /// Content of the current version.
    pub data: RecordData,
    /// Lifecycle status.
    pub status: RecordStatus,
    /// Region of the node where the record was first submitted.
    pub origin_region: RegionCode,
    /// Id of the record at its origin node (equal to `id` for local records).
    pub origin_record_id: Uuid,
    /// When version 1 was stored.
    pub created_at: OffsetDateTime,
    /// When the current version was stored.
    pub updated_at: OffsetDateTime,
}

/// One entry of a record's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordVersion {
    /// Version number.
    pub version: i32,
    /// What this version changed.
    pub change_kind: crate::domain::vocab::ChangeKind,
    /// Why (required for every change after creation).
    pub reason: Option<String>,
    /// Who made the change (actor id from the caller's credentials).
    pub actor: String,
    /// When.
    pub at: OffsetDateTime,
    /// The record as it stood at this version.
    pub record: Record,
}

/// One problem with one field of a submission, in both languages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Field name as the API spells it.
    pub field: &'static str,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// English message.
    pub message: String,
    /// Chinese message.
    pub message_zh: String,
}

impl FieldError {
    /// A field error with both messages.
    pub fn new(
        field: &'static str,
        code: &'static str,
        message: String,
        message_zh: String,
    ) -> Self {
        Self {
            field,
            code,
            message,
            message_zh,
        }
    }

    pub fn required(field: &'static str) -> Self {
        Self::new(
            field,
            "missing_field",
            format!("{field} is required"),
            format!("缺少必填字段 {field}"),
        )
    }
}

/// A submission as it arrives: plain strings, not yet trusted.
#[derive(Clone, Debug, Default)]
pub struct RecordDraft {
    /// See [`RecordData::subject`].
    pub subject_code: Option<String>,
    /// See [`RecordData::subject_name`].
    pub subject_name: Option<String>,
    /// See [`RecordData::kind`].
    pub kind: Option<String>,
    /// See [`RecordData::category`].
    pub category: Option<String>,
    /// See [`RecordData::domain`].
    pub domain: Option<String>,
    /// See [`RecordData::source_dept`].
    pub source_dept: Option<String>,
    /// See [`RecordData::source_record_id`].
    pub source_record_id: Option<String>,
    /// See [`RecordData::document_no`].
    pub document_no: Option<String>,
    /// See [`RecordData::decision_date`] (`YYYY-MM-DD`).
    pub decision_date: Option<String>,
    /// See [`RecordData::legal_basis`].
    pub legal_basis: Option<String>,
    /// See [`RecordData::content`].
    pub content: Option<String>,
    /// See [`RecordData::severity`].
    pub severity: Option<String>,
    /// See [`RecordData::period_start`] (`YYYY-MM-DD`).
    pub period_start: Option<String>,
    /// See [`RecordData::period_end`] (`YYYY-MM-DD`).
    pub period_end: Option<String>,
    /// See [`RecordData::publication_level`].
    pub publication_level: Option<String>,
    /// The case was accepted under tolerance and error correction (容错纠错).
    pub tolerance_case: bool,
}

/// Fields a correction may change; `None` keeps the current value. Identity fields (subject,
/// source department, source record id) cannot be corrected: a record about the wrong subject is
/// revoked and submitted again.
#[derive(Clone, Debug, Default)]
pub struct RecordPatchDraft {
    /// New subject name.
    pub subject_name: Option<String>,
    /// New kind.
    pub kind: Option<String>,
    /// New category.
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

impl RecordPatchDraft {
    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        [
            &self.subject_name,
            &self.kind,
            &self.category,
            &self.domain,
            &self.document_no,
            &self.decision_date,
            &self.legal_basis,
            &self.content,
            &self.severity,
            &self.period_start,
            &self.period_end,
            &self.publication_level,
        ]
        .iter()
        .all(|field| field.is_none())
    }
}

/// A required, trimmed text field of at most `max_chars` characters without control characters;
/// `None` (with an error pushed) when it is missing or invalid.
pub fn required_text(
    field: &'static str,
    value: Option<&str>,
    max_chars: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        errors.push(FieldError::required(field));
        return None;
    };
    let n_chars = value.chars().count();
    if n_chars > max_chars {
        errors.push(FieldError::new(
            field,
            "field_too_long",
            format!("{field} has {n_chars} characters; at most {max_chars} are allowed"),
            format!("{field} 长度为 {n_chars} 个字符，最多允许 {max_chars} 个"),
        ));
        return None;
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        errors.push(FieldError::new(
            field,
            "field_control_characters",
            format!("{field} contains control characters"),
            format!("{field} 含有控制字符"),
        ));
        return None;
    }
    Some(value.to_owned())
}

/// A required subject code (USCC or citizen ID); `None` (with an error pushed) when missing or
/// invalid.
pub fn subject_field(
    field: &'static str,
    value: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<SubjectCode> {
    match value.map(str::trim) {
        None | Some("") => {
            errors.push(FieldError::required(field));
            None
        }
        Some(code) => match SubjectCode::parse(code) {
            Ok(subject) => Some(subject),
            Err(error) => {
                errors.push(FieldError::new(
                    field,
                    error.code(),
                    error.to_string(),
                    error.message_zh(),
                ));
                None
            }
        },
    }
}

/// A `YYYY-MM-DD` date field; `None` (with an error pushed) when it is not a calendar date.
pub fn date_field(field: &'static str, value: &str, errors: &mut Vec<FieldError>) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match Date::parse(value.trim(), format) {
        Ok(date) => Some(date),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                "invalid_date",
                format!("{field} must be a calendar date written YYYY-MM-DD"),
                format!("{field} 必须是 YYYY-MM-DD 格式的有效日期"),
            ));
            None
        }
    }
}

fn term<T: std::str::FromStr<Err = crate::domain::vocab::UnknownTerm>>(
    field: &'static str,
    value: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        errors.push(FieldError::required(field));
        return None;
    };
    match value.parse::<T>() {
        Ok(term) => Some(term),
        Err(error) => {
            errors.push(FieldError::new(
                field,
                error.code(),
                error.to_string(),
                error.message_zh(),
            ));
            None
        }
    }
}

/// Validates a reason for a correction or revocation.
pub fn validate_reason(reason: Option<&str>) -> Result<String, FieldError> {
    let mut errors = Vec::new();
    match required_text("reason", reason, MAX_REASON_CHARS, &mut errors) {
        Some(reason) => Ok(reason),
        None => Err(errors.remove(0)),
    }
}

impl RecordDraft {
    /// Validates every field and returns either the record content or every problem found.
    /// `today` (in Asia/Shanghai) bounds the decision date.
    pub fn validate(&self, today: Date) -> Result<RecordData, Vec<FieldError>> {
        let mut errors = Vec::new();
        let subject = subject_field("subject_code", self.subject_code.as_deref(), &mut errors);
        let source_dept = match self.source_dept.as_deref().map(str::trim) {
            None | Some("") => {
                errors.push(FieldError::required("source_dept"));
                None
            }
            Some(code) => match Uscc::parse(code) {
                Ok(uscc) => Some(uscc),
                Err(error) => {
                    errors.push(FieldError::new(
                        "source_dept",
                        error.code(),
                        error.to_string(),
                        error.message_zh(),
                    ));
                    None
                }
            },
        };
        let subject_name = required_text(
            "subject_name",
            self.subject_name.as_deref(),
            MAX_SUBJECT_NAME_CHARS,
            &mut errors,
        );
        let kind: Option<RecordKind> = term("kind", self.kind.as_deref(), &mut errors);
        let category = match self.category.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(value) => term::<DishonestyCategory>("category", Some(value), &mut errors),
        };
        let domain: Option<Domain> = term("domain", self.domain.as_deref(), &mut errors);
        let severity: Option<Severity> = term("severity", self.severity.as_deref(), &mut errors);
        let publication_level: Option<PublicationLevel> = term(
            "publication_level",
            self.publication_level.as_deref(),
            &mut errors,
        );
        let source_record_id = required_text(
            "source_record_id",
            self.source_record_id.as_deref(),
            MAX_SOURCE_RECORD_ID_CHARS,
            &mut errors,
        );
        if let Some(id) = &source_record_id
            && !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
        {
            errors.push(FieldError::new(
                "source_record_id",
                "invalid_source_record_id",
                "source_record_id may contain only ASCII letters, digits and - _ . : /".into(),
                "source_record_id 只能包含 ASCII 字母、数字及 - _ . : /".into(),
            ));
        }
        let document_no = required_text(
            "document_no",
            self.document_no.as_deref(),
            MAX_DOCUMENT_NO_CHARS,
            &mut errors,
        );
        let legal_basis = required_text(
            "legal_basis",
            self.legal_basis.as_deref(),
            MAX_LEGAL_BASIS_CHARS,
            &mut errors,
        );
        let content = required_text(
            "content",
            self.content.as_deref(),
            MAX_CONTENT_CHARS,
            &mut errors,
        );
        let decision_date = match self.decision_date.as_deref() {
            None => {
                errors.push(FieldError::required("decision_date"));
                None
            }
            Some(value) => date_field("decision_date", value, &mut errors),
        };
        if let Some(decided) = decision_date
            && decided > today
        {
            errors.push(FieldError::new(
                "decision_date",
                "decision_date_in_future",
                format!("decision_date {decided} is after today ({today})"),
                format!("决定日期 {decided} 晚于今天（{today}）"),
            ));
        }
        let period_start = self
            .period_start
            .as_deref()
            .and_then(|value| date_field("period_start", value, &mut errors));
        let period_end = self
            .period_end
            .as_deref()
            .and_then(|value| date_field("period_end", value, &mut errors));
        check_period(period_start, period_end, &mut errors);
        if let Some(kind) = kind {
            check_kind(kind, category, self.tolerance_case, &mut errors);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        match (
            subject,
            subject_name,
            kind,
            domain,
            source_dept,
            source_record_id,
            document_no,
            decision_date,
            legal_basis,
            content,
            severity,
            publication_level,
        ) {
            (
                Some(subject),
                Some(subject_name),
                Some(kind),
                Some(domain),
                Some(source_dept),
                Some(source_record_id),
                Some(document_no),
                Some(decision_date),
                Some(legal_basis),
                Some(content),
                Some(severity),
                Some(publication_level),
            ) => Ok(RecordData {
                subject,
                subject_name,
                kind,
                category,
                domain,
                source_dept,
                source_record_id,
                document_no,
                decision_date,
                legal_basis,
                content,
                severity,
                period_start,
                period_end,
                publication_level,
            }),
            // Every `None` above pushed an error, so this arm is unreachable in practice; it
            // still answers with a field error rather than panicking.
            _ => Err(vec![FieldError::required("record")]),
        }
    }
}

fn check_period(start: Option<Date>, end: Option<Date>, errors: &mut Vec<FieldError>) {
    match (start, end) {
        (Some(start), Some(end)) if end < start => errors.push(FieldError::new(
            "period_end",
            "period_end_before_start",
            format!("period_end {end} is before period_start {start}"),
            format!("期限结束日期 {end} 早于开始日期 {start}"),
        )),
        (None, Some(_)) => errors.push(FieldError::new(
            "period_start",
            "period_start_required",
            "period_end is given, so period_start is required too".into(),
            "已填写期限结束日期，必须同时填写开始日期".into(),
        )),
        _ => {}
    }
}

fn check_kind(
    kind: RecordKind,
    category: Option<DishonestyCategory>,
    tolerance_case: bool,
    errors: &mut Vec<FieldError>,
) {
    if kind == RecordKind::Dishonesty && tolerance_case {
        // Seed 002: cases accepted under tolerance and error correction stay out of
        // dishonesty records.
        errors.push(FieldError::new(
            "tolerance_case",
            "tolerance_case_not_dishonesty",
            "a case accepted under tolerance and error correction cannot be a dishonesty record"
                .into(),
            "容错纠错免责的情形不得记入失信记录".into(),
        ));
    }
    if kind != RecordKind::Dishonesty && category.is_some() {
        errors.push(FieldError::new(
            "category",
            "category_not_applicable",
            format!(
                "category applies only to dishonesty records, not to kind '{}'",
                kind.as_str()
            ),
            format!("category 仅适用于失信记录，不适用于“{}”", kind.name_zh()),
        ));
    }
}

impl RecordData {
    /// Turns the content back into a draft, e.g. to overlay a correction.
    pub fn to_draft(&self) -> RecordDraft {
        RecordDraft {
            subject_code: Some(self.subject.storage_key().to_owned()),
            subject_name: Some(self.subject_name.clone()),
            kind: Some(self.kind.as_str().to_owned()),
            category: self.category.map(|c| c.as_str().to_owned()),
            domain: Some(self.domain.as_str().to_owned()),
            source_dept: Some(self.source_dept.as_str().to_owned()),
            source_record_id: Some(self.source_record_id.clone()),
            document_no: Some(self.document_no.clone()),
            decision_date: Some(self.decision_date.to_string()),
            legal_basis: Some(self.legal_basis.clone()),
            content: Some(self.content.clone()),
            severity: Some(self.severity.as_str().to_owned()),
            period_start: self.period_start.map(|d| d.to_string()),
            period_end: self.period_end.map(|d| d.to_string()),
            publication_level: Some(self.publication_level.as_str().to_owned()),
            tolerance_case: false,
        }
    }

    /// Applies a correction and validates the result as a whole.
    pub fn corrected(
        &self,
        patch: &RecordPatchDraft,
        today: Date,
    ) -> Result<RecordData, Vec<FieldError>> {
        let mut draft = self.to_draft();
        let overlay = |slot: &mut Option<String>, value: &Option<String>| {
            if let Some(value) = value {
                *slot = Some(value.clone());
            }
        };
        overlay(&mut draft.subject_name, &patch.subject_name);
        overlay(&mut draft.kind, &patch.kind);
        overlay(&mut draft.category, &patch.category);
        overlay(&mut draft.domain, &patch.domain);
        overlay(&mut draft.document_no, &patch.document_no);
        overlay(&mut draft.decision_date, &patch.decision_date);
        overlay(&mut draft.legal_basis, &patch.legal_basis);
        overlay(&mut draft.content, &patch.content);
        overlay(&mut draft.severity, &patch.severity);
        overlay(&mut draft.period_start, &patch.period_start);
        overlay(&mut draft.period_end, &patch.period_end);
        overlay(&mut draft.publication_level, &patch.publication_level);
        draft.validate(today)
    }
}
