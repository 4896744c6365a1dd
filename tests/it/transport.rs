//! Transport: HTTPS with rustls, and plain HTTP only where it is safe.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use reqwest::StatusCode;

use crate::harness::*;

/// A CA and a `localhost` server certificate signed by it, written as PEM files into `dir`.
fn write_test_pki(
    dir: &std::path::Path,
) -> (
    rustls::pki_types::CertificateDer<'static>,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "integrity test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let leaf = leaf_params
        .signed_by(&leaf_key, &Issuer::from_params(&ca_params, &ca_key))
        .unwrap();
    let cert_path = dir.join("node.crt");
    let key_path = dir.join("node.key");
    std::fs::write(&cert_path, leaf.pem()).unwrap();
    std::fs::write(&key_path, leaf_key.serialize_pem()).unwrap();
    (ca_cert.der().clone(), cert_path, key_path)
}

#[tokio::test]
async fn the_node_serves_https_when_a_certificate_is_configured() {
    integrity_exchange::app::install_crypto_provider();
    let pki_dir = tempfile::TempDir::new().unwrap();
    let (ca, cert, key) = write_test_pki(pki_dir.path());
    let app = spawn_app_with(|s| {
        s.tls.cert_path = cert;
        s.tls.key_path = key;
    })
    .await;
    assert!(
        app.base_url.starts_with("https://localhost:"),
        "{}",
        app.base_url
    );

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let mut tls = rustls::ClientConfig::builder()
        .with_root_certificates(Arc::new(roots))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap();
    let created = client
        .post(format!("{}/api/v1/records", app.base_url))
        .bearer_auth(app.provider())
        .json(&record(ENTERPRISE, "TLS-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(
        created.version(),
        reqwest::Version::HTTP_2,
        "ALPN negotiates h2"
    );

    let plain = reqwest::Client::new()
        .get(app.base_url.replace("https://", "http://") + "/healthz")
        .send()
        .await;
    assert!(
        plain.map(|r| !r.status().is_success()).unwrap_or(true),
        "plain HTTP is not served on the TLS port"
    );
}

#[tokio::test]
async fn plain_http_on_a_public_address_is_refused_at_start() {
    let data_dir = tempfile::TempDir::new().unwrap();
    let mut settings = test_settings(&data_dir).await;
    settings.http.listen = "0.0.0.0:0".parse().unwrap();
    let error = settings.validate().unwrap_err().to_string();
    assert!(error.contains("http.listen"), "{error}");
    settings.http.allow_insecure_http = true;
    assert!(settings.validate().is_ok());
}

#[tokio::test]
async fn configuration_errors_name_the_key() {
    let data_dir = tempfile::TempDir::new().unwrap();
    let mut settings = test_settings(&data_dir).await;
    settings.node.region = "999999".into();
    assert!(
        settings
            .validate()
            .unwrap_err()
            .to_string()
            .contains("node.region")
    );
    settings.node.region = "100000".into();
    assert!(
        settings.validate().is_ok(),
        "the national node is accepted explicitly"
    );
    settings.tls.cert_path = "/nonexistent/node.crt".into();
    let error = settings.validate().unwrap_err().to_string();
    assert!(error.contains("tls.cert_path"), "{error}");

    let file = data_dir.path().join("bad.toml");
    std::fs::write(&file, "[node]\nregoin = \"445122\"\n").unwrap();
    let error = integrity_exchange::config::Settings::load(Some(&file))
        .unwrap_err()
        .to_string();
    assert!(error.contains("regoin"), "{error}");
}
