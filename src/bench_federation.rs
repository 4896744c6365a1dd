//! `integrity-node bench federation`: the upward federation path between real nodes, in one
//! process, on loopback, over mutual TLS with certificates from a CA made for the run (the
//! `pki` module), each node on its own fresh database (SQLite files in a temporary directory,
//! or fresh `bench_*` databases on the PostgreSQL server `--database-url` names).
//!
//! It measures, in one run:
//!
//! 1. **Baseline:** the county's local ingest rate (`Store::insert_records`, 1,000 records a
//!    transaction, signed journal events included) while it fills its journal with N records
//!    and its parent is down.
//! 2. **Catch-up after an outage, one hop:** the city starts; the county drains the backlog.
//! 3. **Sustained, one hop:** the county ingests M more records as fast as it can while it
//!    pushes them; the rate is what reaches the city per second of the whole run.
//! 4. **Propagation latency over three hops** (county → city → province → national) at a
//!    fixed offered rate: a writer commits small batches at the county on a fixed schedule,
//!    and the time from each commit to the national node committing the same event is taken
//!    from the national node's journal-commit notifications (no polling).
//!
//! Records are the synthetic ones of `bench ingest`, written through the store (no HTTP on the
//! write side, so the numbers are the federation path's). Nodes are started in-process and
//! share the machine's cores, as the load generator does. Build with `--release`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use secrecy::SecretString;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::app::{Application, install_crypto_provider};
use crate::audit::AuditEntry;
use crate::bench::{BENCH_DEPT, connect, host_of, percentile, synthetic_record, with_database};
use crate::config::Settings;
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::region::RegionCode;
use crate::domain::uscc::Uscc;
use crate::federation::pki::{CaMaterial, create_ca, issue_node_certificate, write_node_dir};
use crate::state::AppState;
use crate::store::NewRecord;
use crate::store::bench::{create_scratch_database, drop_scratch_database};

const COUNTY: &str = "445122";
const CITY: &str = "445100";
const PROVINCE: &str = "440000";
const NATIONAL: &str = "100000";
/// Records per local ingest transaction (the API's batch limit).
const INGEST_BATCH: usize = 1_000;

/// Options of `bench federation`.
#[derive(Clone, Debug, clap::Args)]
pub struct FederationArgs {
    /// Records in the county's journal when its parent comes back (catch-up after an outage).
    #[arg(long, default_value_t = 50_000)]
    pub records: usize,
    /// Records ingested while they are pushed (sustained rate over one hop).
    #[arg(long, default_value_t = 50_000)]
    pub sustained_records: usize,
    /// Offered rate of the three-hop latency run, records per second.
    #[arg(long, default_value_t = 1_000)]
    pub rate: u64,
    /// Seconds of the three-hop latency run.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Commits per second of the latency run's writer (records per commit = rate / this).
    #[arg(long, default_value_t = 50)]
    pub commits_per_second: u64,
    /// `federation.batch_size` of every node.
    #[arg(long, default_value_t = 1_000)]
    pub batch_size: u64,
    /// `federation.in_flight` of every node.
    #[arg(long, default_value_t = 4)]
    pub in_flight: usize,
    /// PostgreSQL server (`postgres://user@host:port/db`): the benchmark creates and drops a
    /// fresh `bench_*` database per node there. Omit for embedded SQLite in a temporary
    /// directory.
    #[arg(long)]
    pub database_url: Option<String>,
}

/// A node running in this process.
struct Node {
    state: AppState,
    base_url: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Node {
    async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.context("node task")??;
        }
        Ok(())
    }

    /// The highest sequence number of `origin` this node holds.
    fn head(&self, origin: &str) -> i64 {
        self.state
            .store
            .journal_heads()
            .get(origin)
            .copied()
            .unwrap_or(0)
    }
}

/// Where the nodes' databases and files go, and what to clean up.
struct Bench {
    args: FederationArgs,
    scratch: PathBuf,
    ca: CaMaterial,
    postgres: Option<String>,
    run_id: String,
    created: Vec<String>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Bench {
    /// The certificate directory of `region` (issued on first use).
    fn node_dir(&self, region: &str) -> anyhow::Result<PathBuf> {
        let dir = self.scratch.join("pki").join(region);
        if !dir.exists() {
            let material = issue_node_certificate(
                &self.ca.cert_pem,
                &self.ca.key_pem,
                RegionCode::parse(region).map_err(|error| anyhow::anyhow!("{error}"))?,
                &["localhost".to_owned()],
                2,
                SystemClock.now(),
            )?;
            write_node_dir(&dir, &material, false)?;
        }
        Ok(dir)
    }

    /// Starts a node named `name` (its own data directory and database) for `region`.
    async fn start(
        &mut self,
        name: &str,
        region: &str,
        parent_port: Option<u16>,
        port: u16,
    ) -> anyhow::Result<Node> {
        let pki = self.node_dir(region)?;
        let data_dir = self.scratch.join(name);
        let database_url = match &self.postgres {
            None => String::new(),
            Some(admin_url) => {
                let database = format!("bench_{}_{name}", self.run_id);
                create_scratch_database(admin_url, &database)
                    .await
                    .with_context(|| format!("creating database {database}"))?;
                self.created.push(database.clone());
                let url = with_database(admin_url, &database)?;
                let store = connect(&url, 1).await?;
                store.migrate().await.context("migrating a node database")?;
                store.close().await?;
                url
            }
        };
        let mut settings = Settings::load(None)?;
        settings.node.region = region.to_owned();
        settings.node.data_dir = data_dir;
        settings.http.listen = format!("127.0.0.1:{port}").parse()?;
        settings.http.public_url = String::new();
        settings.database.url = SecretString::from(database_url);
        settings.tls.cert_path = pki.join("node.crt");
        settings.tls.key_path = pki.join("node.key");
        settings.federation.ca_path = pki.join("ca.crt");
        settings.federation.signing_key = pki.join("signing.key");
        settings.federation.parent_url = parent_port
            .map(|port| format!("https://localhost:{port}"))
            .unwrap_or_default();
        settings.federation.batch_size = self.args.batch_size;
        settings.federation.in_flight = self.args.in_flight;
        settings.federation.max_backoff_secs = 1;
        let app = Application::build(settings, Arc::new(SystemClock))
            .await
            .with_context(|| format!("starting node {name}"))?;
        let state = app.state().clone();
        let base_url = app.base_url().to_owned();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Ok(Node {
            state,
            base_url,
            stop: Some(stop),
            server: Some(server),
        })
    }
}

/// Synthetic records, validated (not timed).
fn prepare(first: usize, n: usize, tag: &str) -> anyhow::Result<Vec<NewRecord>> {
    let today = SystemClock.today_shanghai();
    (first..first + n)
        .map(|i| {
            let data = synthetic_record(i, tag)?
                .draft()
                .validate(today)
                .map_err(|errors| anyhow::anyhow!("synthetic record {i}: {errors:?}"))?;
            Ok(NewRecord { data })
        })
        .collect()
}

/// Writes `records` at `node` in transactions of `batch` records, as a department would.
async fn ingest(node: &Node, records: Vec<NewRecord>, batch: usize) -> anyhow::Result<()> {
    let dept = Uscc::parse(BENCH_DEPT).map_err(|error| anyhow::anyhow!("{error}"))?;
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        let chunk: Vec<NewRecord> = records.by_ref().take(batch).collect();
        node.state
            .store
            .insert_records(
                &dept,
                chunk,
                node.state.region,
                "bench@federation",
                node.state.clock.now(),
                audit_entry(),
            )
            .await?;
    }
    Ok(())
}

fn audit_entry() -> AuditEntry {
    AuditEntry {
        actor_kind: "provider".into(),
        actor_id: format!("bench@{BENCH_DEPT}"),
        action: "records.create".into(),
        resource: "records".into(),
        outcome: "ok".into(),
        request_id: String::new(),
        detail: String::new(),
    }
}

/// Waits until `node` holds `seq` events of `origin`; returns when it first held more than
/// `first_above` and when it held `seq`.
async fn wait_until(
    node: &Node,
    origin: &str,
    first_above: i64,
    seq: i64,
    limit: Duration,
) -> anyhow::Result<(Instant, Instant)> {
    let mut changes = node.state.store.journal_changes();
    let deadline = Instant::now() + limit;
    let mut first = None;
    loop {
        changes.borrow_and_update();
        let head = node.head(origin);
        if head > first_above && first.is_none() {
            first = Some(Instant::now());
        }
        if head >= seq {
            let done = Instant::now();
            return Ok((first.unwrap_or(done), done));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        ensure!(
            !left.is_zero(),
            "node {} holds {origin} up to {head}, expected {seq} within {limit:?}",
            node.state.region
        );
        let _ = tokio::time::timeout(left, changes.changed()).await;
    }
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// Runs `bench federation` and returns its report; removes what it created, also on failure.
pub async fn federation(args: &FederationArgs) -> anyhow::Result<String> {
    ensure!(args.records >= 1, "--records must be at least 1");
    ensure!(
        (1..=2_000).contains(&args.batch_size),
        "--batch-size must be between 1 and 2000"
    );
    ensure!(
        (1..=64).contains(&args.in_flight),
        "--in-flight must be between 1 and 64"
    );
    ensure!(
        args.rate >= 1 && args.commits_per_second >= 1 && args.commits_per_second <= args.rate,
        "--rate and --commits-per-second must be at least 1, and commits at most the rate"
    );
    let postgres = match args.database_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Some(url.to_owned())
        }
        Some(_) => bail!("--database-url must be a postgres:// URL"),
    };
    install_crypto_provider();
    if std::env::var_os("RUST_LOG").is_some() {
        // Per-batch timings (debug events of the outbox and apply_events) for profiling.
        crate::telemetry::init_tracing(&Settings::load(None)?.log);
    }
    let run_id = Uuid::now_v7().simple().to_string();
    let scratch = std::env::temp_dir().join(format!("integrity-bench-fed-{run_id}"));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let mut bench = Bench {
        args: args.clone(),
        scratch: scratch.clone(),
        ca: create_ca("bench federation CA", 3, SystemClock.now())?,
        postgres,
        run_id: run_id[..12].to_owned(),
        created: Vec::new(),
    };
    let result = run(&mut bench).await;
    if let Some(admin_url) = &bench.postgres {
        for name in &bench.created {
            if let Err(error) = drop_scratch_database(admin_url, name).await {
                eprintln!("warning: could not drop database {name}: {error}");
            }
        }
    }
    if let Err(error) = std::fs::remove_dir_all(&scratch) {
        eprintln!("warning: could not remove {}: {error}", scratch.display());
    }
    result
}

async fn run(bench: &mut Bench) -> anyhow::Result<String> {
    let args = bench.args.clone();
    let tag = bench.run_id.clone();
    let mut report = String::new();
    let backend = match &bench.postgres {
        None => "sqlite (temporary files)".to_owned(),
        Some(url) => format!("postgres ({})", host_of(url)),
    };
    writeln!(report, "integrity-node bench federation")?;
    writeln!(
        report,
        "  setup       {backend}; mutual TLS on loopback (HTTP/2); batch_size {}, in_flight {}; nodes, writer and poller in one process",
        args.batch_size, args.in_flight
    )?;

    // 1 + 2: baseline ingest with the parent down, then catch-up over one hop.
    let prefill = prepare(0, args.records, &tag)?;
    let sustained = prepare(args.records, args.sustained_records, &tag)?;
    let city_port = free_port()?;
    let county = bench.start("county", COUNTY, Some(city_port), 0).await?;
    let started = Instant::now();
    ingest(&county, prefill, INGEST_BATCH).await?;
    let ingest_elapsed = started.elapsed();
    let baseline = rate(args.records, ingest_elapsed);
    let n = args.records as i64;
    ensure!(
        county.head(COUNTY) == n,
        "the county journaled {}",
        county.head(COUNTY)
    );
    let city = bench.start("city", CITY, None, city_port).await?;
    let city_up = Instant::now();
    let (first, done) = wait_until(&city, COUNTY, 0, n, Duration::from_secs(600)).await?;
    let catch_up_total = done - city_up;
    let catch_up_steady = done - first;
    let catch_up = rate(args.records, catch_up_total);
    writeln!(
        report,
        "  baseline    local ingest at the county (parent down): {} records in {:.2} s = {:.0} records/s",
        args.records,
        ingest_elapsed.as_secs_f64(),
        baseline
    )?;
    writeln!(
        report,
        "  catch-up    1 hop after an outage: {} records in {:.2} s from the parent's start = {:.0} records/s ({:.2}x baseline); {:.0} records/s from the first applied batch (reconnect back-off excluded)   target >= 20,000/s: {}",
        args.records,
        catch_up_total.as_secs_f64(),
        catch_up,
        catch_up / baseline.max(f64::MIN_POSITIVE),
        rate(args.records, catch_up_steady),
        if catch_up >= 20_000.0 {
            "met"
        } else {
            "NOT met"
        }
    )?;

    // 3: sustained over one hop, writes concurrent with the push.
    let m = args.sustained_records as i64;
    let started = Instant::now();
    let writer = async {
        ingest(&county, sustained, INGEST_BATCH).await?;
        Ok::<_, anyhow::Error>(started.elapsed())
    };
    let (write_elapsed, (_, done)) = tokio::try_join!(
        writer,
        wait_until(&city, COUNTY, n, n + m, Duration::from_secs(600))
    )?;
    let sustained_elapsed = done - started;
    let sustained_rate = rate(args.sustained_records, sustained_elapsed);
    writeln!(
        report,
        "  sustained   1 hop, writes concurrent: {} records written in {:.2} s ({:.0}/s), all at the city after {:.2} s = {:.0} records/s ({:.2}x baseline)   target >= 20,000/s: {}",
        args.sustained_records,
        write_elapsed.as_secs_f64(),
        rate(args.sustained_records, write_elapsed),
        sustained_elapsed.as_secs_f64(),
        sustained_rate,
        sustained_rate / baseline.max(f64::MIN_POSITIVE),
        if sustained_rate >= 20_000.0 {
            "met"
        } else {
            "NOT met"
        }
    )?;
    let city_records = city.state.store.table_counts().await?;
    ensure!(
        city_records.records == (n + m) as u64 && city_records.journal_events == (n + m) as u64,
        "the city holds {city_records:?}, expected {} records and events",
        n + m
    );
    city.stop().await?;
    county.stop().await?;

    // 4: three hops at a fixed offered rate.
    let national = bench.start("national", NATIONAL, None, 0).await?;
    let national_port = port_of(&national)?;
    let province = bench
        .start("province", PROVINCE, Some(national_port), 0)
        .await?;
    let city = bench
        .start("city3", CITY, Some(port_of(&province)?), 0)
        .await?;
    let county = bench
        .start("county3", COUNTY, Some(port_of(&city)?), 0)
        .await?;
    let per_commit = (args.rate / args.commits_per_second).max(1) as usize;
    let n_commits = (args.seconds * args.commits_per_second) as usize;
    let total = per_commit * n_commits;
    let records = prepare(args.records + args.sustained_records, total, &tag)?;
    let national_seen = {
        let store = national.state.store.clone();
        let mut changes = store.journal_changes();
        tokio::spawn(async move {
            // (head, when) each time the national node's head for the county moves.
            let mut seen: Vec<(i64, Instant)> = Vec::new();
            let mut last = 0;
            while last < total as i64 {
                if tokio::time::timeout(Duration::from_secs(120), changes.changed())
                    .await
                    .is_err()
                {
                    break;
                }
                let head = store.journal_heads().get(COUNTY).copied().unwrap_or(0);
                if head > last {
                    seen.push((head, Instant::now()));
                    last = head;
                }
            }
            seen
        })
    };
    let period = Duration::from_secs_f64(1.0 / args.commits_per_second as f64);
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut committed: Vec<(i64, Instant)> = Vec::with_capacity(n_commits);
    let mut commit_times: Vec<Duration> = Vec::with_capacity(n_commits);
    let mut records = records.into_iter().peekable();
    let offered_started = Instant::now();
    while records.peek().is_some() {
        ticker.tick().await;
        let chunk: Vec<NewRecord> = records.by_ref().take(per_commit).collect();
        let writing = Instant::now();
        ingest(&county, chunk, per_commit).await?;
        committed.push((county.head(COUNTY), Instant::now()));
        commit_times.push(writing.elapsed());
    }
    let offered_elapsed = offered_started.elapsed();
    let seen = national_seen.await.context("latency watcher")?;
    let mut latencies = Vec::with_capacity(total);
    let mut seen_iter = seen.iter().peekable();
    let mut previous = 0;
    for (head, at) in &committed {
        while seen_iter.peek().is_some_and(|(held, _)| held < head) {
            seen_iter.next();
        }
        let Some((_, visible)) = seen_iter.peek() else {
            bail!("the national node never held the county's event {head}");
        };
        let latency = visible.saturating_duration_since(*at);
        for _ in previous..*head {
            latencies.push(latency);
        }
        previous = *head;
    }
    latencies.sort();
    commit_times.sort();
    let p50 = percentile(&latencies, 0.5);
    let p99 = percentile(&latencies, 0.99);
    writeln!(
        report,
        "  latency     3 hops (county -> city -> province -> national), {} records offered at {}/s ({} per commit, achieved {:.0}/s): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms   target p99 <= 2 s: {}",
        total,
        args.rate,
        per_commit,
        rate(total, offered_elapsed),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        percentile(&latencies, 1.0).as_secs_f64() * 1e3,
        if p99 <= Duration::from_secs(2) {
            "met"
        } else {
            "NOT met"
        }
    )?;
    writeln!(
        report,
        "              the county's write of {per_commit} records took p50 {:.1} ms, p99 {:.1} ms (a rate below the offered one means the writer could not keep up)",
        percentile(&commit_times, 0.5).as_secs_f64() * 1e3,
        percentile(&commit_times, 0.99).as_secs_f64() * 1e3
    )?;
    let counts = national.state.store.table_counts().await?;
    ensure!(
        counts.records == total as u64 && counts.journal_events == total as u64,
        "the national node holds {counts:?}, expected {total} records and events"
    );
    writeln!(
        report,
        "  checked     city after 1-hop runs: records={} journal_events={}; national after 3 hops: records={} journal_events={}",
        city_records.records, city_records.journal_events, counts.records, counts.journal_events
    )?;
    writeln!(
        report,
        "| backend | N catch-up | catch-up rec/s | sustained rec/s | baseline ingest rec/s | catch-up / baseline | 3-hop p50 / p99 at {}/s |",
        args.rate
    )?;
    writeln!(
        report,
        "| {backend} | {} | {:.0} | {:.0} | {:.0} | {:.2}x | {:.0} / {:.0} ms |",
        args.records,
        catch_up,
        sustained_rate,
        baseline,
        catch_up / baseline.max(f64::MIN_POSITIVE),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    )?;
    for node in [county, city, province, national] {
        node.stop().await?;
    }
    Ok(report)
}

fn port_of(node: &Node) -> anyhow::Result<u16> {
    node.base_url
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .with_context(|| format!("no port in {}", node.base_url))
}
