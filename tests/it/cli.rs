//! The real binary: serve, token, migrate, check-config, openapi, audit verify.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};

use crate::harness::*;

const BIN: &str = env!("CARGO_BIN_EXE_integrity-node");

/// A command with the node's data dir and database set, and nothing else from INTEGRITY_*.
fn node(data_dir: &std::path::Path, database_url: &str) -> Command {
    let mut command = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("INTEGRITY_") {
            command.env_remove(key);
        }
    }
    command
        .env("INTEGRITY_NODE__DATA_DIR", data_dir)
        .env("INTEGRITY_DATABASE__URL", database_url)
        .env("INTEGRITY_HTTP__LISTEN", "127.0.0.1:0")
        .env("INTEGRITY_LOG__FILTER", "warn");
    command
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_and_token_from_the_same_directory_agree() {
    let dir = tempfile::TempDir::new().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let migrated = node(dir.path(), &url).arg("migrate").output().unwrap();
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );

    let (child, base_url, first_line) = serve(dir.path(), &url).await;
    assert!(first_line.contains("445122"), "{first_line}");

    let token = node(dir.path(), &url)
        .args(["token", "--role", "provider", "--dept", DEPT])
        .output()
        .unwrap();
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();

    let created = reqwest::Client::new()
        .post(format!("{base_url}/api/v1/records"))
        .bearer_auth(&token)
        .json(&record(ENTERPRISE, "CLI-1"))
        .send()
        .await
        .unwrap();
    // The real clock is used here, so the sample decision date is in the past.
    assert_eq!(
        created.status(),
        StatusCode::CREATED,
        "{}",
        created.text().await.unwrap()
    );

    let bad_dept = node(dir.path(), &url)
        .args([
            "token",
            "--role",
            "provider",
            "--dept",
            "114451220070545544",
        ])
        .output()
        .unwrap();
    assert!(!bad_dept.status.success());
    assert!(String::from_utf8_lossy(&bad_dept.stderr).contains("--dept"));
    drop(child);
}

#[tokio::test]
async fn check_config_validates_and_redacts_secrets() {
    let dir = tempfile::TempDir::new().unwrap();
    let ok = node(
        dir.path(),
        "postgres://integrity:hunter2@db.example:5432/credit",
    )
    .env("INTEGRITY_METRICS__BEARER_TOKEN", "scrape-secret-value")
    .arg("check-config")
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains("[redacted]"), "{stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(!stdout.contains("scrape-secret-value"), "{stdout}");
    assert!(stdout.contains("region = \"445122\""), "{stdout}");

    let bad = node(dir.path(), "")
        .env("INTEGRITY_NODE__REGION", "999999")
        .arg("check-config")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("node.region"));

    for example in [
        "county-445122",
        "city-445100",
        "province-440000",
        "national-100000",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config")
            .join(format!("{example}.toml"));
        let checked = Command::new(BIN)
            .args(["--config", path.to_str().unwrap(), "check-config"])
            .output()
            .unwrap();
        assert!(
            checked.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&checked.stderr)
        );
    }
}

#[tokio::test]
async fn audit_verify_names_the_first_broken_row() {
    let app = spawn_app().await;
    for i in 0..3 {
        app.create_record(&record(ENTERPRISE, &format!("AV-{i}")), StatusCode::CREATED)
            .await;
    }
    let url = app.settings.database_url();
    let dir = app.data_dir.path().to_owned();
    let intact = node(&dir, &url).args(["audit", "verify"]).output().unwrap();
    assert!(intact.status.success());
    assert!(String::from_utf8_lossy(&intact.stdout).contains("3 rows verified"));

    let db = Database::connect(url.as_str()).await.unwrap();
    db.execute_unprepared("UPDATE audit_log SET detail = 'created=0' WHERE seq = 2")
        .await
        .unwrap();
    let broken = node(&dir, &url).args(["audit", "verify"]).output().unwrap();
    assert_eq!(broken.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert!(stdout.contains("audit row 2"), "{stdout}");
}

#[test]
fn openapi_subcommand_prints_the_spec() {
    let output = Command::new(BIN).arg("openapi").output().unwrap();
    assert!(output.status.success());
    let spec: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
}

#[tokio::test]
async fn demo_shows_records_going_up_and_a_list_coming_down() {
    let dir = tempfile::TempDir::new().unwrap();
    let run = || {
        let mut command = Command::new(BIN);
        for (key, _) in std::env::vars() {
            if key.starts_with("INTEGRITY_") {
                command.env_remove(key);
            }
        }
        command
            .env("INTEGRITY_LOG__FILTER", "warn")
            .args(["demo", "--records", "20", "--exit-when-done", "--dir"])
            .arg(dir.path().join("demo"))
            .output()
            .unwrap()
    };
    let first = run();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for region in ["100000", "440000", "445100", "445122"] {
        assert!(
            stdout
                .lines()
                .any(|line| line.trim_start().starts_with(region) && line.contains("https://")),
            "{region} listed with its URL: {stdout}"
        );
    }
    assert!(
        stdout.contains("all 21 changes of 饶平县 held at the national node"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the national entry is held at 饶平县"),
        "{stdout}"
    );
    // Running it again reuses the PKI and the data.
    let second = run();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(dir.path().join("demo/ca/ca.crt").exists());
}

#[tokio::test]
async fn receipts_verify_checks_the_decision_chain() {
    let app = spawn_app().await;
    let (_, key) = app.issue_key(&["match"], 100, 100, 10_000).await;
    for _ in 0..2 {
        let answer = app
            .call_with_key(
                reqwest::Method::POST,
                "/api/v1/match",
                &key,
                Some(&serde_json::json!({
                    "project": {"id": "P-CLI", "name": "某工程", "kind": "bidding"},
                    "bidders": [{"uscc": ENTERPRISE}]
                })),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }
    let url = app.settings.database_url();
    let data_dir = app.data_dir.clone();
    app.stop().await;
    let intact = node(data_dir.path(), &url)
        .args(["receipts", "verify"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&intact.stdout);
    assert!(intact.status.success(), "{stdout}");
    assert!(stdout.contains("2 decisions verified"), "{stdout}");
    let db = Database::connect(url.as_str()).await.unwrap();
    db.execute_unprepared("DELETE FROM match_decisions WHERE seq = 1")
        .await
        .unwrap();
    let broken = node(data_dir.path(), &url)
        .args(["receipts", "verify"])
        .output()
        .unwrap();
    assert_eq!(broken.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&broken.stdout).contains("BROKEN at decision 1"),
        "{}",
        String::from_utf8_lossy(&broken.stdout)
    );
}

/// Starts `integrity-node serve` and returns the process, the URL it prints and the whole
/// first line it prints.
async fn serve(dir: &std::path::Path, url: &str) -> (Killed, String, String) {
    let mut child = node(dir, url)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Killed(child);
    let (line_tx, line_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = line_tx.send(first);
        // Keep draining so the node never writes into a closed pipe.
        for _ in lines {}
    });
    let first_line = line_rx.await.unwrap();
    let base_url = first_line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("serve prints where it listens: {first_line}"))
        .to_owned();
    (child, base_url, first_line)
}

/// Screens one two-bidder project; returns the match id and the receipt's seq.
async fn screen_one(
    client: reqwest::Client,
    base_url: String,
    key: String,
    n: usize,
) -> (String, i64) {
    let answer = client
        .post(format!("{base_url}/api/v1/match"))
        .header("x-api-key", &key)
        .json(&serde_json::json!({
            "project": {"id": format!("P-KILL-{n}"), "name": "某道路工程", "kind": "bidding"},
            "bidders": [{"uscc": ENTERPRISE}, {"name": "饶平县某某建筑工程有限公司"}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body: serde_json::Value = answer.json().await.unwrap();
    (
        body["match_id"].as_str().unwrap().to_owned(),
        body["receipt"]["seq"].as_i64().unwrap(),
    )
}

/// Holds the database's write lock on the decision log (SQLite: a write transaction;
/// PostgreSQL: an exclusive lock on `match_decisions`) until dropped or rolled back.
async fn lock_decision_table(url: &str) -> sea_orm::DatabaseTransaction {
    use sea_orm::TransactionTrait;
    let db = Database::connect(url).await.unwrap();
    let txn = db.begin().await.unwrap();
    let lock = if url.starts_with("sqlite") {
        "CREATE TABLE decision_log_lock_probe (x INTEGER)"
    } else {
        "LOCK TABLE match_decisions IN ACCESS EXCLUSIVE MODE"
    };
    txn.execute_unprepared(lock).await.unwrap();
    txn
}

/// Screening answers once a decision is synced in the journal, not once the database has it:
/// with the database locked, the node still answers; killed with SIGKILL before the copy,
/// it copies every answered decision into the database at its next start, and the chain
/// verifies end to end.
#[tokio::test]
async fn answered_decisions_survive_sigkill_before_they_reach_the_database() {
    let dir = tempfile::TempDir::new().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let migrated = node(dir.path(), &url).arg("migrate").output().unwrap();
    assert!(migrated.status.success());
    let created = node(dir.path(), &url)
        .args([
            "keys",
            "create",
            "--holder",
            "某招标平台",
            "--holder-uscc",
            "91445122MA4W123460",
            "--contact",
            "test",
            "--scopes",
            "match",
            "--rate",
            "1000",
            "--burst",
            "1000",
            "--daily-quota",
            "100000",
            "--valid-days",
            "30",
        ])
        .output()
        .unwrap();
    let created_out = String::from_utf8_lossy(&created.stdout).into_owned();
    assert!(created.status.success(), "{created_out}");
    let key = created_out
        .split_whitespace()
        .rfind(|word| word.starts_with("ixk_"))
        .unwrap()
        .to_owned();

    let (child, base_url, _) = serve(dir.path(), &url).await;
    let client = reqwest::Client::new();
    let mut answered = Vec::new();
    for n in 0..5 {
        answered.push(screen_one(client.clone(), base_url.clone(), key.clone(), n).await);
    }
    // The database refuses the decision log's writes; screening goes on.
    let lock = lock_decision_table(&url).await;
    let concurrent: Vec<_> = (5..45)
        .map(|n| tokio::spawn(screen_one(client.clone(), base_url.clone(), key.clone(), n)))
        .collect();
    for screened in concurrent {
        answered.push(screened.await.unwrap());
    }
    let mut seqs: Vec<i64> = answered.iter().map(|(_, seq)| *seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=45).collect::<Vec<_>>(), "one chain, no gaps");
    let journal = dir.path().join("decision-journal");
    assert!(journal.is_dir(), "the journal lives in the data directory");

    // SIGKILL while the copy is blocked: no shutdown, no drain.
    drop(child);
    lock.rollback().await.unwrap();
    let db = Database::connect(url.as_str()).await.unwrap();
    let copied: i64 = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM match_decisions",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "n")
        .unwrap();
    db.close().await.unwrap();
    assert!(
        copied <= 5,
        "the 40 decisions answered under the lock were in the journal only ({copied} in the database)"
    );

    let (child, base_url, _) = serve(dir.path(), &url).await;
    let token = node(dir.path(), &url)
        .args(["token", "--role", "supervisor", "--sub", "credit-office"])
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let mut logged = std::collections::BTreeSet::new();
    let mut cursor: Option<i64> = None;
    loop {
        let mut page_url = format!("{base_url}/api/v1/matches?limit=20");
        if let Some(cursor) = cursor {
            page_url.push_str(&format!("&cursor={cursor}"));
        }
        let page: serde_json::Value = client
            .get(page_url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for decision in page["decisions"].as_array().unwrap() {
            logged.insert(decision["match_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_i64() {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    for (id, seq) in &answered {
        assert!(logged.contains(id), "answered decision {seq} is in the log");
    }
    assert_eq!(logged.len(), 45);
    // The chain continues after the restart.
    let (_, seq) = screen_one(client.clone(), base_url.clone(), key.clone(), 45).await;
    assert_eq!(seq, 46);
    drop(child);

    let verified = node(dir.path(), &url)
        .args(["receipts", "verify"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{stdout}");
    // The killed node's 46th decision may or may not have been copied before the kill; all 45
    // answered before the first kill are there in any case.
    assert!(
        stdout.contains("45 decisions verified") || stdout.contains("46 decisions verified"),
        "{stdout}"
    );
}
