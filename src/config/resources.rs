//! The third of the configuration's three steps: loading, once, what the
//! validated settings name: the token file (checked now, read again at
//! every poll), the CA bundle, the web config and its certificates, and the
//! listen addresses.

use std::sync::Arc;
use std::time::Duration;

use super::validate::{TokenChoice, Validated};
use super::{Config, ConfigError, WebConfig, invalid, settings as s};
use crate::evolux::ClientSettings;
use crate::server::ListenAddress;
use crate::token::{DEMO_TOKEN, TokenSource};
use crate::webconfig::WebConfigSource;

/// Loads what `v` names and makes the [`Config`] the exporter runs with.
pub(crate) fn load(v: Validated) -> Result<Config, ConfigError> {
    let token = match v.token {
        TokenChoice::File(path) => {
            TokenSource::file(path).map_err(|r| invalid(s::EVOLUX_TOKEN_FILE.flag, r))?
        }
        TokenChoice::Literal(token) => TokenSource::literal(token),
        TokenChoice::Demo => TokenSource::literal(DEMO_TOKEN.to_string()),
    };
    let ca_certificates = match &v.ca_file {
        Some(path) => load_ca_file(path).map_err(|r| invalid(s::EVOLUX_CA_FILE.flag, r))?,
        None => Vec::new(),
    };
    let security = match &v.web_config_file {
        Some(path) => {
            Some(Arc::new(WebConfigSource::open(path).map_err(|e| {
                invalid(s::WEB_CONFIG_FILE.flag, e.to_string())
            })?))
        }
        None => None,
    };
    let listen_addresses = v
        .listen
        .iter()
        .map(|raw| ListenAddress::parse(raw).map_err(|r| invalid(s::WEB_LISTEN_ADDRESS.flag, r)))
        .collect::<Result<Vec<_>, _>>()?;
    let r = v.requests;
    Ok(Config {
        evolux: ClientSettings {
            url: v.url,
            token,
            ca_file: v.ca_file,
            ca_certificates,
            proxy: v.proxy,
            timeout: r.timeout,
            max_concurrency: r.max_concurrency,
            max_rps: r.max_rps,
            max_response_size: r.max_response_size,
            max_retries: r.max_retries,
            retry_base_delay: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(30),
        },
        campaigns: v.campaigns,
        views: v.views,
        poll: v.poll,
        web: WebConfig {
            listen_addresses,
            enable_lifecycle: v.enable_lifecycle,
            telemetry_path: v.telemetry_path,
            config_file: v.web_config_file,
            security,
        },
        log: v.log,
        response: v.response,
        demo: v.demo,
        shard: v.shard,
        config_file: v.config_file,
    })
}

/// The certificates of a PEM CA bundle.
fn load_ca_file(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{}: not a PEM certificate bundle: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()));
    }
    Ok(certs)
}
