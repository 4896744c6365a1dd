//! `integrity-node bench`: throughput benchmarks of a real node, run in-process.
//!
//! `bench ingest` starts a node on a fresh database (embedded SQLite in a temporary directory, or
//! a fresh `bench_<uuid>` database on the PostgreSQL server `--database-url` names), posts N
//! synthetic but valid records to `POST /api/v1/records/batch` from concurrent HTTP clients, and
//! compares the wall-clock rate with a raw-SQL baseline measured in the same run on the same
//! database server (PostgreSQL `COPY`, SQLite one transaction of multi-row `INSERT`s; see
//! `store::bench`). Request bodies and baseline payloads are built before the clock starts.
//! Numbers are meaningful only from a release build.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::api::records::MAX_BATCH;
use crate::app::{Application, install_crypto_provider};
use crate::auth::Role;
use crate::config::Settings;
use crate::domain::citizen_id;
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::record::RecordDraft;
use crate::domain::region::RegionCode;
use crate::domain::uscc;
use crate::domain::vocab::{DishonestyCategory, Domain, PublicationLevel, RecordKind, Severity};
use crate::store::bench::{
    BaselineRow, BaselineTiming, TableCounts, create_scratch_database, drop_scratch_database,
};
use crate::store::{ConnectSettings, Store};

/// The providing department the benchmark submits as (饶平县 government organ, constructed).
pub(crate) const BENCH_DEPT: &str = "114451220070545543";
/// Region of the benchmark node (饶平县).
const BENCH_REGION: &str = "445122";
/// `sub` of the benchmark's provider token.
const BENCH_SUB: &str = "bench";
/// The USCC alphabet (GB 32100), in value order.
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Batch ingest over HTTP against a raw-SQL baseline on the same database server.
    Ingest(IngestArgs),
    /// What the API gateway costs per request, and its memory per active key.
    Gateway(crate::bench_gateway::GatewayArgs),
    /// The upward federation path over mutual TLS: catch-up and sustained rate over one hop,
    /// propagation latency over three, against the local ingest rate.
    Federation(crate::bench_federation::FederationArgs),
    /// The match API against a bare hyper server, index build time and RAM per list entry.
    Match(crate::bench_match::MatchArgs),
}

/// Options of `bench ingest`.
#[derive(Clone, Debug, clap::Args)]
pub struct IngestArgs {
    /// Records to submit.
    #[arg(long, default_value_t = 100_000)]
    pub records: usize,
    /// Records per `POST /api/v1/records/batch` (1–1,000).
    #[arg(long, default_value_t = 1_000)]
    pub batch: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// PostgreSQL server to benchmark (`postgres://user@host:port/db`): the benchmark creates
    /// and drops fresh `bench_*` databases there. Omit for embedded SQLite in a temporary
    /// directory.
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Runs a benchmark and prints its report to stdout.
pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest(args) => {
            let report = ingest(&args).await?;
            print!("{report}");
            Ok(())
        }
        BenchCommand::Gateway(args) => {
            print!("{}", crate::bench_gateway::gateway(&args).await?);
            Ok(())
        }
        BenchCommand::Federation(args) => {
            print!("{}", crate::bench_federation::federation(&args).await?);
            Ok(())
        }
        BenchCommand::Match(args) => {
            print!("{}", crate::bench_match::run(&args).await?);
            Ok(())
        }
    }
}

/// The outcome of `bench ingest`.
#[derive(Clone, Debug)]
pub struct IngestReport {
    /// Options the run used.
    pub args: IngestArgs,
    /// "sqlite" or "postgres".
    pub backend: &'static str,
    /// The database server's version.
    pub server_version: String,
    /// Where the database was (host and port, or "temporary file"); no credentials.
    pub location: String,
    /// Time to generate, validate and serialise the records (not part of either rate).
    pub generate: Duration,
    /// Wall-clock time of the HTTP ingest, first request sent to last response read.
    pub api_elapsed: Duration,
    /// Per-batch latencies, sorted.
    pub batch_latencies: Vec<Duration>,
    /// Row counts of the node's database after the ingest.
    pub api_counts: TableCounts,
    /// The baseline's timing.
    pub baseline: BaselineTiming,
    /// Row counts of the baseline database after the baseline.
    pub baseline_counts: TableCounts,
}

fn per_second(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

impl IngestReport {
    /// Records per second through the API.
    pub fn api_rate(&self) -> f64 {
        per_second(self.args.records, self.api_elapsed)
    }

    /// Records per second of the baseline.
    pub fn baseline_rate(&self) -> f64 {
        per_second(self.args.records, self.baseline.elapsed)
    }

    /// API rate over baseline rate.
    pub fn ratio(&self) -> f64 {
        self.api_rate() / self.baseline_rate().max(f64::MIN_POSITIVE)
    }
}

impl std::fmt::Display for IngestReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = &self.args;
        let n_batches = a.records.div_ceil(a.batch);
        writeln!(f, "integrity-node bench ingest")?;
        writeln!(
            f,
            "  backend     {} {} ({})",
            self.backend, self.server_version, self.location
        )?;
        writeln!(
            f,
            "  workload    {} records in {n_batches} batches of {}, {} concurrent HTTP/1.1 clients on loopback, same process",
            a.records, a.batch, a.concurrency
        )?;
        writeln!(
            f,
            "  prepare     {:.2} s generating, validating and serialising (not timed)",
            self.generate.as_secs_f64()
        )?;
        writeln!(
            f,
            "  API         {:.2} s  {:>9.0} records/s   batch latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            self.api_elapsed.as_secs_f64(),
            self.api_rate(),
            percentile(&self.batch_latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&self.batch_latencies, 0.99).as_secs_f64() * 1e3,
            percentile(&self.batch_latencies, 1.0).as_secs_f64() * 1e3,
        )?;
        writeln!(
            f,
            "  baseline    {:.2} s  {:>9.0} records/s   {} (payload encoding {:.2} s, not timed)",
            self.baseline.elapsed.as_secs_f64(),
            self.baseline_rate(),
            self.baseline.method,
            self.baseline.prepare.as_secs_f64()
        )?;
        let target = if self.backend == "postgres" {
            format!(
                "   target >= 0.30x COPY: {}",
                if self.ratio() >= 0.3 {
                    "met"
                } else {
                    "NOT met"
                }
            )
        } else {
            String::new()
        };
        writeln!(
            f,
            "  ratio       {:.2}x (API / baseline){target}",
            self.ratio()
        )?;
        writeln!(
            f,
            "  checked     node db: records={} record_versions={} journal_events={} audit_log={}; baseline db: records={} record_versions={}",
            self.api_counts.records,
            self.api_counts.record_versions,
            self.api_counts.journal_events,
            self.api_counts.audit_log,
            self.baseline_counts.records,
            self.baseline_counts.record_versions
        )?;
        writeln!(
            f,
            "| backend | records | batch | concurrency | API s | API rec/s | baseline s | baseline rec/s | ratio |"
        )?;
        writeln!(
            f,
            "| {} {} | {} | {} | {} | {:.2} | {:.0} | {:.2} | {:.0} | {:.2}x |",
            self.backend,
            self.server_version,
            a.records,
            a.batch,
            a.concurrency,
            self.api_elapsed.as_secs_f64(),
            self.api_rate(),
            self.baseline.elapsed.as_secs_f64(),
            self.baseline_rate(),
            self.ratio()
        )
    }
}

/// The database under test.
enum Target {
    /// Embedded SQLite files in the scratch directory.
    Sqlite,
    /// A PostgreSQL server; `admin_url` is where databases are created from.
    Postgres { admin_url: String },
}

/// A benchmark's `--database-url`: `None` (omitted or empty) for embedded SQLite, else the
/// PostgreSQL server's URL that scratch databases are created from.
pub(crate) fn postgres_admin_url(option: Option<&str>) -> anyhow::Result<Option<String>> {
    match option.map(str::trim) {
        None | Some("") => Ok(None),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Some(url.to_owned()))
        }
        Some(_) => bail!(
            "--database-url must be a postgres:// URL; omit it to benchmark embedded SQLite in a fresh temporary directory"
        ),
    }
}

/// Runs `bench ingest`: everything it creates (temporary directory, scratch databases) is
/// removed afterwards, also when the run fails.
pub async fn ingest(args: &IngestArgs) -> anyhow::Result<IngestReport> {
    ensure!(args.records >= 1, "--records must be at least 1");
    ensure!(
        (1..=MAX_BATCH).contains(&args.batch),
        "--batch must be between 1 and {MAX_BATCH}"
    );
    ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
    let target = match postgres_admin_url(args.database_url.as_deref())? {
        None => Target::Sqlite,
        Some(admin_url) => Target::Postgres { admin_url },
    };
    install_crypto_provider();
    let run_id = Uuid::now_v7().simple().to_string();
    let scratch = std::env::temp_dir().join(format!("integrity-bench-{run_id}"));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let result = match &target {
        Target::Sqlite => ingest_sqlite(args, &scratch, &run_id).await,
        Target::Postgres { admin_url } => ingest_postgres(args, &scratch, &run_id, admin_url).await,
    };
    if let Err(error) = std::fs::remove_dir_all(&scratch) {
        eprintln!("warning: could not remove {}: {error}", scratch.display());
    }
    result
}

async fn ingest_sqlite(
    args: &IngestArgs,
    scratch: &Path,
    run_id: &str,
) -> anyhow::Result<IngestReport> {
    let node_dir = scratch.join("node");
    let baseline_url = format!(
        "sqlite://{}?mode=rwc",
        scratch.join("baseline.sqlite3").display()
    );
    measure(
        args,
        run_id,
        node_dir,
        String::new(),
        baseline_url,
        "sqlite",
        "temporary file".to_owned(),
    )
    .await
}

async fn ingest_postgres(
    args: &IngestArgs,
    scratch: &Path,
    run_id: &str,
    admin_url: &str,
) -> anyhow::Result<IngestReport> {
    let node_db = format!("bench_{run_id}");
    let baseline_db = format!("bench_{run_id}_copy");
    let node_url = with_database(admin_url, &node_db)?;
    let baseline_url = with_database(admin_url, &baseline_db)?;
    let mut created = Vec::new();
    let result = async {
        for name in [&node_db, &baseline_db] {
            create_scratch_database(admin_url, name)
                .await
                .with_context(|| format!("creating database {name}"))?;
            created.push(name.clone());
        }
        // A PostgreSQL node refuses to start on an unmigrated database; migrate as
        // `integrity-node migrate` would.
        let store = connect(&node_url, 1).await?;
        store
            .migrate()
            .await
            .context("migrating the node database")?;
        store.close().await?;
        measure(
            args,
            run_id,
            scratch.join("node"),
            node_url.clone(),
            baseline_url.clone(),
            "postgres",
            host_of(admin_url),
        )
        .await
    }
    .await;
    for name in &created {
        if let Err(error) = drop_scratch_database(admin_url, name).await {
            eprintln!("warning: could not drop database {name}: {error}");
        }
    }
    result
}

pub(crate) async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Store> {
    Store::connect(&ConnectSettings {
        url: url.to_owned(),
        max_connections,
        acquire_timeout: Duration::from_secs(30),
    })
    .await
    .context("cannot connect to the benchmark database")
}

/// The records a benchmark submits: request bodies and the rows the baseline writes.
struct Workload {
    /// One pre-serialised `{"records": [...]}` body per batch, with its record count.
    bodies: Vec<(Vec<u8>, usize)>,
    /// The same records as the store would write them.
    rows: Vec<BaselineRow>,
}

fn prepare_workload(
    args: &IngestArgs,
    run_id: &str,
    now: OffsetDateTime,
) -> anyhow::Result<Workload> {
    let region = RegionCode::parse(BENCH_REGION)
        .map_err(|error| anyhow::anyhow!("bench region: {error}"))?;
    let actor = format!("{BENCH_SUB}@{BENCH_DEPT}");
    let today = SystemClock.today_shanghai();
    let records: Vec<SyntheticRecord> = (0..args.records)
        .map(|n| synthetic_record(n, &run_id[..12]))
        .collect::<anyhow::Result<_>>()?;
    let mut rows = Vec::with_capacity(records.len());
    for (n, record) in records.iter().enumerate() {
        let data = record
            .draft()
            .validate(today)
            .map_err(|errors| anyhow::anyhow!("synthetic record {n} is invalid: {errors:?}"))?;
        rows.push(BaselineRow::new(data, region, &actor, now)?);
    }
    let bodies = records
        .chunks(args.batch)
        .map(|chunk| {
            serde_json::to_vec(&BatchBody { records: chunk })
                .map(|body| (body, chunk.len()))
                .context("serialising a batch")
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Workload { bodies, rows })
}

async fn measure(
    args: &IngestArgs,
    run_id: &str,
    node_dir: PathBuf,
    node_url: String,
    baseline_url: String,
    backend: &'static str,
    location: String,
) -> anyhow::Result<IngestReport> {
    let prepare_started = Instant::now();
    let workload = prepare_workload(args, run_id, SystemClock.now())?;
    let generate = prepare_started.elapsed();

    let mut settings = Settings::load(None)?;
    settings.node.data_dir = node_dir;
    settings.node.region = BENCH_REGION.to_owned();
    settings.http.listen = "127.0.0.1:0".parse()?;
    settings.http.public_url = String::new();
    settings.database.url = SecretString::from(node_url);
    let app = Application::build(settings, Arc::new(SystemClock))
        .await
        .context("starting the node")?;
    let state = app.state().clone();
    let url = format!("{}/api/v1/records/batch", app.base_url());
    let token = state.tokens.mint(
        BENCH_SUB,
        Role::Provider,
        Some(BENCH_DEPT),
        BENCH_REGION,
        state.clock.now(),
        time::Duration::hours(1),
    )?;
    let server_version = state.store.server_version().await?;
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let posted = post_batches(&url, &token, workload.bodies, args.concurrency).await;
    let api_counts = state.store.table_counts().await;
    let _ = stop.send(());
    let served = server.await;
    let (api_elapsed, batch_latencies) = posted?;
    served.context("the node task failed")??;
    let api_counts = api_counts?;
    ensure!(
        api_counts.records == args.records as u64
            && api_counts.record_versions == args.records as u64,
        "the node stored {api_counts:?}, expected {} records and versions",
        args.records
    );
    drop(state);

    let store = connect(&baseline_url, 2).await?;
    store
        .migrate()
        .await
        .context("migrating the baseline database")?;
    let baseline = store.copy_baseline(&workload.rows).await;
    let baseline_counts = store.table_counts().await;
    store.close().await?;
    let baseline = baseline?;
    let baseline_counts = baseline_counts?;
    ensure!(
        baseline_counts.records == args.records as u64
            && baseline_counts.record_versions == args.records as u64,
        "the baseline stored {baseline_counts:?}, expected {} records and versions",
        args.records
    );
    Ok(IngestReport {
        args: args.clone(),
        backend,
        server_version,
        location,
        generate,
        api_elapsed,
        batch_latencies,
        api_counts,
        baseline,
        baseline_counts,
    })
}

/// The part of the batch answer the benchmark checks.
#[derive(Deserialize)]
struct BatchAnswer {
    created: usize,
    existing: usize,
}

/// Posts every body with `concurrency` clients pulling from one queue; returns the wall-clock
/// time and the sorted per-batch latencies. Any answer but 201 with every record created fails
/// the run.
async fn post_batches(
    url: &str,
    token: &str,
    bodies: Vec<(Vec<u8>, usize)>,
    concurrency: usize,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let queue = Arc::new(Mutex::new(bodies.into_iter().enumerate()));
    let mut clients = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        clients.push(
            reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .context("building an HTTP client")?,
        );
    }
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for client in clients {
        let queue = Arc::clone(&queue);
        let url = url.to_owned();
        let token = token.to_owned();
        workers.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                let Some((index, (body, n_records))) = next else {
                    break;
                };
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await
                    .with_context(|| format!("batch {index}: request failed"))?;
                let status = response.status();
                if status != reqwest::StatusCode::CREATED {
                    let text = response.text().await.unwrap_or_default();
                    let text: String = text.chars().take(2_000).collect();
                    bail!("batch {index}: HTTP {status}, expected 201: {text}");
                }
                let answer: BatchAnswer = response
                    .json()
                    .await
                    .with_context(|| format!("batch {index}: unreadable answer"))?;
                latencies.push(sent.elapsed());
                ensure!(
                    answer.created == n_records && answer.existing == 0,
                    "batch {index}: created {} and found {} existing of {n_records}",
                    answer.created,
                    answer.existing
                );
            }
            Ok::<_, anyhow::Error>(latencies)
        });
    }
    let mut latencies = Vec::new();
    let mut first_error = None;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(Ok(worker)) => latencies.extend(worker),
            Ok(Err(error)) => {
                // Stop the other clients: their batches would only pile up behind a failure.
                workers.abort_all();
                first_error.get_or_insert(error);
            }
            Err(error) if error.is_cancelled() => {}
            Err(error) => {
                first_error.get_or_insert(anyhow::anyhow!("client task failed: {error}"));
            }
        }
    }
    let elapsed = started.elapsed();
    if let Some(error) = first_error {
        return Err(error);
    }
    latencies.sort();
    Ok((elapsed, latencies))
}

/// `url` with its database (path) replaced by `name`; query parameters kept.
pub(crate) fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (scheme, rest) = url
        .split_once("://")
        .context("--database-url is not a URL")?;
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let authority = before_query
        .split_once('/')
        .map_or(before_query, |(authority, _)| authority);
    ensure!(!authority.is_empty(), "--database-url has no host");
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

/// Host and port of a URL, without credentials, for the report.
pub(crate) fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
        .to_owned()
}

/// A record shaped like the API's `RecordIn`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct SyntheticRecord {
    subject_code: String,
    subject_name: String,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'static str>,
    domain: &'static str,
    source_record_id: String,
    document_no: String,
    decision_date: String,
    legal_basis: &'static str,
    content: String,
    severity: &'static str,
    period_start: String,
    period_end: String,
    publication_level: &'static str,
}

impl SyntheticRecord {
    pub(crate) fn draft(&self) -> RecordDraft {
        RecordDraft {
            subject_code: Some(self.subject_code.clone()),
            subject_name: Some(self.subject_name.clone()),
            kind: Some(self.kind.to_owned()),
            category: self.category.map(str::to_owned),
            domain: Some(self.domain.to_owned()),
            source_dept: Some(BENCH_DEPT.to_owned()),
            source_record_id: Some(self.source_record_id.clone()),
            document_no: Some(self.document_no.clone()),
            decision_date: Some(self.decision_date.clone()),
            legal_basis: Some(self.legal_basis.to_owned()),
            content: Some(self.content.clone()),
            severity: Some(self.severity.to_owned()),
            period_start: Some(self.period_start.clone()),
            period_end: Some(self.period_end.clone()),
            publication_level: Some(self.publication_level.to_owned()),
            tolerance_case: false,
        }
    }
}

#[derive(Serialize)]
struct BatchBody<'a> {
    records: &'a [SyntheticRecord],
}

/// GB 11714 check character of an 8-character organisation-code body (digits and capital
/// letters, A = 10 … Z = 35).
fn organization_check(body: &[u8]) -> char {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .iter()
        .zip(WEIGHTS)
        .map(|(&b, weight)| {
            let value = if b.is_ascii_digit() {
                b - b'0'
            } else {
                b.saturating_sub(b'A') + 10
            };
            u32::from(value) * weight
        })
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        digit => char::from_digit(digit, 10).unwrap_or('0'),
    }
}

/// A valid enterprise USCC registered in 饶平县: `91445122`, `MA` plus six characters counting
/// `n` in the USCC alphabet, the GB 11714 check and the GB 32100 check character.
fn enterprise_uscc(n: usize) -> anyhow::Result<String> {
    let mut body = *b"MA000000";
    let mut rest = n;
    for slot in body[2..].iter_mut().rev() {
        *slot = USCC_ALPHABET[rest % USCC_ALPHABET.len()];
        rest /= USCC_ALPHABET.len();
    }
    let body = std::str::from_utf8(&body)?;
    let first_17 = format!("91445122{body}{}", organization_check(body.as_bytes()));
    let check = uscc::compute_check_character(&first_17)
        .with_context(|| format!("no check character for {first_17}"))?;
    Ok(format!("{first_17}{check}"))
}

/// A valid citizen ID with a 饶平县 address code, born 1960–1999.
fn citizen_id(n: usize) -> anyhow::Result<String> {
    let year = 1960 + n % 40;
    let month = 1 + (n / 40) % 12;
    let day = 1 + (n / 480) % 28;
    let sequence = (n / 13_440) % 1_000;
    let first_17 = format!("445122{year:04}{month:02}{day:02}{sequence:03}");
    let check = citizen_id::compute_check_digit(&first_17)
        .with_context(|| format!("no check digit for {first_17}"))?;
    Ok(format!("{first_17}{check}"))
}

const INDUSTRIES: [&str; 8] = [
    "建筑工程有限公司",
    "陶瓷制品有限公司",
    "食品有限公司",
    "道路运输有限公司",
    "餐饮管理有限公司",
    "电子科技有限公司",
    "水产养殖专业合作社",
    "建材贸易有限公司",
];
const TOWNS: [&str; 8] = [
    "黄冈镇",
    "钱东镇",
    "高堂镇",
    "浮洋镇",
    "三饶镇",
    "汫洲镇",
    "柘林镇",
    "新圩镇",
];
const SURNAMES: [&str; 10] = ["陈", "林", "黄", "张", "李", "吴", "刘", "蔡", "郑", "许"];
const GIVEN: [&str; 10] = [
    "伟明", "秀英", "志强", "丽娟", "建华", "少鹏", "佳琪", "泽楷", "晓燕", "锦辉",
];
const LEGAL_BASES: [&str; 5] = [
    "《中华人民共和国招标投标法》第五十四条",
    "《中华人民共和国食品安全法》第一百二十四条",
    "《中华人民共和国安全生产法》第九十九条",
    "《中华人民共和国税收征收管理法》第六十四条",
    "《广东省社会信用条例》第三十二条",
];
const FACTS: [&str; 5] = [
    "在县道改造工程招标中提供虚假业绩材料骗取中标",
    "生产经营的预包装食品标签标注不实且未按规定进行出厂检验",
    "未按规定对从业人员进行安全生产教育和培训，现场存在重大事故隐患",
    "进行虚假纳税申报，少缴应纳税款，经税务机关责令限期改正逾期未改正",
    "作出的信用承诺未按约定期限履行，经督促后仍未整改到位",
];

fn pick<T: Copy>(items: &[T], n: usize) -> T {
    items[n % items.len()]
}

/// The `n`th synthetic record: a mix of enterprises (9 in 10) and individuals (1 in 10), about
/// three records per subject, every kind, domain, severity and publication level, decisions
/// dated in 2025, about 200 characters of content, and a source record id unique to the run.
pub(crate) fn synthetic_record(n: usize, run_tag: &str) -> anyhow::Result<SyntheticRecord> {
    let subject = n / 3;
    let town = pick(&TOWNS, subject / 7);
    let (subject_code, subject_name) = if subject % 10 == 9 {
        (
            citizen_id(subject)?,
            format!("{}{}", pick(&SURNAMES, subject), pick(&GIVEN, subject / 10)),
        )
    } else {
        (
            enterprise_uscc(subject)?,
            format!("饶平县{town}{subject}号{}", pick(&INDUSTRIES, subject / 3)),
        )
    };
    let kind = pick(RecordKind::ALL, n);
    let category = (kind == RecordKind::Dishonesty)
        .then(|| pick(DishonestyCategory::ALL, n / RecordKind::ALL.len()).as_str());
    let domain = pick(Domain::ALL, n.wrapping_mul(7) / 3);
    let severity = pick(Severity::ALL, n / 2);
    let level = pick(PublicationLevel::ALL, n / 5);
    let day_of_year = u16::try_from(1 + n % 365)?;
    let decided = Date::from_ordinal_date(2025, day_of_year)?;
    let years = 1 + (n % 3) as i64;
    let period_end = decided
        .checked_add(time::Duration::days(365 * years - 1))
        .context("period end out of range")?;
    let fact = pick(&FACTS, n / 11);
    let legal_basis = pick(&LEGAL_BASES, n / 11);
    let amount = 5_000 + (n % 97) * 1_000;
    let content = format!(
        "经查，{subject_name}于{}在饶平县{town}辖区内{fact}，违反了{legal_basis}的规定，事实清楚，证据确凿。\
         本机关依法作出{}处理决定，责令当事人立即改正违法行为，并处罚款人民币{amount}元。\
         当事人在法定期限内未申请行政复议，也未提起行政诉讼，决定已发生法律效力。\
         依据《广东省社会信用条例》及公共信用信息归集目录，本记录归集至饶平县公共信用信息平台，\
         公示期限自{decided}起至{period_end}止，期满后依法停止公示（记录序号{n}）。",
        decided,
        pick(&["从轻", "一般", "从重"], n),
    );
    Ok(SyntheticRecord {
        subject_code,
        subject_name,
        kind: kind.as_str(),
        category,
        domain: domain.as_str(),
        source_record_id: format!("BENCH-{run_tag}-{n:08}"),
        document_no: format!("饶监罚〔2025〕{}号", 1 + n % 9_999),
        decision_date: decided.to_string(),
        legal_basis,
        content,
        severity: severity.as_str(),
        period_start: decided.to_string(),
        period_end: period_end.to_string(),
        publication_level: level.as_str(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::subject::SubjectCode;
    use crate::domain::uscc::Uscc;
    use time::macros::date;

    #[test]
    fn generated_codes_are_valid() {
        assert!(Uscc::parse(BENCH_DEPT).is_ok());
        for n in [0, 1, 30, 31, 961, 123_456, 887_503_680] {
            let code = enterprise_uscc(n).unwrap();
            assert!(Uscc::parse(&code).is_ok(), "{code}");
        }
        for n in [0, 9, 479, 480, 13_439, 13_440, 99_999] {
            let code = citizen_id(n).unwrap();
            assert!(
                matches!(SubjectCode::parse(&code), Ok(SubjectCode::Citizen(_))),
                "{code}"
            );
        }
    }

    #[test]
    fn synthetic_records_validate_and_are_unique() {
        let mut ids = std::collections::HashSet::new();
        for n in 0..2_000 {
            let record = synthetic_record(n, "0123456789ab").unwrap();
            let data = record
                .draft()
                .validate(date!(2026 - 11 - 22))
                .unwrap_or_else(|errors| panic!("record {n}: {errors:?}"));
            let chars = data.content.chars().count();
            assert!(
                (180..=320).contains(&chars),
                "record {n}: {chars} characters"
            );
            assert!(ids.insert(data.source_record_id));
        }
    }

    #[test]
    fn batch_bodies_match_the_api_shape() {
        let records: Vec<_> = (0..3)
            .map(|n| synthetic_record(n, "0123456789ab").unwrap())
            .collect();
        let body = serde_json::to_string(&BatchBody { records: &records }).unwrap();
        let parsed: crate::api::records::RecordBatchIn = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed.records.len(), 3);
    }

    #[test]
    fn database_urls() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "bench_1").unwrap(),
            "postgres://postgres@127.0.0.1:5432/bench_1"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "bench_1").unwrap(),
            "postgresql://u:p@h/bench_1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "bench_1").unwrap(),
            "postgres://h:5432/bench_1"
        );
        assert_eq!(host_of("postgres://u:secret@h:5432/db"), "h:5432");
    }
}
