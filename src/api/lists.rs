//! Lists (名单): the catalogue with the epochs this node holds, entries (cursor pages),
//! issuing and ending entries, and the feed children pull list changes from.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{AppJson, Authorized, Caller, Policy, RequestId};
use super::federation::ChildPeer;
use crate::audit::AuditEntry;
use crate::domain::citizen_id::CitizenId;
use crate::domain::lists::{EntryDraft, EntryEnd, EntryStatus, ListEntry, ListType, MEASURES};
use crate::domain::record::{FieldError, date_field, validate_reason};
use crate::domain::subject::SubjectCode;
use crate::error::{ApiError, Problem, ProblemItem};
use crate::federation::wire::{
    ListChangesPage, ListSnapshotPage, MAX_LIST_PAGE, MAX_SNAPSHOT_PAGE,
};
use crate::gateway::keys::Scope;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::lists::{EndError, EntryFilter};

/// Default and largest page of entries.
const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1_000;

/// Reading lists: everyone (lists are published); a key needs `records:read:public`,
/// `records:read:shared` or `match`.
pub struct ReadLists;

impl Policy for ReadLists {
    fn check(caller: &Caller) -> Result<(), ApiError> {
        match caller {
            Caller::ApiKey { key }
                if ![
                    Scope::RecordsReadPublic,
                    Scope::RecordsReadShared,
                    Scope::Match,
                ]
                .iter()
                .any(|scope| key.key.scopes.contains(scope)) =>
            {
                Err(ApiError::forbidden(
                    "missing_scope",
                    "reading lists needs an API key with scope 'records:read:public' or 'match'; ask the node's administrator to grant it",
                    "读取名单需要具有“records:read:public”或“match”权限的 API 密钥，请向节点管理员申请",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Issuing and ending entries: the issuing department's token (role `provider`): the
/// department that decides a listing answers for it (谁认定谁负责).
pub struct IssueLists;

impl Policy for IssueLists {
    fn check(caller: &Caller) -> Result<(), ApiError> {
        match caller {
            Caller::Provider { .. } => Ok(()),
            Caller::Anonymous => Err(ApiError::unauthenticated(
                "authentication_required",
                "issuing list entries needs a bearer token of the deciding department (role provider)",
                "列入或移出名单需要认定部门（provider 角色）的令牌",
            )),
            Caller::ApiKey { .. } => Err(ApiError::forbidden(
                "key_not_accepted",
                "list entries are issued by departments with a bearer token, not with API keys",
                "名单条目由认定部门使用令牌发布，不接受 API 密钥",
            )),
            other => Err(ApiError::forbidden(
                "role_not_allowed",
                format!(
                    "role '{}' cannot issue list entries; the deciding department (role provider) does",
                    other.kind()
                ),
                format!(
                    "角色“{}”不能发布名单条目，须由认定部门（provider 角色）发布",
                    other.kind()
                ),
            )),
        }
    }
}

/// A measure of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeasureOut {
    /// Stable code.
    pub code: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
}

fn measure_out(code: &str) -> MeasureOut {
    let (name_zh, name_en) = MEASURES
        .iter()
        .find(|(known, _, _)| *known == code)
        .map(|(_, zh, en)| (*zh, *en))
        .unwrap_or((code, code));
    MeasureOut {
        code: code.to_owned(),
        name_zh: name_zh.to_owned(),
        name_en: name_en.to_owned(),
    }
}

/// The epoch of one issuer's entries of a list held here.
#[derive(Debug, Serialize, ToSchema)]
pub struct EpochOut {
    /// Issuing node's region.
    pub issuer: String,
    /// The issuer's sequence number of the newest change of this list held here.
    pub epoch: i64,
    /// How far this node has applied the issuer's changes (all lists).
    pub held: i64,
    /// What the parent last said it holds of the issuer's changes (absent for lists issued
    /// here, or before the first pull).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_held: Option<i64>,
    /// True when changes are known to be missing here or the parent has not answered for
    /// longer than `federation.list_stale_after_secs`.
    pub stale: bool,
}

/// One list type with what this node holds of it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "code": "serious_dishonesty", "name_zh": "严重失信主体名单", "name_en": "Serious dishonesty subjects",
    "nature": "punitive",
    "default_measures": [{"code": "restrict_bidding", "name_zh": "限制参与招标投标", "name_en": "barred from tendering and bidding"}],
    "active": 12, "ended": 3, "withdrawn": 0,
    "epochs": [{"issuer": "100000", "epoch": 57, "held": 61, "parent_held": 61, "stale": false}],
    "stale": false
}))]
pub struct ListOut {
    /// Stable code.
    pub code: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// punitive, warning or incentive.
    pub nature: String,
    /// Measures an entry carries unless its issuer names others.
    pub default_measures: Vec<MeasureOut>,
    /// Active entries held here (issued here or above).
    pub active: u64,
    /// Ended entries.
    pub ended: u64,
    /// Withdrawn entries.
    pub withdrawn: u64,
    /// Per issuer, the epoch held.
    pub epochs: Vec<EpochOut>,
    /// True when any issuer's copy is stale, or this node has a parent it has not heard
    /// from for too long.
    pub stale: bool,
}

/// The catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListsOut {
    /// Every list type.
    pub lists: Vec<ListOut>,
}

/// Legal representative, as a caller may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LegalRepresentativeOut {
    /// Name.
    pub name: String,
    /// Citizen ID, masked unless the caller may see personal data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
}

/// A list entry as a caller may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryOut {
    /// Entry id.
    pub id: Uuid,
    /// List code.
    pub list: String,
    /// Region of the issuing node.
    pub issuer_region: String,
    /// Version (1 = as issued).
    pub version: i32,
    /// Subject code; a citizen ID is masked unless the caller may see personal data.
    pub subject_code: String,
    /// `uscc` or `citizen_id`.
    pub subject_kind: String,
    /// Subject name.
    pub subject_name: String,
    /// Former names (曾用名).
    pub former_names: Vec<String>,
    /// Legal representative.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_representative: Option<LegalRepresentativeOut>,
    /// Why the subject is listed.
    pub reason: String,
    /// Issuing authority.
    pub authority: String,
    /// Issuing authority's USCC.
    pub authority_code: String,
    /// Document number of the listing decision.
    pub document_no: String,
    /// Legal basis.
    pub legal_basis: String,
    /// Measures.
    pub measures: Vec<MeasureOut>,
    /// First day in force (`YYYY-MM-DD`).
    pub effective_from: String,
    /// Last day in force (absent: until ended).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_to: Option<String>,
    /// The records behind the entry.
    pub record_ids: Vec<Uuid>,
    /// active, ended or withdrawn.
    pub status: String,
    /// Whether the entry is in force today (Asia/Shanghai).
    pub in_force: bool,
    /// Why it ended or was withdrawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// When issued (RFC 3339).
    pub issued_at: String,
    /// When this version was made (RFC 3339).
    pub updated_at: String,
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// Whether the caller may see the personal ID numbers on an entry: staff, and the issuing
/// authority itself — as for records, never a key and never another department.
fn sees_personal_ids(caller: &Caller, entry: &ListEntry) -> bool {
    match caller {
        Caller::Supervisor { .. } | Caller::Admin { .. } => true,
        Caller::Provider { dept, .. } => dept.as_str() == entry.authority_code,
        Caller::Anonymous | Caller::ApiKey { .. } => false,
    }
}

/// Renders an entry: personal ID numbers masked unless the caller may see them.
pub fn entry_out(caller: &Caller, entry: &ListEntry, today: time::Date) -> EntryOut {
    let personal = sees_personal_ids(caller, entry);
    let subject_code = if personal {
        entry.subject_code.clone()
    } else {
        SubjectCode::parse(&entry.subject_code)
            .map(|code| code.display_masked())
            .unwrap_or_default()
    };
    EntryOut {
        id: entry.id,
        list: entry.list.clone(),
        issuer_region: entry.issuer_region.clone(),
        version: entry.version,
        subject_code,
        subject_kind: entry.subject_kind.clone(),
        subject_name: entry.subject_name.clone(),
        former_names: entry.former_names.clone(),
        legal_representative: entry.legal_representative.as_ref().map(|rep| {
            LegalRepresentativeOut {
                name: rep.name.clone(),
                id_number: rep.id_number.as_deref().map(|id| {
                    if personal {
                        id.to_owned()
                    } else {
                        CitizenId::parse(id)
                            .map(|id| id.masked())
                            .unwrap_or_default()
                    }
                }),
            }
        }),
        reason: entry.reason.clone(),
        authority: entry.authority.clone(),
        authority_code: entry.authority_code.clone(),
        document_no: entry.document_no.clone(),
        legal_basis: entry.legal_basis.clone(),
        measures: entry.measures.iter().map(|m| measure_out(m)).collect(),
        effective_from: entry.effective_from.to_string(),
        effective_to: entry.effective_to.map(|d| d.to_string()),
        record_ids: entry.record_ids.clone(),
        status: entry.status.as_str().to_owned(),
        in_force: entry.in_force_on(today),
        end_reason: entry.end_reason.clone(),
        issued_at: rfc3339(entry.issued_at),
        updated_at: rfc3339(entry.updated_at),
    }
}

fn list_type<'a>(state: &'a AppState, code: &str) -> Result<&'a ListType, ApiError> {
    state.lists.catalogue.get(code).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_list",
            format!(
                "there is no list '{}'; GET /api/v1/lists names every list",
                code.chars().take(64).collect::<String>()
            ),
            "没有这个名单，请通过 GET /api/v1/lists 查看全部名单",
        )
    })
}

async fn audit_read(
    state: &AppState,
    caller: &Caller,
    resource: String,
    request_id: &RequestId,
) -> Result<(), ApiError> {
    if caller.reads_non_public() {
        state
            .store
            .audit(
                state.clock.now(),
                &caller.audit("lists.read", resource, request_id),
            )
            .await?;
    }
    Ok(())
}

/// Whether this node's copy of the lists issued above may be behind: it has a parent and
/// has not pulled from it successfully within `federation.list_stale_after_secs`.
pub fn lists_stale(state: &AppState) -> bool {
    let has_parent = !state.settings.federation.parent_url.is_empty();
    has_parent && {
        let status = state.lists.link_status();
        status
            .last_success_at
            .is_none_or(|at| (state.clock.now() - at).unsigned_abs() > state.lists.stale_after)
    }
}

/// The list catalogue, with the entries and epochs held here.
///
/// For every list: what this node holds (active, ended and withdrawn entries) and, per issuing
/// node, the epoch held and whether it is stale (changes known to be missing, or the parent
/// silent for longer than `federation.list_stale_after_secs`).
#[utoipa::path(
    get, path = "/api/v1/lists", tag = "lists", operation_id = "list_lists",
    security((), ("bearer" = []), ("api_key" = ["records:read:public"]), ("api_key" = ["match"])),
    responses(
        (status = 200, description = "The catalogue", body = ListsOut),
        (status = 401, description = "Malformed, forged or expired credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "API key without a reading scope", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate or daily quota exceeded", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_lists(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<ReadLists>,
    request_id: RequestId,
) -> Result<Json<ListsOut>, ApiError> {
    let holdings = state.store.list_holdings().await?;
    let cursors: BTreeMap<String, crate::store::lists::ListCursor> = state
        .store
        .list_cursors()
        .await?
        .into_iter()
        .map(|cursor| (cursor.issuer.clone(), cursor))
        .collect();
    let heads = state.store.list_heads().await?;
    let has_parent = !state.settings.federation.parent_url.is_empty();
    let link_stale = has_parent && {
        let status = state.lists.link_status();
        status
            .last_success_at
            .is_none_or(|at| (state.clock.now() - at).unsigned_abs() > state.lists.stale_after)
    };
    let me = state.region.to_string();
    let lists = state
        .lists
        .catalogue
        .all()
        .iter()
        .map(|list| {
            let mut out = ListOut {
                code: list.code.clone(),
                name_zh: list.name_zh.clone(),
                name_en: list.name_en.clone(),
                nature: list.nature.as_str().to_owned(),
                default_measures: list
                    .default_measures
                    .iter()
                    .map(|m| measure_out(m))
                    .collect(),
                active: 0,
                ended: 0,
                withdrawn: 0,
                epochs: Vec::new(),
                stale: link_stale,
            };
            for holding in holdings.iter().filter(|h| h.list == list.code) {
                out.active += holding.active;
                out.ended += holding.ended;
                out.withdrawn += holding.withdrawn;
                let held = heads.get(&holding.issuer).copied().unwrap_or(0);
                let parent_held = (holding.issuer != me)
                    .then(|| cursors.get(&holding.issuer).map(|c| c.parent))
                    .flatten();
                let stale =
                    holding.issuer != me && (link_stale || parent_held.is_some_and(|p| p > held));
                out.stale |= stale;
                out.epochs.push(EpochOut {
                    issuer: holding.issuer.clone(),
                    epoch: holding.epoch,
                    held,
                    parent_held,
                    stale,
                });
            }
            out
        })
        .collect();
    audit_read(&state, &caller, "lists".into(), &request_id).await?;
    Ok(Json(ListsOut { lists }))
}

/// Path of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ListPath {
    /// List code, e.g. `serious_dishonesty`.
    pub list: String,
}

/// Path of an entry.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EntryPath {
    /// List code.
    pub list: String,
    /// Entry id.
    pub id: String,
}

/// Filters and paging of an entry listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EntriesQuery {
    /// Only this subject (USCC or citizen ID).
    pub subject: Option<String>,
    /// Only this status: active, ended, withdrawn.
    pub status: Option<String>,
    /// Only entries issued at this node (region code).
    pub issuer: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Entries per page, 1–1,000 (default 100).
    pub limit: Option<u64>,
}

/// A page of entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntriesPage {
    /// Entries, oldest first.
    pub entries: Vec<EntryOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn bad_query(code: &'static str, detail: String, detail_zh: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, detail, detail_zh)
}

fn parse_status(status: &str) -> Result<EntryStatus, ApiError> {
    match status {
        "active" => Ok(EntryStatus::Active),
        "ended" => Ok(EntryStatus::Ended),
        "withdrawn" => Ok(EntryStatus::Withdrawn),
        _ => Err(bad_query(
            "invalid_status",
            "status must be active, ended or withdrawn".into(),
            "status 只能是 active、ended 或 withdrawn",
        )),
    }
}

/// Entries of one list, oldest first, a page at a time.
///
/// Citizen IDs are masked for the public and for keys without `records:read:shared`.
/// Authenticated reads of personal data are audited.
#[utoipa::path(
    get, path = "/api/v1/lists/{list}/entries", tag = "lists", operation_id = "list_entries",
    security((), ("bearer" = []), ("api_key" = ["records:read:public"]), ("api_key" = ["match"])),
    params(ListPath, EntriesQuery),
    responses(
        (status = 200, description = "A page of entries", body = EntriesPage),
        (status = 400, description = "Unknown parameter, bad subject, status, limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Malformed, forged or expired credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "API key without a reading scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such list", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate or daily quota exceeded", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_entries(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<ReadLists>,
    request_id: RequestId,
    Path(path): Path<ListPath>,
    query: Result<Query<EntriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EntriesPage>, ApiError> {
    let list = list_type(&state, &path.list)?;
    let Query(query) = query.map_err(|_| {
        bad_query(
            "invalid_query",
            "invalid query parameters; allowed: subject, status, issuer, cursor, limit".into(),
            "查询参数无效，允许的参数：subject、status、issuer、cursor、limit",
        )
    })?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(bad_query(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
            "limit 必须在 1 到 1000 之间",
        ));
    }
    let subject = match query.subject.as_deref() {
        None => None,
        Some(code) => Some(
            SubjectCode::parse(code)
                .map_err(|error| {
                    bad_query(
                        "invalid_subject",
                        format!("subject: {error}"),
                        "subject 不是有效的统一社会信用代码或公民身份号码",
                    )
                })?
                .storage_key()
                .to_owned(),
        ),
    };
    let status = query.status.as_deref().map(parse_status).transpose()?;
    let after = query
        .cursor
        .as_deref()
        .map(|cursor| {
            Uuid::parse_str(cursor).map_err(|_| {
                bad_query(
                    "invalid_cursor",
                    "cursor is not one this node issued; pass next_cursor from the previous page unchanged".into(),
                    "cursor 无效，请原样传入上一页返回的 next_cursor",
                )
            })
        })
        .transpose()?;
    let filter = EntryFilter {
        subject,
        status,
        issuer: query.issuer.clone(),
    };
    let entries = state
        .store
        .list_entries_page(&list.code, &filter, after, limit)
        .await?;
    let next_cursor = (entries.len() as u64 == limit)
        .then(|| entries.last().map(|e| e.id.to_string()))
        .flatten();
    let today = state.clock.today_shanghai();
    audit_read(&state, &caller, format!("list:{}", list.code), &request_id).await?;
    Ok(Json(EntriesPage {
        entries: entries
            .iter()
            .map(|e| entry_out(&caller, e, today))
            .collect(),
        next_cursor,
    }))
}

fn parse_entry_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| {
        bad_query(
            "invalid_id",
            "the entry id must be a UUID as returned by this node".into(),
            "名单条目编号必须是本节点返回的 UUID",
        )
    })
}

/// One entry.
#[utoipa::path(
    get, path = "/api/v1/lists/{list}/entries/{id}", tag = "lists", operation_id = "get_list_entry",
    security((), ("bearer" = []), ("api_key" = ["records:read:public"]), ("api_key" = ["match"])),
    params(EntryPath),
    responses(
        (status = 200, description = "The entry", body = EntryOut),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Malformed, forged or expired credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "API key without a reading scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such list or entry", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate or daily quota exceeded", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_list_entry(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<ReadLists>,
    request_id: RequestId,
    Path(path): Path<EntryPath>,
) -> Result<Json<EntryOut>, ApiError> {
    let list = list_type(&state, &path.list)?;
    let id = parse_entry_id(&path.id)?;
    let entry = state
        .store
        .list_entry(id)
        .await?
        .filter(|entry| entry.list == list.code)
        .ok_or_else(|| ApiError::not_found("the list entry", "该名单条目"))?;
    audit_read(&state, &caller, format!("list_entry:{id}"), &request_id).await?;
    Ok(Json(entry_out(
        &caller,
        &entry,
        state.clock.today_shanghai(),
    )))
}

/// Legal representative as submitted.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalRepresentativeIn {
    /// Name.
    pub name: Option<String>,
    /// Citizen ID number.
    pub id_number: Option<String>,
}

/// An entry as the deciding department issues it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "subject_code": "91445122MA4W123460",
    "subject_name": "饶平县某某建筑工程有限公司",
    "former_names": ["饶平县某某建材有限公司"],
    "legal_representative": {"name": "张三", "id_number": "445122198503121231"},
    "reason": "在政府投资项目招标中串通投标，情节严重",
    "authority": "广东省发展和改革委员会",
    "document_no": "粤发改信用〔2026〕15号",
    "legal_basis": "《失信行为纠正后的信用信息修复管理办法（试行）》；《招标投标法》第五十三条",
    "effective_from": "2026-06-01",
    "effective_to": "2029-05-31",
    "record_ids": []
}))]
pub struct EntryIn {
    /// Subject: USCC or citizen ID.
    #[schema(required = true)]
    pub subject_code: Option<String>,
    /// Subject name (1–200 characters).
    #[schema(required = true)]
    pub subject_name: Option<String>,
    /// Former names (曾用名), at most 20.
    #[serde(default)]
    pub former_names: Vec<String>,
    /// Legal representative (法定代表人).
    pub legal_representative: Option<LegalRepresentativeIn>,
    /// Why the subject is listed.
    #[schema(required = true)]
    pub reason: Option<String>,
    /// Name of the deciding authority.
    #[schema(required = true)]
    pub authority: Option<String>,
    /// Document number of the listing decision (idempotency key with list and subject).
    #[schema(required = true)]
    pub document_no: Option<String>,
    /// Legal basis.
    #[schema(required = true)]
    pub legal_basis: Option<String>,
    /// Measure codes; absent = the list's default measures.
    pub measures: Option<Vec<String>>,
    /// First day in force, `YYYY-MM-DD`.
    #[schema(required = true)]
    pub effective_from: Option<String>,
    /// Last day in force, `YYYY-MM-DD` (absent: until ended).
    pub effective_to: Option<String>,
    /// Ids of records held by this node that the listing rests on (at most 100).
    #[serde(default)]
    pub record_ids: Vec<String>,
}

fn location(list: &str, id: Uuid) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&format!("/api/v1/lists/{list}/entries/{id}")) {
        headers.insert(header::LOCATION, value);
    }
    headers
}

/// Runs a write on its own task, so that a client disconnect cannot cancel it between commit
/// and the in-memory audit-chain update.
async fn run_write<T: Send + 'static, E: Send + 'static>(
    write: impl Future<Output = Result<T, E>> + Send + 'static,
) -> Result<Result<T, E>, ApiError> {
    tokio::spawn(write)
        .await
        .map_err(|error| ApiError::internal(format!("write task failed: {error}")))
}

/// How long a list write waits for this node's match index to take its change.
///
/// The index follows committed changes on its own task (woken at once by the commit); the
/// wait adds 0.2-0.5 ms to a write (BENCHMARKS.md, "List writes"). The bound keeps a write
/// from hanging on an index that is failing, which logs and retries on its own.
const INDEX_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits (bounded) until the match index reflects the change just committed, so that the
/// issuing authority, or a platform it tells, screening right after the answer is judged
/// against the entry.
async fn index_reflects(state: &AppState, issuer: &str, seq: i64) {
    if !state.matcher.reflects(issuer, seq, INDEX_WAIT).await {
        tracing::warn!(
            issuer,
            seq,
            "the match index has not taken a list change yet; it is stored and the index will catch up"
        );
    }
}

/// Issue an entry on a list.
///
/// The deciding department (role `provider`) issues; the entry is signed by this node, stored
/// with its audit row and replicated to every node below. Idempotent on (list, subject,
/// document number): a replay answers 200 with the stored entry. When the answer arrives,
/// this node's match API already screens against the entry.
#[utoipa::path(
    post, path = "/api/v1/lists/{list}/entries", tag = "lists", operation_id = "issue_list_entry",
    security(("bearer" = [])),
    params(ListPath),
    request_body = EntryIn,
    responses(
        (status = 201, description = "Entry issued", body = EntryOut, headers(("Location" = String, description = "URL of the entry"))),
        (status = 200, description = "The same document was issued already; the stored entry is returned", body = EntryOut),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a provider, or an API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such list", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each listed in `errors`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable; nothing was written", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn issue_list_entry(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<IssueLists>,
    request_id: RequestId,
    Path(path): Path<ListPath>,
    AppJson(body): AppJson<EntryIn>,
) -> Result<Response, ApiError> {
    let dept = caller.require_provider()?.clone();
    let list = list_type(&state, &path.list)?.clone();
    let rep = body.legal_representative.unwrap_or_default();
    let draft = EntryDraft {
        subject_code: body.subject_code,
        subject_name: body.subject_name,
        former_names: body.former_names,
        legal_representative_name: rep.name,
        legal_representative_id: rep.id_number,
        reason: body.reason,
        authority: body.authority,
        document_no: body.document_no,
        legal_basis: body.legal_basis,
        measures: body.measures,
        effective_from: body.effective_from,
        effective_to: body.effective_to,
        record_ids: body.record_ids,
    };
    let content = draft
        .validate(&list)
        .map_err(|errors| ApiError::validation(&errors))?;
    let missing = state.store.missing_records(&content.record_ids).await?;
    if !missing.is_empty() {
        return Err(ApiError::validation(&[]).with_items(
            missing
                .iter()
                .map(|id| ProblemItem {
                    index: None,
                    field: Some("record_ids".into()),
                    code: "record_not_found".into(),
                    detail: format!("record {id} is not held by this node"),
                    detail_zh: format!("本节点没有记录 {id}"),
                })
                .collect(),
        ));
    }
    let at = state.clock.now();
    let entry = ListEntry {
        id: Uuid::now_v7(),
        list: list.code.clone(),
        issuer_region: state.region.to_string(),
        version: 1,
        subject_code: content.subject.storage_key().to_owned(),
        subject_kind: content.subject.kind_str().to_owned(),
        subject_name: content.subject_name,
        former_names: content.former_names,
        legal_representative: content.legal_representative,
        reason: content.reason,
        authority: content.authority,
        authority_code: dept.as_str().to_owned(),
        document_no: content.document_no,
        legal_basis: content.legal_basis,
        measures: content.measures,
        effective_from: content.effective_from,
        effective_to: content.effective_to,
        record_ids: content.record_ids,
        status: EntryStatus::Active,
        end_reason: None,
        issued_at: at,
        updated_at: at,
    };
    let audit = caller.audit(
        "lists.issue",
        format!("list:{}:entry:{}", list.code, entry.id),
        &request_id,
    );
    let store = state.store.clone();
    let (entry, seq) = run_write(async move { store.issue_list_entry(entry, at, audit).await })
        .await?
        .map_err(|error| match error {
            StoreError::Conflict(_) => ApiError::new(
                StatusCode::CONFLICT,
                "concurrent_issue",
                "the same document was being issued concurrently; retry to get the stored entry",
                "同一文书正在被同时发布，请重试以获取已保存的条目",
            ),
            other => other.into(),
        })?;
    if let Some(seq) = seq {
        index_reflects(&state, &entry.issuer_region, seq).await;
    }
    let body = Json(entry_out(&caller, &entry, state.clock.today_shanghai()));
    Ok(if seq.is_some() {
        (StatusCode::CREATED, location(&list.code, entry.id), body).into_response()
    } else {
        (StatusCode::OK, body).into_response()
    })
}

/// How an entry ends.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "信用修复申请经审核通过", "last_day": "2026-06-14"}))]
pub struct EndIn {
    /// Why (repair approved, decision revoked by a court …).
    #[schema(required = true)]
    pub reason: Option<String>,
    /// Last day in force, `YYYY-MM-DD` (default: yesterday in Asia/Shanghai, so the entry is
    /// out of force from today).
    pub last_day: Option<String>,
    /// True when the entry was issued in error: it is then treated as never in force.
    #[serde(default)]
    pub withdrawn: bool,
}

/// End (or withdraw) an entry.
///
/// Only the authority that issued the entry, at the node where it was issued. The change is
/// signed and replicated down like the issuance; when the answer arrives, this node's match
/// API already screens with the entry ended.
#[utoipa::path(
    post, path = "/api/v1/lists/{list}/entries/{id}/end", tag = "lists", operation_id = "end_list_entry",
    security(("bearer" = [])),
    params(EntryPath),
    request_body = EndIn,
    responses(
        (status = 200, description = "The entry after the change", body = EntryOut),
        (status = 400, description = "Malformed JSON or id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another authority's entry, issued at another node, or not a provider", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such list or entry", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The entry is not active, or changed concurrently", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn end_list_entry(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<IssueLists>,
    request_id: RequestId,
    Path(path): Path<EntryPath>,
    AppJson(body): AppJson<EndIn>,
) -> Result<Json<EntryOut>, ApiError> {
    let dept = caller.require_provider()?.clone();
    let list = list_type(&state, &path.list)?.clone();
    let id = parse_entry_id(&path.id)?;
    let mut errors: Vec<FieldError> = Vec::new();
    let reason = validate_reason(body.reason.as_deref()).map_err(|e| errors.push(e));
    let today = state.clock.today_shanghai();
    let last_day = match body.last_day.as_deref() {
        None => today.previous_day(),
        Some(day) => date_field("last_day", day, &mut errors),
    };
    let (Ok(reason), Some(last_day), true) = (reason, last_day, errors.is_empty()) else {
        return Err(ApiError::validation(&errors));
    };
    match state.store.list_entry(id).await? {
        Some(entry) if entry.list == list.code => {}
        _ => return Err(ApiError::not_found("the list entry", "该名单条目")),
    }
    let end = EntryEnd {
        reason,
        last_day,
        withdrawn: body.withdrawn,
    };
    let audit = caller.audit(
        if end.withdrawn {
            "lists.withdraw"
        } else {
            "lists.end"
        },
        format!("list:{}:entry:{id}", list.code),
        &request_id,
    );
    let store = state.store.clone();
    let me = state.region;
    let at = state.clock.now();
    let authority = dept.as_str().to_owned();
    let (entry, seq) = run_write(async move {
        store
            .end_list_entry(me, id, &authority, &end, at, audit)
            .await
    })
    .await?
    .map_err(|error| match error {
        EndError::NotFound => ApiError::not_found("the list entry", "该名单条目"),
        EndError::IssuedElsewhere { issuer } => ApiError::forbidden(
            "entry_issued_elsewhere",
            format!("the entry was issued at node {issuer}; only that node's authority can end it"),
            format!("该条目由 {issuer} 节点发布，只能由发布节点的认定部门移出"),
        ),
        EndError::OtherAuthority => ApiError::forbidden(
            "other_authority",
            "the entry was issued by another authority; only the issuing authority can end it",
            "该条目由其他部门认定，只能由认定部门移出",
        ),
        EndError::Invalid(field) if field.code == "entry_not_active" => ApiError::new(
            StatusCode::CONFLICT,
            "entry_not_active",
            field.message,
            field.message_zh,
        ),
        EndError::Invalid(field) => ApiError::validation(&[field]),
        EndError::Store(StoreError::VersionMismatch { .. }) => ApiError::new(
            StatusCode::CONFLICT,
            "version_conflict",
            "the entry changed while this request ran; read it again and retry",
            "该条目已被同时修改，请重新读取后重试",
        ),
        EndError::Store(other) => other.into(),
    })?;
    index_reflects(&state, &entry.issuer_region, seq).await;
    Ok(Json(entry_out(&caller, &entry, today)))
}

/// Cursor of a child: what it holds per issuer.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// Per issuer, the highest sequence number the child holds: `100000:57,440000:3`.
    /// Issuers not named are sent from the start.
    pub after: Option<String>,
    /// Most changes in the page (1–1,000, default 1,000).
    pub limit: Option<u64>,
    /// When nothing is new, hold the request up to this many seconds (long poll; at most the
    /// request timeout less 5 s).
    pub wait_secs: Option<u64>,
    /// The child can take snapshots (`/federation/v1/lists/snapshot`): the page may then name,
    /// instead of changes, issuers to take a snapshot of (`snapshot`).
    pub snapshot: Option<bool>,
}

/// Which snapshot page a child asks for.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SnapshotQuery {
    /// Issuing node's region.
    pub issuer: String,
    /// The epoch to take the snapshot at (as named in a changes page's `snapshot`).
    pub epoch: i64,
    /// Entry id the previous page ended with (`next_after`); absent for the first page.
    pub after: Option<uuid::Uuid>,
    /// Most entries in the page (1–1,000, default 1,000).
    pub limit: Option<u64>,
}

fn parse_after(after: &str) -> Result<BTreeMap<String, i64>, ApiError> {
    let invalid = || {
        bad_query(
            "invalid_cursor",
            "after must be a comma-separated list of <issuer region>:<sequence number>".into(),
            "after 应为以逗号分隔的“行政区划代码:序号”列表",
        )
    };
    let mut out = BTreeMap::new();
    for part in after.split(',').filter(|p| !p.is_empty()) {
        let (issuer, seq) = part.split_once(':').ok_or_else(invalid)?;
        crate::domain::region::RegionCode::parse(issuer).map_err(|_| invalid())?;
        let seq: i64 = seq.parse().map_err(|_| invalid())?;
        if seq < 0 {
            return Err(invalid());
        }
        out.insert(issuer.to_owned(), seq);
    }
    Ok(out)
}

/// List changes for a child node (mutual TLS), long-polled.
///
/// For each issuer the changes after the child's cursor, contiguous and in order, so that
/// after applying the page the child holds the issuer's lists at one epoch. With nothing new
/// the request is held up to `wait_secs`.
#[utoipa::path(
    get, path = "/federation/v1/lists/changes", tag = "federation", operation_id = "pull_list_changes",
    security(("mtls" = [])),
    params(ChangesQuery),
    responses(
        (status = 200, description = "Changes after the cursor, and the heads held here", body = serde_json::Value),
        (status = 400, description = "Malformed cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No client certificate, or one without a region", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The certificate's region is not a child of this node", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn pull_list_changes(
    State(state): State<AppState>,
    ChildPeer(child): ChildPeer,
    request_id: RequestId,
    query: Result<Query<ChangesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ListChangesPage>, ApiError> {
    let Query(query) = query.map_err(|_| {
        bad_query(
            "invalid_query",
            "invalid query parameters; allowed: after, limit, wait_secs, snapshot".into(),
            "查询参数无效，允许的参数：after、limit、wait_secs、snapshot",
        )
    })?;
    let after = parse_after(query.after.as_deref().unwrap_or(""))?;
    let limit = query.limit.unwrap_or(MAX_LIST_PAGE as u64);
    if !(1..=MAX_LIST_PAGE as u64).contains(&limit) {
        return Err(bad_query(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_LIST_PAGE}"),
            "limit 必须在 1 到 1000 之间",
        ));
    }
    let max_wait = state.settings.http.request_timeout_secs.saturating_sub(5);
    let wait = Duration::from_secs(query.wait_secs.unwrap_or(0).min(max_wait));
    let policy = crate::store::lists::SnapshotPolicy {
        child_can_snapshot: query.snapshot.unwrap_or(false),
        min_changes: state.settings.federation.list_snapshot_min_changes,
    };
    // Subscribe before reading, so a change committed in between still wakes the wait.
    let mut changed = state.store.subscribe_lists();
    let (mut heads, mut changes, mut snapshot) = state
        .store
        .list_changes_for_child(&after, limit, policy)
        .await?;
    if changes.is_empty() && snapshot.is_empty() && !wait.is_zero() {
        let _ = tokio::time::timeout(wait, changed.changed()).await;
        (heads, changes, snapshot) = state
            .store
            .list_changes_for_child(&after, limit, policy)
            .await?;
    }
    if !snapshot.is_empty() && !policy.child_can_snapshot {
        metrics::counter!("integrity_federation_refused_total", "peer" => child.to_string(), "code" => "snapshot_required").increment(1);
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "snapshot_required",
            format!(
                "this node holds the lists of {} only from a snapshot on: pull with snapshot=true and take a snapshot first",
                snapshot.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            "本节点仅持有自快照起的名单变更，请以 snapshot=true 拉取并先获取快照",
        ));
    }
    if !changes.is_empty() {
        // Entries can carry personal data: a peer's read is audited like a staff read.
        let audit = AuditEntry {
            actor_kind: "peer".into(),
            actor_id: format!("region:{child}"),
            action: "lists.pull".into(),
            resource: "lists".into(),
            outcome: "ok".into(),
            request_id: request_id.0,
            detail: format!("changes={}", changes.len()),
        };
        state.store.audit(state.clock.now(), &audit).await?;
    }
    Ok(Json(ListChangesPage {
        heads,
        changes,
        snapshot,
    }))
}

/// A page of an issuer's lists at a fixed epoch, for a child taking a snapshot (mutual TLS).
///
/// Every entry the issuer had at `epoch` (ended and withdrawn ones as tombstones), by id, each
/// as the issuer's signed change that produced its state at that epoch, so the child verifies
/// the snapshot change by change. The epoch stays fixed across pages while the lists move on;
/// the child stages the pages and swaps them in at once, then pulls the changes after it.
#[utoipa::path(
    get, path = "/federation/v1/lists/snapshot", tag = "federation", operation_id = "pull_list_snapshot",
    security(("mtls" = [])),
    params(SnapshotQuery),
    responses(
        (status = 200, description = "A page of the snapshot", body = serde_json::Value),
        (status = 400, description = "Malformed issuer, epoch, cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No client certificate, or one without a region", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The certificate's region is not a child of this node", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This node cannot serve that epoch (any more): ask for the changes again", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn pull_list_snapshot(
    State(state): State<AppState>,
    ChildPeer(child): ChildPeer,
    request_id: RequestId,
    query: Result<Query<SnapshotQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ListSnapshotPage>, ApiError> {
    let Query(query) = query.map_err(|_| {
        bad_query(
            "invalid_query",
            "invalid query parameters; required: issuer, epoch; allowed: after, limit".into(),
            "查询参数无效，必填：issuer、epoch；可选：after、limit",
        )
    })?;
    crate::domain::region::RegionCode::parse(&query.issuer).map_err(|_| {
        bad_query(
            "invalid_issuer",
            "issuer must be a region code".into(),
            "issuer 必须是行政区划代码",
        )
    })?;
    let limit = query.limit.unwrap_or(MAX_SNAPSHOT_PAGE as u64);
    if !(1..=MAX_SNAPSHOT_PAGE as u64).contains(&limit) {
        return Err(bad_query(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_SNAPSHOT_PAGE}"),
            "limit 必须在 1 到 1000 之间",
        ));
    }
    let page = state
        .store
        .list_snapshot_page(&query.issuer, query.epoch, query.after, limit)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "snapshot_epoch_unavailable",
                format!(
                    "this node cannot serve the lists of {} at epoch {}; pull the changes again to be told the epoch to take",
                    query.issuer, query.epoch
                ),
                format!(
                    "本节点无法提供 {} 在第 {} 版的名单快照，请重新拉取变更以获知可用版本",
                    query.issuer, query.epoch
                ),
            )
        })?;
    // Entries can carry personal data: a peer's read is audited like a staff read.
    let audit = AuditEntry {
        actor_kind: "peer".into(),
        actor_id: format!("region:{child}"),
        action: "lists.snapshot".into(),
        resource: "lists".into(),
        outcome: "ok".into(),
        request_id: request_id.0,
        detail: format!(
            "issuer={} epoch={} entries={}",
            page.issuer,
            page.epoch,
            page.entries.len()
        ),
    };
    state.store.audit(state.clock.now(), &audit).await?;
    Ok(Json(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_and_refuse_garbage() {
        let parsed = parse_after("100000:57,440000:3").unwrap();
        assert_eq!(parsed.get("100000"), Some(&57));
        assert_eq!(parsed.get("440000"), Some(&3));
        assert!(parse_after("").unwrap().is_empty());
        for bad in ["100000", "100000:-1", "abc:1", "100000:x", "999999:1"] {
            assert!(parse_after(bad).is_err(), "{bad}");
        }
    }
}
