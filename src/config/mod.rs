//! Configuration: the command line and environment ([`cli::Cli`]), the YAML
//! file ([`file`]) and their merge into a validated [`Config`].
//!
//! Precedence is flag, environment, file, default. Every check that fails
//! names the field it is about, so a bad deployment says what to fix.

pub mod cli;
pub(crate) mod file;
pub mod shard;
pub mod units;

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use url::Url;
use uuid::Uuid;

pub use cli::Cli;
pub use shard::Shard;

use crate::evolux::ClientSettings;
use crate::evolux::fields::ResponseLayout;
pub use crate::model::{Campaign, Filters};
use crate::poller::PollSettings;
use crate::telemetry::{LogConfig, LogFormat, LogLevel};
use crate::token::TokenSource;
use units::{ByteSize, HumanDuration};

/// Default port: outside 9100–9999, which the Prometheus port registry has
/// fully allocated.
pub const DEFAULT_PORT: u16 = 10071;

/// The validated configuration the exporter runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// How to reach the API.
    pub evolux: ClientSettings,
    /// Campaigns to poll; empty means discovery.
    pub campaigns: Vec<Campaign>,
    /// Polling schedule and limits.
    pub poll: PollSettings,
    /// The exporter's own HTTP server.
    pub web: WebConfig,
    /// Logging.
    pub log: LogConfig,
    /// Where records, next links and fields are found in a response.
    pub response: ResponseLayout,
    /// Poll the built-in simulated API instead of `evolux.url`.
    pub demo: bool,
    /// This replica's share of the configured campaigns.
    pub shard: Shard,
    /// Where the file part came from, for the summary.
    pub config_file: Option<PathBuf>,
}

/// The exporter's own HTTP server.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Where to listen.
    pub listen_address: SocketAddr,
    /// Path of the metrics endpoint.
    pub telemetry_path: String,
    /// `--web.config.file`: TLS and basic auth; checked at load, watched
    /// while serving.
    pub config_file: Option<PathBuf>,
}

/// Why a configuration was rejected. Every variant names the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not parse or is out of range.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, as its flag or file key.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A required value is missing.
    #[error("{field}: required: {hint}")]
    Missing {
        /// The field, as its flag or file key.
        field: String,
        /// How to give it.
        hint: String,
    },
    /// The config file cannot be read.
    #[error("--config.file {path}: cannot read: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid YAML for this schema.
    #[error("--config.file {path}: {message}")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key and line.
        message: String,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

impl Config {
    /// Builds the configuration from the parsed command line, reading the
    /// config file it names and the environment (`EVOLUX_TOKEN`).
    pub fn load(cli: Cli) -> Result<Config, ConfigError> {
        Config::load_with_token(cli, std::env::var("EVOLUX_TOKEN").ok())
    }

    /// As [`Config::load`], with the token that `EVOLUX_TOKEN` would give.
    pub fn load_with_token(cli: Cli, env_token: Option<String>) -> Result<Config, ConfigError> {
        let file = match &cli.config_file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
                        path: path.clone(),
                        source,
                    })?;
                file::parse(&text).map_err(|message| ConfigError::ParseFile {
                    path: path.clone(),
                    message,
                })?
            }
            None => file::FileConfig::default(),
        };
        Config::merge(cli, file, env_token)
    }

    /// Merges the command line, a parsed file and the token from the
    /// environment, then validates. Pure but for reading the token file.
    pub(crate) fn merge(
        cli: Cli,
        file: file::FileConfig,
        env_token: Option<String>,
    ) -> Result<Config, ConfigError> {
        let demo = cli.demo;
        let url = match cli.evolux_url.or(file.evolux.url) {
            Some(raw) => parse_base_url(&raw).map_err(|r| invalid("evolux.url", r))?,
            None if demo => {
                Url::parse("http://127.0.0.1/").map_err(|e| invalid("evolux.url", e.to_string()))?
            }
            None => {
                return Err(ConfigError::Missing {
                    field: "evolux.url".into(),
                    hint: "give --evolux.url, EVOLUX_URL or evolux.url in the config file (or run with --demo)".into(),
                });
            }
        };

        let ca_file = cli.evolux_ca_file.or(file.evolux.ca_file);
        let ca_certificates = match &ca_file {
            Some(path) => load_ca_file(path).map_err(|r| invalid("evolux.ca-file", r))?,
            None => Vec::new(),
        };
        let token_file = cli.evolux_token_file.or(file.evolux.token_file);
        let token = match (token_file, env_token.filter(|t| !t.trim().is_empty())) {
            (Some(path), _) => {
                TokenSource::file(path).map_err(|r| invalid("evolux.token-file", r))?
            }
            (None, Some(token)) => TokenSource::literal(token),
            (None, None) if demo => TokenSource::literal(crate::token::DEMO_TOKEN.to_string()),
            (None, None) => {
                return Err(ConfigError::Missing {
                    field: "EVOLUX_TOKEN".into(),
                    hint: "set EVOLUX_TOKEN or give --evolux.token-file (evolux.token_file in the config file)".into(),
                });
            }
        };

        let timeout = cli
            .evolux_timeout
            .or(file.evolux.timeout)
            .map_or(Duration::from_secs(30), |d| d.0);
        positive("evolux.timeout", timeout)?;
        let max_concurrency = cli
            .evolux_max_concurrency
            .or(file.evolux.max_concurrency)
            .unwrap_or(4);
        if max_concurrency == 0 {
            return Err(invalid("evolux.max-concurrency", "must be at least 1"));
        }
        let max_rps = cli.evolux_max_rps.or(file.evolux.max_rps).unwrap_or(10.0);
        if !(max_rps.is_finite() && max_rps > 0.0) {
            return Err(invalid(
                "evolux.max-rps",
                format!("must be a positive number, got {max_rps}"),
            ));
        }
        let max_response_size = cli
            .evolux_max_response_size
            .or(file.evolux.max_response_size)
            .unwrap_or(ByteSize(2 << 30))
            .0;
        if max_response_size == 0 {
            return Err(invalid("evolux.max-response-size", "must be more than 0"));
        }
        let max_retries = cli
            .evolux_max_retries
            .or(file.evolux.max_retries)
            .unwrap_or(3);

        let interval = cli
            .poll_interval
            .or(file.poll.interval)
            .map_or(Duration::from_secs(60), |d| d.0);
        positive("poll.interval", interval)?;
        let window = cli.poll_window.or(file.poll.window).map(|d| d.0);
        if let Some(w) = window {
            positive("poll.window", w)?;
        }
        let max_staleness = cli
            .poll_max_staleness
            .or(file.poll.max_staleness)
            .map_or(interval * 10, |d| d.0);
        at_least_interval("poll.max-staleness", max_staleness, interval)?;
        let max_interval = cli
            .poll_max_interval
            .or(file.poll.max_interval)
            .map_or(interval.max(Duration::from_secs(1800)), |d| d.0);
        at_least_interval("poll.max-interval", max_interval, interval)?;
        let verify_interval = cli
            .poll_verify_interval
            .or(file.poll.verify_interval)
            .map_or(Some(Duration::from_secs(86_400)), |d| {
                (!d.0.is_zero()).then_some(d.0)
            });
        let max_series = cli
            .poll_max_series
            .or(file.poll.max_series)
            .unwrap_or(10_000);
        if max_series == 0 {
            return Err(invalid("poll.max-series", "must be at least 1"));
        }

        let campaigns = merge_campaigns(cli.campaigns, file.campaigns)?;

        let listen = cli
            .web_listen_address
            .or(file.web.listen_address)
            .unwrap_or_else(|| format!(":{DEFAULT_PORT}"));
        let listen_address =
            parse_listen_address(&listen).map_err(|r| invalid("web.listen-address", r))?;
        let telemetry_path = cli
            .web_telemetry_path
            .or(file.web.telemetry_path)
            .unwrap_or_else(|| "/metrics".into());
        if !telemetry_path.starts_with('/') || telemetry_path.len() < 2 {
            return Err(invalid(
                "web.telemetry-path",
                format!("{telemetry_path:?} must start with / and name a path other than /"),
            ));
        }
        if ["/healthz", "/readyz"].contains(&telemetry_path.as_str()) {
            return Err(invalid(
                "web.telemetry-path",
                format!("{telemetry_path:?} is the path of a probe endpoint"),
            ));
        }
        // Characters the router reads as parameters or wildcards.
        if telemetry_path.contains(['{', '}', '*', '?', '#'])
            || telemetry_path.split('/').any(|seg| seg.starts_with(':'))
        {
            return Err(invalid(
                "web.telemetry-path",
                format!(
                    "{telemetry_path:?} may not contain {{, }}, *, ?, # or a segment starting with :"
                ),
            ));
        }

        let web_config_file = cli.web_config_file.or(file.web.config_file);
        if let Some(path) = &web_config_file {
            crate::webconfig::load(path).map_err(|e| invalid("web.config.file", e.to_string()))?;
        }

        let log = LogConfig {
            level: cli.log_level.or(file.log.level).unwrap_or(LogLevel::Info),
            format: cli
                .log_format
                .or(file.log.format)
                .unwrap_or(LogFormat::Logfmt),
        };

        let shard = Shard {
            index: cli.shard_index.or(file.shard.index).map_or(0, |i| i.0),
            count: cli.shard_count.or(file.shard.count).unwrap_or(1),
        };
        if shard.count == 0 {
            return Err(invalid("shard.count", "must be at least 1"));
        }
        if shard.index >= shard.count {
            return Err(invalid(
                "shard.index",
                format!("{} is not below shard.count {}", shard.index, shard.count),
            ));
        }
        if shard.count > 1 && campaigns.is_empty() {
            return Err(invalid(
                "shard.count",
                "sharding splits the configured campaigns: configure campaigns (discovery cannot be split)",
            ));
        }

        let response = ResponseLayout::with_overrides(file.response.into_overrides())
            .map_err(|(field, reason)| invalid(format!("response.{field}"), reason))?;

        Ok(Config {
            evolux: ClientSettings {
                url,
                token,
                ca_file,
                ca_certificates,
                timeout,
                max_concurrency,
                max_rps,
                max_response_size,
                max_retries,
                retry_base_delay: Duration::from_millis(500),
                retry_max_delay: Duration::from_secs(30),
            },
            campaigns,
            poll: PollSettings {
                interval,
                window,
                max_staleness,
                max_series,
                max_interval,
                verify_interval,
                deadline: max_interval.max(timeout * 10),
                budget: ((max_rps * interval.as_secs_f64() * 0.8).floor() as usize).max(1),
            },
            web: WebConfig {
                listen_address,
                telemetry_path,
                config_file: web_config_file,
            },
            log,
            response,
            demo,
            shard,
            config_file: cli.config_file,
        })
    }

    /// The campaigns this replica polls: all, or its shard's share.
    pub fn owned_campaigns(&self) -> impl Iterator<Item = &Campaign> {
        self.campaigns.iter().filter(|c| self.shard.owns(&c.uuid))
    }

    /// The insertion window of a campaign: its own, else `poll.window`.
    pub fn window_of(&self, campaign: &Campaign) -> Option<Duration> {
        if campaign.filters.start.is_some() || campaign.filters.end.is_some() {
            return None;
        }
        campaign.window.or(self.poll.window)
    }

    /// The campaigns this replica polls, each with its insertion window
    /// resolved (its own, else `poll.window`; none with a fixed start or end).
    pub fn poll_campaigns(&self) -> Vec<Campaign> {
        self.owned_campaigns()
            .map(|c| Campaign {
                window: self.window_of(c),
                ..c.clone()
            })
            .collect()
    }

    /// A human summary for `--config.check`: no token, no personal filter values.
    pub fn summary(&self) -> String {
        Summary(self).to_string()
    }
}

fn at_least_interval(field: &str, d: Duration, interval: Duration) -> Result<(), ConfigError> {
    if d < interval {
        return Err(invalid(
            field,
            format!(
                "{} is shorter than poll.interval {}",
                HumanDuration(d),
                HumanDuration(interval)
            ),
        ));
    }
    Ok(())
}

fn positive(field: &str, d: Duration) -> Result<(), ConfigError> {
    if d.is_zero() {
        return Err(invalid(field, "must be longer than 0s"));
    }
    Ok(())
}

/// Flag campaigns and file campaigns together: the file adds settings to a
/// UUID, the flags may add more UUIDs; a UUID given twice in the file is an error.
fn merge_campaigns(
    flag_uuids: Vec<Uuid>,
    file_campaigns: Vec<file::FileCampaign>,
) -> Result<Vec<Campaign>, ConfigError> {
    let mut out: Vec<Campaign> = Vec::new();
    for (i, c) in file_campaigns.into_iter().enumerate() {
        let field = |f: &str| format!("campaigns[{i}].{f}");
        if out.iter().any(|o| o.uuid == c.uuid) {
            return Err(invalid(
                field("uuid"),
                format!("{} is listed twice", c.uuid),
            ));
        }
        if let Some(name) = &c.name
            && name.trim().is_empty()
        {
            return Err(invalid(field("name"), "must not be empty"));
        }
        if let Some(w) = c.window {
            positive(&field("window"), w.0)?;
        }
        let f = c.filters;
        let conversation_field = match (f.conversation_field_key, f.conversation_field_value) {
            (Some(k), Some(v)) => Some((k, v)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(invalid(
                    field("filters.conversation_field_key"),
                    "needs filters.conversation_field_value too",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    field("filters.conversation_field_value"),
                    "needs filters.conversation_field_key too",
                ));
            }
        };
        if c.window.is_some() && (f.start.is_some() || f.end.is_some()) {
            return Err(invalid(
                field("window"),
                "conflicts with filters.start/filters.end: give one or the other",
            ));
        }
        if let (Some(s), Some(e)) = (f.start, f.end)
            && s > e
        {
            return Err(invalid(field("filters.start"), "is after filters.end"));
        }
        for (key, value) in [("state", &f.state), ("timezone", &f.timezone)] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(invalid(
                    field(&format!("filters.{key}")),
                    "must not be empty",
                ));
            }
        }
        out.push(Campaign {
            uuid: c.uuid,
            name: c.name,
            window: c.window.map(|w| w.0),
            filters: Filters {
                state: f.state,
                template_uuid: f.template_uuid,
                timezone: f.timezone,
                conversation_field,
                phone_number: f.phone_number,
                name: f.name,
                start: f.start,
                end: f.end,
            },
        });
    }
    for uuid in flag_uuids {
        if !out.iter().any(|o| o.uuid == uuid) {
            out.push(Campaign {
                uuid,
                name: None,
                window: None,
                filters: Filters::default(),
            });
        }
    }
    Ok(out)
}

/// Checks a base URL: http(s), a host, no query, no credentials.
fn parse_base_url(raw: &str) -> Result<Url, String> {
    let mut url = Url::parse(raw.trim()).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{raw:?}: scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{raw:?}: no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "must not hold credentials; the token goes in EVOLUX_TOKEN or a token file".into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{raw:?}: must not have a query or fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// `:port` means all interfaces, like the Prometheus exporters.
fn parse_listen_address(raw: &str) -> Result<SocketAddr, String> {
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

/// Display of a config for `--config.check`.
struct Summary<'a>(&'a Config);

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        writeln!(f, "configuration OK")?;
        if let Some(path) = &c.config_file {
            writeln!(f, "  config file:        {}", path.display())?;
        }
        if c.demo {
            writeln!(f, "  upstream:           built-in demo (--demo)")?;
        } else {
            writeln!(f, "  evolux.url:         {}", c.evolux.url)?;
        }
        writeln!(f, "  token:              {}", c.evolux.token.describe())?;
        if let Some(ca) = &c.evolux.ca_file {
            writeln!(
                f,
                "  extra CA file:      {} ({} certificates)",
                ca.display(),
                c.evolux.ca_certificates.len()
            )?;
        }
        writeln!(
            f,
            "  requests:           timeout {}, {} at once, {} per second, {} retries, max body {}",
            HumanDuration(c.evolux.timeout),
            c.evolux.max_concurrency,
            c.evolux.max_rps,
            c.evolux.max_retries,
            ByteSize(c.evolux.max_response_size)
        )?;
        writeln!(
            f,
            "  poll:               every {}, window {}, stale after {}, at most {} series",
            HumanDuration(c.poll.interval),
            c.poll
                .window
                .map_or("all time".into(), |w| HumanDuration(w).to_string()),
            HumanDuration(c.poll.max_staleness),
            c.poll.max_series
        )?;
        let segments = if c.poll.max_interval > c.poll.interval {
            format!(
                "segmented: each read again within {} (poll.max-interval)",
                HumanDuration(c.poll.max_interval)
            )
        } else {
            "not segmented: every campaign read whole every poll (poll.max-interval = poll.interval)".into()
        };
        writeln!(f, "  segments:           {segments}")?;
        writeln!(
            f,
            "  verification:       {}",
            match c.poll.verify_interval {
                Some(v) if c.poll.max_interval > c.poll.interval => format!(
                    "at start-up and every {} (poll.verify-interval)",
                    HumanDuration(v)
                ),
                Some(_) => "not needed (not segmented)".into(),
                None => "off (poll.verify-interval 0)".into(),
            }
        )?;
        writeln!(
            f,
            "  a poll's reads:     cut after {} without progress, or {} after the poll began",
            HumanDuration(c.evolux.timeout),
            HumanDuration(c.poll.deadline)
        )?;
        writeln!(
            f,
            "  listen:             {} (metrics at {})",
            c.web.listen_address, c.web.telemetry_path
        )?;
        if let Some(path) = &c.web.config_file {
            let settings = crate::webconfig::load(path)
                .map_or_else(|e| format!("invalid: {e}"), |s| s.describe());
            writeln!(f, "  web config file:    {} ({settings})", path.display())?;
        }
        if c.campaigns.is_empty() {
            writeln!(
                f,
                "  campaigns:          none configured: discovered from the records"
            )?;
        } else {
            writeln!(f, "  campaigns:          {}", c.campaigns.len())?;
            if c.shard.count > 1 {
                writeln!(
                    f,
                    "  shard:              index {} of {} (0-based): polls {} of the {} campaigns; the others below are other replicas'",
                    c.shard.index,
                    c.shard.count,
                    c.owned_campaigns().count(),
                    c.campaigns.len()
                )?;
            }
            for camp in c.owned_campaigns() {
                let mut extra = Vec::new();
                if let Some(name) = &camp.name {
                    extra.push(format!("name {name:?}"));
                }
                if let Some(w) = c.window_of(camp) {
                    extra.push(format!("window {}", HumanDuration(w)));
                }
                let fl = &camp.filters;
                if let Some(s) = &fl.state {
                    extra.push(format!("state={s}"));
                }
                if let Some(t) = &fl.template_uuid {
                    extra.push(format!("template_uuid={t}"));
                }
                if let Some(tz) = &fl.timezone {
                    extra.push(format!("timezone={tz}"));
                }
                if let Some((k, _)) = &fl.conversation_field {
                    extra.push(format!("conversation_field_key={k} (value hidden)"));
                }
                if fl.phone_number.is_some() {
                    extra.push("phone_number (hidden)".into());
                }
                if fl.name.is_some() {
                    extra.push("name (hidden)".into());
                }
                if let Some(s) = &fl.start {
                    extra.push(format!("start={}", s.to_rfc3339()));
                }
                if let Some(e) = &fl.end {
                    extra.push(format!("end={}", e.to_rfc3339()));
                }
                if extra.is_empty() {
                    writeln!(f, "    - {}", camp.uuid)?;
                } else {
                    writeln!(f, "    - {} ({})", camp.uuid, extra.join(", "))?;
                }
            }
            for camp in c.campaigns.iter().filter(|x| !c.shard.owns(&x.uuid)) {
                let other = shard::shard_of(&camp.uuid, c.shard.count);
                writeln!(f, "    - {} (shard {other}'s, not polled here)", camp.uuid)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
