//! `integrity-node demo`: a four-level federation (饶平县 445122 → 潮州市 445100 → 广东省 440000
//! → national 100000) on loopback, in one process, with its own PKI and a data directory per
//! node. It writes sample records at the county and a national list entry, then shows the
//! records arriving at the national node and the entry arriving at the county.
//!
//! Everything it runs is the real node (`Application`), over real mutual TLS; only the
//! topology is packed into one process. Running it again reuses the directory: certificates,
//! data and the samples (writes are idempotent) stay.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use crate::app::Application;
use crate::auth::Role;
use crate::config::Settings;
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::region::RegionCode;
use crate::federation::identity::client_config;
use crate::federation::pki::{
    CA_CERT_FILE, CA_KEY_FILE, NODE_CERT_FILE, NODE_KEY_FILE, SIGNING_KEY_FILE, create_ca,
    issue_node_certificate, write_ca_dir, write_node_dir,
};

/// The demo's topology, top first.
const NODES: [&str; 4] = ["100000", "440000", "445100", "445122"];
/// A department of 饶平县 that submits the sample records.
const COUNTY_DEPT: &str = "114451220070545543";
/// The national department that issues the sample list entry.
const NATIONAL_DEPT: &str = "11100000000013127D";
/// Sample enterprises of 饶平县 (valid USCCs).
const ENTERPRISES: [(&str, &str); 2] = [
    ("91445122MA4W123460", "饶平县某某建筑工程有限公司"),
    ("91445122MA4W12354T", "饶平县某某建材贸易有限公司"),
];

/// Options of `integrity-node demo`.
#[derive(Clone, Debug, clap::Args)]
pub struct DemoOptions {
    /// Directory for the PKI and the nodes' data (reused when it exists).
    #[arg(long, default_value = "demo-federation")]
    pub dir: PathBuf,
    /// First port: the nodes listen on this port and the next three (0 = any free ports).
    #[arg(long, default_value_t = 0)]
    pub base_port: u16,
    /// Sample records written at the county.
    #[arg(long, default_value_t = 50)]
    pub records: usize,
    /// Stop once the records reached the national node and the list entry reached the
    /// county (for scripts and tests), instead of serving until Ctrl-C.
    #[arg(long)]
    pub exit_when_done: bool,
}

/// A running node of the demo.
struct DemoNode {
    region: RegionCode,
    url: String,
    app_state: crate::state::AppState,
    client: reqwest::Client,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Creates (or reuses) the CA and each node's certificate, keys and CA copy.
fn prepare_pki(dir: &Path, now: time::OffsetDateTime) -> anyhow::Result<()> {
    let ca_dir = dir.join("ca");
    if !ca_dir.join(CA_CERT_FILE).exists() {
        let ca = create_ca("integrity-exchange demo federation CA", 365, now)?;
        write_ca_dir(&ca_dir, &ca, false)?;
    }
    let ca_cert = read(&ca_dir.join(CA_CERT_FILE))?;
    let ca_key = read(&ca_dir.join(CA_KEY_FILE))?;
    for code in NODES {
        let node_dir = dir.join(code).join("pki");
        if node_dir.join(NODE_CERT_FILE).exists() {
            continue;
        }
        let material = issue_node_certificate(
            &ca_cert,
            &ca_key,
            RegionCode::parse(code)?,
            &["localhost".to_owned()],
            364,
            now,
        )?;
        write_node_dir(&node_dir, &material, false)?;
    }
    Ok(())
}

fn node_settings(
    base: &Settings,
    dir: &Path,
    code: &str,
    port: u16,
    parent_url: Option<&str>,
) -> anyhow::Result<Settings> {
    let pki = dir.join(code).join("pki");
    let mut settings = base.clone();
    settings.node.region = code.to_owned();
    settings.node.data_dir = dir.join(code).join("data");
    settings.http.listen = format!("127.0.0.1:{port}").parse()?;
    settings.http.public_url = String::new();
    settings.tls.cert_path = pki.join(NODE_CERT_FILE);
    settings.tls.key_path = pki.join(NODE_KEY_FILE);
    settings.federation.ca_path = pki.join(CA_CERT_FILE);
    settings.federation.signing_key = pki.join(SIGNING_KEY_FILE);
    settings.federation.parent_url = parent_url.unwrap_or_default().to_owned();
    settings.federation.children = Vec::new();
    // A demo mints its own tokens with each node's development key; the database is each
    // node's embedded SQLite file.
    settings.auth.allow_dev_key = true;
    settings.auth.jwt_public_keys = Vec::new();
    settings.database.url = String::new().into();
    settings.database.auto_migrate = true;
    Ok(settings)
}

impl DemoNode {
    fn token(&self, role: Role, dept: Option<&str>) -> anyhow::Result<String> {
        Ok(self.app_state.tokens.mint(
            "demo",
            role,
            dept,
            &self.region.to_string(),
            self.app_state.clock.now(),
            time::Duration::hours(8),
        )?)
    }

    async fn post(&self, path: &str, token: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {path} at {}", self.region))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(
            status.is_success(),
            "POST {path} at {} answered {status}: {body}",
            self.region
        );
        Ok(body)
    }
}

fn sample_record(i: usize) -> Value {
    let (code, name) = ENTERPRISES[i % ENTERPRISES.len()];
    json!({
        "subject_code": code,
        "subject_name": name,
        "kind": "administrative_penalty",
        "domain": "bidding",
        "source_record_id": format!("DEMO-{i:04}"),
        "document_no": format!("饶建罚〔2026〕{}号", i + 1),
        "decision_date": "2026-03-18",
        "legal_basis": "《中华人民共和国招标投标法》第五十四条",
        "content": "在饶平县某道路工程招标中提供虚假业绩材料。",
        "severity": "general",
        "period_start": "2026-03-18",
        "period_end": "2027-03-17",
        "publication_level": "public"
    })
}

/// Runs the demo until `shutdown` resolves (or, with `exit_when_done`, until the samples
/// have travelled).
pub async fn run(
    base: Settings,
    options: DemoOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
    say: impl Fn(&str),
) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    std::fs::create_dir_all(&options.dir)
        .with_context(|| format!("creating {}", options.dir.display()))?;
    let dir = options
        .dir
        .canonicalize()
        .with_context(|| format!("resolving {}", options.dir.display()))?;
    prepare_pki(&dir, clock.now())?;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut nodes: Vec<DemoNode> = Vec::new();
    for (i, code) in NODES.iter().enumerate() {
        let port = if options.base_port == 0 {
            0
        } else {
            options.base_port + i as u16
        };
        let parent = nodes.last().map(|node| node.url.clone());
        let settings = node_settings(&base, &dir, code, port, parent.as_deref())?;
        let pki = dir.join(code).join("pki");
        let tls = client_config(
            &pki.join(NODE_CERT_FILE),
            &pki.join(NODE_KEY_FILE),
            &pki.join(CA_CERT_FILE),
        )?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(Duration::from_secs(30))
            .build()?;
        let app = Application::build(settings, clock.clone())
            .await
            .with_context(|| format!("starting node {code}"))?;
        let url = app.base_url().to_owned();
        let app_state = app.state().clone();
        let mut node_stopped = stopped.clone();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = node_stopped.wait_for(|stop| *stop).await;
        }));
        nodes.push(DemoNode {
            region: RegionCode::parse(code)?,
            url,
            app_state,
            client,
            task,
        });
    }

    say(&format!(
        "integrity-exchange demo: four nodes on loopback, mutual TLS with the CA in {}",
        dir.join("ca").display()
    ));
    for node in &nodes {
        let parent = if node.app_state.settings.federation.parent_url.is_empty() {
            "no parent".to_owned()
        } else {
            format!("parent {}", node.app_state.settings.federation.parent_url)
        };
        say(&format!(
            "  {} {:<8} {}  (docs {}/docs, {parent})",
            node.region,
            node.region.name(),
            node.url,
            node.url
        ));
    }
    let (national, county) = (&nodes[0], &nodes[3]);
    let supervisor = national.token(Role::Supervisor, None)?;
    say(&format!(
        "\nA supervisor token for the national node (8 h):\n  {supervisor}\nTry (the nodes present certificates of the demo CA):\n  curl --cacert {ca} -H \"Authorization: Bearer $TOKEN\" {url}/api/v1/federation/status\n  curl --cacert {ca} {county}/api/v1/lists/serious_dishonesty/entries",
        ca = dir.join("ca").join(CA_CERT_FILE).display(),
        url = national.url,
        county = county.url,
    ));

    // Samples: records at the county (one corrected), an entry on a national list.
    let started = Instant::now();
    let provider = county.token(Role::Provider, Some(COUNTY_DEPT))?;
    let records: Vec<Value> = (0..options.records).map(sample_record).collect();
    let batch = county
        .post(
            "/api/v1/records/batch",
            &provider,
            &json!({ "records": records }),
        )
        .await?;
    if let Some(first) = batch["results"][0]["id"].as_str()
        && batch["results"][0]["created"] == true
    {
        county
            .post(
                &format!("/api/v1/records/{first}/corrections"),
                &provider,
                &json!({"reason": "异议成立：处罚期限更正", "expected_version": 1,
                        "changes": {"period_end": "2026-12-31"}}),
            )
            .await?;
    }
    let (listed_code, listed_name) = ENTERPRISES[0];
    national
        .post(
            "/api/v1/lists/serious_dishonesty/entries",
            &national.token(Role::Provider, Some(NATIONAL_DEPT))?,
            &json!({
                "subject_code": listed_code,
                "subject_name": listed_name,
                "reason": "在政府投资项目招标投标中串通投标，情节严重",
                "authority": "国家发展和改革委员会",
                "document_no": "发改财金〔2026〕示例1号",
                "legal_basis": "《招标投标法》第五十三条；《严重失信主体名单管理办法》",
                "effective_from": "2026-01-01",
                "effective_to": "2028-12-31"
            }),
        )
        .await?;
    say(&format!(
        "\nWrote {} records at 饶平县 (445122) and one entry on the national serious-dishonesty list.",
        options.records
    ));

    // Watch them travel.
    let county_code = county.region.to_string();
    let county_head = county
        .app_state
        .store
        .journal_heads()
        .get(&county_code)
        .copied()
        .unwrap_or(0);
    let mut records_up = None;
    let mut list_down = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while (records_up.is_none() || list_down.is_none()) && Instant::now() < deadline {
        if records_up.is_none()
            && national
                .app_state
                .store
                .journal_watermarks()
                .await?
                .get(&county_code)
                .is_some_and(|held| *held >= county_head)
        {
            records_up = Some(started.elapsed());
            say(&format!(
                "  records: all {county_head} changes of 饶平县 held at the national node after {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        }
        if list_down.is_none()
            && county
                .app_state
                .store
                .list_heads()
                .await?
                .get("100000")
                .is_some_and(|held| *held >= 1)
        {
            list_down = Some(started.elapsed());
            say(&format!(
                "  lists:   the national entry is held at 饶平县 after {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(
        records_up.is_some() && list_down.is_some(),
        "the samples did not travel within a minute; see GET /api/v1/federation/status on each node"
    );

    if !options.exit_when_done {
        say("\nServing until Ctrl-C.");
        shutdown.await;
    }
    let _ = stop.send(true);
    for node in nodes {
        node.task.await??;
    }
    Ok(())
}
