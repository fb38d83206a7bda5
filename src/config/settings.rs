//! Every setting, defined once: its flag, environment variable, file key,
//! default and help. [`super::cli`] applies these to the command line
//! (`--help` shows them), the validation takes its defaults from here, and
//! tests keep docs/configuration.md's table and the YAML file's keys
//! equal to this table.

use std::str::FromStr;

/// A setting's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// A value, written as a user would write it; parsed like the flag.
    Value(&'static str),
    /// Worked out from other settings, or a placeholder; the text says how.
    Described(&'static str),
    /// None.
    Absent,
}

/// One setting of the exporter.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    /// The `Cli` field it fills (clap's argument id).
    pub id: &'static str,
    /// The flag, without `--`.
    pub flag: &'static str,
    /// The environment variable.
    pub env: &'static str,
    /// The key in the YAML file, dotted; empty when the file cannot set it.
    pub key: &'static str,
    /// What the flag's value is, in `--help`.
    pub value_name: &'static str,
    /// The default.
    pub default: Preset,
    /// What it does, in `--help`.
    pub help: &'static str,
}

impl Setting {
    /// The `--help` text: what it does, and its default.
    pub fn help_text(&self) -> String {
        match self.default {
            Preset::Value(v) | Preset::Described(v) => {
                format!("{} [default: {}]", self.help, v.replace('`', ""))
            }
            Preset::Absent => self.help.to_string(),
        }
    }

    /// The default as a value. Every [`Preset::Value`] parses as its
    /// setting's type (`every_default_value_parses` proves it), so this is
    /// only `None` for a setting without a value default.
    pub fn default_value<T: FromStr>(&self) -> Option<T> {
        match self.default {
            Preset::Value(v) => v.parse().ok(),
            _ => None,
        }
    }
}

const fn setting(
    id: &'static str,
    flag: &'static str,
    env: &'static str,
    key: &'static str,
    value_name: &'static str,
    default: Preset,
    help: &'static str,
) -> Setting {
    Setting {
        id,
        flag,
        env,
        key,
        value_name,
        default,
        help,
    }
}

use Preset::{Absent, Described, Value};

/// `--evolux.url`.
pub const EVOLUX_URL: Setting = setting(
    "evolux_url",
    "evolux.url",
    "EVOLUX_URL",
    "evolux.url",
    "URL",
    Described("(required unless `--demo`)"),
    "Base URL of the Evolux server, e.g. https://acme.evolux.cx.",
);
/// `--evolux.token-file`.
pub const EVOLUX_TOKEN_FILE: Setting = setting(
    "evolux_token_file",
    "evolux.token-file",
    "EVOLUX_TOKEN_FILE",
    "evolux.token_file",
    "PATH",
    Absent,
    "File holding the API token (e.g. a Kubernetes secret mount); read again at every poll, so a rotated secret needs no restart. Wins over EVOLUX_TOKEN.",
);
/// `--evolux.ca-file`.
pub const EVOLUX_CA_FILE: Setting = setting(
    "evolux_ca_file",
    "evolux.ca-file",
    "EVOLUX_CA_FILE",
    "evolux.ca_file",
    "PATH",
    Absent,
    "PEM file of CA certificates to trust for the API, added to the built-in roots (a private Evolux installation). TLS is always verified.",
);
/// `--evolux.proxy-url`.
pub const EVOLUX_PROXY_URL: Setting = setting(
    "evolux_proxy_url",
    "evolux.proxy-url",
    "EVOLUX_PROXY_URL",
    "evolux.proxy_url",
    "URL",
    Described("`HTTPS_PROXY`, else none"),
    "HTTP proxy for the API, http://[user:password@]host:port (or https://); credentials only in EVOLUX_PROXY_URL or the file, never in the flag (ps shows it). Wins over HTTPS_PROXY/https_proxy. NO_PROXY still applies. The API is reached through it with CONNECT; an http:// --evolux.url with a proxy is refused.",
);
/// `--evolux.timeout`.
pub const EVOLUX_TIMEOUT: Setting = setting(
    "evolux_timeout",
    "evolux.timeout",
    "EVOLUX_TIMEOUT",
    "evolux.timeout",
    "DURATION",
    Value("30s"),
    "Longest a request to the API may go without a response head or a body byte. Not a total: a body that keeps bringing bytes, however slowly, is read to the end, or until the poll has lasted the larger of --poll.max-interval and ten times this. Must be more than 0.",
);
/// `--evolux.max-concurrency`.
pub const EVOLUX_MAX_CONCURRENCY: Setting = setting(
    "evolux_max_concurrency",
    "evolux.max-concurrency",
    "EVOLUX_MAX_CONCURRENCY",
    "evolux.max_concurrency",
    "N",
    Value("4"),
    "Requests in flight to the API at once.",
);
/// `--evolux.max-rps`.
pub const EVOLUX_MAX_RPS: Setting = setting(
    "evolux_max_rps",
    "evolux.max-rps",
    "EVOLUX_MAX_RPS",
    "evolux.max_rps",
    "RATE",
    Value("10"),
    "Requests started per second to the API, at most.",
);
/// `--evolux.max-response-size`.
pub const EVOLUX_MAX_RESPONSE_SIZE: Setting = setting(
    "evolux_max_response_size",
    "evolux.max-response-size",
    "EVOLUX_MAX_RESPONSE_SIZE",
    "evolux.max_response_size",
    "SIZE",
    Value("2GiB"),
    "A response larger than this, on the wire or decoded, fails the read.",
);
/// `--evolux.max-retries`.
pub const EVOLUX_MAX_RETRIES: Setting = setting(
    "evolux_max_retries",
    "evolux.max-retries",
    "EVOLUX_MAX_RETRIES",
    "evolux.max_retries",
    "N",
    Value("3"),
    "Retries of a failed request (5xx, 429, timeout, connection error).",
);
/// `--campaign`.
pub const CAMPAIGN: Setting = setting(
    "campaigns",
    "campaign",
    "EVOLUX_CAMPAIGNS",
    "campaigns[].uuid",
    "UUID",
    Described("none = discover"),
    "Campaign UUID to poll (repeatable; the variable takes a comma-separated list). None: discover campaigns from the records.",
);
/// `--poll.interval`.
pub const POLL_INTERVAL: Setting = setting(
    "poll_interval",
    "poll.interval",
    "EVOLUX_POLL_INTERVAL",
    "poll.interval",
    "DURATION",
    Value("60s"),
    "Time between polls. Must be more than 0.",
);
/// `--poll.window`.
pub const POLL_WINDOW: Setting = setting(
    "poll_window",
    "poll.window",
    "EVOLUX_POLL_WINDOW",
    "poll.window",
    "DURATION",
    Described("none = all time"),
    "Count only subscribers inserted in the last WINDOW (e.g. 7d). Must be more than 0.",
);
/// `--poll.max-interval`.
pub const POLL_MAX_INTERVAL: Setting = setting(
    "poll_max_interval",
    "poll.max-interval",
    "EVOLUX_POLL_MAX_INTERVAL",
    "poll.max_interval",
    "DURATION",
    Described("`30m` (or `poll.interval` if longer)"),
    "The staleness bound: no counted subscriber goes longer than this without being read again. Segments that keep coming back unchanged are read less and less often, down to this; equal to --poll.interval reads everything every poll. At least --poll.interval.",
);
/// `--poll.verify-interval`.
pub const POLL_VERIFY_INTERVAL: Setting = setting(
    "poll_verify_interval",
    "poll.verify-interval",
    "EVOLUX_POLL_VERIFY_INTERVAL",
    "poll.verify_interval",
    "DURATION",
    Value("24h"),
    "How often to read each campaign once unsegmented and compare its total with the sum of its segments (also at start-up); 0 disables.",
);
/// `--poll.max-staleness`.
pub const POLL_MAX_STALENESS: Setting = setting(
    "poll_max_staleness",
    "poll.max-staleness",
    "EVOLUX_POLL_MAX_STALENESS",
    "poll.max_staleness",
    "DURATION",
    Described("10 × interval"),
    "A segment whose reads have failed for this long loses its last counts, and its campaign's series are removed. At least --poll.interval.",
);
/// `--poll.max-series`.
pub const POLL_MAX_SERIES: Setting = setting(
    "poll_max_series",
    "poll.max-series",
    "EVOLUX_POLL_MAX_SERIES",
    "poll.max_series",
    "N",
    Value("10000"),
    "At most this many evolux_campaign_subscribers series; the rest are left out, counted in evolux_series_dropped and logged.",
);
/// `--config.file`.
pub const CONFIG_FILE: Setting = setting(
    "config_file",
    "config.file",
    "EVOLUX_CONFIG_FILE",
    "",
    "PATH",
    Absent,
    "YAML file: every setting here plus per-campaign settings and the response mapping.",
);
/// `--web.listen-address`.
pub const WEB_LISTEN_ADDRESS: Setting = setting(
    "web_listen_address",
    "web.listen-address",
    "EVOLUX_WEB_LISTEN_ADDRESS",
    "web.listen_address",
    "ADDR",
    Value(":10071"),
    "Address to serve on; repeat the flag (or separate by commas) for more; `:port` means every interface, IPv6 and IPv4.",
);
/// `--web.telemetry-path`.
pub const WEB_TELEMETRY_PATH: Setting = setting(
    "web_telemetry_path",
    "web.telemetry-path",
    "EVOLUX_WEB_TELEMETRY_PATH",
    "web.telemetry_path",
    "PATH",
    Value("/metrics"),
    "Path under which to expose metrics.",
);
/// `--web.config.file`.
pub const WEB_CONFIG_FILE: Setting = setting(
    "web_config_file",
    "web.config.file",
    "EVOLUX_WEB_CONFIG_FILE",
    "web.config_file",
    "PATH",
    Absent,
    "TLS and basic auth for the endpoints, in the exporter-toolkit web-config format; re-read when it or its certificates change.",
);
/// `--log.level`.
pub const LOG_LEVEL: Setting = setting(
    "log_level",
    "log.level",
    "EVOLUX_LOG_LEVEL",
    "log.level",
    "LEVEL",
    Value("info"),
    "Log level: error, warn, info, debug (adds each read and retry) or trace.",
);
/// `--log.format`.
pub const LOG_FORMAT: Setting = setting(
    "log_format",
    "log.format",
    "EVOLUX_LOG_FORMAT",
    "log.format",
    "FORMAT",
    Value("logfmt"),
    "Log format: logfmt or json.",
);
/// `--shard.index`.
pub const SHARD_INDEX: Setting = setting(
    "shard_index",
    "shard.index",
    "EVOLUX_SHARD_INDEX",
    "shard.index",
    "N",
    Value("0"),
    "This replica's shard, from 0: a number or a StatefulSet pod name ending in -<ordinal>.",
);
/// `--shard.count`.
pub const SHARD_COUNT: Setting = setting(
    "shard_count",
    "shard.count",
    "EVOLUX_SHARD_COUNT",
    "shard.count",
    "N",
    Value("1"),
    "Replicas sharing the configured campaigns; each polls only its share.",
);

/// Every setting, in `--help` and docs/configuration.md order.
pub const SETTINGS: [Setting; 24] = [
    EVOLUX_URL,
    EVOLUX_TOKEN_FILE,
    EVOLUX_TIMEOUT,
    EVOLUX_MAX_CONCURRENCY,
    EVOLUX_MAX_RPS,
    EVOLUX_MAX_RESPONSE_SIZE,
    EVOLUX_MAX_RETRIES,
    EVOLUX_CA_FILE,
    EVOLUX_PROXY_URL,
    CAMPAIGN,
    POLL_INTERVAL,
    POLL_WINDOW,
    POLL_MAX_INTERVAL,
    POLL_VERIFY_INTERVAL,
    POLL_MAX_STALENESS,
    POLL_MAX_SERIES,
    CONFIG_FILE,
    WEB_LISTEN_ADDRESS,
    WEB_TELEMETRY_PATH,
    WEB_CONFIG_FILE,
    LOG_LEVEL,
    LOG_FORMAT,
    SHARD_INDEX,
    SHARD_COUNT,
];
