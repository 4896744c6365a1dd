//! `spawn_app()`: a real node on port 0 with real migrations, a fresh SQLite file (or a fresh
//! PostgreSQL database when `TEST_DATABASE_URL` is set), a fixed clock, and a real HTTP client.

use std::sync::Arc;

use integrity_exchange::app::{Application, install_crypto_provider};
use integrity_exchange::auth::Role;
use integrity_exchange::config::Settings;
use integrity_exchange::domain::clock::{Clock, FixedClock};
use integrity_exchange::state::AppState;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use secrecy::SecretString;
use serde_json::{Value, json};
use tempfile::TempDir;
use time::macros::datetime;
use tokio::sync::oneshot;

/// Department of 饶平县 used as the default provider (a valid, constructed USCC).
pub const DEPT: &str = "114451220070545543";
/// Another department of the same county.
pub const OTHER_DEPT: &str = "11445122007054562X";
/// An enterprise registered in 饶平县.
pub const ENTERPRISE: &str = "91445122MA4W123460";
/// A citizen ID (constructed, valid check digit).
pub const CITIZEN: &str = "445122198503121231";

/// A running node and a client for it.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: Arc<FixedClock>,
    pub settings: Settings,
    pub data_dir: Arc<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A fresh database URL: a file in `dir` for SQLite, or a new database on the server named by
/// `TEST_DATABASE_URL`.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("it_{}", uuid::Uuid::now_v7().simple());
            let admin = Database::connect(admin_url.as_str())
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let base = admin_url
                .rsplit_once('/')
                .map(|(base, _)| base.to_owned())
                .unwrap_or(admin_url);
            format!("{base}/{name}")
        }
        _ => format!("sqlite://{}?mode=rwc", dir.join("test.sqlite3").display()),
    }
}

/// Settings for a test node: defaults, port 0, a temp data dir and a fresh database.
pub async fn test_settings(data_dir: &TempDir) -> Settings {
    let mut settings = Settings::load(None).expect("default settings load");
    settings.node.data_dir = data_dir.path().to_owned();
    settings.http.listen = "127.0.0.1:0".parse().expect("addr");
    settings.database.url = SecretString::from(fresh_database_url(data_dir.path()).await);
    settings.database.auto_migrate = true;
    settings
}

/// Fixed "now" of every test: 2026-06-15 10:00 in Shanghai.
pub fn test_now() -> time::OffsetDateTime {
    // Sub-microsecond on purpose: PostgreSQL keeps microseconds, and the audit chain must
    // hash what the database keeps.
    datetime!(2026-06-15 02:00:00.123456789 UTC)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a node after `adjust` has changed its settings.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = Arc::new(TempDir::new().expect("temp dir"));
    let mut settings = test_settings(&data_dir).await;
    adjust(&mut settings);
    if !settings.is_sqlite() {
        // PostgreSQL does not auto-migrate: do what an operator does before serving.
        migrate(&settings).await;
    }
    start(settings, data_dir, Arc::new(FixedClock::new(test_now()))).await
}

/// Runs the migrations the way `integrity-node migrate` does.
pub async fn migrate(settings: &Settings) {
    let store =
        integrity_exchange::store::Store::connect(&integrity_exchange::store::ConnectSettings {
            url: settings.database_url(),
            max_connections: 1,
            acquire_timeout: std::time::Duration::from_secs(5),
        })
        .await
        .expect("connect for migration");
    store.migrate().await.expect("migrate");
    store.close().await.ok();
}

/// Starts a node from settings that are ready to use.
pub async fn start(settings: Settings, data_dir: Arc<TempDir>, clock: Arc<FixedClock>) -> TestApp {
    install_crypto_provider();
    if std::env::var("TEST_LOG").is_ok() {
        integrity_exchange::telemetry::init_tracing(&settings.log);
    }
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let app = Application::build(settings.clone(), dyn_clock)
        .await
        .expect("application builds");
    let base_url = app.base_url().to_owned();
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    TestApp {
        base_url,
        client: reqwest::Client::new(),
        state,
        clock,
        settings,
        data_dir,
        shutdown: Some(tx),
        server: Some(server),
    }
}

/// A response as tests look at it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// The problem `code` of an error answer (asserts the envelope).
    pub fn code(&self) -> &str {
        assert_eq!(
            self.content_type, "application/problem+json",
            "error answers are problem+json: {}",
            self.text
        );
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "problem has an English detail: {}",
            self.text
        );
        assert!(
            self.body["detail_zh"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "problem has a Chinese detail: {}",
            self.text
        );
        self.body["code"].as_str().unwrap_or_default()
    }

    /// Codes of the per-item errors.
    pub fn item_codes(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|item| item["code"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl TestApp {
    /// A token for this node signed with its (development) key.
    pub fn token(&self, role: Role, dept: Option<&str>) -> String {
        self.token_for_region(role, dept, &self.state.region.to_string())
    }

    pub fn token_for_region(&self, role: Role, dept: Option<&str>, region: &str) -> String {
        self.state
            .tokens
            .mint(
                "test-user",
                role,
                dept,
                region,
                self.clock.now(),
                time::Duration::hours(1),
            )
            .expect("mint token")
    }

    pub fn provider(&self) -> String {
        self.token(Role::Provider, Some(DEPT))
    }

    pub fn supervisor(&self) -> String {
        self.token(Role::Supervisor, None)
    }

    /// Sends a request and decodes the answer.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request reaches the node");
        into_answer(response).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.call(Method::GET, path, token, None).await
    }

    /// Submits one record as the default provider, expecting `expected`.
    pub async fn create_record(&self, record: &Value, expected: StatusCode) -> Answer {
        let answer = self
            .post("/api/v1/records", Some(&self.provider()), record)
            .await;
        assert_eq!(answer.status, expected, "{}", answer.text);
        answer
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) -> (Settings, Arc<TempDir>, Arc<FixedClock>) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stops cleanly");
        }
        (
            self.settings.clone(),
            self.data_dir.clone(),
            self.clock.clone(),
        )
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn into_answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        content_type,
        body,
        text,
        headers,
    }
}

/// A valid record about `subject`, with a unique source id.
pub fn record(subject: &str, source_record_id: &str) -> Value {
    json!({
        "subject_code": subject,
        "subject_name": "饶平县某某建筑工程有限公司",
        "kind": "dishonesty",
        "category": "contract_breach",
        "domain": "bidding",
        "source_record_id": source_record_id,
        "document_no": "饶建罚〔2026〕12号",
        "decision_date": "2026-03-18",
        "legal_basis": "《中华人民共和国招标投标法》第五十四条",
        "content": "在饶平县某道路工程招标中弄虚作假骗取中标。",
        "severity": "serious",
        "period_start": "2026-03-18",
        "period_end": "2029-03-17",
        "publication_level": "public"
    })
}

/// `record` with one field replaced.
pub fn record_with(field: &str, value: Value) -> Value {
    let mut record = record(ENTERPRISE, "RP-1");
    record[field] = value;
    record
}

/// Number of records of a subject that a supervisor sees.
pub async fn count_records(app: &TestApp, subject: &str) -> u64 {
    let answer = app
        .get(
            &format!("/api/v1/subjects/{subject}"),
            Some(&app.supervisor()),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["counts"]["total"].as_u64().expect("total")
}

/// An agency (enterprise-type holder) USCC used for third-party keys.
pub const AGENCY: &str = "91445122MA4W123460";

impl TestApp {
    /// Issues a key through the admin API; returns (id, secret).
    pub async fn issue_key(
        &self,
        scopes: &[&str],
        rate: u32,
        burst: u32,
        quota: u64,
    ) -> (String, String) {
        self.issue_key_for(AGENCY, scopes, rate, burst, quota).await
    }

    /// Issues a key for a given holder.
    pub async fn issue_key_for(
        &self,
        holder_uscc: &str,
        scopes: &[&str],
        rate: u32,
        burst: u32,
        quota: u64,
    ) -> (String, String) {
        let admin = self.token(Role::Admin, None);
        let answer = self
            .post(
                "/api/v1/keys",
                Some(&admin),
                &json!({
                    "holder_name": "潮州市某信用服务有限公司", "holder_uscc": holder_uscc,
                    "contact": "李四 0768-0000000", "scopes": scopes,
                    "rate_per_second": rate, "burst": burst, "daily_quota": quota
                }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        (
            answer.body["key"]["id"].as_str().unwrap().to_owned(),
            answer.body["secret"].as_str().unwrap().to_owned(),
        )
    }

    /// Sends a request with an API key.
    pub async fn call_with_key(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<&Value>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url))
            .header("x-api-key", key);
        if let Some(body) = body {
            request = request.json(body);
        }
        into_answer(request.send().await.expect("request reaches the node")).await
    }
}
