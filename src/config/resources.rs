//! The third of the configuration's three steps: loading, once, what the
//! validated settings name: the token file (checked now, read again at
//! every poll), the CA bundle, the web config and its certificates, and the
//! listen address.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use super::validate::{TokenChoice, Validated};
use super::{Config, ConfigError, WebConfig, invalid, settings as s};
use crate::evolux::ClientSettings;
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
    let listen_address =
        parse_listen_address(&v.listen).map_err(|r| invalid(s::WEB_LISTEN_ADDRESS.flag, r))?;
    let r = v.requests;
    Ok(Config {
        evolux: ClientSettings {
            url: v.url,
            token,
            ca_file: v.ca_file,
            ca_certificates,
            timeout: r.timeout,
            max_concurrency: r.max_concurrency,
            max_rps: r.max_rps,
            max_response_size: r.max_response_size,
            max_retries: r.max_retries,
            retry_base_delay: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(30),
        },
        campaigns: v.campaigns,
        poll: v.poll,
        web: WebConfig {
            listen_address,
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

/// `:port` means all interfaces, like the Prometheus exporters.
pub(crate) fn parse_listen_address(raw: &str) -> Result<SocketAddr, String> {
    let full = if raw.starts_with(':') {
        format!("0.0.0.0{raw}")
    } else {
        raw.to_string()
    };
    if let Ok(addr) = full.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = full
        .rsplit_once(':')
        .ok_or_else(|| format!("{raw:?}: expected host:port or :port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{raw:?}: invalid port {port:?}"))?;
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{raw:?}: cannot resolve {host:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("{raw:?}: {host:?} resolves to no address"))
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
