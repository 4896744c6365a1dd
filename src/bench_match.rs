//! `integrity-node bench match`: the match API (issue 5) against a bare hyper server, in one
//! process run.
//!
//! 1. **Data.** N synthetic but realistic list entries (valid USCCs with both check characters,
//!    Chinese company names with region prefix, trade name, industry and legal form, some former
//!    names, legal representatives with valid citizen IDs, spread over the built-in lists with
//!    realistic periods and statuses) go straight into a fresh embedded SQLite database
//!    (`Store::insert_list_entries_for_benchmark`), or an existing one is reused (`--data-dir`);
//!    with `--database-url`, into a fresh PostgreSQL database, dropped afterwards.
//! 2. **Index.** `Matcher::start` on that database, timed, with the index's own bytes and the
//!    process's resident growth per entry.
//! 3. **Load.** The real node (`Application::build` + `run_until_stopped`, plain HTTP on
//!    loopback) with an API key of scope `match` (the gateway's limiter on, its rate far above
//!    what the machine serves) and its durable decision log, and a bare hyper server answering
//!    a fixed JSON body of a typical answer's size, driven by one load generator in alternating
//!    rounds. Requests carry 1–5 bidders, a mix of listed and clear USCCs and names.
//! 4. **Batch.** The server time of a 1,000-bidder request: the node's full router called
//!    in-process (`tower::ServiceExt::oneshot`, admission, JSON, screening, decision log,
//!    answer body collected), no socket, each run on an idle node (after the database copy of
//!    the run before) and, for comparison, back to back; plus the same request over HTTP.
//!
//! Numbers are meaningful only from a release build.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Value, json};
use time::{Date, OffsetDateTime};
use tokio::net::TcpListener;
use tower::ServiceExt;
use uuid::Uuid;

use crate::app::{Application, install_crypto_provider, open_store};
use crate::audit::AuditEntry;
use crate::bench_gateway::resident_bytes;
use crate::config::Settings;
use crate::domain::citizen_id;
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::lists::{EntryStatus, LegalRepresentative, ListCatalogue, ListEntry};
use crate::domain::region::RegionCode;
use crate::domain::uscc::{self, Uscc};
use crate::gateway::keys::{ApiKey, Scope, generate};
use crate::matching::Matcher;
use crate::matching::index::HitKey;
use crate::store::{ConnectSettings, Store};

/// Options of `bench match`.
#[derive(Clone, Debug, clap::Args)]
pub struct MatchArgs {
    /// List entries loaded.
    #[arg(long, default_value_t = 10_000_000)]
    pub entries: u64,
    /// Concurrent keep-alive connections of the load generator.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Seconds per measured round (each server runs `rounds` rounds, alternating).
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Rounds per server.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// 1,000-bidder requests timed for the batch figure.
    #[arg(long, default_value_t = 30)]
    pub batch_runs: usize,
    /// Keep the node's data directory here and reuse it in later runs: if its database already
    /// holds `--entries` list entries, loading is skipped. Default: a temporary directory,
    /// removed afterwards.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Empty the page cache of the database files before the index build (as after a reboot),
    /// and time a second cold build without the read-ahead (`match.prewarm_index = false`)
    /// as its baseline.
    #[arg(long)]
    pub cold: bool,
    /// Which load mixes to run (`both`: the realistic one, then the heavy-hit one).
    #[arg(long, value_enum, default_value_t = ScenarioChoice::Both)]
    pub scenario: ScenarioChoice,
    /// Run on PostgreSQL: a `postgres://` URL of a server and a database the user can create
    /// databases from. The run creates a fresh `bench_<id>` database there, loads it, and drops
    /// it afterwards (also when it fails). Omit for embedded SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
    /// With `--database-url`: use this database instead of a fresh one and keep it, so that a
    /// later run with the same name reuses the loaded entries (as `--data-dir` does for
    /// SQLite). Created and migrated if missing; the name must start with `bench_`.
    #[arg(long, requires = "database_url")]
    pub keep_database: Option<String>,
}

/// The `--scenario` option of `bench match`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScenarioChoice {
    /// Mostly clear bidders, as at a real bid opening.
    Realistic,
    /// The adversarial mix with many hits.
    Heavy,
    /// Both, one after the other.
    Both,
}

impl ScenarioChoice {
    fn scenarios(self) -> Vec<Scenario> {
        match self {
            ScenarioChoice::Realistic => vec![Scenario::Realistic],
            ScenarioChoice::Heavy => vec![Scenario::HeavyHits],
            ScenarioChoice::Both => vec![Scenario::Realistic, Scenario::HeavyHits],
        }
    }
}

/// Entries generated and inserted per transaction.
const LOAD_CHUNK: u64 = 100_000;
/// Distinct small requests the load generator cycles through.
const REQUESTS: usize = 4_096;
/// Bidders in the batch request (the API's maximum).
const BATCH_BIDDERS: usize = 1_000;

// ---------------------------------------------------------------------------------------------
// Synthetic data
// ---------------------------------------------------------------------------------------------

/// The USCC alphabet (GB 32100), in value order.
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Distinct organisation-code bodies (8 characters of the USCC alphabet).
const BODY_SPACE: u128 = 31u128.pow(8);

/// Characters of trade names (字号), one per `char`.
const TRADE_CHARS: &str = "恒达盛华兴鑫源宏昌隆泰丰安顺利通嘉瑞祥富凯锦德信诚金鼎永辉创新力佳和美康健宇星海天龙凤福益亿万联众方圆正远博维立豪精晟鸿腾飞晨阳光明俊峰岭江湖川泉林森茂荣耀汇聚融伟卓越志成航洲涛润泽雅致颖睿智勤毅骏驰超凡启铭石玉琳瑶虹霞云霖晶晖煜炜烨坤乾元亨贞宝昊旭东汉威友义仁华景欣悦";
/// Industry words (in `names`' industry table, so the trade-name core drops them).
const INDUSTRIES: &[&str] = &[
    "建筑工程",
    "建设工程",
    "装饰工程",
    "市政工程",
    "园林绿化",
    "商贸",
    "贸易",
    "科技",
    "电子科技",
    "信息技术",
    "网络科技",
    "机械设备",
    "食品",
    "物流",
    "运输",
    "医药",
    "环保科技",
    "建材",
    "实业",
    "投资",
    "房地产开发",
    "劳务",
    "电力工程",
    "水利工程",
    "餐饮管理",
    "物业管理",
    "农业发展",
    "文化传媒",
    "新能源科技",
    "检测技术",
    "工程咨询",
    "供应链",
    "包装材料",
    "汽车销售",
    "服装",
    "五金机电",
];
/// Legal forms of enterprises, with the share (in 20ths) of each.
const LEGAL_FORMS: &[(&str, u64)] = &[
    ("有限公司", 14),
    ("有限责任公司", 3),
    ("股份有限公司", 1),
    ("集团有限公司", 1),
    ("分公司", 1),
];
/// Characters of the trade names of clear bidders in the realistic scenario: none is in
/// [`TRADE_CHARS`], so no clear bidder shares a name key or trade-name core with an entry.
const CLEAR_TRADE_CHARS: &str = "甄蔚璟珑琦瑾璐琰珏琨璋瑜璇珩玮琛瑭璨骐骥麟麒鹭鹤雁莺翎翊翱舜尧禹澜沐朴桐楠柏樾枫棠杉桦榕梧芷蕙兰芸萱蓉薇菁苒荷莲";
const SMALL_TRADES: &[&str] = &["建材", "五金", "食品", "服装", "日用品", "水产", "茶叶"];
const SURNAMES: &str =
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余";
const GIVEN_CHARS: &str =
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文斌辉鹏海波玲浩宇欣晨琳";
const REASONS_PUNITIVE: &[&str] = &[
    "在政府采购活动中提供虚假材料谋取中标",
    "串通投标，损害招标人及其他投标人利益",
    "有履行能力而拒不履行生效法律文书确定的义务",
    "以他人名义投标或以其他方式弄虚作假骗取中标",
    "拖欠农民工工资，经责令限期支付逾期未支付",
    "违法分包、转包工程，情节严重",
    "偷逃税款数额较大，经税务机关认定为重大税收违法失信主体",
];
const REASONS_RED: &[&str] = &[
    "连续三年纳税信用评价为A级",
    "获评省级守合同重信用企业",
    "在信用承诺履约中表现良好，被评为诚信典型",
];
const BASES: &[&str] = &[
    "《中华人民共和国招标投标法》第五十四条",
    "《中华人民共和国政府采购法》第七十七条",
    "《最高人民法院关于公布失信被执行人名单信息的若干规定》第一条",
    "《失信行为纠正后的信用信息修复管理办法（试行）》",
    "《广东省社会信用条例》第三十二条",
];

/// SplitMix64: a fixed, well-mixed function of `n` (the data set is the same in every run).
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<T: Copy>(items: &[T], h: u64) -> T {
    items[(h % items.len() as u64) as usize]
}

/// County-level regions (leaves of the region tree), for registration regions and prefixes.
fn counties() -> Vec<RegionCode> {
    fn leaves(code: RegionCode, out: &mut Vec<RegionCode>) {
        if code.children().is_empty() {
            out.push(code);
        }
        for child in code.children() {
            leaves(*child, out);
        }
    }
    let mut out = Vec::new();
    leaves(RegionCode::NATIONAL, &mut out);
    out.retain(|code| *code != RegionCode::NATIONAL);
    out
}

/// The synthetic world: subject `s` is a fixed enterprise or individual business; entry `n` of
/// the list data set names subject `subject_of(n)`.
struct World {
    counties: Vec<RegionCode>,
    trade_chars: Vec<char>,
    surnames: Vec<char>,
    given_chars: Vec<char>,
    clear_chars: Vec<char>,
    catalogue: ListCatalogue,
    /// First day of the issuance period, and its length in days.
    first_day: Date,
    days: i64,
}

/// One subject's identity.
struct Subject {
    uscc: String,
    name: String,
    former_name: Option<String>,
    rep_name: String,
    rep_id: Option<String>,
}

impl World {
    fn new(today: Date) -> anyhow::Result<World> {
        let first_day = Date::from_calendar_date(2019, time::Month::January, 1)?;
        Ok(World {
            counties: counties(),
            trade_chars: TRADE_CHARS.chars().collect(),
            surnames: SURNAMES.chars().collect(),
            given_chars: GIVEN_CHARS.chars().collect(),
            clear_chars: CLEAR_TRADE_CHARS.chars().collect(),
            catalogue: ListCatalogue::new(&[]).map_err(|e| anyhow::anyhow!(e))?,
            first_day,
            days: (today - first_day).whole_days().max(1),
        })
    }

    fn county(&self, s: u64) -> RegionCode {
        pick(&self.counties, mix(s ^ 0xC0))
    }

    /// A valid USCC, unique per subject: `9` (market regulation), `1` enterprise or `2`
    /// individual business, the county, an organisation-code body that is a bijection of `s`,
    /// the GB 11714 and GB 32100 check characters.
    fn uscc(&self, s: u64) -> anyhow::Result<String> {
        let mut value = (u128::from(s) * 1_000_003 + 12_345_678_901) % BODY_SPACE;
        let mut body = [b'0'; 8];
        for slot in body.iter_mut().rev() {
            *slot = USCC_ALPHABET[(value % 31) as usize];
            value /= 31;
        }
        let body = std::str::from_utf8(&body)?;
        let kind = if self.individual(s) { "92" } else { "91" };
        let org_check = uscc::compute_organization_check(body).context("organisation code")?;
        let first_17 = format!("{kind}{}{body}{org_check}", self.county(s));
        let check = uscc::compute_check_character(&first_17).context("check character")?;
        Ok(format!("{first_17}{check}"))
    }

    fn individual(&self, s: u64) -> bool {
        mix(s ^ 0x1D).is_multiple_of(10)
    }

    fn trade_name(&self, h: u64) -> String {
        let len = match h % 10 {
            0 => 2,
            1..=6 => 3,
            _ => 4,
        };
        (0..len)
            .map(|i| pick(&self.trade_chars, mix(h.wrapping_add(i))))
            .collect()
    }

    fn company_name(&self, s: u64, variant: u64) -> String {
        let county = self.county(s);
        let h = mix(s ^ (variant << 40) ^ 0x4E);
        let prefix = match (h >> 8) % 10 {
            0..=5 => county.name().to_owned(),
            6..=8 => county
                .parent()
                .filter(|p| *p != RegionCode::NATIONAL)
                .map_or_else(|| county.name().to_owned(), |p| p.name().to_owned()),
            _ => county
                .ancestors()
                .find(|p| p.parent() == Some(RegionCode::NATIONAL))
                .map_or_else(|| county.name().to_owned(), |p| p.name().to_owned()),
        };
        let trade = self.trade_name(mix(s ^ 0x7A ^ (variant << 32)));
        if self.individual(s) {
            let form = if (h >> 16).is_multiple_of(2) {
                "经营部"
            } else {
                "商行"
            };
            return format!("{prefix}{trade}{}{form}", pick(SMALL_TRADES, h >> 20));
        }
        let industry = pick(INDUSTRIES, h >> 20);
        let mut roll = (h >> 32) % 20;
        let mut form = LEGAL_FORMS[0].0;
        for (candidate, share) in LEGAL_FORMS {
            if roll < *share {
                form = candidate;
                break;
            }
            roll -= share;
        }
        if form == "分公司" {
            let city = county.parent().unwrap_or(county).name();
            return format!("{prefix}{trade}{industry}有限公司{city}分公司");
        }
        format!("{prefix}{trade}{industry}{form}")
    }

    fn citizen_id(&self, s: u64) -> anyhow::Result<String> {
        let h = mix(s ^ 0x1D_CA4D);
        let county = self.county(s);
        let year = 1955 + h % 46;
        let month = 1 + (h >> 8) % 12;
        let day = 1 + (h >> 16) % 28;
        let sequence = (h >> 24) % 1_000;
        let first_17 = format!("{county}{year:04}{month:02}{day:02}{sequence:03}");
        let check = citizen_id::compute_check_digit(&first_17).context("citizen id check")?;
        Ok(format!("{first_17}{check}"))
    }

    fn subject(&self, s: u64) -> anyhow::Result<Subject> {
        let h = mix(s ^ 0x5B);
        let given: String = (0..1 + (h >> 4) % 2)
            .map(|i| pick(&self.given_chars, mix(h ^ i)))
            .collect();
        Ok(Subject {
            uscc: self.uscc(s)?,
            name: self.company_name(s, 0),
            former_name: (h % 100 < 15).then(|| self.company_name(s, 1)),
            rep_name: format!("{}{given}", pick(&self.surnames, h >> 12)),
            rep_id: if h % 100 < 85 {
                Some(self.citizen_id(s)?)
            } else {
                None
            },
        })
    }

    /// Entry `n` names subject `n`, except one in 20 that names the subject of the entry before
    /// (the same company on a second list or under a second decision).
    fn subject_of(n: u64) -> u64 {
        if n > 0 && mix(n ^ 0x5E).is_multiple_of(20) {
            n - 1
        } else {
            n
        }
    }

    fn entry(&self, n: u64, total: u64) -> anyhow::Result<ListEntry> {
        let s = World::subject_of(n);
        let subject = self.subject(s)?;
        let h = mix(n ^ 0xE7);
        let list = match h % 100 {
            0..=44 => "serious_dishonesty",
            45..=87 => "judgment_defaulters",
            88..=93 => "red_list",
            94..=97 => "abnormal_operations",
            _ => "procurement_serious_violations",
        };
        let measures = self
            .catalogue
            .get(list)
            .map(|l| l.default_measures.clone())
            .unwrap_or_default();
        // Issued in order over the period, so ids (UUIDv7 from the issue time) ascend with n.
        let offset = (i128::from(n) * i128::from(self.days) / i128::from(total.max(1))) as i64;
        let issued_day = self.first_day + time::Duration::days(offset);
        let issued_at = issued_day
            .with_hms(9, 0, 0)?
            .assume_offset(time::UtcOffset::from_hms(8, 0, 0)?)
            .to_offset(time::UtcOffset::UTC)
            + time::Duration::seconds((h >> 40) as i64 % 28_800);
        let years = |y: i64| issued_day + time::Duration::days(365 * y - 1);
        let mut effective_to = match list {
            "serious_dishonesty" => Some(years(3)),
            "judgment_defaulters" if (h >> 8) % 10 < 7 => None,
            "judgment_defaulters" => Some(years(2)),
            "red_list" => Some(years(1 + (h >> 8) as i64 % 3)),
            "abnormal_operations" => None,
            _ => Some(years(1 + (h >> 8) as i64 % 3)),
        };
        let (status, version, end_reason) = match (h >> 16) % 100 {
            0..=7 => {
                effective_to =
                    Some(issued_day + time::Duration::days(200 + (h >> 24) as i64 % 300));
                (
                    EntryStatus::Ended,
                    2,
                    Some("已履行义务，信用修复".to_owned()),
                )
            }
            8 => (
                EntryStatus::Withdrawn,
                2,
                Some("错误列入，予以撤销".to_owned()),
            ),
            _ => (EntryStatus::Active, 1, None),
        };
        let county = self.county(s);
        let province = county
            .ancestors()
            .find(|p| p.parent() == Some(RegionCode::NATIONAL))
            .unwrap_or(RegionCode::NATIONAL);
        let year = issued_day.year();
        let k = 1 + n % 99_991;
        let (issuer, authority, document_no, reason) = match list {
            "judgment_defaulters" => (
                RegionCode::NATIONAL,
                format!("{}人民法院", county.name()),
                format!("（{year}）{}执{k}号", &county.to_string()[2..]),
                pick(REASONS_PUNITIVE, h >> 28).to_owned(),
            ),
            "red_list" => (
                province,
                format!("{}发展和改革委员会", province.name()),
                format!("{}发改信用〔{year}〕{k}号", province.name()),
                pick(REASONS_RED, h >> 28).to_owned(),
            ),
            "abnormal_operations" => (
                province,
                format!("{}市场监督管理局", county.name()),
                format!("{}市监异〔{year}〕{k}号", county.name()),
                "通过登记的住所或者经营场所无法联系".to_owned(),
            ),
            _ => (
                province,
                format!("{}发展和改革委员会", province.name()),
                format!("{}信用惩〔{year}〕{k}号", province.name()),
                pick(REASONS_PUNITIVE, h >> 28).to_owned(),
            ),
        };
        let id_bytes = n.to_be_bytes();
        let random = [
            0x5A,
            0xC3,
            id_bytes[0],
            id_bytes[1],
            id_bytes[2],
            id_bytes[3],
            id_bytes[4],
            id_bytes[5],
            id_bytes[6],
            id_bytes[7],
        ];
        let millis = (issued_at.unix_timestamp_nanos() / 1_000_000) as u64;
        let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
        let record = Uuid::from_u64_pair(mix(n ^ 0x4ECD), mix(n ^ 0x4ECE));
        Ok(ListEntry {
            id,
            list: list.to_owned(),
            issuer_region: issuer.to_string(),
            version,
            subject_code: subject.uscc,
            subject_kind: "uscc".to_owned(),
            subject_name: subject.name,
            former_names: subject.former_name.into_iter().collect(),
            legal_representative: Some(LegalRepresentative {
                name: subject.rep_name,
                id_number: subject.rep_id,
            }),
            reason,
            authority,
            authority_code: "11100000000013127D".to_owned(),
            document_no,
            legal_basis: pick(BASES, h >> 36).to_owned(),
            measures,
            effective_from: issued_day,
            effective_to,
            record_ids: vec![record],
            status,
            end_reason,
            issued_at,
            updated_at: issued_at,
        })
    }

    /// A bidder for request `r`, position `j`, under `scenario` (see [`Scenario`]).
    fn bidder(&self, scenario: Scenario, r: u64, j: u64, total: u64) -> anyhow::Result<Value> {
        let h = mix(r.wrapping_mul(1_000_003) ^ j ^ 0xB1D);
        let reference = format!("B{j}");
        let listed = || self.subject(World::subject_of((h >> 8) % total));
        // Per mille of bidders that are listed (USCC and name), then named like a listed
        // subject without its USCC; the rest are clear.
        let (exact, name_only) = match scenario {
            Scenario::Realistic => (10, 15),
            Scenario::HeavyHits => (150, 220),
        };
        match h % 1_000 {
            roll if roll < exact => {
                let subject = listed()?;
                Ok(json!({"reference": reference, "uscc": subject.uscc, "name": subject.name}))
            }
            roll if roll < name_only => {
                let subject = listed()?;
                Ok(json!({"reference": reference, "name": subject.name}))
            }
            _ => {
                let subject = match scenario {
                    Scenario::Realistic => self.clear_subject(total, h >> 8)?,
                    // Subjects past the data set are on no list (their USCCs are distinct),
                    // but their names come from the data's own generator.
                    Scenario::HeavyHits => self.subject(total + (h >> 8) % (1 << 36))?,
                };
                let mut bidder =
                    json!({"reference": reference, "uscc": subject.uscc, "name": subject.name});
                if (h >> 4).is_multiple_of(2)
                    && let Some(id) = subject.rep_id
                {
                    bidder["legal_representative"] =
                        json!({"name": subject.rep_name, "id_number": id});
                }
                Ok(bidder)
            }
        }
    }

    /// A subject on no list, for the realistic scenario: a USCC whose organisation code no
    /// listed subject has (subject numbers past the data set, below the size of the
    /// organisation-code space, where `uscc` is a bijection), and a company name whose trade
    /// name is drawn from [`CLEAR_TRADE_CHARS`], which no listed name uses, so that neither its
    /// name key nor its trade-name core is in the data.
    fn clear_subject(&self, total: u64, h: u64) -> anyhow::Result<Subject> {
        let space = u64::try_from(BODY_SPACE)?.saturating_sub(total).max(1);
        let s = total + h % space;
        let mut subject = self.subject(s)?;
        let county = self.county(s);
        let trade: String = (0..2 + h % 3)
            .map(|i| pick(&self.clear_chars, mix(h ^ (i << 48))))
            .collect();
        let industry = pick(INDUSTRIES, mix(h ^ 0x1A));
        subject.name = format!("{}{trade}{industry}有限公司", county.name());
        subject.former_name = None;
        Ok(subject)
    }

    fn request(
        &self,
        scenario: Scenario,
        r: u64,
        n_bidders: usize,
        total: u64,
        as_of: &str,
    ) -> anyhow::Result<Bytes> {
        let bidders = (0..n_bidders as u64)
            .map(|j| self.bidder(scenario, r, j, total))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let body = json!({
            "project": {"id": format!("BENCH-{r:06}"), "name": "县道改造工程施工", "kind": "bidding",
                        "region": "445122", "as_of": as_of},
            "bidders": bidders,
        });
        Ok(Bytes::from(serde_json::to_vec(&body)?))
    }
}

/// The load's mix of bidders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    /// A real bid opening: 98.5 % of bidders are on no list (a valid USCC nobody listed has,
    /// and a plausible company name no entry shares, not even its trade name), 1.0 % are a
    /// listed subject (USCC and name), 0.5 % carry a listed subject's name without a USCC
    /// (name-only near hits, which go to review).
    Realistic,
    /// The adversarial mix of the first measurement: 15 % listed (USCC and name), 7 % a
    /// listed subject's name only, 78 % unlisted subjects named by the data's own generator,
    /// whose common trade names collide with listed ones through the trade-name core.
    HeavyHits,
}

impl Scenario {
    const fn label(self) -> &'static str {
        match self {
            Scenario::Realistic => "realistic (98.5 % clear, 1.0 % listed, 0.5 % name-only)",
            Scenario::HeavyHits => "heavy hits (15 % listed, 7 % name-only, 78 % colliding names)",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loading and the index
// ---------------------------------------------------------------------------------------------

async fn connect(settings: &Settings) -> anyhow::Result<Store> {
    Ok(Store::connect(&ConnectSettings {
        url: settings.database_url(),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(60),
    })
    .await?)
}

/// Generates entries on a blocking thread while the previous chunk is inserted.
async fn load(world: Arc<World>, store: &Store, total: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let (sender, mut receiver) =
        tokio::sync::mpsc::channel::<anyhow::Result<(u64, Vec<(ListEntry, String)>)>>(2);
    let producer = tokio::task::spawn_blocking(move || {
        let mut first = 0;
        while first < total {
            let last = (first + LOAD_CHUNK).min(total);
            let chunk = (first..last)
                .map(|n| {
                    let entry = world.entry(n, total)?;
                    let payload = serde_json::to_string(&entry)?;
                    Ok((entry, payload))
                })
                .collect::<anyhow::Result<Vec<_>>>()
                .map(|chunk| (first, chunk));
            let failed = chunk.is_err();
            if sender.blocking_send(chunk).is_err() || failed {
                return;
            }
            first = last;
        }
    });
    let mut loaded = 0;
    while let Some(chunk) = receiver.recv().await {
        let (first, chunk) = chunk?;
        store
            .insert_list_entries_for_benchmark(&chunk, i64::try_from(first)? + 1)
            .await?;
        loaded += chunk.len() as u64;
        if loaded % 1_000_000 == 0 {
            eprintln!(
                "  loaded {loaded} entries in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    producer.await?;
    ensure!(loaded == total, "loaded {loaded} of {total} entries");
    Ok(started.elapsed())
}

fn peak_resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// CPU time (user + system, in clock ticks of 10 ms) of this process's threads by name:
/// the runtime's workers, the decision-log writer, SQLite's worker, the rest; and the whole
/// process (threads that ended included). Read from /proc: Linux only, like the benchmark.
fn cpu_ticks() -> BTreeMap<&'static str, u64> {
    fn ticks(stat: &str) -> Option<(String, u64)> {
        let (head, tail) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1.to_owned();
        let fields: Vec<&str> = tail.split_whitespace().collect();
        // After the name: state is field 3, utime 14 and stime 15 (proc(5)).
        let user: u64 = fields.get(11)?.parse().ok()?;
        let system: u64 = fields.get(12)?.parse().ok()?;
        Some((comm, user + system))
    }
    let mut out = BTreeMap::new();
    if let Some((_, total)) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .as_deref()
        .and_then(ticks)
    {
        out.insert("process", total);
    }
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let Some((comm, n)) = std::fs::read_to_string(task.path().join("stat"))
            .ok()
            .as_deref()
            .and_then(ticks)
        else {
            continue;
        };
        let group = if comm.starts_with("tokio-rt") {
            "workers"
        } else if comm.starts_with("decision-log") {
            "log writer"
        } else if comm.starts_with("sqlx-sqlite") {
            "sqlite"
        } else {
            "other threads"
        };
        *out.entry(group).or_insert(0) += n;
    }
    out
}

/// `after - before`, per name.
fn ticks_between(
    before: &BTreeMap<&'static str, u64>,
    after: &BTreeMap<&'static str, u64>,
    into: &mut BTreeMap<&'static str, u64>,
) {
    for (name, n) in after {
        *into.entry(name).or_insert(0) += n.saturating_sub(before.get(name).copied().unwrap_or(0));
    }
}

struct IndexBuild {
    elapsed: Duration,
    entries: usize,
    heap_bytes: usize,
    resident_delta: u64,
    peak_resident: u64,
    /// A second, sequential build with each phase timed: reading the rows, computing the
    /// keys, sorting the postings.
    phases: [Duration; 3],
    /// `--cold`: a third build, page cache emptied again, without the read-ahead.
    cold_without_prewarm: Option<Duration>,
}

/// Drops the database files' pages from the page cache (after flushing them), so that the
/// next read comes from the disk as after a reboot.
fn drop_page_cache(data_dir: &std::path::Path) -> anyhow::Result<()> {
    for name in ["integrity.sqlite3", "integrity.sqlite3-wal"] {
        let Ok(file) = std::fs::File::open(data_dir.join(name)) else {
            continue;
        };
        file.sync_all()?;
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)?;
    }
    Ok(())
}

/// Times `Matcher::start` on `store`, lets `inspect` look at the matcher, then closes its log
/// and drops it. A journal of its own: this matcher's log is never written, and the node
/// started later owns the data directory's.
async fn timed_start<T>(
    store: &Arc<Store>,
    catalogue: &ListCatalogue,
    settings: &crate::config::MatchSettings,
    inspect: impl FnOnce(&Matcher) -> T,
) -> anyhow::Result<(Duration, T)> {
    let journal = std::env::temp_dir().join(format!("integrity-bench-journal-{}", Uuid::now_v7()));
    let started = Instant::now();
    let matcher = Matcher::start(store.clone(), catalogue, settings, &journal).await?;
    let elapsed = started.elapsed();
    let seen = inspect(&matcher);
    matcher.log.close().await;
    drop(matcher);
    let _ = std::fs::remove_dir_all(&journal);
    Ok((elapsed, seen))
}

async fn build_index(settings: &Settings, cold: bool) -> anyhow::Result<IndexBuild> {
    if cold {
        drop_page_cache(&settings.node.data_dir)?;
    }
    let store = Arc::new(open_store(settings).await?);
    let catalogue = ListCatalogue::new(&settings.lists.extra).map_err(|e| anyhow::anyhow!(e))?;
    // Resets the peak resident size (Linux), so that the peak reported is the build's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = resident_bytes();
    let (elapsed, (entries, heap_bytes, after)) =
        timed_start(&store, &catalogue, &settings.matching, |matcher| {
            (matcher.len(), matcher.heap_bytes(), resident_bytes())
        })
        .await?;
    let mut build = IndexBuild {
        elapsed,
        entries,
        heap_bytes,
        resident_delta: after.saturating_sub(before),
        peak_resident: peak_resident_bytes(),
        phases: [Duration::ZERO; 3],
        cold_without_prewarm: None,
    };
    // The phases one after the other: the build's own read (`Store::index_pages`) alone,
    // every page dropped, then the keys of a second read's pages.
    let started = Instant::now();
    let mut pages = store.index_pages(crate::matching::BUILD_PAGE);
    while let Some(page) = pages.recv().await {
        drop(page?);
    }
    build.phases[0] = started.elapsed();
    let mut builder = crate::matching::index::IndexBuilder::new(&catalogue);
    let mut pages = store.index_pages(crate::matching::BUILD_PAGE);
    while let Some(page) = pages.recv().await {
        let page = page?;
        let started = Instant::now();
        builder.add(&page);
        build.phases[1] += started.elapsed();
    }
    let started = Instant::now();
    drop(builder.finish());
    build.phases[2] = started.elapsed();
    if cold {
        let mut without = settings.matching.clone();
        without.prewarm_index = false;
        drop_page_cache(&settings.node.data_dir)?;
        let (elapsed, ()) = timed_start(&store, &catalogue, &without, |_| ()).await?;
        build.cold_without_prewarm = Some(elapsed);
    }
    store.close().await?;
    Ok(build)
}

// ---------------------------------------------------------------------------------------------
// Servers and the load generator
// ---------------------------------------------------------------------------------------------

/// A bare hyper server (hyper-util's auto builder, as the node uses) that reads each request's
/// body and answers `body` as JSON.
async fn serve_bare(body: Bytes) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let builder = auto::Builder::new(TokioExecutor::new());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            let builder = builder.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let body = body.clone();
                        async move {
                            let _ =
                                axum::body::to_bytes(Body::new(request.into_body()), usize::MAX)
                                    .await;
                            hyper::Response::builder()
                                .header(header::CONTENT_TYPE, "application/json")
                                .body(Body::from(body))
                        }
                    },
                );
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

struct Round {
    requests: u64,
    elapsed: Duration,
    p50_us: u64,
    p99_us: u64,
}

fn percentile_us(sorted: &[u64], q: f64) -> u64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or(0)
}

/// Posts `bodies` (cycled) to `url` from `connections` clients for `seconds`; every answer must
/// be 200.
async fn drive(
    url: &str,
    key: &str,
    bodies: &Arc<Vec<Bytes>>,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<Round> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let client = client.clone();
        let url = url.to_owned();
        let key = key.to_owned();
        let bodies = bodies.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(100_000);
            let mut next = connection * 977;
            while Instant::now() < deadline {
                let body = bodies[next % bodies.len()].clone();
                next += 1;
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header("x-api-key", &key)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = response.status();
                let answer = response.bytes().await?;
                anyhow::ensure!(
                    status.is_success(),
                    "answer {status}: {}",
                    String::from_utf8_lossy(&answer[..answer.len().min(300)])
                );
                latencies.push(sent.elapsed().as_micros() as u64);
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    Ok(Round {
        requests: all.len() as u64,
        elapsed,
        p50_us: percentile_us(&all, 0.50),
        p99_us: percentile_us(&all, 0.99),
    })
}

fn bench_key(now: OffsetDateTime) -> anyhow::Result<(ApiKey, String)> {
    let generated = generate().context("random source")?;
    Ok((
        ApiKey {
            id: Uuid::now_v7(),
            prefix: generated.prefix,
            secret_hash: generated.secret_hash,
            holder_name: "bench match platform".into(),
            holder_uscc: Uscc::parse("91445122MA4W123460").map_err(|e| anyhow::anyhow!("{e}"))?,
            contact: "benchmark".into(),
            scopes: BTreeSet::from([Scope::Match]),
            // Far above what the machine serves: the bucket is consulted on every request but
            // never refuses.
            rate_per_second: 10_000_000,
            burst: 10_000_000,
            daily_quota: u64::MAX / 2,
            expires_at: now + time::Duration::days(1),
            revoked_at: None,
            replaced_by: None,
            created_at: now,
            created_by: "bench".into(),
        },
        generated.full,
    ))
}

/// Verdict counts and answer sizes of one pass over `bodies`.
#[derive(Default)]
struct Mix {
    requests: usize,
    bidders: usize,
    block: usize,
    review: usize,
    clear: usize,
    invalid: usize,
    hits: usize,
    answer_bytes: usize,
}

async fn one_pass(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    bodies: &[Bytes],
) -> anyhow::Result<(Mix, Vec<Bytes>)> {
    let mut mix = Mix::default();
    let mut answers = Vec::new();
    for body in bodies {
        let response = client
            .post(url)
            .header("x-api-key", key)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await?;
        let status = response.status();
        let answer = response.bytes().await?;
        ensure!(
            status.is_success(),
            "answer {status}: {}",
            String::from_utf8_lossy(&answer)
        );
        let parsed: Value = serde_json::from_slice(&answer)?;
        mix.requests += 1;
        mix.answer_bytes += answer.len();
        for bidder in parsed["bidders"].as_array().into_iter().flatten() {
            mix.bidders += 1;
            mix.hits += bidder["hits"].as_array().map_or(0, Vec::len);
            match bidder["verdict"].as_str() {
                Some("block") => mix.block += 1,
                Some("review") => mix.review += 1,
                Some("clear") => mix.clear += 1,
                _ => mix.invalid += 1,
            }
        }
        answers.push(answer);
    }
    Ok((mix, answers))
}

/// Times `runs` requests (`bodies` cycled) through the node's router in-process (no socket),
/// one at a time. With `settle`, each waits first until the decision log's database copy holds
/// every earlier decision, so that a run does not share the cores with the copy of the one
/// before it (an idle node).
async fn server_times(
    router: axum::Router,
    bodies: &[Bytes],
    key: &str,
    runs: usize,
    settle: Option<&crate::matching::log::DecisionLog>,
) -> anyhow::Result<(Vec<u64>, usize)> {
    let mut times = Vec::with_capacity(runs);
    let mut answer_bytes = 0;
    let peer: SocketAddr = "127.0.0.1:9".parse()?;
    for run in 0..runs {
        if let Some(log) = settle {
            ensure!(
                log.caught_up().await,
                "the decision log's database copy did not catch up"
            );
        }
        let request = Request::post("/api/v1/match")
            .header("x-api-key", key)
            .header(header::CONTENT_TYPE, "application/json")
            .extension(ConnectInfo(peer))
            .body(Body::from(bodies[run % bodies.len()].clone()))?;
        let started = Instant::now();
        let response = router.clone().oneshot(request).await?;
        let status = response.status();
        let answer = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        times.push(started.elapsed().as_micros() as u64);
        ensure!(
            status.is_success(),
            "batch answer {status}: {}",
            String::from_utf8_lossy(&answer[..answer.len().min(300)])
        );
        answer_bytes = answer.len();
    }
    times.sort_unstable();
    Ok((times, answer_bytes))
}

async fn batch_http_times(
    url: &str,
    body: &Bytes,
    key: &str,
    runs: usize,
) -> anyhow::Result<Vec<u64>> {
    let client = reqwest::Client::new();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let response = client
            .post(url)
            .header("x-api-key", key)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await?;
        ensure!(
            response.status().is_success(),
            "batch {}",
            response.status()
        );
        response.bytes().await?;
        times.push(started.elapsed().as_micros() as u64);
    }
    times.sort_unstable();
    Ok(times)
}

/// What one scenario's load needs.
struct Load<'a> {
    world: &'a World,
    state: &'a crate::state::AppState,
    node_url: &'a str,
    secret: &'a str,
    total: u64,
    as_of: &'a str,
    args: &'a MatchArgs,
}

/// One scenario's figures.
struct ScenarioRow {
    scenario: Scenario,
    bare_rate: f64,
    node_rate: f64,
    node_p50_us: u64,
    node_p99_us: u64,
    batch_p50_us: u64,
}

impl Load<'_> {
    /// How many of 10,000 clear bidders of `scenario` share a name key or trade-name core with
    /// some entry: asked of the index directly, so the figure does not depend on the rules.
    fn name_collisions(&self, scenario: Scenario) -> anyhow::Result<(usize, usize)> {
        const SAMPLE: u64 = 10_000;
        let mut keys = Vec::new();
        for i in 0..SAMPLE {
            let h = mix(i ^ 0xC011);
            let subject = match scenario {
                Scenario::Realistic => self.world.clear_subject(self.total, h)?,
                Scenario::HeavyHits => self.world.subject(self.total + h % (1 << 36))?,
            };
            let name = crate::domain::names::normalize_company(&subject.name);
            keys.push(Some(crate::matching::index::BidderKeys {
                uscc: None,
                rep_id: None,
                name_key: Some(name.key.clone()),
                name_core: (name.core != name.key).then_some(name.core),
            }));
        }
        let keys: Vec<Option<&crate::matching::index::BidderKeys>> =
            keys.iter().map(Option::as_ref).collect();
        let (_, candidates) = self.state.matcher.candidates(&keys);
        let by_key = candidates
            .iter()
            .filter(|hits| hits.iter().any(|(key, ..)| *key != HitKey::Core))
            .count();
        let by_core = candidates.iter().filter(|hits| !hits.is_empty()).count();
        Ok((by_key, by_core))
    }

    async fn scenario(
        &self,
        scenario: Scenario,
        report: &mut String,
    ) -> anyhow::Result<ScenarioRow> {
        let (world, secret, node_url, args) = (self.world, self.secret, self.node_url, self.args);
        writeln!(report, "  scenario    {}", scenario.label())?;
        let (by_key, by_core) = self.name_collisions(scenario)?;
        writeln!(
            report,
            "  names       of 10,000 clear bidders' names, {by_key} share a name key and {by_core} a name key or trade-name core with some entry"
        )?;
        let bodies: Vec<Bytes> = (0..REQUESTS as u64)
            .map(|r| {
                world.request(
                    scenario,
                    r,
                    1 + (mix(r ^ 0x5) % 5) as usize,
                    self.total,
                    self.as_of,
                )
            })
            .collect::<anyhow::Result<_>>()?;
        let bodies = Arc::new(bodies);
        let client = reqwest::Client::new();
        let (mix, answers) = one_pass(&client, node_url, secret, &bodies[..1_000]).await?;
        // The bare server answers a typical answer: the first one of median size.
        let mut sizes: Vec<usize> = answers.iter().map(Bytes::len).collect();
        sizes.sort_unstable();
        let median_size = sizes[sizes.len() / 2];
        let fixed = answers
            .iter()
            .find(|a| a.len() == median_size)
            .cloned()
            .unwrap_or_default();
        let bare = serve_bare(fixed.clone()).await?;
        let bare_url = format!("http://{bare}/api/v1/match");
        writeln!(
            report,
            "  workload    {} distinct requests of 1-5 bidders (mean {:.1}); first 1,000: {:.1} % block, {:.1} % review, {:.1} % clear, {:.1} % invalid, {:.2} hits/bidder; answers {:.0} B mean; bare server answers a fixed {} B body",
            REQUESTS,
            mix.bidders as f64 / mix.requests as f64,
            100.0 * mix.block as f64 / mix.bidders as f64,
            100.0 * mix.review as f64 / mix.bidders as f64,
            100.0 * mix.clear as f64 / mix.bidders as f64,
            100.0 * mix.invalid as f64 / mix.bidders as f64,
            mix.hits as f64 / mix.bidders as f64,
            mix.answer_bytes as f64 / mix.requests as f64,
            fixed.len()
        )?;

        // One typical request at a time through the router, no socket and no client: what the
        // node itself spends on a request, decision log included.
        let router = crate::api::router(self.state.clone());
        let (single, _) = server_times(router, &bodies[..1_000], secret, 2_000, None).await?;
        writeln!(
            report,
            "  single      typical requests one at a time, server time (router in-process, log included): p50 {} us, p90 {} us, p99 {} us",
            percentile_us(&single, 0.5),
            percentile_us(&single, 0.9),
            percentile_us(&single, 0.99)
        )?;

        drive(&bare_url, secret, &bodies, args.connections, 1).await?;
        drive(node_url, secret, &bodies, args.connections, 1).await?;
        let mut bare_rounds = Vec::new();
        let mut node_rounds = Vec::new();
        let (mut bare_cpu, mut node_cpu) = (BTreeMap::new(), BTreeMap::new());
        let log_before = self.state.matcher.log.stats();
        for _ in 0..args.rounds {
            let before = cpu_ticks();
            bare_rounds
                .push(drive(&bare_url, secret, &bodies, args.connections, args.seconds).await?);
            let between = cpu_ticks();
            node_rounds
                .push(drive(node_url, secret, &bodies, args.connections, args.seconds).await?);
            ticks_between(&before, &between, &mut bare_cpu);
            ticks_between(&between, &cpu_ticks(), &mut node_cpu);
        }
        let log = self.state.matcher.log.stats();
        let (bare_rate, node_rate) = (rate(&bare_rounds), rate(&node_rounds));
        let node_p99 = median(&node_rounds, |r| r.p99_us);
        writeln!(
            report,
            "  load        {} connections, {} s x {} rounds per server, alternating",
            args.connections, args.seconds, args.rounds
        )?;
        writeln!(
            report,
            "  bare hyper  {bare_rate:>8.0} req/s   p50 {:>6} us   p99 {:>6} us",
            median(&bare_rounds, |r| r.p50_us),
            median(&bare_rounds, |r| r.p99_us)
        )?;
        writeln!(
            report,
            "  match API   {node_rate:>8.0} req/s   p50 {:>6} us   p99 {:>6} us   target p99 <= 5 ms: {}",
            median(&node_rounds, |r| r.p50_us),
            node_p99,
            met(node_p99 <= 5_000)
        )?;
        // Where the CPU went, per request (a tick is 10 ms; both servers share the process with
        // the load generator, whose cost is in the workers' share of both).
        let per_request = |cpu: &BTreeMap<&'static str, u64>, rounds: &[Round], name: &str| {
            let requests: u64 = rounds.iter().map(|r| r.requests).sum();
            cpu.get(name).copied().unwrap_or(0) as f64 * 10_000.0 / requests.max(1) as f64
        };
        writeln!(
            report,
            "  cpu         per request, load generator included: bare {:.0} us; match {:.0} us (workers {:.0}, log writer {:.0}, sqlite {:.0}, other threads {:.0})",
            per_request(&bare_cpu, &bare_rounds, "process"),
            per_request(&node_cpu, &node_rounds, "process"),
            per_request(&node_cpu, &node_rounds, "workers"),
            per_request(&node_cpu, &node_rounds, "log writer"),
            per_request(&node_cpu, &node_rounds, "sqlite"),
            per_request(&node_cpu, &node_rounds, "other threads"),
        )?;
        let log = log.since(&log_before);
        let (groups, decisions) = (log.groups, log.decisions);
        writeln!(
            report,
            "  log         {decisions} decisions in {groups} groups ({:.1} per group, one fdatasync and one signature each), commit {:.2} ms mean, p99 <= {:.1} ms, max <= {:.1} ms",
            decisions as f64 / groups.max(1) as f64,
            log.commit.as_secs_f64() * 1e3 / groups.max(1) as f64,
            log.commit_quantile(0.99).as_secs_f64() * 1e3,
            log.commit_quantile(1.0).as_secs_f64() * 1e3,
        )?;
        let ratio = node_rate / bare_rate.max(f64::MIN_POSITIVE);
        writeln!(
            report,
            "  ratio       {ratio:.3} (match / bare)   target >= 0.6: {}",
            met(ratio >= 0.6)
        )?;

        // A 1,000-bidder batch of the same mix.
        let batch = world.request(scenario, 1 << 40, BATCH_BIDDERS, self.total, self.as_of)?;
        let router = crate::api::router(self.state.clone());
        let batches = [batch.clone()];
        server_times(router.clone(), &batches, secret, 2, None).await?;
        let log_before = self.state.matcher.log.stats();
        let (back_to_back, answer_bytes) = server_times(
            router.clone(),
            &batches,
            secret,
            args.batch_runs.max(1),
            None,
        )
        .await?;
        let log = self.state.matcher.log.stats();
        let batch_commit_us = (log.commit - log_before.commit).as_micros() as u64
            / (log.groups - log_before.groups).max(1);
        // The target's figure: each batch on an idle node. Back to back, a batch shares the two
        // cores with the database copy of the one before (~57 pages of its 230 KB decision
        // written to SQLite's WAL and checkpointed), which would be load, not the batch's own
        // time; measured, the two agree within 3 % (BENCHMARKS.md, "the batch on an idle node").
        let (server, _) = server_times(
            router,
            &batches,
            secret,
            args.batch_runs.max(1),
            Some(&self.state.matcher.log),
        )
        .await?;
        let over_http = batch_http_times(node_url, &batch, secret, args.batch_runs.max(1)).await?;
        let server_p50 = percentile_us(&server, 0.5);
        writeln!(
            report,
            "  batch       1,000 bidders ({} B request, {} B answer), {} runs, idle node (the previous batch's database copy done): server time (router in-process) p50 {} us, p90 {} us, max {} us; back to back: p50 {} us (of which the log commit: {} us mean), over HTTP p50 {} us   target <= 5 ms: {}",
            batch.len(),
            answer_bytes,
            server.len(),
            server_p50,
            percentile_us(&server, 0.9),
            percentile_us(&server, 1.0),
            percentile_us(&back_to_back, 0.5),
            batch_commit_us,
            percentile_us(&over_http, 0.5),
            met(server_p50 <= 5_000)
        )?;
        Ok(ScenarioRow {
            scenario,
            bare_rate,
            node_rate,
            node_p50_us: median(&node_rounds, |r| r.p50_us),
            node_p99_us: node_p99,
            batch_p50_us: server_p50,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

fn rate(rounds: &[Round]) -> f64 {
    rounds.iter().map(|r| r.requests as f64).sum::<f64>()
        / rounds
            .iter()
            .map(|r| r.elapsed.as_secs_f64())
            .sum::<f64>()
            .max(f64::MIN_POSITIVE)
}

fn median(rounds: &[Round], f: fn(&Round) -> u64) -> u64 {
    let mut values: Vec<u64> = rounds.iter().map(f).collect();
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

/// Runs `bench match` and returns its report.
pub async fn run(args: &MatchArgs) -> anyhow::Result<String> {
    ensure!(args.entries >= 1, "--entries must be at least 1");
    ensure!(args.connections >= 1, "--connections must be at least 1");
    ensure!(args.rounds >= 1, "--rounds must be at least 1");
    let admin_url = crate::bench::postgres_admin_url(args.database_url.as_deref())?;
    ensure!(
        !(args.cold && admin_url.is_some()),
        "--cold empties the page cache of the embedded SQLite files; it cannot do that for a PostgreSQL server"
    );
    install_crypto_provider();
    let (data_dir, temporary) = match &args.data_dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("integrity-bench-match-{}", Uuid::now_v7())),
            true,
        ),
    };
    let result = match &admin_url {
        None => measure(args, &data_dir, None).await,
        Some(admin_url) => {
            let (name, keep) = match &args.keep_database {
                Some(name) => (name.clone(), true),
                None => (format!("bench_{}", Uuid::now_v7().simple()), false),
            };
            let result = async {
                if !(keep && crate::store::bench::scratch_database_exists(admin_url, &name).await?)
                {
                    crate::store::bench::create_scratch_database(admin_url, &name)
                        .await
                        .with_context(|| format!("creating database {name}"))?;
                }
                let url = crate::bench::with_database(admin_url, &name)?;
                // A PostgreSQL node refuses to start on an unmigrated database; migrate as
                // `integrity-node migrate` would.
                let store = crate::bench::connect(&url, 1).await?;
                store.migrate().await.context("migrating the database")?;
                store.close().await?;
                measure(args, &data_dir, Some(url)).await
            }
            .await;
            if !keep
                && let Err(error) =
                    crate::store::bench::drop_scratch_database(admin_url, &name).await
            {
                eprintln!("warning: could not drop database {name}: {error}");
            }
            result
        }
    };
    if temporary && let Err(error) = std::fs::remove_dir_all(&data_dir) {
        eprintln!("warning: could not remove {}: {error}", data_dir.display());
    }
    result
}

async fn measure(
    args: &MatchArgs,
    data_dir: &std::path::Path,
    database_url: Option<String>,
) -> anyhow::Result<String> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let today = clock.today_shanghai();
    let mut settings = Settings::load(None)?;
    settings.node.data_dir = data_dir.to_path_buf();
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let postgres = database_url.is_some();
    if let Some(url) = database_url {
        settings.database.url = secrecy::SecretString::from(url);
    }
    settings.http.listen = "127.0.0.1:0".parse()?;
    settings.log.filter = "error".into();
    let world = Arc::new(World::new(today)?);
    let mut report = String::new();
    let n = args.entries;
    writeln!(report, "integrity-node bench match")?;

    // 1. Data.
    let store = open_store(&settings).await?;
    store.close().await?;
    let store = connect(&settings).await?;
    let held = store.count_list_entries().await?;
    let place = if postgres {
        "the database (--keep-database)".to_owned()
    } else {
        data_dir.display().to_string()
    };
    if held == n {
        writeln!(
            report,
            "  data        {n} list entries already in {place} (reused)"
        )?;
    } else {
        ensure!(
            held == 0,
            "{place} holds {held} list entries, not {n}; use an empty or another --data-dir or --keep-database"
        );
        eprintln!("generating and inserting {n} list entries …");
        let elapsed = load(world.clone(), &store, n).await?;
        writeln!(
            report,
            "  data        {n} list entries generated and inserted in {:.1} s ({:.0} entries/s; not a target)",
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64()
        )?;
    }
    let db_bytes: u64 = if postgres {
        store.database_bytes().await?
    } else {
        ["integrity.sqlite3", "integrity.sqlite3-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(data_dir.join(f)).ok())
            .map(|m| m.len())
            .sum()
    };
    store.close().await?;
    writeln!(
        report,
        "  database    {:.2} GiB on disk ({})",
        db_bytes as f64 / f64::from(1u32 << 30),
        if postgres {
            "PostgreSQL, pg_database_size; its server's CPU is outside this process and not in the cpu lines"
        } else {
            "embedded SQLite, WAL"
        }
    )?;

    // 2. Index build, on its own.
    eprintln!("building the match index …");
    let build = build_index(&settings, args.cold).await?;
    let per_entry = |bytes: u64| bytes as f64 / build.entries.max(1) as f64;
    writeln!(
        report,
        "  index build {:.1} s for {} entries (Matcher::start: read, normalise, sort)   target <= 60 s: {}",
        build.elapsed.as_secs_f64(),
        build.entries,
        met(build.elapsed.as_secs_f64() <= 60.0)
    )?;
    writeln!(
        report,
        "              phases, timed apart afterwards: reading rows alone {:.1} s, keys (name normalisation, {} threads) {:.1} s, sorting postings {:.1} s",
        build.phases[0].as_secs_f64(),
        std::thread::available_parallelism().map_or(1, usize::from),
        build.phases[1].as_secs_f64(),
        build.phases[2].as_secs_f64()
    )?;
    if let Some(without) = build.cold_without_prewarm {
        writeln!(
            report,
            "              cold (page cache emptied before each): {:.1} s with the read-ahead (above), {:.1} s without (match.prewarm_index = false); ratio {:.2}",
            build.elapsed.as_secs_f64(),
            without.as_secs_f64(),
            build.elapsed.as_secs_f64() / without.as_secs_f64().max(1e-9)
        )?;
    }
    writeln!(
        report,
        "  index RAM   {:.1} B/entry in the index's structures ({:.0} MiB); resident growth {:.1} B/entry ({:.0} MiB); peak resident during the build {:.0} MiB   target <= 150 B/entry: {}",
        per_entry(build.heap_bytes as u64),
        build.heap_bytes as f64 / 1048576.0,
        per_entry(build.resident_delta),
        build.resident_delta as f64 / 1048576.0,
        build.peak_resident as f64 / 1048576.0,
        met(per_entry(build.heap_bytes as u64) <= 150.0 && per_entry(build.resident_delta) <= 150.0)
    )?;

    // 3. The node, with a key of scope `match`.
    let now = clock.now();
    let (key, secret) = bench_key(now)?;
    let store = open_store(&settings).await?;
    store
        .insert_key(
            &key,
            now,
            AuditEntry {
                actor_kind: "cli".into(),
                actor_id: "bench".into(),
                action: "keys.create".into(),
                resource: format!("key:{}", key.prefix),
                outcome: "ok".into(),
                request_id: "bench-match".into(),
                detail: "bench match".into(),
            },
        )
        .await?;
    store.close().await?;
    eprintln!("starting the node …");
    let started = Instant::now();
    let app = Application::build(settings.clone(), clock.clone()).await?;
    let node_start = started.elapsed();
    let node_url = format!("{}/api/v1/match", app.base_url());
    let state = app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let node = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    writeln!(
        report,
        "  node start  {:.1} s (Application::build, index included)",
        node_start.as_secs_f64()
    )?;

    let as_of = format!("{today}T09:30:00+08:00");
    let load = Load {
        world: &world,
        state: &state,
        node_url: &node_url,
        secret: &secret,
        total: n,
        as_of: &as_of,
        args,
    };
    let mut rows = Vec::new();
    for scenario in args.scenario.scenarios() {
        eprintln!("scenario: {} …", scenario.label());
        rows.push(load.scenario(scenario, &mut report).await?);
    }
    writeln!(
        report,
        "| N | scenario | build s | index B/entry | RSS B/entry | bare req/s | match req/s | ratio | match p50 / p99 ms | batch server p50 ms |"
    )?;
    for row in rows {
        writeln!(
            report,
            "| {n} | {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} | {:.3} | {:.2} / {:.2} | {:.2} |",
            row.scenario.label(),
            build.elapsed.as_secs_f64(),
            per_entry(build.heap_bytes as u64),
            per_entry(build.resident_delta),
            row.bare_rate,
            row.node_rate,
            row.node_rate / row.bare_rate.max(f64::MIN_POSITIVE),
            row.node_p50_us as f64 / 1e3,
            row.node_p99_us as f64 / 1e3,
            row.batch_p50_us as f64 / 1e3
        )?;
    }
    let _ = stop.send(());
    node.await??;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::citizen_id::CitizenId;
    use crate::domain::names::normalize_company;
    use time::macros::date;

    #[test]
    fn generated_entries_are_valid_and_distinct() {
        let world = World::new(date!(2026 - 11 - 22)).unwrap();
        let mut usccs = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        let mut lists = std::collections::BTreeMap::<String, usize>::new();
        let total = 2_000;
        for n in 0..total {
            let entry = world.entry(n, total).unwrap();
            Uscc::parse(&entry.subject_code).unwrap();
            if let Some(id) = entry
                .legal_representative
                .as_ref()
                .and_then(|r| r.id_number.as_deref())
            {
                CitizenId::parse(id).unwrap();
            }
            assert!(
                entry.subject_name.chars().count() >= 6,
                "{}",
                entry.subject_name
            );
            assert!(normalize_company(&entry.subject_name).key.chars().count() >= 2);
            if let Some(to) = entry.effective_to {
                assert!(to >= entry.effective_from);
            }
            assert!(ids.insert(entry.id));
            usccs.insert(entry.subject_code.clone());
            *lists.entry(entry.list.clone()).or_default() += 1;
            let payload = serde_json::to_string(&entry).unwrap();
            assert_eq!(serde_json::from_str::<ListEntry>(&payload).unwrap(), entry);
        }
        // About one entry in 20 repeats the subject before it.
        assert!(
            usccs.len() > 1_850 && usccs.len() < 1_950,
            "{}",
            usccs.len()
        );
        assert!(lists["serious_dishonesty"] > 700 && lists["judgment_defaulters"] > 700);
        assert!(lists["red_list"] > 50);
        // Clear subjects (past the data set) never share a USCC with a listed one.
        for s in total..total + 2_000 {
            assert!(!usccs.contains(&world.uscc(s).unwrap()));
        }
    }

    #[test]
    fn requests_have_the_api_shape() {
        let world = World::new(date!(2026 - 11 - 22)).unwrap();
        for scenario in [Scenario::Realistic, Scenario::HeavyHits] {
            let body: Value = serde_json::from_slice(
                &world.request(scenario, 7, 5, 1_000, "2026-11-22").unwrap(),
            )
            .unwrap();
            assert_eq!(body["bidders"].as_array().unwrap().len(), 5);
            let parsed: crate::api::matching::MatchIn = serde_json::from_value(body).unwrap();
            assert_eq!(parsed.project.unwrap().kind.as_deref(), Some("bidding"));
        }
    }

    #[test]
    fn realistic_clear_bidders_share_no_name_or_identifier_with_the_data() {
        let world = World::new(date!(2026 - 11 - 22)).unwrap();
        assert!(
            CLEAR_TRADE_CHARS.chars().all(|c| !TRADE_CHARS.contains(c)),
            "the clear trade-name pool overlaps the data's"
        );
        let total = 2_000;
        let mut listed_cores = std::collections::HashSet::new();
        let mut listed_orgs = std::collections::HashSet::new();
        for n in 0..total {
            let entry = world.entry(n, total).unwrap();
            listed_orgs.insert(entry.subject_code[8..17].to_owned());
            for name in std::iter::once(&entry.subject_name).chain(&entry.former_names) {
                let name = normalize_company(name);
                listed_cores.insert(name.key);
                listed_cores.insert(name.core);
            }
        }
        for i in 0..2_000 {
            let subject = world.clear_subject(total, mix(i)).unwrap();
            let uscc = Uscc::parse(&subject.uscc).unwrap();
            assert!(!listed_orgs.contains(&uscc.as_str()[8..17]));
            let name = normalize_company(&subject.name);
            // The trade-name core ends with the clear trade name (a district-level prefix
            // may stay in front of it), so it cannot equal a listed name's key or core,
            // which end with the listed trade name or an industry word.
            assert!(
                name.core.chars().count() >= 2
                    && name
                        .core
                        .chars()
                        .next_back()
                        .is_some_and(|c| CLEAR_TRADE_CHARS.contains(c)),
                "{} -> {:?}",
                subject.name,
                name.core
            );
            assert!(!listed_cores.contains(&name.key) && !listed_cores.contains(&name.core));
        }
        // The realistic mix: about 1.0 % listed and 0.5 % name-only bidders.
        let (mut exact, mut name_only, mut all) = (0, 0, 0);
        for r in 0..4_000 {
            for j in 0..5 {
                let bidder = world.bidder(Scenario::Realistic, r, j, total).unwrap();
                all += 1;
                let name = bidder["name"].as_str().unwrap();
                let core = normalize_company(name).core;
                if listed_cores.contains(&core) {
                    if bidder.get("uscc").is_some() {
                        exact += 1;
                    } else {
                        name_only += 1;
                    }
                }
            }
        }
        let share = |k: usize| 1_000.0 * k as f64 / all as f64;
        assert!((7.0..13.0).contains(&share(exact)), "{}", share(exact));
        assert!(
            (3.0..7.0).contains(&share(name_only)),
            "{}",
            share(name_only)
        );
    }
}
