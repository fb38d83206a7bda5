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
//! public_paths: [/healthz, /readyz, /-/healthy, /-/ready]   # the default; [] protects everything
//! ```
//!
//! The file and the files it names are watched: [`WebConfigSource`] reloads
//! them when their size, modification time or inode changes (a renewed
//! certificate, a Kubernetes secret update). A file that no longer loads is
//! logged and the last good settings stay in force.
//!
//! Layout: `raw` is the file as written (serde), `parse` validates it into
//! [`WebSecurity`], `tls` builds the rustls server config and `client_cert`
//! its client-certificate verifier, `source` watches the files
//! ([`WebConfigSource`]); the unit tests are in `tests`.
//!
//! [exporter-toolkit web-config format]: https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md

mod client_cert;
mod departures;
mod parse;
mod rate_limit;
mod raw;
#[cfg(test)]
mod reference_cases;
mod source;
mod suites;
#[cfg(test)]
mod tests;
mod tls;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use rustls::ServerConfig;

pub use departures::{DEPARTURES, departure_lines};
pub use source::WebConfigSource;

/// Paths reachable without credentials unless the file says otherwise.
pub const DEFAULT_PUBLIC_PATHS: [&str; 4] = ["/healthz", "/readyz", "/-/healthy", "/-/ready"];

/// The bcrypt cost of the hash unknown users are checked against: fixed
/// and moderate, so that made-up user names cost little to refuse. A known
/// user of a higher cost is answered more slowly than an unknown one: the
/// difference tells which user names exist, not their passwords.
pub const DUMMY_COST: u32 = 10;

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

/// `rate_limit`: a token bucket over every request, refilled one token per
/// `interval`, holding at most `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Time for one token to come back.
    pub interval: Duration,
    /// Tokens the bucket holds (and starts with); at least 1.
    pub burst: u32,
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
    /// Requests past this get 429; `None`: no limit.
    pub rate_limit: Option<RateLimit>,
    /// A hash no password matches, of cost [`DUMMY_COST`]: checked for
    /// unknown users.
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
            .field("rate_limit", &self.rate_limit)
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
        let rate = match self.rate_limit {
            Some(r) => format!(
                ", at most {} request(s) at once then one per {:?}",
                r.burst, r.interval
            ),
            None => String::new(),
        };
        format!(
            "{tls}{mtls}, {} basic-auth user(s), public paths {:?}{rate}",
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
    parse::parse(path, &text)
}

/// The error for `field` of the file at `path`.
fn field_error(path: &Path, field: impl Into<String>, reason: impl ToString) -> WebConfigError {
    WebConfigError::Field {
        path: path.to_owned(),
        field: field.into(),
        reason: reason.to_string(),
    }
}
