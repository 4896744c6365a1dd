//! `integrity-node bench gateway`: what the open API gateway (key check, token bucket, daily
//! quota, usage counting, RateLimit headers) costs per request. The same node serves the same
//! endpoint twice in one process, once through the full router and once through the router
//! without the admission layer, and one load generator drives both in alternating rounds.
//! Also: the memory the gateway holds per active key.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::app::{Application, install_crypto_provider};
use crate::auth::Role;
use crate::config::Settings;
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::uscc::Uscc;
use crate::gateway::keys::{ApiKey, Scope, generate};
use crate::gateway::{AnonymousLimits, Gateway};

/// Options of `bench gateway`.
#[derive(Clone, Debug, clap::Args)]
pub struct GatewayArgs {
    /// Concurrent keep-alive connections of the load generator.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Seconds per measured round (each variant runs `rounds` rounds, alternating).
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Rounds per variant.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Keys loaded for the memory measurement.
    #[arg(long, default_value_t = 100_000)]
    pub keys: usize,
}

struct Round {
    requests: u64,
    elapsed: Duration,
    p50_us: u64,
    p99_us: u64,
}

/// Drives `url` with `connections` clients for `seconds`, all answers must be 200.
async fn drive(
    url: &str,
    key: Option<&str>,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<Round> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = client.clone();
        let url = url.to_owned();
        let key = key.map(str::to_owned);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(100_000);
            while Instant::now() < deadline {
                let sent = Instant::now();
                let mut request = client.get(&url);
                if let Some(key) = &key {
                    request = request.header("x-api-key", key);
                }
                let response = request.send().await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "answer {}",
                    response.status()
                );
                response.bytes().await?;
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
    let at = |q: f64| {
        all.get(((all.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0)
    };
    Ok(Round {
        requests: all.len() as u64,
        elapsed,
        p50_us: at(0.50),
        p99_us: at(0.99),
    })
}

async fn serve(router: axum::Router) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Ok(addr)
}

fn bench_key(holder: &Uscc, now: time::OffsetDateTime) -> anyhow::Result<(ApiKey, String)> {
    let generated = generate().context("random source")?;
    Ok((
        ApiKey {
            id: uuid::Uuid::now_v7(),
            prefix: generated.prefix,
            secret_hash: generated.secret_hash,
            holder_name: "benchmark".into(),
            holder_uscc: holder.clone(),
            contact: "benchmark".into(),
            scopes: BTreeSet::from([Scope::RecordsReadPublic]),
            // Far above what the machine can serve, so the bucket is consulted on every request
            // but never refuses: the benchmark measures the check, not the refusal.
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

/// Resident set size of this process, in bytes (0 where `/proc` is unavailable).
pub(crate) fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Runs the gateway benchmark and returns its report.
pub async fn gateway(args: &GatewayArgs) -> anyhow::Result<String> {
    install_crypto_provider();
    let data_dir =
        std::env::temp_dir().join(format!("integrity-bench-gw-{}", uuid::Uuid::now_v7()));
    let mut settings = Settings::load(None)?;
    settings.node.data_dir = data_dir.clone();
    settings.http.listen = "127.0.0.1:0".parse()?;
    settings.log.filter = "error".into();
    // The anonymous per-IP limit belongs to the gateway too; it is off in the baseline router
    // and must not refuse the load generator in the gateway router's anonymous probes.
    settings.gateway.anonymous_rate_per_second = 10_000_000;
    settings.gateway.anonymous_burst = 10_000_000;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = Application::build(settings, clock.clone()).await?;
    let state = app.state().clone();
    let now = clock.now();
    let dept = Uscc::parse("114451220070545543").map_err(|e| anyhow::anyhow!("{e}"))?;
    let token = state.tokens.mint(
        "bench",
        Role::Provider,
        Some(dept.as_str()),
        "445122",
        now,
        time::Duration::hours(1),
    )?;
    let (key, secret) = bench_key(&dept, now)?;
    state
        .gateway
        .load(vec![key], &Default::default(), (1, Some(now)));

    let with_gateway = serve(crate::api::router(state.clone())).await?;
    let without_gateway = serve(crate::api::router_without_gateway_for_benchmarks(
        state.clone(),
    ))
    .await?;
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(format!("http://{with_gateway}/api/v1/records"))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "subject_code": "91445122MA4W123460", "subject_name": "饶平县某某建筑工程有限公司",
            "kind": "dishonesty", "category": "contract_breach", "domain": "bidding",
            "source_record_id": "BENCH-GW-1", "document_no": "饶建罚〔2026〕12号",
            "decision_date": "2026-03-18", "legal_basis": "《中华人民共和国招标投标法》第五十四条",
            "content": "在饶平县某道路工程招标中弄虚作假骗取中标。", "severity": "serious",
            "period_start": "2026-03-18", "period_end": "2029-03-17", "publication_level": "public"
        }))
        .send()
        .await?
        .json()
        .await?;
    let id = created["id"].as_str().context("record id")?.to_owned();

    let mut report = String::new();
    writeln!(
        report,
        "bench gateway: {} connections, {} s x {} rounds per variant, alternating",
        args.connections, args.seconds, args.rounds
    )?;
    for (label, path) in [
        (
            "GET /api/v1/records/{id} (one indexed read)",
            format!("/api/v1/records/{id}"),
        ),
        (
            "GET /healthz (no work: the gateway's cost is all there is)",
            "/healthz".to_owned(),
        ),
    ] {
        let mut base = Vec::new();
        let mut gated = Vec::new();
        // Warm both paths (connections, caches) before measuring.
        drive(
            &format!("http://{without_gateway}{path}"),
            None,
            args.connections,
            1,
        )
        .await?;
        drive(
            &format!("http://{with_gateway}{path}"),
            Some(&secret),
            args.connections,
            1,
        )
        .await?;
        for _ in 0..args.rounds {
            base.push(
                drive(
                    &format!("http://{without_gateway}{path}"),
                    None,
                    args.connections,
                    args.seconds,
                )
                .await?,
            );
            gated.push(
                drive(
                    &format!("http://{with_gateway}{path}"),
                    Some(&secret),
                    args.connections,
                    args.seconds,
                )
                .await?,
            );
        }
        let rate = |rounds: &[Round]| {
            rounds.iter().map(|r| r.requests as f64).sum::<f64>()
                / rounds.iter().map(|r| r.elapsed.as_secs_f64()).sum::<f64>()
        };
        let p = |rounds: &[Round], f: fn(&Round) -> u64| {
            let mut v: Vec<u64> = rounds.iter().map(f).collect();
            v.sort_unstable();
            v[v.len() / 2]
        };
        let (base_rate, gated_rate) = (rate(&base), rate(&gated));
        writeln!(report, "\n{label}")?;
        writeln!(
            report,
            "  without gateway (anonymous): {base_rate:>9.0} req/s  p50 {:>5} us  p99 {:>6} us",
            p(&base, |r| r.p50_us),
            p(&base, |r| r.p99_us)
        )?;
        writeln!(
            report,
            "  with gateway (API key):      {gated_rate:>9.0} req/s  p50 {:>5} us  p99 {:>6} us",
            p(&gated, |r| r.p50_us),
            p(&gated, |r| r.p99_us)
        )?;
        writeln!(
            report,
            "  ratio with/without: {:.3}  (throughput loss {:.1} %)",
            gated_rate / base_rate,
            (1.0 - gated_rate / base_rate) * 100.0
        )?;
    }

    // Memory per active key: load `keys` keys into a fresh gateway and measure resident growth.
    let before = resident_bytes();
    let gateway = Gateway::new(AnonymousLimits {
        rate_per_second: 1,
        burst: 1,
    });
    let keys = (0..args.keys)
        .map(|_| bench_key(&dept, now).map(|(key, _)| key))
        .collect::<anyhow::Result<Vec<_>>>()?;
    gateway.load(keys, &Default::default(), (args.keys as u64, Some(now)));
    let after = resident_bytes();
    writeln!(
        report,
        "\nmemory: {} keys held add {:.1} MiB resident = {} bytes per key (key record, token bucket, usage cell, index); the token bucket itself is {} bytes",
        gateway.len(),
        (after.saturating_sub(before)) as f64 / 1048576.0,
        after.saturating_sub(before) / args.keys.max(1) as u64,
        std::mem::size_of::<governor::DefaultDirectRateLimiter>()
    )?;
    drop(gateway);
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(report)
}
