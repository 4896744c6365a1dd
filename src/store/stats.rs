//! Roll-up statistics: counts of the records a node holds, grouped by origin region, kind,
//! domain, status and publication level. The API folds them into a region and its children.

use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::entities::records;
use super::{Store, StoreError};
use crate::domain::region::RegionCode;

/// One group of records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsRow {
    /// Region of the node where the records were submitted.
    pub origin_region: String,
    /// Record kind.
    pub kind: String,
    /// Domain.
    pub domain: String,
    /// Status.
    pub status: String,
    /// Publication level.
    pub publication_level: String,
    /// Number of records.
    pub count: u64,
}

/// The code prefix shared by every region inside `region` (GB/T 2260 codes nest by digit
/// pairs: 44xxxx inside 440000, 4451xx inside 445100); `None` for the nation.
fn descendant_prefix(region: RegionCode) -> Option<String> {
    if region == RegionCode::NATIONAL {
        return None;
    }
    let mut code = region.to_string();
    while code.len() > 2 && code.ends_with("00") {
        code.truncate(code.len() - 2);
    }
    Some(code)
}

impl Store {
    /// Counts of the records held here that originate in `region` or below, grouped; only
    /// public-level records when `public_only`.
    pub async fn record_stats(
        &self,
        region: RegionCode,
        public_only: bool,
    ) -> Result<Vec<StatsRow>, StoreError> {
        let mut query = records::Entity::find()
            .select_only()
            .column(records::Column::OriginRegion)
            .column(records::Column::Kind)
            .column(records::Column::Domain)
            .column(records::Column::Status)
            .column(records::Column::PublicationLevel)
            .column_as(Expr::expr(Func::count(Expr::col(records::Column::Id))), "n")
            .group_by(records::Column::OriginRegion)
            .group_by(records::Column::Kind)
            .group_by(records::Column::Domain)
            .group_by(records::Column::Status)
            .group_by(records::Column::PublicationLevel);
        if let Some(prefix) = descendant_prefix(region) {
            query = query.filter(records::Column::OriginRegion.starts_with(prefix));
        }
        if public_only {
            // What the public view shows: public level, in a publicly visible status.
            query = query
                .filter(records::Column::PublicationLevel.eq("public"))
                .filter(records::Column::Status.is_in(["active", "under_objection", "corrected"]));
        }
        let rows: Vec<(String, String, String, String, String, i64)> =
            query.into_tuple().all(&self.db).await?;
        Ok(rows
            .into_iter()
            .filter(|row| {
                RegionCode::parse(&row.0).is_ok_and(|origin| region.is_same_or_ancestor_of(origin))
            })
            .map(
                |(origin_region, kind, domain, status, publication_level, n)| StatsRow {
                    origin_region,
                    kind,
                    domain,
                    status,
                    publication_level,
                    count: u64::try_from(n).unwrap_or(0),
                },
            )
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_follow_the_code_pairs() {
        let code = |s| RegionCode::parse(s).unwrap();
        assert_eq!(descendant_prefix(code("440000")).as_deref(), Some("44"));
        assert_eq!(descendant_prefix(code("445100")).as_deref(), Some("4451"));
        assert_eq!(descendant_prefix(code("445122")).as_deref(), Some("445122"));
        assert_eq!(descendant_prefix(RegionCode::NATIONAL), None);
    }
}
