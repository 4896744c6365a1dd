//! Roll-up statistics (汇总统计) of the records a node holds, for a region and each of its child
//! regions, so every level sees its area at a glance and the figures add up level by level.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

use super::extract::{Authorized, Caller, Policy, RequestId};
use crate::domain::region::RegionCode;
use crate::error::{ApiError, Problem};
use crate::gateway::keys::Scope;
use crate::state::AppState;
use crate::store::Visibility;
use crate::store::stats::StatsRow;

/// Reading statistics: the node's departments and staff, or a key with `stats:read`.
pub struct ReadStats;

impl Policy for ReadStats {
    fn check(caller: &Caller) -> Result<(), ApiError> {
        match caller {
            Caller::Anonymous => Err(ApiError::unauthenticated(
                "authentication_required",
                "statistics need a bearer token or an API key with scope 'stats:read'",
                "统计数据需要令牌或具有“stats:read”权限的 API 密钥",
            )),
            Caller::ApiKey { key } if !key.key.scopes.contains(&Scope::StatsRead) => {
                Err(ApiError::forbidden(
                    "missing_scope",
                    "the API key does not have scope 'stats:read'; ask the node's administrator to grant it",
                    "API 密钥没有“stats:read”权限，请向节点管理员申请",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Path of a region.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RegionPath {
    /// GB/T 2260 region code (this node's region or one inside it).
    pub code: String,
}

/// Counts of one region.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct RegionCountsOut {
    /// Region code.
    pub region: String,
    /// Region name.
    pub name: String,
    /// Records originating in the region or below.
    pub total: u64,
    /// By kind.
    pub by_kind: BTreeMap<String, u64>,
    /// By domain.
    pub by_domain: BTreeMap<String, u64>,
    /// By status.
    pub by_status: BTreeMap<String, u64>,
    /// By publication level.
    pub by_publication_level: BTreeMap<String, u64>,
}

impl RegionCountsOut {
    fn new(region: RegionCode) -> Self {
        RegionCountsOut {
            region: region.to_string(),
            name: region.name().to_owned(),
            ..RegionCountsOut::default()
        }
    }

    fn add(&mut self, row: &StatsRow) {
        self.total += row.count;
        *self.by_kind.entry(row.kind.clone()).or_default() += row.count;
        *self.by_domain.entry(row.domain.clone()).or_default() += row.count;
        *self.by_status.entry(row.status.clone()).or_default() += row.count;
        *self
            .by_publication_level
            .entry(row.publication_level.clone())
            .or_default() += row.count;
    }
}

/// A region's roll-up and its children's.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "region": "445100", "name": "潮州市", "total": 3,
    "by_kind": {"dishonesty": 2, "administrative_penalty": 1},
    "by_domain": {"bidding": 3}, "by_status": {"active": 2, "corrected": 1},
    "by_publication_level": {"public": 3},
    "children": [{"region": "445122", "name": "饶平县", "total": 3, "by_kind": {"dishonesty": 2, "administrative_penalty": 1},
                  "by_domain": {"bidding": 3}, "by_status": {"active": 2, "corrected": 1}, "by_publication_level": {"public": 3}}],
    "public_only": false, "generated_at": "2026-06-15T02:00:00Z"
}))]
pub struct RegionStatsOut {
    /// The region itself (records of the region and everything below it).
    #[serde(flatten)]
    pub counts: RegionCountsOut,
    /// Each direct child region. Records submitted at the region's own node belong to the
    /// region but to none of its children, so the children can sum to less than the total.
    pub children: Vec<RegionCountsOut>,
    /// True when only public records are counted (keys of non-government holders).
    pub public_only: bool,
    /// When computed (RFC 3339).
    pub generated_at: String,
}

/// Counts of records by kind, domain, status and publication level for a region and each of
/// its child regions, computed from what this node holds (its own records and those its
/// descendants pushed up).
#[utoipa::path(
    get, path = "/api/v1/stats/regions/{code}", tag = "statistics", operation_id = "get_region_stats",
    security(("bearer" = []), ("api_key" = ["stats:read"])),
    params(RegionPath),
    responses(
        (status = 200, description = "The roll-up", body = RegionStatsOut),
        (status = 400, description = "Not a current GB/T 2260 code", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "API key without stats:read, or a region outside this node's", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate or daily quota exceeded", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_region_stats(
    State(state): State<AppState>,
    Authorized(caller, ..): Authorized<ReadStats>,
    request_id: RequestId,
    Path(path): Path<RegionPath>,
) -> Result<Json<RegionStatsOut>, ApiError> {
    let region = RegionCode::parse(&path.code).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_region",
            error.to_string(),
            error.message_zh(),
        )
    })?;
    if !state.region.is_same_or_ancestor_of(region) {
        return Err(ApiError::forbidden(
            "region_out_of_scope",
            format!(
                "this node ({}) holds the records of its own region and below; ask the node of {region} or of a level above it",
                state.region
            ),
            format!(
                "本节点（{}）只汇总本地区及下级的记录，请向 {region} 或其上级节点查询",
                state.region
            ),
        ));
    }
    let public_only = caller.visibility() == Visibility::Public;
    let rows = state.store.record_stats(region, public_only).await?;
    let mut counts = RegionCountsOut::new(region);
    let mut children: Vec<RegionCountsOut> = region
        .children()
        .iter()
        .map(|child| RegionCountsOut::new(*child))
        .collect();
    for row in &rows {
        counts.add(row);
        let Ok(origin) = RegionCode::parse(&row.origin_region) else {
            continue;
        };
        if let Some(child) = region
            .children()
            .iter()
            .position(|child| child.is_same_or_ancestor_of(origin))
        {
            children[child].add(row);
        }
    }
    if caller.reads_non_public() {
        state
            .store
            .audit(
                state.clock.now(),
                &caller.audit("stats.read", format!("region:{region}"), &request_id),
            )
            .await?;
    }
    Ok(Json(RegionStatsOut {
        counts,
        children,
        public_only,
        generated_at: state.clock.now().format(&Rfc3339).unwrap_or_default(),
    }))
}
