//! The decision for each bidder: candidates from the index, confirmed against the entries in
//! the database, then judged against the project's kind and `as_of`.
//!
//! Rules (documented in the README and the OpenAPI description):
//! - `block`: the bidder's USCC is the subject of an entry in force at `as_of` on a punitive
//!   list whose measures restrict this kind of project, the entry does not start or end within
//!   `match.boundary_days` of `as_of`, and none of its records is under objection;
//! - `review`: any other hit that could restrict: a name, former name or trade-name match
//!   without the identifier, the same organisation code under another USCC, the legal
//!   representative listed, an entry starting or ending near `as_of`, an entry under
//!   objection, or an in-force warning-list entry (e.g. abnormal operations);
//! - `clear`: nothing of the above (hits that do not restrict this kind are still listed
//!   as `notice`, and in-force incentive entries as `incentives`);
//! - `invalid`: an identifier fails its check, or the bidder is empty or duplicated — never
//!   silently `clear`.
//!
//! Wire types here derive `ToSchema` (an exception to "only `api` imports utoipa"): they are
//! the API's answer and the logged decision alike, and one definition keeps them identical.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Matcher;
use super::index::{BidderKeys, HitKey};
use crate::domain::citizen_id::CitizenId;
use crate::domain::lists::{ListCatalogue, ListEntry, ListNature};
use crate::domain::names::{NormalizedName, explain, normalize_company};
use crate::domain::uscc::Uscc;
use crate::store::{Store, StoreError};

/// Most bidders in one request.
pub const MAX_BIDDERS: usize = 1_000;
/// Shortest and longest bidder name accepted.
const NAME_CHARS: std::ops::RangeInclusive<usize> = 2..=200;

/// A bidder's legal representative.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepresentativeIn {
    /// Name.
    pub name: Option<String>,
    /// Citizen ID number.
    pub id_number: Option<String>,
}

/// A bidder as the platform sends it: any subset of identifiers and name, at least one
/// identifier or a name.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BidderIn {
    /// The platform's own reference for the bidder (echoed back).
    pub reference: Option<String>,
    /// USCC (统一社会信用代码); full-width input is accepted.
    pub uscc: Option<String>,
    /// Registered name.
    pub name: Option<String>,
    /// Legal representative (法定代表人).
    pub legal_representative: Option<RepresentativeIn>,
}

/// A bidder's verdict.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No restricting hit.
    Clear,
    /// A likely but not certain hit: a person must look.
    Review,
    /// An in-force restricting entry on the bidder's USCC.
    Block,
    /// The bidder's data is unusable (bad identifier, empty, duplicate).
    Invalid,
}

impl Verdict {
    /// Wire form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Clear => "clear",
            Verdict::Review => "review",
            Verdict::Block => "block",
            Verdict::Invalid => "invalid",
        }
    }
}

/// What a hit does to the verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Blocks the bidder.
    Block,
    /// Sends the bidder to review.
    Review,
    /// Listed for information; does not restrict this kind of project.
    Notice,
}

/// One list entry that matched a bidder.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HitOut {
    /// List code.
    pub list: String,
    /// List name.
    pub list_name_zh: String,
    /// Entry id.
    pub entry_id: Uuid,
    /// Entry version used.
    pub entry_version: i32,
    /// Issuing node's region.
    pub issuer_region: String,
    /// Listed subject's name.
    pub subject_name: String,
    /// Issuing authority.
    pub authority: String,
    /// Document number of the listing decision.
    pub document_no: String,
    /// Legal basis.
    pub legal_basis: String,
    /// Reason for listing.
    pub reason: String,
    /// Measure codes of the entry.
    pub measures: Vec<String>,
    /// First day in force.
    pub effective_from: String,
    /// Last day in force (absent: until ended).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub effective_to: Option<String>,
    /// Entry status (active, ended).
    pub status: String,
    /// What matched: uscc, organization_code, legal_representative_id, name, former_name,
    /// name_core.
    pub matched_on: String,
    /// Why, for a person reading it (English / Chinese).
    pub explanation: String,
    /// block, review or notice.
    pub effect: Effect,
    /// The records behind the entry.
    pub record_ids: Vec<Uuid>,
}

/// An incentive that applies (red list and the like).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct IncentiveOut {
    /// List code.
    pub list: String,
    /// Entry id.
    pub entry_id: Uuid,
    /// Measures granted (e.g. deposit_waiver: 信用承诺替代保证金).
    pub measures: Vec<String>,
    /// Last day in force (absent: until ended).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub effective_to: Option<String>,
}

/// Why a bidder is invalid.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BidderProblem {
    /// Field.
    pub field: String,
    /// Stable code.
    pub code: String,
    /// English.
    pub detail: String,
    /// Chinese.
    pub detail_zh: String,
}

/// The decision for one bidder.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BidderOut {
    /// Position in the request.
    pub index: usize,
    /// The platform's reference, echoed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reference: Option<String>,
    /// The USCC as normalised (when valid).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub uscc: Option<String>,
    /// block, review, clear or invalid.
    pub verdict: Verdict,
    /// The reasons behind the verdict, one line each (English / Chinese).
    pub reasons: Vec<String>,
    /// Every entry that matched.
    pub hits: Vec<HitOut>,
    /// Incentives that apply.
    pub incentives: Vec<IncentiveOut>,
    /// Why the bidder is invalid.
    pub problems: Vec<BidderProblem>,
}

fn problem(field: &str, code: &str, detail: String, detail_zh: String) -> BidderProblem {
    BidderProblem {
        field: field.to_owned(),
        code: code.to_owned(),
        detail,
        detail_zh,
    }
}

fn trimmed(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Validates a bidder into lookup keys, or the problems that make it invalid.
fn bidder_keys(
    bidder: &BidderIn,
) -> Result<(BidderKeys, Option<NormalizedName>), Vec<BidderProblem>> {
    let mut problems = Vec::new();
    let mut keys = BidderKeys::default();
    if let Some(uscc) = trimmed(&bidder.uscc) {
        match Uscc::parse(uscc) {
            Ok(uscc) => keys.uscc = Some(uscc.as_str().to_owned()),
            Err(error) => problems.push(problem(
                "uscc",
                error.code(),
                error.to_string(),
                error.message_zh(),
            )),
        }
    }
    let mut normalized = None;
    if let Some(name) = trimmed(&bidder.name) {
        let n = name.chars().count();
        if !NAME_CHARS.contains(&n) {
            problems.push(problem(
                "name",
                "name_length",
                format!("the name has {n} characters; a registered name has 2 to 200"),
                format!("名称为 {n} 个字符，登记名称应为 2 至 200 个字符"),
            ));
        } else {
            let name = normalize_company(name);
            if name.key.chars().count() >= 2 {
                keys.name_key = Some(name.key.clone());
            }
            if name.core.chars().count() >= 2 && name.core != name.key {
                keys.name_core = Some(name.core.clone());
            }
            normalized = Some(name);
        }
    }
    if let Some(rep) = &bidder.legal_representative
        && let Some(id) = trimmed(&rep.id_number)
    {
        match CitizenId::parse(id) {
            Ok(id) => keys.rep_id = Some(id.expose().to_owned()),
            Err(error) => problems.push(problem(
                "legal_representative.id_number",
                error.code(),
                error.to_string(),
                error.message_zh(),
            )),
        }
    }
    if problems.is_empty() && keys.uscc.is_none() && keys.name_key.is_none() {
        problems.push(problem(
            "bidder",
            "empty_bidder",
            "the bidder has neither a USCC nor a usable name; send at least one".into(),
            "投标人既无统一社会信用代码也无有效名称，请至少提供一项".into(),
        ));
    }
    if problems.is_empty() {
        Ok((keys, normalized))
    } else {
        Err(problems)
    }
}

/// What the decision of a request needs besides the bidders.
pub struct Screening<'a> {
    /// The matcher.
    pub matcher: &'a Matcher,
    /// Storage (entries behind hits, record statuses).
    pub store: &'a Store,
    /// The list catalogue.
    pub catalogue: &'a ListCatalogue,
    /// Measures restricting the project's kind.
    pub restricting: u16,
    /// The project's `as_of` day (Asia/Shanghai).
    pub as_of: Date,
}

fn identifier_explanation(key: HitKey) -> &'static str {
    match key {
        HitKey::Uscc => "same USCC / 统一社会信用代码相同",
        HitKey::OrgCode => {
            "same organisation code (characters 9-17) under another USCC / 统一社会信用代码不同但组织机构代码相同"
        }
        HitKey::LegalRep => {
            "the legal representative's ID is on the entry / 法定代表人身份证号码与名单条目一致"
        }
        HitKey::Name | HitKey::FormerName | HitKey::Core => "",
    }
}

/// Whether the candidate really matches (a key hash can collide), and its explanation.
fn confirm(
    key: HitKey,
    keys: &BidderKeys,
    name: Option<&NormalizedName>,
    entry: &ListEntry,
) -> Option<String> {
    match key {
        HitKey::Uscc => (keys.uscc.as_deref() == Some(entry.subject_code.as_str()))
            .then(|| identifier_explanation(key).to_owned()),
        HitKey::OrgCode => {
            let uscc = keys.uscc.as_deref()?;
            (entry.subject_kind == "uscc"
                && entry.subject_code.len() == 18
                && uscc.get(8..17) == entry.subject_code.get(8..17))
            .then(|| identifier_explanation(key).to_owned())
        }
        HitKey::LegalRep => {
            let rep = keys.rep_id.as_deref()?;
            let named = entry
                .legal_representative
                .as_ref()
                .and_then(|r| r.id_number.as_deref());
            (entry.subject_code == rep || named == Some(rep))
                .then(|| identifier_explanation(key).to_owned())
        }
        HitKey::Name | HitKey::FormerName | HitKey::Core => {
            let bidder = name?;
            let names = std::iter::once(&entry.subject_name).chain(&entry.former_names);
            names.enumerate().find_map(|(i, listed)| {
                let listed = normalize_company(listed);
                let same = match key {
                    HitKey::Core => !listed.core.is_empty() && listed.core == bidder.core,
                    _ => !listed.key.is_empty() && listed.key == bidder.key,
                };
                same.then(|| {
                    let why = explain(bidder, &listed);
                    if i > 0 {
                        format!("former name of the listed subject (曾用名): {why}")
                    } else {
                        why
                    }
                })
            })
        }
    }
}

impl Screening<'_> {
    /// Decides every bidder, in order.
    ///
    /// # Errors
    /// The database failed while reading an entry behind a hit.
    pub async fn decide(
        &self,
        bidders: &[BidderIn],
    ) -> Result<(std::collections::BTreeMap<String, i64>, Vec<BidderOut>), StoreError> {
        let mut out = Vec::with_capacity(bidders.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut valid: Vec<Option<(BidderKeys, Option<NormalizedName>)>> = Vec::new();
        // Validation and name normalisation, on every core for a large request.
        let parsed =
            super::parallel_chunks(bidders, |chunk| chunk.iter().map(bidder_keys).collect());
        for ((index, bidder), parsed) in bidders.iter().enumerate().zip(parsed) {
            let mut decision = BidderOut {
                index,
                reference: bidder.reference.clone(),
                uscc: None,
                verdict: Verdict::Clear,
                reasons: Vec::new(),
                hits: Vec::new(),
                incentives: Vec::new(),
                problems: Vec::new(),
            };
            let mut problems = match parsed {
                Ok((keys, name)) => {
                    decision.uscc = keys.uscc.clone();
                    let identity = keys
                        .uscc
                        .clone()
                        .or_else(|| keys.name_key.as_ref().map(|n| format!("name:{n}")))
                        .unwrap_or_default();
                    match seen.get(&identity) {
                        Some(first) => vec![problem(
                            "bidder",
                            "duplicate_bidder",
                            format!("the same bidder appears at index {first}; each bidder once"),
                            format!("与第 {first} 个投标人重复，每个投标人只能出现一次"),
                        )],
                        None => {
                            seen.insert(identity, index);
                            valid.push(Some((keys, name)));
                            out.push(decision);
                            continue;
                        }
                    }
                }
                Err(problems) => problems,
            };
            decision.verdict = Verdict::Invalid;
            decision.reasons = problems
                .iter()
                .map(|p| format!("{} / {}", p.detail, p.detail_zh))
                .collect();
            decision.problems = std::mem::take(&mut problems);
            valid.push(None);
            out.push(decision);
        }
        let keys: Vec<Option<&BidderKeys>> = valid
            .iter()
            .map(|v| v.as_ref().map(|(keys, _)| keys))
            .collect();
        let (epochs, candidates) = self.matcher.candidates(&keys);
        // Cheap filter on the index before reading anything (withdrawn entries and entries far
        // from `as_of` cannot matter), then every remaining entry of the whole request in one
        // batched read, and the objection status of their records in another.
        let candidates: Vec<Vec<Candidate>> = candidates
            .into_iter()
            .map(|hits| {
                hits.into_iter()
                    .filter_map(|(key, slot, _)| self.relevant(key, slot))
                    .collect()
            })
            .collect();
        let mut ids: Vec<Uuid> = candidates.iter().flatten().map(|c| c.slot.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        let entries = if ids.is_empty() {
            HashMap::new()
        } else {
            self.store.list_entries_by_ids(&ids).await?
        };
        // Objections matter only where they can turn a block into a review: a USCC hit on an
        // in-force punitive entry that restricts this kind, away from the boundary. Other hits
        // never read the records' status.
        let mut record_ids: Vec<Uuid> = candidates
            .iter()
            .flatten()
            .filter(|c| self.could_block(c))
            .filter_map(|c| entries.get(&c.slot.id()))
            .flat_map(|entry| entry.record_ids.iter().copied())
            .collect();
        record_ids.sort_unstable();
        record_ids.dedup();
        let objected = if record_ids.is_empty() {
            HashSet::new()
        } else {
            self.store.records_under_objection(&record_ids).await?
        };
        for ((decision, valid), candidates) in out.iter_mut().zip(&valid).zip(candidates) {
            if let Some((keys, name)) = valid {
                self.judge(
                    keys,
                    name.as_ref(),
                    candidates,
                    &entries,
                    &objected,
                    decision,
                );
            }
        }
        Ok((epochs, out))
    }

    /// Whether the candidate could block (so that an objection to its records matters): the
    /// conditions of `Effect::Block` in `judge` that the index alone can tell.
    fn could_block(&self, candidate: &Candidate) -> bool {
        candidate.key.is_identifier()
            && !candidate.near
            && candidate.slot.in_force_on(self.as_of)
            && candidate.slot.nature() == Some(ListNature::Punitive)
            && candidate.slot.measures & self.restricting != 0
    }

    /// The candidate with its distance to `as_of`, if it can matter at all.
    fn relevant(&self, key: HitKey, slot: super::index::Slot) -> Option<Candidate> {
        let boundary = self.matcher.boundary_days;
        if slot.withdrawn() {
            return None;
        }
        let near_start = slot.days_until_start(self.as_of).abs() <= boundary;
        let near_end = slot
            .days_since_end(self.as_of)
            .is_some_and(|d| d.abs() <= boundary);
        (slot.in_force_on(self.as_of) || near_start || near_end).then_some(Candidate {
            key,
            slot,
            near: near_start || near_end,
        })
    }

    fn judge(
        &self,
        keys: &BidderKeys,
        name: Option<&NormalizedName>,
        candidates: Vec<Candidate>,
        entries: &HashMap<Uuid, ListEntry>,
        objected: &HashSet<Uuid>,
        decision: &mut BidderOut,
    ) {
        let boundary = self.matcher.boundary_days;
        let mut listed: HashSet<Uuid> = HashSet::new();
        for Candidate { key, slot, near } in candidates {
            let id = slot.id();
            let Some(entry) = entries.get(&id) else {
                continue;
            };
            let Some(explanation) = confirm(key, keys, name, entry) else {
                continue; // a key-hash collision
            };
            if !listed.insert(id) {
                continue;
            }
            // Status and period come from the index (the state at the epochs reported);
            // the database supplies the descriptive fields, which never change between
            // versions of an entry.
            let in_force = slot.in_force_on(self.as_of);
            let effective_to = (slot.to != i32::MAX)
                .then(|| Date::from_julian_day(slot.to).ok())
                .flatten();
            let status = match slot.status {
                0 => "active",
                1 => "ended",
                _ => "withdrawn",
            };
            let list = self.catalogue.get(&entry.list);
            let nature = list.map(|l| l.nature);
            // From the slot, like status and period, so that `could_block` (which chose the
            // records whose objection status was read) and this verdict agree.
            let restricts = slot.measures & self.restricting != 0;
            let mut reasons = Vec::new();
            let effect = match nature {
                Some(ListNature::Incentive) => {
                    if in_force && key.is_identifier() {
                        decision.incentives.push(IncentiveOut {
                            list: entry.list.clone(),
                            entry_id: entry.id,
                            measures: entry.measures.clone(),
                            effective_to: effective_to.map(|d| d.to_string()),
                        });
                    }
                    continue;
                }
                Some(ListNature::Punitive) if restricts && (in_force || near) => {
                    if !key.is_identifier() {
                        reasons.push(format!(
                            "matched by {} only, not by USCC / 仅{}相符，统一社会信用代码未命中",
                            key.as_str(),
                            match key {
                                HitKey::OrgCode => "组织机构代码",
                                HitKey::LegalRep => "法定代表人",
                                HitKey::FormerName => "曾用名",
                                HitKey::Core => "字号",
                                _ => "名称",
                            }
                        ));
                    }
                    if near {
                        reasons.push(format!(
                            "the entry starts or ends within {boundary} days of as_of / 名单条目生效或失效日期距核查基准日不足 {boundary} 天"
                        ));
                    }
                    if !in_force {
                        reasons.push(
                            "not in force on as_of, but close to it / 核查基准日不在有效期内，但相距很近"
                                .to_owned(),
                        );
                    }
                    if key.is_identifier()
                        && in_force
                        && reasons.is_empty()
                        && entry.record_ids.iter().any(|id| objected.contains(id))
                    {
                        reasons.push(
                            "a record behind the entry is under objection / 该条目所依据的信用记录正在异议处理中"
                                .to_owned(),
                        );
                    }
                    if reasons.is_empty() {
                        Effect::Block
                    } else {
                        Effect::Review
                    }
                }
                Some(ListNature::Warning) if in_force && key.is_identifier() => Effect::Review,
                _ if in_force => Effect::Notice,
                _ => continue,
            };
            let list_name = list.map_or(entry.list.clone(), |l| l.name_zh.clone());
            match effect {
                Effect::Block => {
                    decision.verdict = Verdict::Block;
                    decision.reasons.push(format!(
                        "on {} ({}) in force at as_of, restricting this kind of project / 列入{}且在有效期内，限制参与此类项目",
                        entry.list, entry.document_no, list_name
                    ));
                }
                Effect::Review => {
                    if decision.verdict == Verdict::Clear {
                        decision.verdict = Verdict::Review;
                    }
                    if reasons.is_empty() {
                        reasons.push(format!(
                            "on the warning list {} / 列入{}",
                            entry.list, list_name
                        ));
                    }
                    decision.reasons.extend(reasons);
                }
                Effect::Notice => {}
            }
            decision.hits.push(HitOut {
                list: entry.list.clone(),
                list_name_zh: list_name,
                entry_id: entry.id,
                entry_version: i32::from(slot.version),
                issuer_region: entry.issuer_region.clone(),
                subject_name: entry.subject_name.clone(),
                authority: entry.authority.clone(),
                document_no: entry.document_no.clone(),
                legal_basis: entry.legal_basis.clone(),
                reason: entry.reason.clone(),
                measures: entry.measures.clone(),
                effective_from: entry.effective_from.to_string(),
                effective_to: effective_to.map(|d| d.to_string()),
                status: status.to_owned(),
                matched_on: key.as_str().to_owned(),
                explanation,
                effect,
                record_ids: entry.record_ids.clone(),
            });
        }
        if decision.verdict == Verdict::Clear && decision.reasons.is_empty() {
            decision.reasons.push(if decision.hits.is_empty() {
                "no list entry matched / 未命中任何名单".to_owned()
            } else {
                "matched entries do not restrict this kind of project / 命中的名单条目不限制此类项目".to_owned()
            });
        }
    }
}

/// A candidate that survived the index-only filter.
struct Candidate {
    key: HitKey,
    slot: super::index::Slot,
    /// The entry starts or ends within `boundary_days` of `as_of`.
    near: bool,
}
