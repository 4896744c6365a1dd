//! Node identity on the wire: which region a peer is, and the mutual-TLS configurations nodes
//! authenticate each other with.
//!
//! This module owns reading the region bound to a peer's certificate (the SAN URI
//! [`REGION_URI_PREFIX`]`<code>` written by [`super::pki`] or any CA that follows the same
//! convention) and building rustls configurations that trust the federation CA only: the
//! server side (client certificates optional, so ordinary API clients still connect; the
//! federation endpoints demand one) and the client side a node uses to call its parent.
//! It does not decide which regions may do what; callers compare the region it returns with
//! their configured children or parent.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use x509_parser::extensions::GeneralName;

use super::pki::REGION_URI_PREFIX;
use crate::domain::region::{RegionCode, RegionError};

/// ALPN protocols offered by both sides, preferred first: the federation pushes batches over
/// HTTP/2 and falls back to HTTP/1.1 for peers (or proxies) that lack it.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Problems reading a peer's region or building a TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// No SAN URI starting with [`REGION_URI_PREFIX`].
    #[error(
        "the certificate binds no region: it has no subject alternative name URI {REGION_URI_PREFIX}<6 digits>; issue it with `integrity-node pki issue` or add that URI"
    )]
    NoRegion,
    /// More than one region URI: the peer's region would be ambiguous.
    #[error(
        "the certificate binds {} region URIs ({}); a node certificate must bind exactly one region",
        uris.len(),
        uris.join(", ")
    )]
    SeveralRegions {
        /// The region URIs found.
        uris: Vec<String>,
    },
    /// The region URI does not end in a current GB/T 2260 code.
    #[error("the certificate's region URI {uri} does not name a current region: {reason}")]
    InvalidRegion {
        /// The URI as found in the certificate.
        uri: String,
        /// Why the code is not a region.
        reason: RegionError,
    },
    /// The bytes are not a well-formed X.509 certificate.
    #[error("the certificate cannot be parsed: {reason}")]
    Malformed {
        /// What the parser reported.
        reason: String,
    },
    /// A PEM file cannot be read.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// A PEM file holds no certificate.
    #[error("{} holds no PEM certificate", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the certificates or key.
    #[error("{what}: {source}")]
    Tls {
        /// What was being set up, naming the files involved.
        what: String,
        /// What rustls reported.
        source: rustls::Error,
    },
    /// The client-certificate verifier cannot be built from the CA file.
    #[error("{}: cannot verify client certificates against it ({message})", path.display())]
    Verifier {
        /// The CA file.
        path: PathBuf,
        /// What rustls reported.
        message: String,
    },
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> IdentityError {
    IdentityError::File {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

/// Whether `uri` is meant as a region URI. The URN scheme and namespace are case-insensitive
/// (RFC 8141), so any casing counts: a second, differently cased region URI must make the
/// certificate ambiguous rather than be silently ignored.
fn is_region_uri(uri: &str) -> bool {
    uri.get(..REGION_URI_PREFIX.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(REGION_URI_PREFIX))
}

/// The region a certificate (DER) is bound to: the six digits of its only SAN URI that starts
/// with [`REGION_URI_PREFIX`].
///
/// This is how a parent learns which child is calling. It does not verify the certificate:
/// call it only on a certificate the TLS layer has already verified against the federation CA
/// (e.g. the first of `peer_certificates()` after a handshake with
/// [`server_config_with_client_auth`]).
///
/// # Errors
/// [`IdentityError::NoRegion`], [`IdentityError::SeveralRegions`],
/// [`IdentityError::InvalidRegion`] or [`IdentityError::Malformed`].
pub fn region_of_certificate(der: &[u8]) -> Result<RegionCode, IdentityError> {
    let malformed = |reason: String| IdentityError::Malformed { reason };
    let (rest, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|error| malformed(format!("not an X.509 certificate ({error})")))?;
    if !rest.is_empty() {
        return Err(malformed("trailing bytes after the certificate".to_owned()));
    }
    let san = cert
        .subject_alternative_name()
        .map_err(|error| malformed(format!("invalid subject alternative names ({error})")))?;
    let Some(san) = san else {
        return Err(IdentityError::NoRegion);
    };
    let uris: Vec<&str> = san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) if is_region_uri(uri) => Some(*uri),
            _ => None,
        })
        .collect();
    match uris[..] {
        [] => Err(IdentityError::NoRegion),
        [uri] => {
            let code = uri.get(REGION_URI_PREFIX.len()..).unwrap_or_default();
            RegionCode::parse(code).map_err(|reason| IdentityError::InvalidRegion {
                uri: uri.to_owned(),
                reason,
            })
        }
        _ => Err(IdentityError::SeveralRegions {
            uris: uris.into_iter().map(str::to_owned).collect(),
        }),
    }
}

/// The process-wide provider if one is installed (the binary installs ring at start), else
/// ring. Never panics, unlike the `builder()` shortcuts, which abort the process when crate
/// features leave the provider ambiguous.
fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, IdentityError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|error| file_error(path, format!("cannot read ({error})")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(path, format!("not PEM ({error})")))?;
    if certs.is_empty() {
        return Err(IdentityError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, IdentityError> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|error| file_error(path, format!("cannot read a PEM private key ({error})")))
}

/// Trust anchors: every certificate in the federation CA file (several during a CA rollover).
fn federation_roots(ca_pem_path: &Path) -> Result<RootCertStore, IdentityError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certificates(ca_pem_path)? {
        roots.add(cert).map_err(|source| IdentityError::Tls {
            what: format!("{}: not a usable CA certificate", ca_pem_path.display()),
            source,
        })?;
    }
    Ok(roots)
}

fn key_mismatch(
    cert_pem_path: &Path,
    key_pem_path: &Path,
) -> impl FnOnce(rustls::Error) -> IdentityError {
    let what = format!(
        "{} and {} are not a usable certificate and private key pair",
        cert_pem_path.display(),
        key_pem_path.display()
    );
    move |source| IdentityError::Tls { what, source }
}

fn protocol_versions_error(source: rustls::Error) -> IdentityError {
    IdentityError::Tls {
        what: "the crypto provider supports no safe TLS version".to_owned(),
        source,
    }
}

/// A server configuration that presents the node certificate and asks every client for a
/// certificate, verifying any it gets against the federation CA in `ca_pem_path` only.
///
/// Clients without a certificate are still accepted, because ordinary API clients have none;
/// the federation endpoints must refuse a connection whose `peer_certificates()` is `None`
/// and read the caller's region with [`region_of_certificate`]. A certificate that does not
/// chain to the federation CA fails the handshake. ALPN: h2, http/1.1.
///
/// # Errors
/// [`IdentityError::File`], [`IdentityError::NoCertificate`], [`IdentityError::Verifier`] or
/// [`IdentityError::Tls`] (e.g. certificate and key do not match), each naming the file.
pub fn server_config_with_client_auth(
    cert_pem_path: &Path,
    key_pem_path: &Path,
    ca_pem_path: &Path,
) -> Result<ServerConfig, IdentityError> {
    let provider = provider();
    let roots = federation_roots(ca_pem_path)?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|error| IdentityError::Verifier {
            path: ca_pem_path.to_owned(),
            message: error.to_string(),
        })?;
    let certs = read_certificates(cert_pem_path)?;
    let key = read_key(key_pem_path)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(protocol_versions_error)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(key_mismatch(cert_pem_path, key_pem_path))?;
    config.alpn_protocols = ALPN.iter().map(|protocol| protocol.to_vec()).collect();
    Ok(config)
}

/// A client configuration for node-to-node calls: trusts the federation CA in `ca_pem_path`
/// only (not the system roots, so no public CA can impersonate a parent) and presents the
/// node certificate. ALPN: h2, http/1.1. Use it with reqwest's
/// `ClientBuilder::tls_backend_preconfigured`.
///
/// # Errors
/// [`IdentityError::File`], [`IdentityError::NoCertificate`] or [`IdentityError::Tls`]
/// (e.g. certificate and key do not match), each naming the file.
pub fn client_config(
    cert_pem_path: &Path,
    key_pem_path: &Path,
    ca_pem_path: &Path,
) -> Result<ClientConfig, IdentityError> {
    let roots = federation_roots(ca_pem_path)?;
    let certs = read_certificates(cert_pem_path)?;
    let key = read_key(key_pem_path)?;
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(protocol_versions_error)?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(key_mismatch(cert_pem_path, key_pem_path))?;
    config.alpn_protocols = ALPN.iter().map(|protocol| protocol.to_vec()).collect();
    Ok(config)
}

/// A TLS client configuration for outbound calls to the public web (webhook endpoints):
/// the Mozilla root set compiled in, so pushes do not depend on the host's certificate store.
///
/// # Errors
/// The crypto provider does not support the default protocol versions.
pub fn web_client_config() -> Result<ClientConfig, IdentityError> {
    let roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(protocol_versions_error)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = ALPN.iter().map(|protocol| protocol.to_vec()).collect();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rcgen::string::Ia5String;
    use rcgen::{CertificateParams, KeyPair, SanType};
    use rustls::pki_types::ServerName;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    use super::*;
    use crate::domain::clock::{Clock, SystemClock};
    use crate::federation::pki::{
        CA_CERT_FILE, CaMaterial, NODE_CERT_FILE, NODE_KEY_FILE, create_ca, issue_node_certificate,
        region_uri, write_ca_dir, write_node_dir,
    };

    fn region(code: &str) -> RegionCode {
        RegionCode::parse(code).unwrap()
    }

    fn now() -> time::OffsetDateTime {
        SystemClock.now()
    }

    fn install_provider() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }

    /// A self-signed certificate with the given URIs (and a DNS name), as DER.
    fn cert_with_uris(uris: &[&str]) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        for uri in uris {
            params
                .subject_alt_names
                .push(SanType::URI(Ia5String::try_from(*uri).unwrap()));
        }
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    /// Paths of a node directory's certificate, key and CA.
    struct NodeFiles {
        cert: PathBuf,
        key: PathBuf,
        ca: PathBuf,
    }

    fn issue_into(dir: &Path, ca: &CaMaterial, code: &str) -> NodeFiles {
        let node = issue_node_certificate(&ca.cert_pem, &ca.key_pem, region(code), &[], 10, now())
            .unwrap();
        let node_dir = dir.join(code);
        write_node_dir(&node_dir, &node, false).unwrap();
        NodeFiles {
            cert: node_dir.join(NODE_CERT_FILE),
            key: node_dir.join(NODE_KEY_FILE),
            ca: node_dir.join(CA_CERT_FILE),
        }
    }

    /// What each side of one handshake saw.
    struct Outcome {
        /// The region of the client certificate the server verified, `None` for no certificate.
        server: std::io::Result<Option<RegionCode>>,
        /// The ALPN protocol the client negotiated.
        client: std::io::Result<Option<Vec<u8>>>,
        /// Whether the client, reading after its handshake, was told to go away.
        client_read_failed: bool,
    }

    /// Runs one handshake over loopback TCP between tokio-rustls endpoints.
    async fn handshake(server: ServerConfig, client: ClientConfig) -> Outcome {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(server));
        let server_side = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await?;
            let mut tls = acceptor.accept(tcp).await?;
            let (_, connection) = tls.get_ref();
            // The same call the federation endpoints will make.
            let region = connection
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|leaf| region_of_certificate(leaf).unwrap());
            // close_notify, so that the client's read ends cleanly rather than in an error.
            tls.shutdown().await?;
            Ok::<_, std::io::Error>(region)
        });
        let connector = TlsConnector::from(Arc::new(client));
        let tcp = TcpStream::connect(address).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let connected = connector.connect(name, tcp).await;
        let server = tokio::time::timeout(Duration::from_secs(10), server_side)
            .await
            .unwrap()
            .unwrap();
        let (client, client_read_failed) = match connected {
            Ok(mut stream) => {
                let alpn = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                // In TLS 1.3 the client finishes its half before the server has judged its
                // certificate; a rejection arrives as an alert on the next read. A successful
                // server closes with close_notify, which reads as a clean end instead.
                let mut buffer = [0_u8; 1];
                let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
                    .await
                    .unwrap();
                (Ok(alpn), read.is_err())
            }
            Err(error) => (Err(error), true),
        };
        Outcome {
            server,
            client,
            client_read_failed,
        }
    }

    #[test]
    fn region_of_an_issued_certificate() {
        let ca = create_ca("test federation CA", 30, now()).unwrap();
        let node =
            issue_node_certificate(&ca.cert_pem, &ca.key_pem, region("445122"), &[], 10, now())
                .unwrap();
        let der = CertificateDer::from_pem_slice(node.cert_pem.as_bytes()).unwrap();
        assert_eq!(region_of_certificate(&der).unwrap(), region("445122"));
    }

    #[test]
    fn region_uri_rules() {
        assert!(matches!(
            region_of_certificate(&cert_with_uris(&[])),
            Err(IdentityError::NoRegion)
        ));
        assert!(matches!(
            region_of_certificate(&cert_with_uris(&["https://node.example.gov.cn/"])),
            Err(IdentityError::NoRegion)
        ));
        assert_eq!(
            region_of_certificate(&cert_with_uris(&[
                "https://node.example.gov.cn/",
                &region_uri(region("440000")),
            ]))
            .unwrap(),
            region("440000")
        );
        let several = region_of_certificate(&cert_with_uris(&[
            &region_uri(region("445122")),
            "URN:Integrity-Exchange:Region:445100",
        ]))
        .unwrap_err();
        assert!(
            matches!(&several, IdentityError::SeveralRegions { uris } if uris.len() == 2),
            "{several}"
        );
        // The same region twice is still not "exactly one".
        let uri = region_uri(region("445122"));
        assert!(matches!(
            region_of_certificate(&cert_with_uris(&[&uri, &uri])),
            Err(IdentityError::SeveralRegions { .. })
        ));
        for bad in ["999999", "44512", "4451220", "abcdef", ""] {
            let uri = format!("{REGION_URI_PREFIX}{bad}");
            let error = region_of_certificate(&cert_with_uris(&[&uri])).unwrap_err();
            assert!(
                matches!(&error, IdentityError::InvalidRegion { uri: found, .. } if *found == uri),
                "{error}"
            );
        }
        assert!(matches!(
            region_of_certificate(b"not a certificate"),
            Err(IdentityError::Malformed { .. })
        ));
        let mut trailing = cert_with_uris(&[&region_uri(region("445122"))]);
        trailing.push(0);
        assert!(matches!(
            region_of_certificate(&trailing),
            Err(IdentityError::Malformed { .. })
        ));
    }

    #[test]
    fn files_are_named_in_errors() {
        install_provider();
        let dir = tempfile::tempdir().unwrap();
        let ca = create_ca("test federation CA", 30, now()).unwrap();
        let node = issue_into(dir.path(), &ca, "445122");
        let other = issue_into(dir.path(), &ca, "445100");
        let missing = dir.path().join("missing.crt");
        let error = client_config(&missing, &node.key, &node.ca).unwrap_err();
        assert!(error.to_string().contains("missing.crt"), "{error}");
        let error = server_config_with_client_auth(&node.cert, &node.key, &node.key).unwrap_err();
        assert!(
            matches!(error, IdentityError::NoCertificate { .. }),
            "{error}"
        );
        // A certificate with another node's key.
        let error = server_config_with_client_auth(&node.cert, &other.key, &node.ca).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("445122") && text.contains("445100"), "{text}");
        let error = client_config(&node.cert, &other.key, &node.ca).unwrap_err();
        assert!(matches!(error, IdentityError::Tls { .. }), "{error}");
    }

    #[test]
    fn error_messages_are_lower_case_without_full_stop() {
        let errors = [
            IdentityError::NoRegion,
            IdentityError::SeveralRegions {
                uris: vec!["a".into(), "b".into()],
            },
            IdentityError::InvalidRegion {
                uri: "u".into(),
                reason: RegionError::NotSixDigits,
            },
            IdentityError::Malformed { reason: "r".into() },
        ];
        for error in errors {
            let text = error.to_string();
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
    }

    #[tokio::test]
    async fn mutual_tls_binds_the_client_region() {
        install_provider();
        let dir = tempfile::tempdir().unwrap();
        let ca = create_ca("test federation CA", 30, now()).unwrap();
        write_ca_dir(&dir.path().join("ca"), &ca, false).unwrap();
        let parent = issue_into(dir.path(), &ca, "445100");
        let child = issue_into(dir.path(), &ca, "445122");
        let server =
            || server_config_with_client_auth(&parent.cert, &parent.key, &parent.ca).unwrap();

        // A child with a certificate from the federation CA: its region reaches the server.
        let outcome = handshake(
            server(),
            client_config(&child.cert, &child.key, &child.ca).unwrap(),
        )
        .await;
        assert_eq!(outcome.server.unwrap(), Some(region("445122")));
        assert_eq!(outcome.client.unwrap().as_deref(), Some(&b"h2"[..]));
        assert!(!outcome.client_read_failed);

        // An ordinary API client without a certificate is let in, unauthenticated.
        let anonymous = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(federation_roots(&parent.ca).unwrap())
            .with_no_client_auth();
        let outcome = handshake(server(), anonymous).await;
        assert_eq!(outcome.server.unwrap(), None);

        // A client certificate for the right region from another CA fails the handshake.
        let rogue_ca = create_ca("rogue CA", 30, now()).unwrap();
        let rogue = issue_into(&dir.path().join("rogue"), &rogue_ca, "445122");
        let outcome = handshake(
            server(),
            client_config(&rogue.cert, &rogue.key, &parent.ca).unwrap(),
        )
        .await;
        let error = outcome.server.unwrap_err();
        assert!(error.to_string().contains("UnknownIssuer"), "{error}");
        assert!(outcome.client_read_failed);

        // A server certificate from another CA is refused by the client.
        let rogue_server =
            server_config_with_client_auth(&rogue.cert, &rogue.key, &rogue.ca).unwrap();
        let outcome = handshake(
            rogue_server,
            client_config(&child.cert, &child.key, &child.ca).unwrap(),
        )
        .await;
        let error = outcome.client.unwrap_err();
        assert!(error.to_string().contains("UnknownIssuer"), "{error}");
        assert!(outcome.server.is_err());
    }
}
