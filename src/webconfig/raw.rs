//! The web config file as written: the serde shape of the exporter-toolkit
//! format (plus `public_paths`), before any validation. Unknown keys are
//! refused here, by serde, naming the key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The whole file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebConfig {
    pub(super) tls_server_config: Option<RawTls>,
    pub(super) http_server_config: Option<RawHttp>,
    #[serde(default)]
    pub(super) basic_auth_users: BTreeMap<String, String>,
    pub(super) rate_limit: Option<RawRateLimit>,
    pub(super) public_paths: Option<Vec<String>>,
}

/// `rate_limit` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRateLimit {
    pub(super) interval: Option<RawDuration>,
    pub(super) burst: Option<u32>,
}

/// A Go duration as YAML gives it: text (`1s`) or a number of nanoseconds.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawDuration {
    /// A number of nanoseconds, as Go reads a bare number.
    Nanos(u64),
    /// Go's duration syntax, `1m30s`.
    Text(String),
}

/// `tls_server_config` as written (its debug output leaves the key out).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    /// The certificate chain as PEM, instead of `cert_file`.
    pub(super) cert: Option<String>,
    /// The private key as PEM, instead of `key_file`.
    pub(super) key: Option<String>,
    /// The client CA certificates as PEM, instead of `client_ca_file`.
    pub(super) client_ca: Option<String>,
    pub(super) cert_file: Option<PathBuf>,
    pub(super) key_file: Option<PathBuf>,
    pub(super) client_auth_type: Option<String>,
    pub(super) client_ca_file: Option<PathBuf>,
    pub(super) min_version: Option<String>,
    pub(super) max_version: Option<String>,
    pub(super) cipher_suites: Option<Vec<String>>,
    pub(super) curve_preferences: Option<Vec<String>>,
    pub(super) prefer_server_cipher_suites: Option<bool>,
    pub(super) client_allowed_sans: Option<Vec<String>>,
}

/// `http_server_config` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    /// Accepted for compatibility; the exporter speaks HTTP/1.1 only.
    #[allow(dead_code)]
    pub(super) http2: Option<bool>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, String>,
}

impl RawTls {
    /// The files this section names (certificate, key, client CA), as
    /// written: relative names are not yet resolved.
    pub(super) fn named_files(self) -> impl Iterator<Item = PathBuf> {
        [self.cert_file, self.key_file, self.client_ca_file]
            .into_iter()
            .flatten()
    }
}

impl std::fmt::Debug for RawTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawTls")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("inline cert", &self.cert.is_some())
            .field("inline key", &self.key.is_some())
            .field("client_ca_file", &self.client_ca_file)
            .field("client_auth_type", &self.client_auth_type)
            .finish_non_exhaustive()
    }
}
