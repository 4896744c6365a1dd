//! `integrity-node`: the command line. Wiring only; the work is in the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use integrity_exchange::app::{Application, install_crypto_provider, shutdown_signal};
use integrity_exchange::auth::{KeySource, Role, TokenKeys};
use integrity_exchange::config::Settings;
use integrity_exchange::domain::clock::{Clock, SystemClock};
use integrity_exchange::domain::uscc::Uscc;
use integrity_exchange::telemetry::init_tracing;

/// jemalloc instead of glibc's malloc. Under load a match request allocates on a runtime worker
/// and is freed on the decision-log writer or the database thread; glibc then takes the other
/// arena's lock (`__lll_lock_wait_private` in profiles) and consolidates its fast bins on
/// every larger allocation (`malloc_consolidate`): allocation was ~25 % of the node's CPU
/// samples. jemalloc's per-thread caches and size classes cut the CPU per match request by a
/// quarter at 10 M entries (BENCHMARKS.md, "the allocator"). mimalloc was tried earlier and
/// dropped because the index build's freed buffers stayed resident (188 B/entry); with
/// jemalloc's defaults the resident growth after the build is lower than with glibc. Not with
/// its background purge threads switched on: they defer the purge, and the growth measured
/// 204 B/entry. Behind the `jemalloc` feature (off by default: building it needs `make`, which
/// the README's two commands do not assume); production builds switch it on.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "integrity-node",
    version,
    about = "Government-integrity and public-credit exchange node"
)]
struct Cli {
    /// Configuration file layered over the defaults (environment INTEGRITY_* wins over both).
    #[arg(long, global = true, env = "INTEGRITY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the node (embedded SQLite under ./data by default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective configuration with secrets redacted, after validating it.
    CheckConfig,
    /// Print the OpenAPI document.
    Openapi,
    /// Mint a bearer token for local use and tests.
    Token {
        /// provider, supervisor or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Department USCC (required for provider).
        #[arg(long)]
        dept: Option<String>,
        /// Subject of the token (who it is for).
        #[arg(long, default_value = "local-user")]
        sub: String,
        /// Region the token is for; defaults to the node's region.
        #[arg(long)]
        region: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl_secs: i64,
    },
    /// Manage API keys of third parties and platforms.
    Keys {
        #[command(subcommand)]
        command: integrity_exchange::admin::KeysCommand,
    },
    /// Audit-trail tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Decision-log tools of the match API.
    Receipts {
        #[command(subcommand)]
        command: ReceiptsCommand,
    },
    /// Federation PKI: create a CA and issue region-bound node certificates (demos, tests,
    /// small deployments; production may bring its own CA).
    Pki {
        #[command(subcommand)]
        command: integrity_exchange::federation::pki::PkiCommand,
    },
    /// A four-level federation on loopback (county → city → province → national) with its own
    /// PKI and sample data: records go up, a national list entry comes down.
    Demo(integrity_exchange::demo::DemoOptions),
    /// Benchmarks of a node started in-process on a fresh database (build with --release).
    Bench {
        #[command(subcommand)]
        command: integrity_exchange::bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain and name the first broken row.
    Verify,
}

#[derive(Subcommand)]
enum ReceiptsCommand {
    /// Check the chain of match decisions (hashes, links, signatures) and name the first
    /// broken one.
    Verify,
}

/// Prints a line to stdout, ignoring a closed pipe.
fn say(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
}

fn parse_role(value: &str) -> Result<Role, String> {
    match value {
        "provider" => Ok(Role::Provider),
        "supervisor" => Ok(Role::Supervisor),
        "admin" => Ok(Role::Admin),
        other => Err(format!(
            "unknown role '{other}': use provider, supervisor or admin"
        )),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    install_crypto_provider();
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => {
            init_tracing(&settings.log);
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let app = Application::build(settings, clock).await?;
            let region = app.state().region;
            // Written with `say` (errors ignored): a closed stdout must not kill a serving node.
            say(&format!(
                "integrity-node {} ({}, region {}) listening on {}\n  API docs: {}/docs\n  OpenAPI:  {}/openapi.json\n  health:   {}/readyz",
                env!("CARGO_PKG_VERSION"),
                region.info().name,
                region,
                app.base_url(),
                app.base_url(),
                app.base_url(),
                app.base_url()
            ));
            if let KeySource::Development(path) = &app.state().tokens.source {
                say(&format!(
                    "  tokens:   development key {} — mint one with `integrity-node token --role provider --dept <USCC>`",
                    path.display()
                ));
            }
            tracing::info!(url = %app.base_url(), "serving");
            app.run_until_stopped(shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            init_tracing(&settings.log);
            settings.validate()?;
            integrity_exchange::app::prepare_data_dir(&settings)?;
            let store = integrity_exchange::store::Store::connect(
                &integrity_exchange::store::ConnectSettings {
                    url: settings.database_url(),
                    max_connections: 1,
                    acquire_timeout: std::time::Duration::from_secs(
                        settings.database.acquire_timeout_secs,
                    ),
                },
            )
            .await
            .context("database.url: cannot connect")?;
            let pending = store.pending_migrations().await?;
            store.migrate().await?;
            println!("applied {pending} migration(s); the database is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig => {
            let region = settings.validate()?;
            print!("{}", settings.redacted_toml());
            eprintln!(
                "configuration is valid: node {} ({})",
                region,
                region.info().name
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(options) => {
            init_tracing(&settings.log);
            integrity_exchange::demo::run(settings, options, shutdown_signal(), say).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Openapi => {
            println!("{}", integrity_exchange::api::openapi().to_pretty_json()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            role,
            dept,
            sub,
            region,
            ttl_secs,
        } => {
            let node_region = settings.validate()?;
            if role == Role::Provider {
                let dept = dept
                    .as_deref()
                    .context("--dept <USCC> is required for role provider")?;
                Uscc::parse(dept).map_err(|error| anyhow::anyhow!("--dept: {error}"))?;
            }
            anyhow::ensure!(ttl_secs > 0, "--ttl-secs must be positive");
            let keys = TokenKeys::load(&settings.auth, &settings.node.data_dir)?;
            let region = region.unwrap_or_else(|| node_region.to_string());
            let token = keys.mint(
                &sub,
                role,
                dept.as_deref(),
                &region,
                SystemClock.now(),
                time::Duration::seconds(ttl_secs),
            )?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Pki { command } => {
            say(&integrity_exchange::federation::pki::run(
                command,
                SystemClock.now(),
            )?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command } => {
            integrity_exchange::bench::run(command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command } => {
            settings.validate()?;
            let store = integrity_exchange::app::open_existing_store(&settings).await?;
            integrity_exchange::admin::keys(command, &settings, &store, SystemClock.now()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Receipts {
            command: ReceiptsCommand::Verify,
        } => {
            settings.validate()?;
            let store = integrity_exchange::app::open_existing_store(&settings).await?;
            let report = integrity_exchange::matching::receipt::verify_chain(&store).await?;
            match report.broken {
                None => {
                    println!(
                        "decision chain intact: {} decisions verified, signed by {}",
                        report.verified,
                        if report.signers.is_empty() {
                            "nobody yet".to_owned()
                        } else {
                            report.signers.join(", ")
                        }
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Some((seq, problem)) => {
                    println!(
                        "decision chain BROKEN at decision {seq} after {} intact: {problem}",
                        report.verified
                    );
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            settings.validate()?;
            let store = integrity_exchange::app::open_existing_store(&settings).await?;
            let report = store.verify_audit_chain().await?;
            match report.first_error {
                None => {
                    println!("audit chain intact: {} rows verified", report.verified);
                    Ok(ExitCode::SUCCESS)
                }
                Some(error) => {
                    println!(
                        "audit chain BROKEN after {} intact rows: {error}",
                        report.verified
                    );
                    Ok(ExitCode::from(2))
                }
            }
        }
    }
}
