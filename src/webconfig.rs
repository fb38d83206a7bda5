//! `--web.config.file`: TLS and basic auth for the exporter's own endpoints,
//! in the [exporter-toolkit web-config format] that Prometheus operators
//! already write for node_exporter and friends.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: /tls/tls.crt
//!   key_file: /tls/tls.key
//!   min_version: TLS12            # TLS12 (default) or TLS13
//!   client_ca_file: /tls/ca.crt   # mTLS; client_auth_type defaults to
//!   client_auth_type: RequireAndVerifyClientCert   # this when a CA is given
//! http_server_config:
//!   headers:
//!     Strict-Transport-Security: max-age=31536000
//! basic_auth_users:
//!   prometheus: $2y$10$...        # bcrypt hash
//! # evolux-exporter's own key (optional): paths served without basic auth
//! # or client certificate, so that kubelet probes keep working.
//! public_paths: [/healthz, /readyz]   # the default; [] protects everything
//! ```
//!
//! The file and the files it names are watched: [`WebConfigSource`] reloads
//! them when their size, modification time or inode changes (a renewed
//! certificate, a Kubernetes secret update). A file that no longer loads is
//! logged and the last good settings stay in force.
//!
//! [exporter-toolkit web-config format]: https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::http::{HeaderName, HeaderValue};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

/// Salt and hash of a bcrypt hash that no password matches (a valid hash
/// of a random 32-byte string).
const DUMMY_SALT_AND_HASH: &str = "QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// Paths reachable without credentials unless the file says otherwise.
pub const DEFAULT_PUBLIC_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// Response headers the file may set (the exporter-toolkit's list).
const ALLOWED_HEADERS: [&str; 5] = [
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

/// A web config file that cannot be used; names the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file itself cannot be read.
    #[error("cannot read web config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A field has a bad value or is unknown.
    #[error("web config file {path}: {field}: {reason}")]
    Field {
        /// The file.
        path: PathBuf,
        /// Dotted path of the field, e.g. `tls_server_config.min_version`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
    public_paths: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_auth_type: Option<String>,
    client_ca_file: Option<PathBuf>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    curve_preferences: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    /// Accepted for compatibility; the exporter speaks HTTP/1.1 only.
    #[allow(dead_code)]
    http2: Option<bool>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// Who must present a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificates asked for.
    None,
    /// A certificate, if given, must verify against the client CA.
    VerifyIfGiven,
    /// A verified certificate is required (except on public paths).
    RequireAndVerify,
}

/// The validated settings of one version of the file.
#[derive(Clone)]
pub struct WebSecurity {
    /// TLS, when `tls_server_config` is given.
    pub tls: Option<Arc<ServerConfig>>,
    /// Client certificate policy.
    pub client_auth: ClientAuth,
    /// User name to bcrypt hash; empty means no basic auth.
    pub users: BTreeMap<String, String>,
    /// Extra response headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Paths served without credentials.
    pub public_paths: Vec<String>,
    /// A hash no password matches, of the highest cost in `users`: checked
    /// for unknown users so that they take as long as known ones.
    pub dummy_hash: String,
}

impl std::fmt::Debug for WebSecurity {
    // Hashes stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSecurity")
            .field("tls", &self.tls.is_some())
            .field("client_auth", &self.client_auth)
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .field("public_paths", &self.public_paths)
            .finish()
    }
}

impl WebSecurity {
    /// Whether `path` needs credentials.
    pub fn is_public(&self, path: &str) -> bool {
        self.public_paths.iter().any(|p| p == path)
    }

    /// A one-line description for the start-up log and `--config.check`.
    pub fn describe(&self) -> String {
        let tls = if self.tls.is_some() {
            "TLS"
        } else {
            "plain HTTP"
        };
        let mtls = match self.client_auth {
            ClientAuth::None => "",
            ClientAuth::VerifyIfGiven => ", client certificates verified if given",
            ClientAuth::RequireAndVerify => ", client certificates required",
        };
        format!(
            "{tls}{mtls}, {} basic-auth user(s), public paths {:?}",
            self.users.len(),
            self.public_paths
        )
    }
}

/// Reads and validates the file at `path` and the files it names.
pub fn load(path: &Path) -> Result<WebSecurity, WebConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

fn field_error(path: &Path, field: impl Into<String>, reason: impl ToString) -> WebConfigError {
    WebConfigError::Field {
        path: path.to_owned(),
        field: field.into(),
        reason: reason.to_string(),
    }
}

/// Validates the text of the file at `path` (relative file names in it are
/// resolved against the file's directory, as the exporter-toolkit does).
fn parse(path: &Path, text: &str) -> Result<WebSecurity, WebConfigError> {
    let raw: RawWebConfig = if text.trim().is_empty() {
        RawWebConfig::default()
    } else {
        let de = serde_yaml::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            if field.starts_with("basic_auth_users") {
                // serde's message can quote the value: a password hash.
                return field_error(path, field, "expected a map of user name: bcrypt hash");
            }
            let field = if field == "." {
                "(top level)".into()
            } else {
                field
            };
            field_error(path, field, e.inner())
        })?
    };
    let dir = path.parent().unwrap_or(Path::new("."));

    let public_paths = match raw.public_paths {
        Some(paths) => {
            for p in &paths {
                if !p.starts_with('/') {
                    return Err(field_error(
                        path,
                        "public_paths",
                        format!("{p:?} must start with /"),
                    ));
                }
            }
            paths
        }
        None => DEFAULT_PUBLIC_PATHS.iter().map(|s| s.to_string()).collect(),
    };

    let (tls, client_auth) = match raw.tls_server_config {
        Some(t) => {
            let (config, auth) = tls_config(path, dir, t, !public_paths.is_empty())?;
            (Some(Arc::new(config)), auth)
        }
        None => (None, ClientAuth::None),
    };

    for (user, hash) in &raw.basic_auth_users {
        if user.is_empty() || user.contains(':') {
            return Err(field_error(
                path,
                "basic_auth_users",
                format!("user name {user:?} must be non-empty and without ':'"),
            ));
        }
        let cost_ok = hash
            .parse::<bcrypt::HashParts>()
            .is_ok_and(|h| (4..=31).contains(&h.get_cost()));
        if !cost_ok {
            // The hash is a secret of sorts: name the user, not the value.
            return Err(field_error(
                path,
                format!("basic_auth_users.{user}"),
                "is not a bcrypt hash of cost 4 to 31 (generate one with `htpasswd -nbBC 10 \"\" PASSWORD | tr -d ':\\n'`)",
            ));
        }
    }

    let mut headers = Vec::new();
    if let Some(http) = raw.http_server_config {
        for (name, value) in http.headers {
            let Some(allowed) = ALLOWED_HEADERS
                .iter()
                .find(|a| a.eq_ignore_ascii_case(&name))
            else {
                return Err(field_error(
                    path,
                    format!("http_server_config.headers.{name}"),
                    format!("is not one of {}", ALLOWED_HEADERS.join(", ")),
                ));
            };
            let value = HeaderValue::from_str(&value).map_err(|_| {
                field_error(
                    path,
                    format!("http_server_config.headers.{name}"),
                    "is not a valid header value",
                )
            })?;
            headers.push((HeaderName::from_static(lowercase(allowed)), value));
        }
    }

    let cost = raw
        .basic_auth_users
        .values()
        .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
        .map(|h| h.get_cost())
        .max()
        .unwrap_or(10);
    Ok(WebSecurity {
        tls,
        client_auth,
        users: raw.basic_auth_users,
        headers,
        public_paths,
        dummy_hash: format!("$2y${cost:02}${DUMMY_SALT_AND_HASH}"),
    })
}

/// The lower-case static name of an allowed header.
fn lowercase(name: &str) -> &'static str {
    match name {
        "Strict-Transport-Security" => "strict-transport-security",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-Frame-Options" => "x-frame-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "content-security-policy",
    }
}

fn tls_version(
    path: &Path,
    field: &str,
    value: Option<&str>,
    default: u8,
) -> Result<u8, WebConfigError> {
    match value {
        None | Some("") => Ok(default),
        Some("TLS12") => Ok(12),
        Some("TLS13") => Ok(13),
        Some(v @ ("TLS10" | "TLS11")) => Err(field_error(
            path,
            field,
            format!("{v} is not supported: it is obsolete (RFC 8996); use TLS12 or TLS13"),
        )),
        Some(v) => Err(field_error(
            path,
            field,
            format!("{v:?} is not a TLS version (TLS12 or TLS13)"),
        )),
    }
}

/// `admit_anonymous`: let clients without a certificate finish the
/// handshake, so that they can reach the public paths.
fn tls_config(
    path: &Path,
    dir: &Path,
    t: RawTls,
    admit_anonymous: bool,
) -> Result<(ServerConfig, ClientAuth), WebConfigError> {
    const F: &str = "tls_server_config";
    if t.cipher_suites.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(field_error(
            path,
            format!("{F}.cipher_suites"),
            "is not supported: the exporter offers only modern AEAD suites (TLS 1.3, and ECDHE with AES-GCM or ChaCha20-Poly1305 for TLS 1.2); remove the key",
        ));
    }
    if t.curve_preferences.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(field_error(
            path,
            format!("{F}.curve_preferences"),
            "is not supported: the exporter offers X25519, P-256 and P-384; remove the key",
        ));
    }
    let cert_file = t
        .cert_file
        .ok_or_else(|| field_error(path, format!("{F}.cert_file"), "is required with TLS"))?;
    let key_file = t
        .key_file
        .ok_or_else(|| field_error(path, format!("{F}.key_file"), "is required with TLS"))?;
    let cert_file = dir.join(cert_file);
    let key_file = dir.join(key_file);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_file)
        .and_then(|it| it.collect())
        .map_err(|e| {
            field_error(
                path,
                format!("{F}.cert_file"),
                format!("{}: {e}", cert_file.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(field_error(
            path,
            format!("{F}.cert_file"),
            format!("{}: no certificate in it", cert_file.display()),
        ));
    }
    // The error of a key file names the file, never its content.
    let key = PrivateKeyDer::from_pem_file(&key_file).map_err(|e| {
        field_error(
            path,
            format!("{F}.key_file"),
            format!("{}: {e}", key_file.display()),
        )
    })?;

    let min = tls_version(
        path,
        &format!("{F}.min_version"),
        t.min_version.as_deref(),
        12,
    )?;
    let max = tls_version(
        path,
        &format!("{F}.max_version"),
        t.max_version.as_deref(),
        13,
    )?;
    if min > max {
        return Err(field_error(
            path,
            format!("{F}.max_version"),
            "is below min_version",
        ));
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (min..=max).contains(v))
            .map(|(_, p)| p)
            .collect();

    // As the exporter-toolkit: a client CA needs a policy that verifies
    // with it, and such a policy needs a client CA.
    let client_auth = match (
        t.client_auth_type.as_deref().unwrap_or(""),
        &t.client_ca_file,
    ) {
        ("" | "NoClientCert", None) => ClientAuth::None,
        ("" | "NoClientCert", Some(_)) => {
            return Err(field_error(
                path,
                format!("{F}.client_auth_type"),
                "must be VerifyClientCertIfGiven or RequireAndVerifyClientCert when client_ca_file is given",
            ));
        }
        ("RequireAndVerifyClientCert", _) => ClientAuth::RequireAndVerify,
        ("VerifyClientCertIfGiven", _) => ClientAuth::VerifyIfGiven,
        (v @ ("RequestClientCert" | "RequireAnyClientCert"), _) => {
            return Err(field_error(
                path,
                format!("{F}.client_auth_type"),
                format!(
                    "{v} accepts certificates nobody verified; use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file"
                ),
            ));
        }
        (v, _) => {
            return Err(field_error(
                path,
                format!("{F}.client_auth_type"),
                format!(
                    "{v:?} is not one of NoClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"
                ),
            ));
        }
    };

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| field_error(path, format!("{F}.min_version"), e))?;
    let builder = if client_auth == ClientAuth::None {
        builder.with_no_client_auth()
    } else {
        let ca_file = t
            .client_ca_file
            .as_ref()
            .map(|f| dir.join(f))
            .ok_or_else(|| {
                field_error(
                    path,
                    format!("{F}.client_ca_file"),
                    "is required to verify client certificates",
                )
            })?;
        let mut roots = rustls::RootCertStore::empty();
        let cas = CertificateDer::pem_file_iter(&ca_file)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                field_error(
                    path,
                    format!("{F}.client_ca_file"),
                    format!("{}: {e}", ca_file.display()),
                )
            })?;
        let (added, _) = roots.add_parsable_certificates(cas);
        if added == 0 {
            return Err(field_error(
                path,
                format!("{F}.client_ca_file"),
                format!("{}: no usable CA certificate in it", ca_file.display()),
            ));
        }
        // With public paths (or VerifyClientCertIfGiven), the handshake
        // admits clients without a certificate and the HTTP layer refuses
        // them on every other path, so probes keep working. Without public
        // paths, RequireAndVerifyClientCert is enforced in the handshake. A
        // presented certificate must verify here either way.
        let mut verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        if admit_anonymous || client_auth == ClientAuth::VerifyIfGiven {
            verifier = verifier.allow_unauthenticated();
        }
        let verifier = verifier
            .build()
            .map_err(|e| field_error(path, format!("{F}.client_ca_file"), e))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        field_error(
            path,
            format!("{F}.key_file"),
            format!("does not match cert_file: {e}"),
        )
    })?;
    // The exporter-toolkit's default.
    config.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(true);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, client_auth))
}

/// What identifies one version of a file on disk: size, modification
/// time, and on Unix the inode and change time (which a copy that keeps
/// the modification time still moves).
type Stamp = Option<(u64, SystemTime, u64, i64, i64)>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let (inode, ctime, ctime_nsec) = {
        use std::os::unix::fs::MetadataExt;
        (m.ino(), m.ctime(), m.ctime_nsec())
    };
    #[cfg(not(unix))]
    let (inode, ctime, ctime_nsec) = (0, 0, 0);
    Some((m.len(), m.modified().ok()?, inode, ctime, ctime_nsec))
}

/// The file's current settings, reloaded when it or a file it names changes.
#[derive(Debug)]
pub struct WebConfigSource {
    path: PathBuf,
    current: RwLock<Arc<WebSecurity>>,
    state: Mutex<WatchState>,
}

#[derive(Debug)]
struct WatchState {
    /// Stamps of the web config and of the files it names.
    stamps: Vec<(PathBuf, Stamp)>,
    last_check: Instant,
}

/// How often the files are looked at, at most.
const CHECK_EVERY: Duration = Duration::from_secs(1);

impl WebConfigSource {
    /// Loads the file; an error here stops start-up.
    pub fn open(path: &Path) -> Result<WebConfigSource, WebConfigError> {
        // Stamps first: a change while loading is seen at the next check.
        let stamps: Vec<_> = watched_files(path)
            .into_iter()
            .map(|p| {
                let s = stamp(&p);
                (p, s)
            })
            .collect();
        let security = load(path)?;
        Ok(WebConfigSource {
            path: path.to_owned(),
            current: RwLock::new(Arc::new(security)),
            state: Mutex::new(WatchState {
                stamps,
                last_check: Instant::now(),
            }),
        })
    }

    /// The settings in force, after reloading them if the files changed
    /// (looked at no more than once a second).
    pub fn current(&self) -> Arc<WebSecurity> {
        self.reload_if_changed();
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn reload_if_changed(&self) {
        // One caller looks at the files; the others go on with the
        // settings in force rather than wait on the file system.
        let Ok(mut state) = self.state.try_lock() else {
            return;
        };
        if state.last_check.elapsed() < CHECK_EVERY {
            return;
        }
        state.last_check = Instant::now();
        let changed = state.stamps.iter().any(|(p, s)| stamp(p) != *s);
        if !changed {
            return;
        }
        // Stamps are taken before reading, so a write during the reload is
        // seen at the next check.
        state.stamps = watched_files(&self.path)
            .into_iter()
            .map(|p| {
                let s = stamp(&p);
                (p, s)
            })
            .collect();
        let previous_tls = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .tls
            .is_some();
        let loaded = match std::fs::metadata(&self.path) {
            // Being rewritten in place, or emptied by mistake: an empty file
            // would mean no TLS and no users, so it is never taken on reload.
            Ok(m) if m.len() == 0 => {
                Err(field_error(&self.path, "(top level)", "the file is empty"))
            }
            _ => load(&self.path),
        }
        .and_then(|security| {
            if security.tls.is_some() != previous_tls {
                Err(field_error(
                    &self.path,
                    "tls_server_config",
                    "switching between TLS and plain HTTP needs a restart",
                ))
            } else {
                Ok(security)
            }
        });
        match loaded {
            Ok(security) => {
                tracing::info!(file = %self.path.display(), settings = %security.describe(), "web config reloaded");
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(security);
            }
            Err(error) => {
                tracing::error!(%error, "web config not reloaded: keeping the previous settings");
            }
        }
    }
}

/// The web config file and the certificate files it names (those that can
/// be found; a file that cannot be parsed is watched by itself).
fn watched_files(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_owned()];
    let dir = path.parent().unwrap_or(Path::new("."));
    let raw: Option<RawWebConfig> = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_yaml::from_str(&t).ok());
    if let Some(tls) = raw.and_then(|r| r.tls_server_config) {
        files.extend(
            [tls.cert_file, tls.key_file, tls.client_ca_file]
                .into_iter()
                .flatten()
                .map(|f| dir.join(f)),
        );
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(Path::new("/etc/web.yml"), text)
            .expect_err("must be rejected")
            .to_string()
    }

    #[test]
    fn an_empty_file_means_no_tls_no_auth_and_public_probes() {
        let s = parse(Path::new("/w.yml"), "").expect("empty is valid");
        assert!(s.tls.is_none());
        assert!(s.users.is_empty());
        assert!(s.is_public("/healthz") && s.is_public("/readyz"));
        assert!(!s.is_public("/metrics"));
    }

    #[test]
    fn bad_fields_are_named() {
        assert!(err("tls_server_config:\n  cert_fil: x\n").contains("tls_server_config"));
        assert!(err("tls_server_config:\n  cert_fil: x\n").contains("cert_fil"));
        assert!(err("basic_auth_users:\n  alice: plaintext\n").contains("basic_auth_users.alice"));
        assert!(!err("basic_auth_users:\n  alice: plaintext\n").contains("plaintext"));
        assert!(err("tls_server_config:\n  key_file: k\n").contains("tls_server_config.cert_file"));
        assert!(err("http_server_config:\n  headers:\n    X-Evil: 1\n").contains("headers.X-Evil"));
        assert!(err("public_paths: [healthz]\n").contains("public_paths"));
        assert!(err("nonsense: 1\n").contains("nonsense"));
    }

    #[test]
    fn obsolete_tls_versions_are_refused_by_name() {
        let e = err("tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS10\n");
        // The files do not exist, which is found first.
        assert!(e.contains("cert_file"), "{e}");
        assert!(tls_version(Path::new("w"), "min_version", Some("TLS11"), 12).is_err());
        assert_eq!(
            tls_version(Path::new("w"), "x", Some("TLS13"), 12).ok(),
            Some(13)
        );
        assert_eq!(tls_version(Path::new("w"), "x", None, 12).ok(), Some(12));
    }

    #[test]
    fn the_dummy_hash_follows_the_highest_cost() {
        let h4 = bcrypt::hash("x", 4).expect("hash");
        let h5 = bcrypt::hash("x", 5).expect("hash");
        let s = parse(
            Path::new("/w.yml"),
            &format!("basic_auth_users:\n  a: {h4}\n  b: {h5}\n"),
        )
        .expect("valid");
        let parts = s
            .dummy_hash
            .parse::<bcrypt::HashParts>()
            .expect("a bcrypt hash");
        assert_eq!(parts.get_cost(), 5);
        assert_eq!(bcrypt::verify("x", &s.dummy_hash).ok(), Some(false));
    }

    #[test]
    fn public_paths_can_be_emptied() {
        let s = parse(Path::new("/w.yml"), "public_paths: []\n").expect("valid");
        assert!(!s.is_public("/healthz"));
    }
}
