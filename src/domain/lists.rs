//! Lists (名单): the catalogue of list types, the measures an entry imposes, and the entry
//! itself as its issuer signs it.
//!
//! An entry is issued at one node (national, provincial or local) and flows down to every node
//! below it, so a county's bidding platform is screened against the national lists too. The
//! entry's JSON (`ListEntry`) is the signed payload of the downward journal: it is relayed
//! unchanged, and every node stores and serves exactly what the issuer signed.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::record::{FieldError, date_field, required_text, subject_field};
use crate::domain::subject::SubjectCode;

time::serde::format_description!(ymd, Date, "[year]-[month]-[day]");

/// Most former names on one entry.
pub const MAX_FORMER_NAMES: usize = 20;
/// Most linked records on one entry.
pub const MAX_RECORD_IDS: usize = 100;
/// Longest name (subject, former, legal representative, authority).
pub const MAX_NAME_CHARS: usize = 200;
/// Longest free text (reason, legal basis).
pub const MAX_TEXT_CHARS: usize = 2_000;
/// Longest document number.
pub const MAX_DOCUMENT_NO_CHARS: usize = 128;

/// What kind of consequence a list carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListNature {
    /// Joint punishment (联合惩戒): entries restrict what the subject may do.
    Punitive,
    /// A warning (e.g. abnormal operations): entries call for scrutiny, not a ban.
    Warning,
    /// Joint incentive (联合激励): entries earn facilitation (e.g. deposit waivers).
    Incentive,
}

impl ListNature {
    /// Wire form.
    pub const fn as_str(self) -> &'static str {
        match self {
            ListNature::Punitive => "punitive",
            ListNature::Warning => "warning",
            ListNature::Incentive => "incentive",
        }
    }
}

/// A measure an entry imposes or grants (惩戒/激励措施). The match API decides, per project
/// kind, which measures restrict (configurable); the codes are stable.
pub const MEASURES: &[(&str, &str, &str)] = &[
    (
        "restrict_bidding",
        "限制参与招标投标",
        "barred from tendering and bidding",
    ),
    (
        "restrict_procurement",
        "限制参加政府采购活动",
        "barred from government procurement",
    ),
    (
        "restrict_public_resource_trading",
        "限制参与公共资源交易",
        "barred from public-resource trading",
    ),
    (
        "restrict_subsidies",
        "限制申请财政补贴",
        "barred from government subsidies",
    ),
    (
        "restrict_honours",
        "限制参与评优评先",
        "barred from honours and awards",
    ),
    (
        "restrict_market_access",
        "限制市场或行业准入",
        "restricted market or trade access",
    ),
    (
        "restrict_high_consumption",
        "限制高消费",
        "restricted high consumption",
    ),
    (
        "enhanced_supervision",
        "列为重点监管对象",
        "subject to enhanced supervision",
    ),
    (
        "deposit_waiver",
        "免收或减收保证金（信用承诺替代保证金）",
        "deposits waived or reduced (credit commitment instead of a deposit)",
    ),
    (
        "simplified_procedures",
        "容缺受理、简化程序",
        "simplified procedures",
    ),
];

/// Whether `code` is a known measure.
pub fn is_measure(code: &str) -> bool {
    MEASURES.iter().any(|(known, _, _)| *known == code)
}

/// One list type of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListType {
    /// Stable code, used in URLs (`serious_dishonesty` …).
    pub code: String,
    /// Name in Chinese.
    pub name_zh: String,
    /// Name in English.
    pub name_en: String,
    /// Punitive, warning or incentive.
    pub nature: ListNature,
    /// Measures an entry carries unless its issuer lists others.
    pub default_measures: Vec<String>,
}

fn builtin(
    code: &str,
    name_zh: &str,
    name_en: &str,
    nature: ListNature,
    measures: &[&str],
) -> ListType {
    ListType {
        code: code.to_owned(),
        name_zh: name_zh.to_owned(),
        name_en: name_en.to_owned(),
        nature,
        default_measures: measures.iter().map(|m| (*m).to_owned()).collect(),
    }
}

/// The list types every node knows, plus those configured under `[[lists.extra]]`.
#[derive(Clone, Debug)]
pub struct ListCatalogue {
    types: Vec<ListType>,
}

impl ListCatalogue {
    /// The built-in catalogue (the lists of the national credit system) plus `extra`.
    ///
    /// # Errors
    /// A message naming the offending extra list when its code is malformed or taken, or one of
    /// its measures is unknown.
    pub fn new(extra: &[ListType]) -> Result<ListCatalogue, String> {
        let mut types = vec![
            builtin(
                "serious_dishonesty",
                "严重失信主体名单",
                "Serious dishonesty subjects",
                ListNature::Punitive,
                &[
                    "restrict_bidding",
                    "restrict_procurement",
                    "restrict_public_resource_trading",
                    "restrict_subsidies",
                    "restrict_honours",
                ],
            ),
            builtin(
                "judgment_defaulters",
                "失信被执行人名单",
                "Dishonest judgment defaulters",
                ListNature::Punitive,
                &[
                    "restrict_bidding",
                    "restrict_procurement",
                    "restrict_high_consumption",
                    "restrict_honours",
                ],
            ),
            builtin(
                "procurement_serious_violations",
                "政府采购严重违法失信行为记录名单",
                "Government procurement serious violations",
                ListNature::Punitive,
                &["restrict_procurement"],
            ),
            builtin(
                "abnormal_operations",
                "经营异常名录",
                "Abnormal operations",
                ListNature::Warning,
                &["enhanced_supervision"],
            ),
            builtin(
                "red_list",
                "诚信典型名单（红名单）",
                "Integrity exemplars (red list)",
                ListNature::Incentive,
                &["deposit_waiver", "simplified_procedures"],
            ),
        ];
        for list in extra {
            let well_formed = (2..=48).contains(&list.code.len())
                && list
                    .code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !well_formed {
                return Err(format!(
                    "lists.extra: code '{}' must be 2-48 characters of a-z, 0-9 and _",
                    list.code
                ));
            }
            if types.iter().any(|known| known.code == list.code) {
                return Err(format!(
                    "lists.extra: code '{}' is already taken",
                    list.code
                ));
            }
            if let Some(unknown) = list.default_measures.iter().find(|m| !is_measure(m)) {
                return Err(format!(
                    "lists.extra '{}': unknown measure '{unknown}'",
                    list.code
                ));
            }
            types.push(list.clone());
        }
        Ok(ListCatalogue { types })
    }

    /// Every list type, built-in first.
    pub fn all(&self) -> &[ListType] {
        &self.types
    }

    /// The list type with this code.
    pub fn get(&self, code: &str) -> Option<&ListType> {
        self.types.iter().find(|list| list.code == code)
    }
}

/// An entry's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// In force during its effective period.
    Active,
    /// Ended early by its issuer (repair, court order …); in force until `effective_to`.
    Ended,
    /// Withdrawn as issued in error: treated as never in force (a tombstone).
    Withdrawn,
}

impl EntryStatus {
    /// Wire form.
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Active => "active",
            EntryStatus::Ended => "ended",
            EntryStatus::Withdrawn => "withdrawn",
        }
    }
}

/// What a list change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListChangeKind {
    /// A new entry.
    Issued,
    /// An entry ended early.
    Ended,
    /// An entry withdrawn as issued in error.
    Withdrawn,
}

impl ListChangeKind {
    /// Wire form.
    pub const fn as_str(self) -> &'static str {
        match self {
            ListChangeKind::Issued => "issued",
            ListChangeKind::Ended => "ended",
            ListChangeKind::Withdrawn => "withdrawn",
        }
    }

    /// Parses the wire form.
    pub fn parse(text: &str) -> Option<ListChangeKind> {
        match text {
            "issued" => Some(ListChangeKind::Issued),
            "ended" => Some(ListChangeKind::Ended),
            "withdrawn" => Some(ListChangeKind::Withdrawn),
            _ => None,
        }
    }
}

/// The legal representative (法定代表人) named on an entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalRepresentative {
    /// Name.
    pub name: String,
    /// Citizen ID number (personal information: masked in public views).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
}

/// A list entry as its issuer signed it (one version).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListEntry {
    /// Id, assigned by the issuer.
    pub id: Uuid,
    /// List code.
    pub list: String,
    /// Region of the issuing node.
    pub issuer_region: String,
    /// Version (1 = as issued).
    pub version: i32,
    /// Subject code (USCC or citizen ID).
    pub subject_code: String,
    /// `uscc` or `citizen_id`.
    pub subject_kind: String,
    /// Subject name.
    pub subject_name: String,
    /// Former names (曾用名).
    #[serde(default)]
    pub former_names: Vec<String>,
    /// Legal representative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_representative: Option<LegalRepresentative>,
    /// Why the subject is listed.
    pub reason: String,
    /// Issuing authority (认定部门) name.
    pub authority: String,
    /// Issuing authority's USCC.
    pub authority_code: String,
    /// Document number of the listing decision.
    pub document_no: String,
    /// Legal basis.
    pub legal_basis: String,
    /// Measures the entry carries.
    pub measures: Vec<String>,
    /// First day in force.
    #[serde(with = "ymd")]
    pub effective_from: Date,
    /// Last day in force (none = until ended).
    #[serde(with = "ymd::option", default)]
    pub effective_to: Option<Date>,
    /// The records behind the entry.
    #[serde(default)]
    pub record_ids: Vec<Uuid>,
    /// State.
    pub status: EntryStatus,
    /// Why it ended or was withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// When version 1 was issued.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// When this version was made.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl ListEntry {
    /// Whether the entry is in force on `day`: active or ended, within its effective period
    /// (a withdrawn entry never was).
    pub fn in_force_on(&self, day: Date) -> bool {
        self.status != EntryStatus::Withdrawn
            && self.effective_from <= day
            && self.effective_to.is_none_or(|end| day <= end)
    }
}

/// An entry as an issuing department submits it.
#[derive(Clone, Debug, Default)]
pub struct EntryDraft {
    /// Subject code.
    pub subject_code: Option<String>,
    /// Subject name.
    pub subject_name: Option<String>,
    /// Former names.
    pub former_names: Vec<String>,
    /// Legal representative name.
    pub legal_representative_name: Option<String>,
    /// Legal representative ID.
    pub legal_representative_id: Option<String>,
    /// Reason.
    pub reason: Option<String>,
    /// Authority name.
    pub authority: Option<String>,
    /// Document number.
    pub document_no: Option<String>,
    /// Legal basis.
    pub legal_basis: Option<String>,
    /// Measures (none = the list's defaults).
    pub measures: Option<Vec<String>>,
    /// First day in force.
    pub effective_from: Option<String>,
    /// Last day in force.
    pub effective_to: Option<String>,
    /// Linked records.
    pub record_ids: Vec<String>,
}

/// A validated draft: everything of an entry except identity, issuer and timestamps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryContent {
    /// Subject.
    pub subject: SubjectCode,
    /// Subject name.
    pub subject_name: String,
    /// Former names.
    pub former_names: Vec<String>,
    /// Legal representative.
    pub legal_representative: Option<LegalRepresentative>,
    /// Reason.
    pub reason: String,
    /// Authority name.
    pub authority: String,
    /// Document number.
    pub document_no: String,
    /// Legal basis.
    pub legal_basis: String,
    /// Measures.
    pub measures: Vec<String>,
    /// First day in force.
    pub effective_from: Date,
    /// Last day in force.
    pub effective_to: Option<Date>,
    /// Linked records.
    pub record_ids: Vec<Uuid>,
}

fn name_field(field: &'static str, value: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    required_text(field, Some(value), MAX_NAME_CHARS, errors)
}

impl EntryDraft {
    /// Validates every field against `list` and returns the content or every problem found.
    pub fn validate(&self, list: &ListType) -> Result<EntryContent, Vec<FieldError>> {
        let mut errors = Vec::new();
        let subject = subject_field("subject_code", self.subject_code.as_deref(), &mut errors);
        let subject_name = required_text(
            "subject_name",
            self.subject_name.as_deref(),
            MAX_NAME_CHARS,
            &mut errors,
        );
        if self.former_names.len() > MAX_FORMER_NAMES {
            errors.push(FieldError::new(
                "former_names",
                "too_many_items",
                format!("at most {MAX_FORMER_NAMES} former names are allowed"),
                format!("曾用名最多 {MAX_FORMER_NAMES} 个"),
            ));
        }
        let mut former_names = Vec::new();
        for name in self.former_names.iter().take(MAX_FORMER_NAMES) {
            if let Some(name) = name_field("former_names", name, &mut errors)
                && !former_names.contains(&name)
            {
                former_names.push(name);
            }
        }
        let legal_representative = match (
            self.legal_representative_name.as_deref().map(str::trim),
            self.legal_representative_id.as_deref().map(str::trim),
        ) {
            (None | Some(""), None | Some("")) => None,
            (None | Some(""), Some(_)) => {
                errors.push(FieldError::required("legal_representative.name"));
                None
            }
            (Some(name), id) => {
                let name = name_field("legal_representative.name", name, &mut errors);
                let id = match id.filter(|id| !id.is_empty()) {
                    None => None,
                    Some(id) => match crate::domain::citizen_id::CitizenId::parse(id) {
                        Ok(id) => Some(id.expose().to_owned()),
                        Err(error) => {
                            errors.push(FieldError::new(
                                "legal_representative.id_number",
                                error.code(),
                                error.to_string(),
                                error.message_zh(),
                            ));
                            None
                        }
                    },
                };
                name.map(|name| LegalRepresentative {
                    name,
                    id_number: id,
                })
            }
        };
        let reason = required_text(
            "reason",
            self.reason.as_deref(),
            MAX_TEXT_CHARS,
            &mut errors,
        );
        let authority = required_text(
            "authority",
            self.authority.as_deref(),
            MAX_NAME_CHARS,
            &mut errors,
        );
        let document_no = required_text(
            "document_no",
            self.document_no.as_deref(),
            MAX_DOCUMENT_NO_CHARS,
            &mut errors,
        );
        let legal_basis = required_text(
            "legal_basis",
            self.legal_basis.as_deref(),
            MAX_TEXT_CHARS,
            &mut errors,
        );
        let measures = match &self.measures {
            None => list.default_measures.clone(),
            Some(measures) if measures.is_empty() => {
                errors.push(FieldError::new(
                    "measures",
                    "measures_empty",
                    "measures must name at least one measure, or be left out for the list's defaults".into(),
                    "措施不能为空；省略则使用该名单的默认措施".into(),
                ));
                Vec::new()
            }
            Some(measures) => {
                let mut seen = BTreeSet::new();
                for measure in measures {
                    if !is_measure(measure) {
                        errors.push(FieldError::new(
                            "measures",
                            "unknown_measure",
                            format!(
                                "unknown measure '{}'; known: {}",
                                measure.chars().take(64).collect::<String>(),
                                MEASURES
                                    .iter()
                                    .map(|(code, _, _)| *code)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                            "未知的措施代码".into(),
                        ));
                    } else {
                        seen.insert(measure.clone());
                    }
                }
                seen.into_iter().collect()
            }
        };
        let effective_from = match self.effective_from.as_deref() {
            None => {
                errors.push(FieldError::required("effective_from"));
                None
            }
            Some(value) => date_field("effective_from", value, &mut errors),
        };
        let effective_to = self
            .effective_to
            .as_deref()
            .filter(|value| !value.trim().is_empty())
            .and_then(|value| date_field("effective_to", value, &mut errors));
        if let (Some(from), Some(to)) = (effective_from, effective_to)
            && to < from
        {
            errors.push(FieldError::new(
                "effective_to",
                "period_reversed",
                "effective_to is before effective_from".into(),
                "失效日期早于生效日期".into(),
            ));
        }
        if self.record_ids.len() > MAX_RECORD_IDS {
            errors.push(FieldError::new(
                "record_ids",
                "too_many_items",
                format!("at most {MAX_RECORD_IDS} record ids are allowed"),
                format!("关联记录最多 {MAX_RECORD_IDS} 条"),
            ));
        }
        let mut record_ids = Vec::new();
        for id in self.record_ids.iter().take(MAX_RECORD_IDS) {
            match Uuid::parse_str(id.trim()) {
                Ok(id) if !record_ids.contains(&id) => record_ids.push(id),
                Ok(_) => {}
                Err(_) => errors.push(FieldError::new(
                    "record_ids",
                    "invalid_record_id",
                    "record_ids must be record ids (UUIDs) returned by this node".into(),
                    "record_ids 必须是本节点返回的记录编号（UUID）".into(),
                )),
            }
        }
        match (
            subject,
            subject_name,
            reason,
            authority,
            document_no,
            legal_basis,
            effective_from,
        ) {
            (
                Some(subject),
                Some(subject_name),
                Some(reason),
                Some(authority),
                Some(document_no),
                Some(legal_basis),
                Some(effective_from),
            ) if errors.is_empty() => Ok(EntryContent {
                subject,
                subject_name,
                former_names,
                legal_representative,
                reason,
                authority,
                document_no,
                legal_basis,
                measures,
                effective_from,
                effective_to,
                record_ids,
            }),
            _ => Err(errors),
        }
    }
}

/// How an issuer ends an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryEnd {
    /// Why.
    pub reason: String,
    /// Last day in force (ended entries); ignored when withdrawn.
    pub last_day: Date,
    /// Withdrawn as issued in error (never in force) rather than ended.
    pub withdrawn: bool,
}

impl EntryEnd {
    /// The entry after this end, as version `entry.version + 1`; an error when the entry is
    /// not active or the last day precedes its first.
    pub fn apply(&self, entry: &ListEntry, at: OffsetDateTime) -> Result<ListEntry, FieldError> {
        if entry.status != EntryStatus::Active {
            return Err(FieldError::new(
                "status",
                "entry_not_active",
                format!("the entry is {} already", entry.status.as_str()),
                format!("该名单条目已处于“{}”状态", entry.status.as_str()),
            ));
        }
        let mut next = entry.clone();
        next.version += 1;
        next.updated_at = at;
        next.end_reason = Some(self.reason.clone());
        if self.withdrawn {
            next.status = EntryStatus::Withdrawn;
        } else {
            if self.last_day < entry.effective_from {
                return Err(FieldError::new(
                    "last_day",
                    "period_reversed",
                    "last_day is before the entry took effect; withdraw it instead (withdrawn: true)".into(),
                    "截止日期早于生效日期；如系错误列入请改为撤销（withdrawn: true）".into(),
                ));
            }
            next.status = EntryStatus::Ended;
            next.effective_to = Some(match entry.effective_to {
                Some(end) if end < self.last_day => end,
                _ => self.last_day,
            });
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn draft() -> EntryDraft {
        EntryDraft {
            subject_code: Some("91445122MA4W123460".into()),
            subject_name: Some("饶平县某某建筑工程有限公司".into()),
            reason: Some("串通投标".into()),
            authority: Some("广东省发展和改革委员会".into()),
            document_no: Some("粤发改信用〔2026〕1号".into()),
            legal_basis: Some("《招标投标法》第五十三条".into()),
            effective_from: Some("2026-01-01".into()),
            ..EntryDraft::default()
        }
    }

    fn catalogue() -> ListCatalogue {
        ListCatalogue::new(&[]).unwrap()
    }

    #[test]
    fn a_complete_draft_takes_the_list_defaults() {
        let catalogue = catalogue();
        let list = catalogue.get("serious_dishonesty").unwrap();
        let content = draft().validate(list).unwrap();
        assert_eq!(content.measures, list.default_measures);
        assert_eq!(content.effective_from, date!(2026 - 01 - 01));
        assert_eq!(content.effective_to, None);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let catalogue = catalogue();
        let list = catalogue.get("red_list").unwrap();
        let bad = EntryDraft {
            subject_code: Some("91445122MA4W123461".into()),
            subject_name: Some("x".repeat(201)),
            measures: Some(vec!["lock_up".into()]),
            effective_from: Some("2026-02-30".into()),
            record_ids: vec!["nope".into()],
            legal_representative_id: Some("445122198503121231".into()),
            ..EntryDraft::default()
        };
        let errors = bad.validate(list).unwrap_err();
        let fields: BTreeSet<&str> = errors.iter().map(|e| e.field).collect();
        for field in [
            "subject_code",
            "subject_name",
            "measures",
            "effective_from",
            "record_ids",
            "reason",
            "authority",
            "document_no",
            "legal_basis",
            "legal_representative.name",
        ] {
            assert!(fields.contains(field), "{field} missing from {fields:?}");
        }
    }

    #[test]
    fn a_reversed_period_is_refused() {
        let catalogue = catalogue();
        let mut bad = draft();
        bad.effective_to = Some("2025-12-31".into());
        let errors = bad
            .validate(catalogue.get("serious_dishonesty").unwrap())
            .unwrap_err();
        assert_eq!(errors[0].code, "period_reversed");
    }

    fn entry() -> ListEntry {
        ListEntry {
            id: Uuid::nil(),
            list: "serious_dishonesty".into(),
            issuer_region: "100000".into(),
            version: 1,
            subject_code: "91445122MA4W123460".into(),
            subject_kind: "uscc".into(),
            subject_name: "某公司".into(),
            former_names: vec![],
            legal_representative: None,
            reason: "r".into(),
            authority: "a".into(),
            authority_code: "11100000000013127D".into(),
            document_no: "d".into(),
            legal_basis: "b".into(),
            measures: vec!["restrict_bidding".into()],
            effective_from: date!(2026 - 01 - 01),
            effective_to: Some(date!(2028 - 12 - 31)),
            record_ids: vec![],
            status: EntryStatus::Active,
            end_reason: None,
            issued_at: datetime!(2026-01-01 0:00 UTC),
            updated_at: datetime!(2026-01-01 0:00 UTC),
        }
    }

    #[test]
    fn in_force_follows_the_period_and_status() {
        let entry = entry();
        assert!(!entry.in_force_on(date!(2025 - 12 - 31)));
        assert!(entry.in_force_on(date!(2026 - 01 - 01)));
        assert!(entry.in_force_on(date!(2028 - 12 - 31)));
        assert!(!entry.in_force_on(date!(2029 - 01 - 01)));
        let at = datetime!(2026-06-01 0:00 UTC);
        let ended = EntryEnd {
            reason: "修复".into(),
            last_day: date!(2026 - 05 - 31),
            withdrawn: false,
        }
        .apply(&entry, at)
        .unwrap();
        assert_eq!(ended.version, 2);
        assert_eq!(ended.status, EntryStatus::Ended);
        assert!(ended.in_force_on(date!(2026 - 05 - 31)));
        assert!(!ended.in_force_on(date!(2026 - 06 - 01)));
        let withdrawn = EntryEnd {
            reason: "错误列入".into(),
            last_day: date!(2026 - 05 - 31),
            withdrawn: true,
        }
        .apply(&entry, at)
        .unwrap();
        assert!(!withdrawn.in_force_on(date!(2026 - 03 - 01)));
        assert_eq!(
            EntryEnd {
                reason: "again".into(),
                last_day: date!(2026 - 05 - 31),
                withdrawn: false,
            }
            .apply(&ended, at)
            .unwrap_err()
            .code,
            "entry_not_active"
        );
    }

    #[test]
    fn the_signed_payload_round_trips() {
        let entry = entry();
        let text = serde_json::to_string(&entry).unwrap();
        assert!(text.contains("\"effective_from\":\"2026-01-01\""), "{text}");
        let back: ListEntry = serde_json::from_str(&text).unwrap();
        assert_eq!(back, entry);
    }

    #[test]
    fn extra_lists_are_checked() {
        let extra = ListType {
            code: "tax_a_grade".into(),
            name_zh: "纳税信用A级纳税人".into(),
            name_en: "Grade-A taxpayers".into(),
            nature: ListNature::Incentive,
            default_measures: vec!["deposit_waiver".into()],
        };
        let catalogue = ListCatalogue::new(std::slice::from_ref(&extra)).unwrap();
        assert_eq!(catalogue.get("tax_a_grade"), Some(&extra));
        let mut taken = extra.clone();
        taken.code = "red_list".into();
        assert!(ListCatalogue::new(&[taken]).is_err());
        let mut unknown = extra;
        unknown.default_measures = vec!["jail".into()];
        assert!(ListCatalogue::new(&[unknown]).is_err());
    }
}
