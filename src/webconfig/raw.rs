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
    pub(super) public_paths: Option<Vec<String>>,
}

/// `tls_server_config` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub(super) cert_file: Option<PathBuf>,
    pub(super) key_file: Option<PathBuf>,
    pub(super) client_auth_type: Option<String>,
    pub(super) client_ca_file: Option<PathBuf>,
    pub(super) min_version: Option<String>,
    pub(super) max_version: Option<String>,
    pub(super) cipher_suites: Option<Vec<String>>,
    pub(super) curve_preferences: Option<Vec<String>>,
    pub(super) prefer_server_cipher_suites: Option<bool>,
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
