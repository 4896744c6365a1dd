//! `Application`: builds a node from `Settings` (store, keys, router, listener) and serves it
//! over HTTP/1.1 and HTTP/2, with TLS when configured, until told to stop.
//!
//! The accept loop is written here on tokio-rustls + hyper-util rather than taken from
//! axum-server because the node needs the peer address (and, for federation, the peer
//! certificate) in each request's extensions, and a dozen lines do that without another
//! dependency.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, Request, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::auth::{KeySource, TokenKeys};
use crate::config::Settings;
use crate::domain::clock::Clock;
use crate::domain::lists::ListCatalogue;
use crate::domain::region::RegionCode;
use crate::federation::identity::{client_config, server_config_with_client_auth};
use crate::federation::journal::SigningKey;
use crate::federation::lists::{ListPuller, ListsState};
use crate::federation::outbox::{FederationState, Outbox};
use crate::gateway::{AnonymousLimits, Gateway, shanghai_day};
use crate::state::AppState;
use crate::store::{ConnectSettings, Store};

/// How long a TLS handshake may take before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Installs ring as the process-wide rustls provider (several crates in the tree could enable
/// another one; two providers and none chosen panics at the first handshake).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A built node, bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    state: AppState,
    base_url: String,
}

/// Opens the store described by `settings`: connects, and migrates embedded SQLite when
/// `database.auto_migrate` is set. Refuses to run against a database with pending migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    prepare_data_dir(settings)?;
    open_prepared_store(settings).await
}

/// Creates the data directory of embedded SQLite.
pub fn prepare_data_dir(settings: &Settings) -> anyhow::Result<()> {
    if settings.is_sqlite() {
        std::fs::create_dir_all(&settings.node.data_dir).with_context(|| {
            format!(
                "node.data_dir: cannot create {}",
                settings.node.data_dir.display()
            )
        })?;
    }
    Ok(())
}

/// Opens an existing database without creating anything: for tools that inspect (`audit
/// verify`, `keys`), so a mistyped data directory is an error, not a fresh empty database.
pub async fn open_existing_store(settings: &Settings) -> anyhow::Result<Store> {
    if settings.is_sqlite() {
        let path = settings.node.data_dir.join("integrity.sqlite3");
        if settings.database.url.expose_secret().is_empty() && !path.exists() {
            anyhow::bail!(
                "node.data_dir: no database at {}; check --config or INTEGRITY_NODE__DATA_DIR",
                path.display()
            );
        }
    }
    open_prepared_store(settings).await
}

async fn open_prepared_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(&ConnectSettings {
        url: settings.database_url(),
        max_connections: settings.database.max_connections,
        acquire_timeout: Duration::from_secs(settings.database.acquire_timeout_secs),
    })
    .await
    .context("database.url: cannot connect to the database")?;
    if settings.is_sqlite() && settings.database.auto_migrate {
        store.migrate().await.context("migrating the database")?;
    } else {
        let pending = store.pending_migrations().await?;
        anyhow::ensure!(
            pending == 0,
            "the database has {pending} pending migration(s); run `integrity-node migrate` first"
        );
        store.load_audit_head().await?;
    }
    Ok(store)
}

fn tls_acceptor(cert_path: &Path, key_path: &Path) -> anyhow::Result<TlsAcceptor> {
    let certs = CertificateDer::pem_file_iter(cert_path)
        .with_context(|| format!("tls.cert_path: cannot read {}", cert_path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("tls.cert_path: {} is not PEM", cert_path.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "tls.cert_path: {} holds no certificate",
        cert_path.display()
    );
    let key = PrivateKeyDer::from_pem_file(key_path).with_context(|| {
        format!(
            "tls.key_path: cannot read a private key from {}",
            key_path.display()
        )
    })?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("tls: certificate and key do not match")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

impl Application {
    /// Builds a node: validates settings, opens the store, loads keys, binds the listener.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        install_crypto_provider();
        let region = settings.validate()?;
        let store = open_store(&settings).await?;
        let tokens = TokenKeys::load(&settings.auth, &settings.node.data_dir)?;
        let signing_key = if settings.federation.signing_key.as_os_str().is_empty() {
            let (key, path) = SigningKey::development(&settings.node.data_dir)?;
            tracing::warn!(
                key.path = %path.display(),
                "signing journal events with the development key; configure federation.signing_key for production"
            );
            key
        } else {
            SigningKey::from_pem_file(&settings.federation.signing_key)?
        };
        store.enable_journal(region, Arc::new(signing_key)).await?;
        if let KeySource::Development(path) = &tokens.source {
            tracing::warn!(
                key.path = %path.display(),
                "verifying tokens with the development key; configure auth.jwt_public_keys for production"
            );
        }
        let tls = match settings.tls_paths()? {
            Some((cert, key)) if !settings.federation.ca_path.as_os_str().is_empty() => {
                let config =
                    server_config_with_client_auth(&cert, &key, &settings.federation.ca_path)?;
                Some(TlsAcceptor::from(Arc::new(config)))
            }
            Some((cert, key)) => Some(tls_acceptor(&cert, &key)?),
            None => None,
        };
        let listener = TcpListener::bind(settings.http.listen)
            .await
            .with_context(|| format!("http.listen: cannot bind {}", settings.http.listen))?;
        let local = listener.local_addr()?;
        let base_url = if settings.http.public_url.is_empty() {
            let scheme = if tls.is_some() { "https" } else { "http" };
            let host = if tls.is_some() && local.ip().is_loopback() {
                "localhost".to_owned()
            } else {
                local.ip().to_string()
            };
            format!("{scheme}://{host}:{}", local.port())
        } else {
            settings.http.public_url.trim_end_matches('/').to_owned()
        };
        let gateway = Gateway::new(AnonymousLimits {
            rate_per_second: settings.gateway.anonymous_rate_per_second,
            burst: settings.gateway.anonymous_burst,
        });
        let (keys, fingerprint) = store.load_keys().await?;
        let today = shanghai_day(clock.now()).0;
        gateway.load(keys, &store.usage_on(today).await?, fingerprint);
        let lists = Arc::new(ListsState::new(
            ListCatalogue::new(&settings.lists.extra)
                .map_err(|message| anyhow::anyhow!("lists.extra: {message}"))?,
            Duration::from_secs(settings.federation.list_stale_after_secs),
        ));
        let store = Arc::new(store);
        let matcher = crate::matching::Matcher::start(
            store.clone(),
            &lists.catalogue,
            &settings.matching,
            &settings.decision_journal_dir(),
        )
        .await?;
        let state = AppState {
            matcher,
            settings: Arc::new(settings),
            region,
            store,
            clock,
            tokens: Arc::new(tokens),
            gateway: Arc::new(gateway),
            federation: Arc::new(FederationState::default()),
            lists,
            metrics: crate::telemetry::metrics_handle(),
        };
        let router = crate::api::router(state.clone());
        Ok(Application {
            listener,
            tls,
            router,
            state,
            base_url,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.state.settings.http.listen)
    }

    /// Base URL clients should use.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The node's state (tests use its store and clock).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            listener,
            tls,
            router,
            state,
            ..
        } = self;
        let (stop_maintenance, maintenance_stopped) = tokio::sync::watch::channel(false);
        let maintenance =
            tokio::spawn(maintain_gateway(state.clone(), maintenance_stopped.clone()));
        let webhooks = tokio::spawn(crate::matching::webhooks::deliver(
            state.store.clone(),
            state.clock.clone(),
            state.settings.matching.webhook_max_attempts,
            Duration::from_secs(state.settings.matching.webhook_max_backoff_secs),
            maintenance_stopped.clone(),
        ));
        let monitors = tokio::spawn(crate::api::monitors::watch_monitors(
            state.clone(),
            maintenance_stopped.clone(),
        ));
        let (outbox, puller) = match parent_links(&state)? {
            Some((outbox, puller)) => (
                Some(tokio::spawn(outbox.run(maintenance_stopped.clone()))),
                Some(tokio::spawn(puller.run(maintenance_stopped))),
            ),
            None => (None, None),
        };
        let graceful = GracefulShutdown::new();
        let builder = auto::Builder::new(TokioExecutor::new());
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and similar: back off instead of spinning.
                        tracing::warn!(error = %error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let router = router.clone();
            let builder = builder.clone();
            let watcher = graceful.watcher();
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = |certificate: Option<PeerCertificate>| {
                    TowerToHyperService::new(router.map_request(
                        move |mut request: Request<Incoming>| {
                            request.extensions_mut().insert(ConnectInfo(peer));
                            if let Some(certificate) = &certificate {
                                request.extensions_mut().insert(certificate.clone());
                            }
                            request
                        },
                    ))
                };
                let result = match tls {
                    Some(acceptor) => {
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(tls_stream)) => {
                                // The chain was verified against the federation CA during the
                                // handshake; handlers read the region from the leaf.
                                let certificate = tls_stream
                                    .get_ref()
                                    .1
                                    .peer_certificates()
                                    .and_then(|chain| chain.first())
                                    .map(|leaf| PeerCertificate(Arc::from(leaf.as_ref())));
                                let connection = builder.serve_connection_with_upgrades(
                                    TokioIo::new(tls_stream),
                                    service(certificate),
                                );
                                watcher.watch(connection.into_owned()).await
                            }
                            Ok(Err(error)) => {
                                // A client certificate from another CA ends here, before any
                                // handler: counted, so refused peers are visible in metrics.
                                metrics::counter!("integrity_tls_handshake_failures_total")
                                    .increment(1);
                                tracing::debug!(peer = %peer, error = %error, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        }
                    }
                    None => {
                        let connection = builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service(None));
                        watcher.watch(connection.into_owned()).await
                    }
                };
                if let Err(error) = result {
                    tracing::debug!(peer = %peer, error = %error, "connection ended with an error");
                }
            });
        }
        drop(listener);
        state.store.wake_list_waiters();
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("shutdown grace period over; dropping remaining connections");
        }
        // Every answered decision reaches the database before the pool closes.
        state.matcher.log.close().await;
        let _ = stop_maintenance.send(true);
        let _ = maintenance.await;
        let _ = webhooks.await;
        let _ = monitors.await;
        for task in [outbox, puller].into_iter().flatten() {
            let _ = task.await;
        }
        flush_usage(&state).await;
        if let Err(error) = state.store.close().await {
            tracing::warn!(error = %error, "closing the database pool failed");
        }
        Ok(())
    }
}

/// Writes API-key usage changed since the last flush; on failure keeps it for the next one.
async fn flush_usage(state: &AppState) {
    let rows = state.gateway.take_dirty_usage();
    if let Err(error) = state.store.save_usage(&rows).await {
        state.gateway.restore_dirty(&rows);
        tracing::warn!(error = %error, n_rows = rows.len(), "writing API-key usage failed; will retry");
    }
}

/// Reloads the key set if another process changed it.
pub async fn reload_keys_if_changed(state: &AppState) {
    let changed = match state.store.key_fingerprint().await {
        Ok(fingerprint) => state.gateway.fingerprint() != Some(fingerprint),
        Err(error) => {
            tracing::debug!(error = %error, "key fingerprint unavailable");
            false
        }
    };
    if changed {
        reload_keys(state).await;
    }
}

/// Reloads every key (after a change through the API, or one seen by polling).
pub async fn reload_keys(state: &AppState) {
    let today = shanghai_day(state.clock.now()).0;
    let loaded = async {
        let (keys, fingerprint) = state.store.load_keys().await?;
        let usage = state.store.usage_on(today).await?;
        Ok::<_, crate::store::StoreError>((keys, usage, fingerprint))
    };
    match loaded.await {
        Ok((keys, usage, fingerprint)) => state.gateway.load(keys, &usage, fingerprint),
        Err(error) => tracing::warn!(error = %error, "reloading API keys failed"),
    }
}

/// Background upkeep of the gateway: usage write-behind, key reload, idle-bucket pruning.
async fn maintain_gateway(state: AppState, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let settings = &state.settings.gateway;
    let mut flush = tokio::time::interval(Duration::from_millis(settings.usage_flush_interval_ms));
    let mut reload = tokio::time::interval(Duration::from_millis(settings.key_reload_interval_ms));
    let mut prune = tokio::time::interval(Duration::from_secs(60));
    for timer in [&mut flush, &mut reload, &mut prune] {
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        tokio::select! {
            _ = flush.tick() => flush_usage(&state).await,
            _ = reload.tick() => reload_keys_if_changed(&state).await,
            _ = prune.tick() => state.gateway.prune(),
            _ = stopped.changed() => break,
        }
    }
}

/// The verified client certificate of a TLS connection (DER of the leaf), in request
/// extensions when the client presented one.
#[derive(Clone, Debug)]
pub struct PeerCertificate(pub Arc<[u8]>);

/// The push loop of records to the parent and the pull loop of lists from it, if a parent is
/// configured. Both use one mutual-TLS client (one connection pool).
fn parent_links(state: &AppState) -> anyhow::Result<Option<(Outbox, ListPuller)>> {
    let settings = &state.settings;
    let federation = &settings.federation;
    if federation.parent_url.is_empty() {
        return Ok(None);
    }
    let Some((cert, key)) = settings.tls_paths()? else {
        anyhow::bail!("federation.parent_url needs tls.cert_path and tls.key_path");
    };
    let tls = client_config(&cert, &key, &federation.ca_path)?;
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .context("building the federation client")?;
    let clock = state.clock.clone();
    let puller_clock = state.clock.clone();
    let puller = ListPuller {
        store: state.store.clone(),
        region: state.region,
        parent_region: state.region.parent().unwrap_or(RegionCode::NATIONAL),
        parent_url: federation.parent_url.trim_end_matches('/').to_owned(),
        client: client.clone(),
        state: state.lists.clone(),
        wait: Duration::from_secs(federation.list_wait_secs),
        max_backoff: Duration::from_secs(federation.max_backoff_secs),
        now: Arc::new(move || puller_clock.now()),
    };
    let outbox = Outbox {
        store: state.store.clone(),
        region: state.region,
        parent_url: federation.parent_url.trim_end_matches('/').to_owned(),
        client,
        status: state.federation.clone(),
        batch_size: federation.batch_size,
        in_flight: federation.in_flight,
        idle: Duration::from_millis(federation.push_interval_ms),
        max_backoff: Duration::from_secs(federation.max_backoff_secs),
        now: Arc::new(move || clock.now()),
    };
    Ok(Some((outbox, puller)))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

/// Headers whose values must never reach a log.
pub fn sensitive_headers() -> [HeaderName; 3] {
    [
        header::AUTHORIZATION,
        header::COOKIE,
        HeaderName::from_static("x-api-key"),
    ]
}
