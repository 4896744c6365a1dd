//! GB/T 2260 administrative division codes (行政区划代码).
//!
//! This module owns the region hierarchy (nation → province → prefecture →
//! county) as of 2024-12-31 and the set of every county-level-and-above code
//! in use since 1981, both compiled into the binary from `assets/regions/`
//! (source, commit and licence in `assets/regions/README.md`). It never reads
//! a file at run time and knows nothing of HTTP, SQL or the clock.
//!
//! Two notions of "known" exist on purpose:
//! - [`RegionCode`] is a *current* code (or the national code `100000`); it
//!   is what region-scoped data and access rules are keyed on.
//! - [`is_known_any_time`] also accepts codes abolished since 1981, because
//!   unified social credit codes and citizen ID numbers keep the code that was
//!   valid when they were issued.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

/// Current codes with their parents, derived from the MCA 2024 list.
const CURRENT_CSV: &str = include_str!("../../assets/regions/regions-2024-with-parents.csv");
/// Every code record 1981–2024 (current and abolished), upstream `result.csv`.
const HISTORY_CSV: &str = include_str!("../../assets/regions/mca-areacodes-history-1981-2024.csv");

const NATIONAL_VALUE: u32 = 100_000;
const NATIONAL_NAME: &str = "全国";

/// The national code `100000`, used by national-level nodes and by unified
/// social credit codes of national registrations. Same as [`RegionCode::NATIONAL`].
pub const NATIONAL: RegionCode = RegionCode::NATIONAL;

/// A current GB/T 2260 region code, or the national code `100000`.
///
/// Valid by construction: the only ways to obtain one are [`RegionCode::parse`]
/// (and its [`FromStr`] impl), [`RegionCode::NATIONAL`] and the navigation
/// methods, all of which yield codes present in the embedded 2024 table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct RegionCode(u32);

/// Level of a region in the hierarchy.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum RegionLevel {
    /// The whole country (`100000`).
    National,
    /// Province-level division (省级: provinces, autonomous regions, municipalities, SARs).
    Province,
    /// Prefecture-level division (地级).
    Prefecture,
    /// County-level division (县级), including province-administered ones.
    County,
}

impl RegionLevel {
    /// Stable lower-case English name: `national`, `province`, `prefecture` or `county`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::National => "national",
            Self::Province => "province",
            Self::Prefecture => "prefecture",
            Self::County => "county",
        }
    }

    /// Chinese name: 国家级, 省级, 地级 or 县级.
    #[must_use]
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::National => "国家级",
            Self::Province => "省级",
            Self::Prefecture => "地级",
            Self::County => "县级",
        }
    }
}

/// What the embedded table says about one current region.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RegionInfo {
    /// The code itself.
    pub code: RegionCode,
    /// Official short name, e.g. `饶平县` (not prefixed with its parents).
    pub name: &'static str,
    /// Level in the hierarchy.
    pub level: RegionLevel,
    /// Direct parent; provinces have [`NATIONAL`], the nation has none.
    pub parent: Option<RegionCode>,
}

/// Why a string is not a [`RegionCode`].
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RegionError {
    /// The input is not exactly six ASCII digits.
    #[error("region code must be exactly 6 digits (GB/T 2260), e.g. 110105")]
    NotSixDigits,
    /// Six digits, but not a current GB/T 2260 code nor `100000`.
    #[error(
        "region code {code} is not a current GB/T 2260 code (table as of 2024-12-31); check it or use its successor code"
    )]
    Unknown {
        /// The six digits that were given.
        code: String,
    },
}

impl RegionError {
    /// Stable machine-readable error code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotSixDigits => "region_not_six_digits",
            Self::Unknown { .. } => "region_unknown",
        }
    }

    /// The message in Simplified Chinese.
    #[must_use]
    pub fn message_zh(&self) -> String {
        match self {
            Self::NotSixDigits => "行政区划代码必须为6位数字（GB/T 2260），例如110105".to_owned(),
            Self::Unknown { code } => {
                format!(
                    "行政区划代码{code}不是现行有效的代码（截至2024年12月31日），请核对或改用其新代码"
                )
            }
        }
    }
}

impl RegionCode {
    /// The national code `100000`. It is in neither embedded table and is
    /// accepted explicitly.
    pub const NATIONAL: RegionCode = RegionCode(NATIONAL_VALUE);

    /// Parses exactly six ASCII digits (no trimming) naming a current code
    /// or `100000`.
    ///
    /// # Errors
    /// [`RegionError::NotSixDigits`] for any other shape,
    /// [`RegionError::Unknown`] for six digits that are not a current code.
    pub fn parse(s: &str) -> Result<Self, RegionError> {
        let value = six_digits(s).ok_or(RegionError::NotSixDigits)?;
        if table().nodes.contains_key(&value) {
            Ok(Self(value))
        } else {
            Err(RegionError::Unknown { code: s.to_owned() })
        }
    }

    /// The six digits as a `String` (same as `to_string()`).
    #[must_use]
    pub fn code(self) -> String {
        self.to_string()
    }

    /// The code as a number, e.g. `445122`.
    #[must_use]
    pub const fn as_u32(self) -> u32 {
        self.0
    }

    /// Everything the table says about this region.
    #[must_use]
    pub fn info(self) -> &'static RegionInfo {
        &self.node().info
    }

    /// Official short name, e.g. `青岛市`; `全国` for [`NATIONAL`].
    #[must_use]
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Level in the hierarchy.
    #[must_use]
    pub fn level(self) -> RegionLevel {
        self.info().level
    }

    /// Direct parent: a province's parent is [`NATIONAL`]; the nation has none.
    #[must_use]
    pub fn parent(self) -> Option<RegionCode> {
        self.info().parent
    }

    /// Direct children in ascending code order; the nation's children are the
    /// 34 province-level divisions, a county has none.
    #[must_use]
    pub fn children(self) -> &'static [RegionCode] {
        &self.node().children
    }

    /// Ancestors, nearest first, ending with [`NATIONAL`] (empty for the nation).
    pub fn ancestors(self) -> impl Iterator<Item = RegionCode> + 'static {
        std::iter::successors(self.parent(), |code| code.parent())
    }

    /// Whether `other` is this region or lies inside it.
    #[must_use]
    pub fn is_same_or_ancestor_of(self, other: RegionCode) -> bool {
        self == other || other.ancestors().any(|ancestor| ancestor == self)
    }

    fn node(self) -> &'static Node {
        match table().nodes.get(&self.0) {
            Some(node) => node,
            // Unreachable: a RegionCode is only ever built from a key of this
            // immutable table (see the type's documentation).
            None => unreachable!("RegionCode {:06} is not in the region table", self.0),
        }
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl FromStr for RegionCode {
    type Err = RegionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Whether `code` (exactly six ASCII digits) is a current code, a code
/// abolished since 1981, or the national code `100000`.
///
/// Use this to validate the region part of unified social credit codes and
/// the address part of citizen ID numbers, which keep the code of their
/// issue date. Note that the embedded history does not list the former
/// "市辖区"/"县" grouping codes (e.g. `440101`, `110100`) nor local
/// development-zone codes (e.g. `320594` 苏州工业园区) that registration
/// authorities do use; see [`is_known_province_prefix`] for the fallback.
#[must_use]
pub fn is_known_any_time(code: &str) -> bool {
    six_digits(code).is_some_and(|value| {
        let table = table();
        table.nodes.contains_key(&value) || table.historical.contains(&value)
    })
}

/// Whether the first two characters of `code` are the prefix of a current
/// province-level division (`XX0000` is a current province), or `code` is the
/// national code `100000`. `code` must be six ASCII digits.
///
/// This is the lenient fallback for codes the tables do not list: old citizen
/// ID address codes, former "市辖区" grouping codes and development-zone codes
/// used by registration authorities.
#[must_use]
pub fn is_known_province_prefix(code: &str) -> bool {
    six_digits(code).is_some_and(|value| {
        value == NATIONAL_VALUE
            || table()
                .nodes
                .get(&(value / 10_000 * 10_000))
                .is_some_and(|node| node.info.level == RegionLevel::Province)
    })
}

/// The six digits as a number, if `s` is exactly six ASCII digits.
fn six_digits(s: &str) -> Option<u32> {
    let bytes = s.as_bytes();
    if bytes.len() != 6 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0, |acc, &b| acc * 10 + u32::from(b - b'0')),
    )
}

struct Node {
    info: RegionInfo,
    children: Vec<RegionCode>,
}

struct Table {
    /// Current codes plus the national code.
    nodes: HashMap<u32, Node>,
    /// Every code in the 1981–2024 history, any status.
    historical: HashSet<u32>,
}

static TABLE: LazyLock<Table> = LazyLock::new(load_table);

fn table() -> &'static Table {
    &TABLE
}

#[expect(
    clippy::expect_used,
    reason = "the tables are compiled into the binary; the test `embedded_tables_parse` proves they parse, so a failure here is a build defect"
)]
fn load_table() -> Table {
    build_table(CURRENT_CSV, HISTORY_CSV).expect("embedded region tables must parse")
}

/// Lines of an embedded CSV without BOM, line terminator or blank lines.
///
/// Hand-parsed with a plain comma split rather than a CSV crate: the files are
/// tiny, fixed and trusted (compiled in, checked by tests), contain no quoted
/// fields, and this keeps a parse dependency out of a hot static.
fn csv_records(text: &'static str) -> impl Iterator<Item = (usize, Vec<&'static str>)> {
    text.strip_prefix('\u{feff}')
        .unwrap_or(text)
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(index, line)| (index + 1, line.split(',').collect()))
}

fn build_table(current_csv: &'static str, history_csv: &'static str) -> Result<Table, String> {
    let mut nodes: HashMap<u32, Node> = HashMap::with_capacity(3_300);
    nodes.insert(
        NATIONAL_VALUE,
        Node {
            info: RegionInfo {
                code: RegionCode::NATIONAL,
                name: NATIONAL_NAME,
                level: RegionLevel::National,
                parent: None,
            },
            children: Vec::new(),
        },
    );

    let mut records = csv_records(current_csv);
    match records.next() {
        Some((_, header)) if header.first() == Some(&"code") => {}
        _ => return Err("current table: missing header".to_owned()),
    }
    for (line, fields) in records {
        let [code, name, level, parent, ..] = fields[..] else {
            return Err(format!("current table line {line}: too few fields"));
        };
        let value =
            six_digits(code).ok_or_else(|| format!("current table line {line}: bad code"))?;
        let level = match level {
            "province" => RegionLevel::Province,
            "prefecture" => RegionLevel::Prefecture,
            "county" => RegionLevel::County,
            _ => return Err(format!("current table line {line}: bad level")),
        };
        let parent = match (level, parent) {
            (RegionLevel::Province, "") => RegionCode::NATIONAL,
            (RegionLevel::Province, _) | (_, "") => {
                return Err(format!("current table line {line}: bad parent"));
            }
            (_, parent) => RegionCode(
                six_digits(parent)
                    .ok_or_else(|| format!("current table line {line}: bad parent"))?,
            ),
        };
        let node = Node {
            info: RegionInfo {
                code: RegionCode(value),
                name,
                level,
                parent: Some(parent),
            },
            children: Vec::new(),
        };
        if nodes.insert(value, node).is_some() {
            return Err(format!("current table line {line}: duplicate code"));
        }
    }

    // Link children to parents and check that every parent is one level up
    // (a county may hang directly under its province).
    let links: Vec<(RegionCode, RegionLevel, RegionCode)> = nodes
        .values()
        .filter_map(|node| {
            let info = &node.info;
            info.parent.map(|parent| (info.code, info.level, parent))
        })
        .collect();
    for (child, child_level, parent) in links {
        let parent_node = nodes
            .get_mut(&parent.0)
            .ok_or_else(|| format!("current table: parent {parent} of {child} is missing"))?;
        let fits = matches!(
            (parent_node.info.level, child_level),
            (RegionLevel::National, RegionLevel::Province)
                | (
                    RegionLevel::Province,
                    RegionLevel::Prefecture | RegionLevel::County
                )
                | (RegionLevel::Prefecture, RegionLevel::County)
        );
        if !fits {
            return Err(format!(
                "current table: {child} cannot be a child of {parent}"
            ));
        }
        parent_node.children.push(child);
    }
    for node in nodes.values_mut() {
        node.children.sort_unstable();
    }

    let mut records = csv_records(history_csv);
    match records.next() {
        Some((_, header)) if header.first() == Some(&"代码") => {}
        _ => return Err("history table: missing header".to_owned()),
    }
    let mut historical = HashSet::with_capacity(6_500);
    for (line, fields) in records {
        let value = fields
            .first()
            .and_then(|code| six_digits(code))
            .ok_or_else(|| format!("history table line {line}: bad code"))?;
        historical.insert(value);
    }

    Ok(Table { nodes, historical })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    #[test]
    fn embedded_tables_parse() {
        let table = build_table(CURRENT_CSV, HISTORY_CSV).unwrap();
        let count = |level| {
            table
                .nodes
                .values()
                .filter(|node| node.info.level == level)
                .count()
        };
        assert_eq!(count(RegionLevel::National), 1);
        assert_eq!(count(RegionLevel::Province), 34);
        assert_eq!(count(RegionLevel::Prefecture), 333);
        assert_eq!(count(RegionLevel::County), 2_846);
        assert_eq!(table.historical.len(), 6_450);
        // Every current code is also in the history.
        assert!(
            table
                .nodes
                .keys()
                .all(|value| *value == NATIONAL_VALUE || table.historical.contains(value))
        );
    }

    #[test]
    fn national() {
        assert_eq!(RegionCode::parse("100000"), Ok(NATIONAL));
        assert_eq!(NATIONAL.to_string(), "100000");
        assert_eq!(NATIONAL.level(), RegionLevel::National);
        assert_eq!(NATIONAL.parent(), None);
        assert_eq!(NATIONAL.ancestors().count(), 0);
        assert_eq!(NATIONAL.children().len(), 34);
        assert_eq!(NATIONAL.children()[0], code("110000"));
        assert!(NATIONAL.children().contains(&code("820000")));
        assert!(NATIONAL.is_same_or_ancestor_of(code("445122")));
        assert!(is_known_any_time("100000"));
    }

    #[test]
    fn parse_rejects_bad_shapes() {
        for bad in [
            "",
            "11010",
            "1101050",
            " 110105",
            "110105 ",
            "11010a",
            "１１０１０５",
            "+11010",
        ] {
            assert_eq!(
                RegionCode::parse(bad),
                Err(RegionError::NotSixDigits),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parse_rejects_unknown_and_abolished() {
        // 110103 崇文区 was abolished in 2010.
        assert_eq!(
            RegionCode::parse("110103"),
            Err(RegionError::Unknown {
                code: "110103".to_owned()
            })
        );
        assert!(is_known_any_time("110103"));
        assert!(RegionCode::parse("999999").is_err());
        assert!(!is_known_any_time("999999"));
        assert!(!is_known_any_time("11010"));
        assert!(!is_known_any_time("abcdef"));
    }

    #[test]
    fn hierarchy_raoping() {
        let raoping = code("445122");
        assert_eq!(raoping.name(), "饶平县");
        assert_eq!(raoping.level(), RegionLevel::County);
        assert_eq!(raoping.parent(), Some(code("445100")));
        assert_eq!(
            raoping.ancestors().collect::<Vec<_>>(),
            vec![code("445100"), code("440000"), NATIONAL]
        );
        assert_eq!(code("445100").name(), "潮州市");
        assert!(code("440000").is_same_or_ancestor_of(raoping));
        assert!(raoping.is_same_or_ancestor_of(raoping));
        assert!(!raoping.is_same_or_ancestor_of(code("445100")));
        assert!(!code("110000").is_same_or_ancestor_of(raoping));
        assert!(raoping.children().is_empty());
        assert_eq!(raoping.info().code, raoping);
    }

    #[test]
    fn hierarchy_spot_checks() {
        // 梅河口 stays under 通化 in the MCA list.
        assert_eq!(code("220581").parent(), Some(code("220500")));
        let qingdao: Vec<String> = code("370200").children().iter().map(|c| c.code()).collect();
        assert_eq!(
            qingdao,
            [
                "370202", "370203", "370211", "370212", "370213", "370214", "370215", "370281",
                "370283", "370285"
            ]
        );
        assert_eq!(code("320900").children().len(), 9);
        // Municipality districts and province-administered counties hang under the province.
        assert_eq!(code("110105").parent(), Some(code("110000")));
        assert_eq!(code("419001").parent(), Some(code("410000")));
        assert_eq!(code("659001").level(), RegionLevel::County);
        assert_eq!(code("110000").parent(), Some(NATIONAL));
        assert_eq!(code("810000").name(), "香港特别行政区");
    }

    #[test]
    fn every_child_points_back_to_its_parent() {
        for node in table().nodes.values() {
            for child in &node.children {
                assert_eq!(child.parent(), Some(node.info.code));
                assert!(child.level() > node.info.level);
            }
        }
    }

    #[test]
    fn province_prefix() {
        assert!(is_known_province_prefix("440101")); // former 广州市市辖区
        assert!(is_known_province_prefix("320594")); // 苏州工业园区 registration code
        assert!(is_known_province_prefix("100000"));
        assert!(!is_known_province_prefix("830000"));
        assert!(!is_known_province_prefix("990101"));
        assert!(!is_known_province_prefix("10000"));
    }

    #[test]
    fn error_contract() {
        let errors = [
            RegionError::NotSixDigits,
            RegionError::Unknown {
                code: "999999".to_owned(),
            },
        ];
        for error in errors {
            let text = error.to_string();
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
            assert!(!text.ends_with('.'));
            assert!(error.code().starts_with("region_"));
            assert!(!error.message_zh().is_empty());
        }
    }

    #[test]
    fn level_names() {
        assert_eq!(RegionLevel::Prefecture.as_str(), "prefecture");
        assert_eq!(RegionLevel::County.name_zh(), "县级");
    }
}
