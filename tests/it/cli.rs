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

    let mut child = node(dir.path(), &url)
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
