//! The federation PKI: creating a federation CA and issuing node certificates bound to a region.
//!
//! This module owns the *issuing* side of node identity for small deployments, demos and tests
//! (`integrity-node pki …`): a self-signed ECDSA P-256 CA, node certificates that carry the
//! node's GB/T 2260 region as a SAN URI ([`REGION_URI_PREFIX`]), each node's Ed25519
//! event-signing key, and the on-disk layout of those files. Production may bring its own CA as
//! long as it writes the same region URI; reading the region back from a peer's certificate is
//! [`super::identity`]'s job.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::Subcommand;
use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_ED25519, PublicKeyData, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, DnsName};
use time::{Duration, OffsetDateTime};

use crate::domain::region::RegionCode;

/// Scheme and namespace of the SAN URI that binds a node certificate to its region; the six
/// digits of the region code follow, e.g. `urn:integrity-exchange:region:445122`.
pub const REGION_URI_PREFIX: &str = "urn:integrity-exchange:region:";

/// Default common name of a CA made by `pki init-ca`.
pub const DEFAULT_CA_NAME: &str = "Guangdong integrity federation CA";
/// Default validity of a CA made by `pki init-ca`, in days (about ten years).
pub const DEFAULT_CA_DAYS: u32 = 3650;
/// Default validity of a node certificate, in days (the CA/Browser Forum's former maximum,
/// which common TLS tooling still accepts without warnings).
pub const DEFAULT_NODE_DAYS: u32 = 825;
/// Host name put in a node certificate when none is given.
pub const DEFAULT_HOSTNAME: &str = "localhost";

/// CA certificate file, in a CA directory and (as a copy) in every node directory.
pub const CA_CERT_FILE: &str = "ca.crt";
/// CA private key file (mode 0600), in a CA directory only.
pub const CA_KEY_FILE: &str = "ca.key";
/// Node certificate file in a node directory.
pub const NODE_CERT_FILE: &str = "node.crt";
/// Node TLS private key file (mode 0600) in a node directory.
pub const NODE_KEY_FILE: &str = "node.key";
/// Node Ed25519 event-signing private key file (PKCS#8 PEM, mode 0600) in a node directory.
pub const SIGNING_KEY_FILE: &str = "signing.key";
/// Node Ed25519 event-signing public key file (SubjectPublicKeyInfo PEM) in a node directory.
pub const SIGNING_PUBLIC_FILE: &str = "signing.pub";

/// Certificates start this long before they are issued, so that a peer whose clock runs a
/// little behind the issuer's does not reject a brand-new certificate as not yet valid.
const CLOCK_SKEW_ALLOWANCE: Duration = Duration::hours(1);

/// The SAN URI that binds a certificate to `region`: [`REGION_URI_PREFIX`] + six digits.
#[must_use]
pub fn region_uri(region: RegionCode) -> String {
    format!("{REGION_URI_PREFIX}{region}")
}

/// Problems creating, issuing or writing PKI material.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A validity period of zero days, or one that ends beyond what a certificate can encode.
    #[error("validity of {days} days is out of range; use a number of days from 1 to 36500")]
    InvalidValidity {
        /// The number of days asked for.
        days: u32,
    },
    /// The CA common name is empty.
    #[error("the CA name is empty; pass a name such as --name \"{DEFAULT_CA_NAME}\"")]
    EmptyCaName,
    /// A host name is neither a valid DNS name nor an IP address.
    #[error(
        "host {host:?} is neither a DNS name nor an IP address; pass names such as --host node.example.gov.cn"
    )]
    InvalidHostname {
        /// The host as given.
        host: String,
    },
    /// The CA certificate cannot be parsed or is not a usable CA.
    #[error("the CA certificate cannot be used: {reason}")]
    CaCertificate {
        /// Why.
        reason: String,
    },
    /// The CA private key cannot be parsed.
    #[error(
        "the CA private key cannot be read: {reason}; expected a PKCS#8 PEM key such as `pki init-ca` writes"
    )]
    CaKey {
        /// Why.
        reason: String,
    },
    /// The CA key is not the key of the CA certificate.
    #[error(
        "the CA private key does not belong to the CA certificate; use the {CA_CERT_FILE} and {CA_KEY_FILE} written together by `pki init-ca`"
    )]
    CaKeyMismatch,
    /// The node certificate would still be valid after the CA expires.
    #[error(
        "the certificate would outlive the CA, which expires {ca_expires}; use at most {max_days} days or renew the CA"
    )]
    OutlivesCa {
        /// When the CA expires (UTC).
        ca_expires: String,
        /// The longest validity that still ends before the CA does.
        max_days: i64,
    },
    /// Key generation or certificate signing failed.
    #[error("cannot generate the key or sign the certificate: {reason}")]
    Generate {
        /// What rcgen reported.
        reason: String,
    },
    /// A file to be written exists and overwriting was not asked for.
    #[error("{} already exists; pass --force to overwrite it", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// A file or directory could not be read or written.
    #[error("{}: {message}", path.display())]
    File {
        /// The file or directory.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// A command-line argument is invalid.
    #[error("{argument}: {message}")]
    Argument {
        /// The argument, e.g. `--region`.
        argument: &'static str,
        /// Why it is invalid.
        message: String,
    },
}

fn generate_error(error: rcgen::Error) -> PkiError {
    PkiError::Generate {
        reason: error.to_string(),
    }
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> PkiError {
    PkiError::File {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

/// A federation CA: its certificate and private key, both PEM.
#[derive(Clone)]
pub struct CaMaterial {
    /// The self-signed CA certificate (PEM).
    pub cert_pem: String,
    /// The CA private key (PKCS#8 PEM). Secret.
    pub key_pem: String,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl std::fmt::Debug for CaMaterial {
    // Hand-written so that a stray `{:?}` never prints the CA key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaMaterial")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Everything a node needs to take part in the federation, all PEM.
#[derive(Clone)]
pub struct NodeMaterial {
    /// The region bound to the certificate.
    pub region: RegionCode,
    /// The node certificate (PEM), signed by the federation CA.
    pub cert_pem: String,
    /// The node's TLS private key (PKCS#8 PEM). Secret.
    pub key_pem: String,
    /// The federation CA certificate (PEM), the only root a node trusts for peers.
    pub ca_cert_pem: String,
    /// The node's Ed25519 event-signing key (PKCS#8 PEM). Secret.
    pub signing_key_pem: String,
    /// The event-signing public key (SubjectPublicKeyInfo PEM).
    pub signing_public_pem: String,
    /// The event-signing public key as base64 of its 32 raw bytes, the form the journal uses.
    pub signing_public_b64: String,
    /// DNS names and IP addresses in the certificate, in order.
    pub names: Vec<String>,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl std::fmt::Debug for NodeMaterial {
    // Hand-written so that a stray `{:?}` never prints a private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeMaterial")
            .field("region", &self.region)
            .field("names", &self.names)
            .field("signing_public_b64", &self.signing_public_b64)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// `at` without its fraction of a second: X.509 times have none, and comparisons with a
/// parsed CA's expiry must not be thrown off by the nanoseconds the encoding drops.
fn whole_seconds(at: OffsetDateTime) -> OffsetDateTime {
    at - Duration::nanoseconds(i64::from(at.nanosecond()))
}

/// Start and end of a validity of `days` days from `now`.
fn validity(days: u32, now: OffsetDateTime) -> Result<(OffsetDateTime, OffsetDateTime), PkiError> {
    if days == 0 || days > 36_500 {
        return Err(PkiError::InvalidValidity { days });
    }
    let now = whole_seconds(now);
    let not_after = now
        .checked_add(Duration::days(i64::from(days)))
        .ok_or(PkiError::InvalidValidity { days })?;
    Ok((now - CLOCK_SKEW_ALLOWANCE, not_after))
}

fn format_utc(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.format(format).unwrap_or_else(|_| at.to_string())
}

/// Creates a self-signed federation CA: ECDSA P-256, basicConstraints CA (no path length
/// limit), key usages keyCertSign and cRLSign, valid for `valid_days` from `now` (read from
/// the caller's [`crate::domain::clock::Clock`]).
///
/// # Errors
/// [`PkiError::EmptyCaName`], [`PkiError::InvalidValidity`], or [`PkiError::Generate`].
pub fn create_ca(
    common_name: &str,
    valid_days: u32,
    now: OffsetDateTime,
) -> Result<CaMaterial, PkiError> {
    let common_name = common_name.trim();
    if common_name.is_empty() {
        return Err(PkiError::EmptyCaName);
    }
    let (not_before, not_after) = validity(valid_days, now)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.not_before = not_before;
    params.not_after = not_after;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(generate_error)?;
    let cert = params.self_signed(&key).map_err(generate_error)?;
    Ok(CaMaterial {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after,
    })
}

/// Checks that `ca_der` is a CA certificate whose public key is `ca_key`'s, and returns its end
/// of validity, refusing one expired at `now`. rcgen signs with any key under any issuer name, so without this check a
/// mismatched pair would produce certificates that no peer can verify, found only at the
/// first handshake.
fn check_ca(
    ca_der: &[u8],
    ca_key: &KeyPair,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, PkiError> {
    let unusable = |reason: String| PkiError::CaCertificate { reason };
    let (rest, cert) = x509_parser::parse_x509_certificate(ca_der)
        .map_err(|error| unusable(format!("not an X.509 certificate ({error})")))?;
    if !rest.is_empty() {
        return Err(unusable("trailing bytes after the certificate".to_owned()));
    }
    if !cert.is_ca() {
        return Err(unusable(
            "it is not a CA certificate (basicConstraints CA:TRUE is missing)".to_owned(),
        ));
    }
    if cert.public_key().raw != ca_key.subject_public_key_info().as_slice() {
        return Err(PkiError::CaKeyMismatch);
    }
    let not_after = OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp())
        .map_err(|_| unusable("its expiry date is out of range".to_owned()))?;
    if not_after <= now {
        return Err(unusable(format!(
            "it expired {}; create a new CA with `pki init-ca`",
            format_utc(not_after)
        )));
    }
    Ok(not_after)
}

/// Subject alternative names of a node certificate: the given hosts (or
/// [`DEFAULT_HOSTNAME`]), then loopback IPv4 and IPv6 so nodes on one host can always reach
/// each other by address, without duplicates. Returns the SANs and their text forms.
fn node_names(hostnames: &[String]) -> Result<(Vec<SanType>, Vec<String>), PkiError> {
    let defaults = [DEFAULT_HOSTNAME.to_owned()];
    let hosts = if hostnames.is_empty() {
        &defaults[..]
    } else {
        hostnames
    };
    let mut sans = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let loopback = [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    let candidates = hosts
        .iter()
        .map(|host| host.trim().to_owned())
        .chain(loopback.iter().map(ToString::to_string));
    for host in candidates {
        let san = if let Ok(ip) = host.parse::<IpAddr>() {
            SanType::IpAddress(ip)
        } else {
            let invalid = || PkiError::InvalidHostname { host: host.clone() };
            // rcgen only checks that the text is ASCII; rustls' parser enforces DNS syntax so
            // a typo fails here rather than at a peer's hostname check.
            DnsName::try_from(host.as_str()).map_err(|_| invalid())?;
            SanType::DnsName(Ia5String::try_from(host.as_str()).map_err(|_| invalid())?)
        };
        if !sans.contains(&san) {
            sans.push(san);
            names.push(host);
        }
    }
    Ok((sans, names))
}

/// Issues a node certificate for `region`, signed by the federation CA, and generates the
/// node's Ed25519 event-signing key.
///
/// The certificate has an ECDSA P-256 key, extended key usages serverAuth and clientAuth (a
/// node is a server to its children and a client of its parent), SAN DNS names `hostnames`
/// (default `localhost`) plus IP 127.0.0.1 and ::1, the SAN URI [`region_uri`]`(region)` and
/// the common name `integrity-node <region> <region name>`. It is valid for `valid_days` from
/// `now` (read from the caller's [`crate::domain::clock::Clock`]) and must end before the CA
/// does.
///
/// # Errors
/// [`PkiError::CaCertificate`], [`PkiError::CaKey`], [`PkiError::CaKeyMismatch`],
/// [`PkiError::InvalidHostname`], [`PkiError::InvalidValidity`], [`PkiError::OutlivesCa`] or
/// [`PkiError::Generate`].
pub fn issue_node_certificate(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    region: RegionCode,
    hostnames: &[String],
    valid_days: u32,
    now: OffsetDateTime,
) -> Result<NodeMaterial, PkiError> {
    let ca_der = CertificateDer::from_pem_slice(ca_cert_pem.as_bytes()).map_err(|_| {
        PkiError::CaCertificate {
            reason: "no PEM CERTIFICATE block found".to_owned(),
        }
    })?;
    let ca_key = KeyPair::from_pem(ca_key_pem).map_err(|error| PkiError::CaKey {
        reason: error.to_string(),
    })?;
    let ca_not_after = check_ca(&ca_der, &ca_key, now)?;
    let (not_before, not_after) = validity(valid_days, now)?;
    if not_after > ca_not_after {
        return Err(PkiError::OutlivesCa {
            ca_expires: format_utc(ca_not_after),
            max_days: (ca_not_after - whole_seconds(now)).whole_days(),
        });
    }
    let (mut sans, names) = node_names(hostnames)?;
    let uri = Ia5String::try_from(region_uri(region)).map_err(generate_error)?;
    sans.push(SanType::URI(uri));

    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(
        DnType::CommonName,
        format!("integrity-node {region} {}", region.name()),
    );
    params.subject_alt_names = sans;
    params.not_before = not_before;
    params.not_after = not_after;
    params.is_ca = IsCa::ExplicitNoCa;
    // digitalSignature is what an ECDSA key does in a TLS handshake; some verifiers (not
    // rustls) insist on it when the extension is present.
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    // Lets tools (openssl, browsers) find the issuing key when several CAs share a name.
    params.use_authority_key_identifier_extension = true;

    let issuer = Issuer::from_ca_cert_der(&ca_der, &ca_key).map_err(generate_error)?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(generate_error)?;
    let cert = params.signed_by(&key, &issuer).map_err(generate_error)?;

    let signing = KeyPair::generate_for(&PKCS_ED25519).map_err(generate_error)?;
    Ok(NodeMaterial {
        region,
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        ca_cert_pem: ca_cert_pem.to_owned(),
        signing_key_pem: signing.serialize_pem(),
        signing_public_pem: signing.public_key_pem(),
        signing_public_b64: STANDARD.encode(signing.public_key_raw()),
        names,
        not_after,
    })
}

/// One file of a PKI directory.
struct OutFile<'a> {
    name: &'static str,
    contents: &'a str,
    /// Private keys are created with mode 0600 (on Unix).
    private: bool,
}

/// Opens `path` for writing, failing if it exists, with mode 0600 for private files.
fn create_new(path: &Path, private: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    options.open(path)
}

fn write_one(path: &Path, file: &OutFile<'_>, force: bool) -> Result<(), PkiError> {
    use std::io::Write;
    if !force {
        // create_new rather than an earlier exists() check alone: nothing written between
        // the check and now is ever clobbered.
        let mut out = create_new(path, file.private).map_err(|error| {
            if error.kind() == std::io::ErrorKind::AlreadyExists {
                PkiError::Exists {
                    path: path.to_owned(),
                }
            } else {
                file_error(path, error)
            }
        })?;
        return out
            .write_all(file.contents.as_bytes())
            .and_then(|()| out.sync_all())
            .map_err(|error| file_error(path, error));
    }
    // Overwriting goes through a fresh temporary file and a rename: truncating the old file
    // would keep its permissions (a 0644 key stays 0644) and a crash would leave half a key.
    let temporary = path.with_file_name(format!(".{}.{}.tmp", file.name, uuid::Uuid::now_v7()));
    let written = create_new(&temporary, file.private).and_then(|mut out| {
        out.write_all(file.contents.as_bytes())?;
        out.sync_all()
    });
    let result = written.and_then(|()| std::fs::rename(&temporary, path));
    if let Err(error) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(file_error(path, error));
    }
    Ok(())
}

/// Writes `files` into `dir` (created if missing). Without `force`, refuses before writing
/// anything if any of them exists, so a CA or node identity is never half replaced.
fn write_files(dir: &Path, files: &[OutFile<'_>], force: bool) -> Result<Vec<PathBuf>, PkiError> {
    std::fs::create_dir_all(dir).map_err(|error| file_error(dir, error))?;
    if !force {
        for file in files {
            let path = dir.join(file.name);
            // symlink_metadata: a dangling symlink counts as existing too.
            if path.symlink_metadata().is_ok() {
                return Err(PkiError::Exists { path });
            }
        }
    }
    let mut written = Vec::with_capacity(files.len());
    for file in files {
        let path = dir.join(file.name);
        write_one(&path, file, force)?;
        written.push(path);
    }
    Ok(written)
}

/// Writes a CA directory: [`CA_CERT_FILE`] and [`CA_KEY_FILE`] (mode 0600). Creates `dir`
/// if needed. Returns the paths written.
///
/// # Errors
/// [`PkiError::Exists`] naming the first file that exists, unless `force`;
/// [`PkiError::File`] when a file cannot be written.
pub fn write_ca_dir(dir: &Path, ca: &CaMaterial, force: bool) -> Result<Vec<PathBuf>, PkiError> {
    let files = [
        OutFile {
            name: CA_CERT_FILE,
            contents: &ca.cert_pem,
            private: false,
        },
        OutFile {
            name: CA_KEY_FILE,
            contents: &ca.key_pem,
            private: true,
        },
    ];
    write_files(dir, &files, force)
}

/// Writes a node directory: [`NODE_CERT_FILE`], [`NODE_KEY_FILE`] (0600), [`CA_CERT_FILE`],
/// [`SIGNING_KEY_FILE`] (0600) and [`SIGNING_PUBLIC_FILE`]. Creates `dir` if needed. Returns
/// the paths written.
///
/// # Errors
/// [`PkiError::Exists`] naming the first file that exists, unless `force`;
/// [`PkiError::File`] when a file cannot be written.
pub fn write_node_dir(
    dir: &Path,
    node: &NodeMaterial,
    force: bool,
) -> Result<Vec<PathBuf>, PkiError> {
    let files = [
        OutFile {
            name: NODE_CERT_FILE,
            contents: &node.cert_pem,
            private: false,
        },
        OutFile {
            name: NODE_KEY_FILE,
            contents: &node.key_pem,
            private: true,
        },
        OutFile {
            name: CA_CERT_FILE,
            contents: &node.ca_cert_pem,
            private: false,
        },
        OutFile {
            name: SIGNING_KEY_FILE,
            contents: &node.signing_key_pem,
            private: true,
        },
        OutFile {
            name: SIGNING_PUBLIC_FILE,
            contents: &node.signing_public_pem,
            private: false,
        },
    ];
    write_files(dir, &files, force)
}

fn read_text(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|error| file_error(path, error))
}

/// `integrity-node pki …`: a federation CA and node certificates for small deployments,
/// demos and tests.
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create a federation CA: writes ca.crt and ca.key (0600).
    InitCa {
        /// Directory to write into (created if missing).
        #[arg(long, default_value = "./pki")]
        dir: PathBuf,
        /// Common name of the CA.
        #[arg(long, default_value = DEFAULT_CA_NAME)]
        name: String,
        /// Validity in days.
        #[arg(long, default_value_t = DEFAULT_CA_DAYS)]
        days: u32,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Issue a node certificate bound to a region, and the node's Ed25519 event-signing key:
    /// writes node.crt, node.key (0600), ca.crt, signing.key (0600) and signing.pub.
    Issue {
        /// Directory holding the CA's ca.crt and ca.key.
        #[arg(long, default_value = "./pki")]
        ca_dir: PathBuf,
        /// GB/T 2260 region code of the node, e.g. 445122.
        #[arg(long)]
        region: String,
        /// Directory to write into (created if missing); default <ca-dir>/<region>.
        #[arg(long)]
        out: Option<PathBuf>,
        /// DNS name or IP address the node is reached at (repeatable); default localhost.
        /// 127.0.0.1 and ::1 are always included.
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
        /// Validity in days; must end before the CA does.
        #[arg(long, default_value_t = DEFAULT_NODE_DAYS)]
        days: u32,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
}

/// Runs a `pki` command and returns the report to print: the files written and, for `issue`,
/// the region bound and the settings that use the files. Certificates start at `now`.
///
/// # Errors
/// Any [`PkiError`]; an invalid `--region` is [`PkiError::Argument`].
pub fn run(command: PkiCommand, now: OffsetDateTime) -> Result<String, PkiError> {
    let mut report = Vec::new();
    match command {
        PkiCommand::InitCa {
            dir,
            name,
            days,
            force,
        } => {
            let ca = create_ca(&name, days, now)?;
            for path in write_ca_dir(&dir, &ca, force)? {
                report.push(format!("wrote {}", path.display()));
            }
            report.push(format!(
                "federation CA \"{}\" valid until {}; keep {} secret",
                name.trim(),
                format_utc(ca.not_after),
                dir.join(CA_KEY_FILE).display()
            ));
            report.push(format!(
                "next: integrity-node pki issue --ca-dir {} --region <code>",
                dir.display()
            ));
        }
        PkiCommand::Issue {
            ca_dir,
            region,
            out,
            hosts,
            days,
            force,
        } => {
            let region = RegionCode::parse(&region).map_err(|error| PkiError::Argument {
                argument: "--region",
                message: error.to_string(),
            })?;
            let ca_cert_pem = read_text(&ca_dir.join(CA_CERT_FILE))?;
            let ca_key_pem = read_text(&ca_dir.join(CA_KEY_FILE))?;
            let node =
                issue_node_certificate(&ca_cert_pem, &ca_key_pem, region, &hosts, days, now)?;
            let out = out.unwrap_or_else(|| ca_dir.join(region.to_string()));
            for path in write_node_dir(&out, &node, force)? {
                report.push(format!("wrote {}", path.display()));
            }
            report.push(format!(
                "region {region} ({}) bound as {}",
                region.name(),
                region_uri(region)
            ));
            report.push(format!(
                "names: {}; valid until {}",
                node.names.join(", "),
                format_utc(node.not_after)
            ));
            report.push(format!(
                "event-signing public key (Ed25519, base64): {}",
                node.signing_public_b64
            ));
            report.push(format!(
                "configure: tls.cert_path = \"{}\", tls.key_path = \"{}\", federation.ca_path = \"{}\", federation.signing_key = \"{}\"",
                out.join(NODE_CERT_FILE).display(),
                out.join(NODE_KEY_FILE).display(),
                out.join(CA_CERT_FILE).display(),
                out.join(SIGNING_KEY_FILE).display()
            ));
        }
    }
    Ok(report.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::{Clock, SystemClock};
    use crate::federation::identity::region_of_certificate;

    fn region(code: &str) -> RegionCode {
        RegionCode::parse(code).unwrap()
    }

    fn now() -> OffsetDateTime {
        SystemClock.now()
    }

    fn der_of(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    #[test]
    fn ca_and_node_round_trip() {
        let ca = create_ca("test federation CA", 30, now()).unwrap();
        let ca_der = der_of(&ca.cert_pem);
        let (_, parsed) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        assert!(parsed.is_ca());
        let node = issue_node_certificate(
            &ca.cert_pem,
            &ca.key_pem,
            region("445122"),
            &["node.example.gov.cn".to_owned(), "localhost".to_owned()],
            10,
            now(),
        )
        .unwrap();
        let der = der_of(&node.cert_pem);
        assert_eq!(region_of_certificate(&der).unwrap(), region("445122"));
        assert_eq!(
            node.names,
            ["node.example.gov.cn", "localhost", "127.0.0.1", "::1"]
        );

        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let cn = cert.subject().iter_common_name().next().unwrap();
        assert_eq!(cn.as_str().unwrap(), "integrity-node 445122 饶平县");
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && eku.client_auth);
        assert!(!cert.is_ca());
        assert_eq!(cert.issuer(), parsed.subject());
        // Chain check with the verifier rustls will use, for both roles.
        let roots = {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(der_of(&ca.cert_pem)).unwrap();
            std::sync::Arc::new(roots)
        };
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()
            .unwrap();
        verifier
            .verify_client_cert(&der, &[], rustls::pki_types::UnixTime::now())
            .unwrap();
    }

    #[test]
    fn default_host_is_localhost() {
        let ca = create_ca("test federation CA", 30, now()).unwrap();
        let node =
            issue_node_certificate(&ca.cert_pem, &ca.key_pem, region("100000"), &[], 10, now())
                .unwrap();
        assert_eq!(node.names, ["localhost", "127.0.0.1", "::1"]);
        assert_eq!(
            region_of_certificate(&der_of(&node.cert_pem)).unwrap(),
            crate::domain::region::NATIONAL
        );
    }

    #[test]
    fn signing_key_is_what_the_journal_reads() {
        let ca = create_ca("test federation CA", 30, now()).unwrap();
        let node =
            issue_node_certificate(&ca.cert_pem, &ca.key_pem, region("445100"), &[], 10, now())
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_node_dir(dir.path(), &node, false).unwrap();
        let key = crate::federation::journal::SigningKey::from_pem_file(
            &dir.path().join(SIGNING_KEY_FILE),
        )
        .unwrap();
        assert_eq!(key.public_key_b64(), node.signing_public_b64);
        assert!(
            node.signing_public_pem
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );
    }

    #[test]
    fn refuses_bad_input() {
        let t0 = time::macros::datetime!(2026-01-05 08:00:00.5 UTC);
        let ca = create_ca("test federation CA", 30, t0).unwrap();
        let other = create_ca("other CA", 30, t0).unwrap();
        let issue = |cert: &str, key: &str, hosts: &[String], days| {
            issue_node_certificate(cert, key, region("445122"), hosts, days, t0)
        };
        // The longest certificate ends exactly with the CA.
        let node = issue(&ca.cert_pem, &ca.key_pem, &[], 30).unwrap();
        assert_eq!(node.not_after, ca.not_after);
        let expired = issue_node_certificate(
            &ca.cert_pem,
            &ca.key_pem,
            region("445122"),
            &[],
            1,
            t0 + Duration::days(30),
        )
        .unwrap_err();
        assert!(expired.to_string().contains("expired"), "{expired}");
        assert!(matches!(
            issue(&ca.cert_pem, &other.key_pem, &[], 10),
            Err(PkiError::CaKeyMismatch)
        ));
        assert!(matches!(
            issue(&ca.cert_pem, &ca.key_pem, &[], 31),
            Err(PkiError::OutlivesCa { max_days: 30, .. })
        ));
        assert!(matches!(
            issue(&ca.cert_pem, &ca.key_pem, &[], 0),
            Err(PkiError::InvalidValidity { days: 0 })
        ));
        assert!(matches!(
            issue(&ca.cert_pem, &ca.key_pem, &["bad host!".to_owned()], 10),
            Err(PkiError::InvalidHostname { .. })
        ));
        assert!(matches!(
            issue("not pem", &ca.key_pem, &[], 10),
            Err(PkiError::CaCertificate { .. })
        ));
        assert!(matches!(
            issue(&ca.cert_pem, "not pem", &[], 10),
            Err(PkiError::CaKey { .. })
        ));
        // A leaf is not a CA.
        let node = issue(&ca.cert_pem, &ca.key_pem, &[], 10).unwrap();
        assert!(matches!(
            issue(&node.cert_pem, &node.key_pem, &[], 1),
            Err(PkiError::CaCertificate { .. })
        ));
        assert!(matches!(
            create_ca("  ", 1, now()),
            Err(PkiError::EmptyCaName)
        ));
        assert!(matches!(
            create_ca("x", u32::MAX, now()),
            Err(PkiError::InvalidValidity { .. })
        ));
    }

    #[test]
    fn writes_files_with_modes_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let ca_dir = dir.path().join("pki");
        let report = run(
            PkiCommand::InitCa {
                dir: ca_dir.clone(),
                name: DEFAULT_CA_NAME.to_owned(),
                days: DEFAULT_CA_DAYS,
                force: false,
            },
            now(),
        )
        .unwrap();
        assert!(report.contains("ca.key"), "{report}");

        let issue = |region: &str, force| {
            run(
                PkiCommand::Issue {
                    ca_dir: ca_dir.clone(),
                    region: region.to_owned(),
                    out: None,
                    hosts: vec![],
                    days: DEFAULT_NODE_DAYS,
                    force,
                },
                now(),
            )
        };
        let report = issue("445122", false).unwrap();
        assert!(
            report.contains("urn:integrity-exchange:region:445122"),
            "{report}"
        );
        let node_dir = ca_dir.join("445122");
        for name in [
            NODE_CERT_FILE,
            NODE_KEY_FILE,
            CA_CERT_FILE,
            SIGNING_KEY_FILE,
            SIGNING_PUBLIC_FILE,
        ] {
            assert!(node_dir.join(name).is_file(), "{name}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |path: &Path| path.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&ca_dir.join(CA_KEY_FILE)), 0o600);
            assert_eq!(mode(&node_dir.join(NODE_KEY_FILE)), 0o600);
            assert_eq!(mode(&node_dir.join(SIGNING_KEY_FILE)), 0o600);
            // --force replaces a loosened key with a 0600 one.
            std::fs::set_permissions(
                node_dir.join(NODE_KEY_FILE),
                std::fs::Permissions::from_mode(0o644),
            )
            .unwrap();
            issue("445122", true).unwrap();
            assert_eq!(mode(&node_dir.join(NODE_KEY_FILE)), 0o600);
        }

        let before = std::fs::read(node_dir.join(NODE_KEY_FILE)).unwrap();
        let error = issue("445122", false).unwrap_err();
        assert!(matches!(&error, PkiError::Exists { path } if path.ends_with(NODE_CERT_FILE)));
        assert!(error.to_string().contains("--force"), "{error}");
        assert_eq!(std::fs::read(node_dir.join(NODE_KEY_FILE)).unwrap(), before);
        let leftovers = std::fs::read_dir(&node_dir)
            .unwrap()
            .filter(|entry| {
                entry
                    .as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0);

        let error = issue("999999", false).unwrap_err();
        assert!(error.to_string().starts_with("--region: "), "{error}");
        let error = run(
            PkiCommand::InitCa {
                dir: ca_dir.clone(),
                name: "again".to_owned(),
                days: 10,
                force: false,
            },
            now(),
        )
        .unwrap_err();
        assert!(matches!(error, PkiError::Exists { .. }));
    }

    #[test]
    fn error_messages_are_lower_case_without_full_stop() {
        let errors = [
            PkiError::InvalidValidity { days: 0 },
            PkiError::EmptyCaName,
            PkiError::InvalidHostname { host: "x y".into() },
            PkiError::CaCertificate { reason: "r".into() },
            PkiError::CaKey { reason: "r".into() },
            PkiError::CaKeyMismatch,
            PkiError::OutlivesCa {
                ca_expires: "2030-01-01 00:00 UTC".into(),
                max_days: 3,
            },
            PkiError::Generate { reason: "r".into() },
        ];
        for error in errors {
            let text = error.to_string();
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
    }
}
