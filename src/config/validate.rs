//! The second of the configuration's three steps: the parsed command line
//! and file, checked. Pure (no file, network or clock): every error names
//! its field; the resources the settings name are loaded afterwards, once,
//! by [`super::resources`].

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use super::file::{self, FileConfig};
use super::settings::{self as s, Setting};
use super::units::{ByteSize, HumanDuration};
use super::{Cli, ConfigError, Shard, invalid, targets};
use crate::evolux::fields::ResponseLayout;
use crate::evolux::proxy::{self, Explicit, ProxyChoice, ProxyEnv};
use crate::model::{Campaign, View};
use crate::poller::PollSettings;
use crate::telemetry::{LogConfig, LogFormat, LogLevel};

/// Where the token is to come from.
#[derive(Debug)]
pub(crate) enum TokenChoice {
    /// `--evolux.token-file`: read at load, and at every poll.
    File(PathBuf),
    /// `EVOLUX_TOKEN`.
    Literal(String),
    /// `--demo` with neither: the demo's token.
    Demo,
}

/// The API requests' settings.
#[derive(Debug)]
pub(crate) struct Requests {
    pub timeout: Duration,
    pub max_concurrency: usize,
    pub max_rps: f64,
    pub max_response_size: u64,
    pub max_retries: u32,
}

/// Every setting, checked; the files and addresses they name not yet read.
#[derive(Debug)]
pub(crate) struct Validated {
    pub url: Url,
    pub token: TokenChoice,
    pub ca_file: Option<PathBuf>,
    pub proxy: ProxyChoice,
    pub requests: Requests,
    pub campaigns: Vec<Campaign>,
    pub views: Vec<View>,
    pub poll: PollSettings,
    pub listen: Vec<String>,
    pub enable_lifecycle: bool,
    pub telemetry_path: String,
    pub web_config_file: Option<PathBuf>,
    pub log: LogConfig,
    pub response: ResponseLayout,
    pub demo: bool,
    pub shard: Shard,
    pub config_file: Option<PathBuf>,
}

/// A setting's default value. Every `Preset::Value` parses as its type
/// (`every_default_value_parses` proves it).
fn preset<T: FromStr>(setting: &Setting) -> T {
    setting
        .default_value()
        .unwrap_or_else(|| unreachable!("{}: its default parses (tested)", setting.flag))
}

/// Checks the command line and the file together: flag, then environment
/// (clap has merged both), then file, then default. `proxy_env`: the proxy
/// variables the client honours.
pub(crate) fn validate(
    cli: Cli,
    file: FileConfig,
    env_token: Option<String>,
    proxy_env: &ProxyEnv,
) -> Result<Validated, ConfigError> {
    let demo = cli.demo;
    let fe = file.evolux;
    let requests = requests(&cli, &fe)?;
    let url = base_url(cli.evolux_url.or(fe.url), demo)?;
    let ca_file = cli.evolux_ca_file.or(fe.ca_file);
    let explicit = explicit_proxy(
        cli.evolux_proxy_url,
        cli.evolux_proxy_url_from_env,
        fe.proxy_url,
    );
    let proxy = api_proxy(&url, explicit, proxy_env, demo)?;
    let token = token(cli.evolux_token_file.or(fe.token_file), env_token, demo)?;
    let flags = file::FilePoll {
        interval: cli.poll_interval,
        window: cli.poll_window,
        max_staleness: cli.poll_max_staleness,
        max_series: cli.poll_max_series,
        max_interval: cli.poll_max_interval,
        verify_interval: cli.poll_verify_interval,
    };
    let poll = poll(flags, file.poll, &requests)?;
    let campaigns = targets::campaigns(cli.campaigns, file.campaigns)?;
    let views = if demo && file.views.is_empty() {
        targets::demo_views()
    } else {
        targets::views(file.views)?
    };
    let listen = match (cli.web_listen_address, file.web.listen_address) {
        (flags, _) if !flags.is_empty() => flags,
        (_, Some(values)) => values.into_vec(),
        (_, None) => vec![preset(&s::WEB_LISTEN_ADDRESS)],
    };
    if listen.is_empty() {
        return Err(invalid(
            s::WEB_LISTEN_ADDRESS.key,
            "an empty list: give at least one address",
        ));
    }
    let telemetry_path = telemetry_path(
        cli.web_telemetry_path
            .or(file.web.telemetry_path)
            .unwrap_or_else(|| preset(&s::WEB_TELEMETRY_PATH)),
    )?;
    let log = LogConfig {
        level: cli
            .log_level
            .or(file.log.level)
            .unwrap_or_else(|| preset::<LogLevel>(&s::LOG_LEVEL)),
        format: cli
            .log_format
            .or(file.log.format)
            .unwrap_or_else(|| preset::<LogFormat>(&s::LOG_FORMAT)),
    };
    let shard = shard(
        cli.shard_index.or(file.shard.index).map_or(0, |i| i.0),
        cli.shard_count
            .or(file.shard.count)
            .unwrap_or_else(|| preset(&s::SHARD_COUNT)),
        campaigns.is_empty(),
    )?;
    let response = ResponseLayout::with_overrides(file.response.into_overrides())
        .map_err(|(field, reason)| invalid(format!("response.{field}"), reason))?;
    Ok(Validated {
        url,
        token,
        ca_file,
        proxy,
        requests,
        campaigns,
        views,
        poll,
        listen,
        enable_lifecycle: cli.web_enable_lifecycle,
        telemetry_path,
        web_config_file: cli.web_config_file.or(file.web.config_file),
        log,
        response,
        demo,
        shard,
        config_file: cli.config_file,
    })
}

fn base_url(raw: Option<String>, demo: bool) -> Result<Url, ConfigError> {
    let field = s::EVOLUX_URL.flag;
    match raw {
        Some(raw) => parse_base_url(&raw).map_err(|r| invalid(field, r)),
        // Replaced by the demo server's address when it starts.
        None if demo => Url::parse("http://127.0.0.1/").map_err(|e| invalid(field, e.to_string())),
        None => Err(ConfigError::Missing {
            field: field.into(),
            hint: "give --evolux.url, EVOLUX_URL or evolux.url in the config file (or run with --demo)".into(),
        }),
    }
}

/// The API requests' settings: flag (or environment), file, default.
fn requests(cli: &Cli, fe: &file::FileEvolux) -> Result<Requests, ConfigError> {
    Ok(Requests {
        timeout: positive(
            s::EVOLUX_TIMEOUT.flag,
            cli.evolux_timeout
                .or(fe.timeout)
                .unwrap_or_else(|| preset(&s::EVOLUX_TIMEOUT))
                .0,
        )?,
        max_concurrency: at_least_one(
            s::EVOLUX_MAX_CONCURRENCY.flag,
            cli.evolux_max_concurrency
                .or(fe.max_concurrency)
                .unwrap_or_else(|| preset(&s::EVOLUX_MAX_CONCURRENCY)),
        )?,
        max_rps: rate(
            cli.evolux_max_rps
                .or(fe.max_rps)
                .unwrap_or_else(|| preset(&s::EVOLUX_MAX_RPS)),
        )?,
        max_response_size: at_least_one(
            s::EVOLUX_MAX_RESPONSE_SIZE.flag,
            cli.evolux_max_response_size
                .or(fe.max_response_size)
                .unwrap_or_else(|| preset::<ByteSize>(&s::EVOLUX_MAX_RESPONSE_SIZE))
                .0,
        )?,
        max_retries: cli
            .evolux_max_retries
            .or(fe.max_retries)
            .unwrap_or_else(|| preset(&s::EVOLUX_MAX_RETRIES)),
    })
}

/// The explicit proxy setting and where it was set: the flag (or
/// `EVOLUX_PROXY_URL`, as clap saw it), else the file.
fn explicit_proxy(
    flag: Option<String>,
    from_env: bool,
    file: Option<String>,
) -> Option<(&'static str, String)> {
    // An empty value counts as unset, as for HTTPS_PROXY: it falls through.
    let set = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    match (set(flag), set(file)) {
        (Some(value), _) if from_env => Some((s::EVOLUX_PROXY_URL.env, value)),
        (Some(value), _) => Some((PROXY_FLAG, value)),
        (None, value) => value.map(|v| (PROXY_FILE_KEY, v)),
    }
}

/// The API's proxy (see [`proxy::resolve`]); none with `--demo`, whose
/// upstream is in-process on loopback. The error names the flag, variable
/// or file key that set the proxy.
fn api_proxy(
    url: &Url,
    explicit: Option<(&'static str, String)>,
    env: &ProxyEnv,
    demo: bool,
) -> Result<ProxyChoice, ConfigError> {
    if demo {
        return Ok(ProxyChoice::Demo);
    }
    let explicit = explicit.as_ref().map(|(origin, value)| Explicit {
        origin,
        value: value.as_str(),
        on_command_line: *origin == PROXY_FLAG,
    });
    proxy::resolve(url, explicit, env).map_err(|e| invalid(e.origin, e.problem.to_string()))
}

/// Where `--evolux.proxy-url` was set, as the summary and errors name it:
/// the flag ...
const PROXY_FLAG: &str = "--evolux.proxy-url";
/// ... or the file's key (`EVOLUX_PROXY_URL` is named as it is).
const PROXY_FILE_KEY: &str = "evolux.proxy_url (config file)";

fn token(
    file: Option<PathBuf>,
    env: Option<String>,
    demo: bool,
) -> Result<TokenChoice, ConfigError> {
    match (file, env.filter(|t| !t.trim().is_empty())) {
        (Some(path), _) => Ok(TokenChoice::File(path)),
        (None, Some(token)) => Ok(TokenChoice::Literal(token)),
        (None, None) if demo => Ok(TokenChoice::Demo),
        (None, None) => Err(ConfigError::Missing {
            field: "EVOLUX_TOKEN".into(),
            hint: "set EVOLUX_TOKEN or give --evolux.token-file (evolux.token_file in the config file)".into(),
        }),
    }
}

/// The poll settings: `flags` (the command line and environment) over
/// `file`.
fn poll(
    flags: file::FilePoll,
    file: file::FilePoll,
    requests: &Requests,
) -> Result<PollSettings, ConfigError> {
    let d = |v: Option<HumanDuration>| v.map(|d| d.0);
    let interval = positive(
        s::POLL_INTERVAL.flag,
        d(flags.interval.or(file.interval))
            .unwrap_or_else(|| preset::<HumanDuration>(&s::POLL_INTERVAL).0),
    )?;
    let window = match d(flags.window.or(file.window)) {
        Some(w) => Some(positive(s::POLL_WINDOW.flag, w)?),
        None => None,
    };
    let max_staleness = at_least_interval(
        s::POLL_MAX_STALENESS.flag,
        d(flags.max_staleness.or(file.max_staleness)).unwrap_or(interval * 10),
        interval,
    )?;
    let max_interval = at_least_interval(
        s::POLL_MAX_INTERVAL.flag,
        d(flags.max_interval.or(file.max_interval))
            .unwrap_or_else(|| interval.max(Duration::from_secs(1800))),
        interval,
    )?;
    // 0 turns verification off.
    let verify_interval = d(flags.verify_interval.or(file.verify_interval))
        .unwrap_or_else(|| preset::<HumanDuration>(&s::POLL_VERIFY_INTERVAL).0);
    let max_series = at_least_one(
        s::POLL_MAX_SERIES.flag,
        flags
            .max_series
            .or(file.max_series)
            .unwrap_or_else(|| preset(&s::POLL_MAX_SERIES)),
    )?;
    Ok(PollSettings {
        interval,
        window,
        max_staleness,
        max_series,
        max_interval,
        verify_interval: (!verify_interval.is_zero()).then_some(verify_interval),
        deadline: max_interval.max(requests.timeout * 10),
        budget: ((requests.max_rps * interval.as_secs_f64() * 0.8).floor() as usize).max(1),
    })
}

fn rate(max_rps: f64) -> Result<f64, ConfigError> {
    if !(max_rps.is_finite() && max_rps > 0.0) {
        return Err(invalid(
            s::EVOLUX_MAX_RPS.flag,
            format!("must be a positive number, got {max_rps}"),
        ));
    }
    Ok(max_rps)
}

fn at_least_one<T: PartialEq + From<u8>>(field: &str, n: T) -> Result<T, ConfigError> {
    if n == T::from(0) {
        return Err(invalid(field, "must be at least 1"));
    }
    Ok(n)
}

fn telemetry_path(path: String) -> Result<String, ConfigError> {
    let field = s::WEB_TELEMETRY_PATH.flag;
    if !path.starts_with('/') || path.len() < 2 {
        return Err(invalid(
            field,
            format!("{path:?} must start with / and name a path other than /"),
        ));
    }
    if ["/healthz", "/readyz"].contains(&path.as_str()) {
        return Err(invalid(
            field,
            format!("{path:?} is the path of a probe endpoint"),
        ));
    }
    // Characters the router reads as parameters or wildcards.
    if path.contains(['{', '}', '*', '?', '#']) || path.split('/').any(|seg| seg.starts_with(':')) {
        return Err(invalid(
            field,
            format!("{path:?} may not contain {{, }}, *, ?, # or a segment starting with :"),
        ));
    }
    Ok(path)
}

fn shard(index: u32, count: u32, discovery: bool) -> Result<Shard, ConfigError> {
    if count == 0 {
        return Err(invalid(s::SHARD_COUNT.flag, "must be at least 1"));
    }
    if index >= count {
        return Err(invalid(
            s::SHARD_INDEX.flag,
            format!("{index} is not below shard.count {count}"),
        ));
    }
    if count > 1 && discovery {
        return Err(invalid(
            s::SHARD_COUNT.flag,
            "sharding splits the configured campaigns: configure campaigns (discovery cannot be split)",
        ));
    }
    Ok(Shard { index, count })
}

fn at_least_interval(
    field: &str,
    d: Duration,
    interval: Duration,
) -> Result<Duration, ConfigError> {
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
    Ok(d)
}

/// A duration that must not be 0, and why 0 means nothing for `field`.
pub(super) fn positive(field: &str, d: Duration) -> Result<Duration, ConfigError> {
    if d.is_zero() {
        let why = if field == s::EVOLUX_TIMEOUT.flag {
            "no request can answer in no time"
        } else if field == s::POLL_INTERVAL.flag {
            "polls back to back would hammer the API; give the time between two polls"
        } else {
            "a window of 0 counts nobody; leave it out to count all time"
        };
        return Err(invalid(field, format!("must be longer than 0s: {why}")));
    }
    Ok(d)
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
