//! The command line as clap parses it: every flag optional, so that the
//! config file can fill what the command line and environment leave out.
//! Doc comments on the fields are the `--help` text.

use std::path::PathBuf;

use clap::Parser;
use uuid::Uuid;

use super::shard::ShardIndex;
use super::units::{ByteSize, HumanDuration};
use crate::telemetry::{LogFormat, LogLevel};

/// Prometheus exporter for Evolux Chat campaigns: polls the campaign-subscribers
/// report API and serves subscriber counts by campaign, template and state.
///
/// Every flag can also be given by its environment variable or by its key in the
/// YAML file of --config.file (precedence: flag, environment, file, default).
/// The API token is read from EVOLUX_TOKEN or from --evolux.token-file, never
/// from a flag, so that it cannot show in `ps`.
#[derive(Debug, Default, Parser)]
#[command(name = "evolux-exporter", version, about, long_about)]
pub struct Cli {
    /// Base URL of the Evolux server, e.g. https://acme.evolux.cx (required unless --demo).
    #[arg(long = "evolux.url", env = "EVOLUX_URL", value_name = "URL")]
    pub evolux_url: Option<String>,

    /// File holding the API token (e.g. a Kubernetes secret mount); read again at every poll, so a rotated secret needs no restart.
    #[arg(
        long = "evolux.token-file",
        env = "EVOLUX_TOKEN_FILE",
        value_name = "PATH"
    )]
    pub evolux_token_file: Option<PathBuf>,

    /// PEM file of CA certificates to trust for the API, added to the built-in
    /// roots (a private Evolux installation). TLS is always verified.
    #[arg(long = "evolux.ca-file", env = "EVOLUX_CA_FILE", value_name = "PATH")]
    pub evolux_ca_file: Option<PathBuf>,

    /// Longest a request to the API may go without progress: no response head, or
    /// less than 16 KiB of body, for this long. Not a total: a large body that keeps
    /// streaming is read to the end [default: 30s].
    #[arg(
        long = "evolux.timeout",
        env = "EVOLUX_TIMEOUT",
        value_name = "DURATION"
    )]
    pub evolux_timeout: Option<HumanDuration>,

    /// Requests in flight to the API at once [default: 4].
    #[arg(
        long = "evolux.max-concurrency",
        env = "EVOLUX_MAX_CONCURRENCY",
        value_name = "N"
    )]
    pub evolux_max_concurrency: Option<usize>,

    /// Requests per second to the API, at most [default: 10].
    #[arg(long = "evolux.max-rps", env = "EVOLUX_MAX_RPS", value_name = "RATE")]
    pub evolux_max_rps: Option<f64>,

    /// A response larger than this fails the poll [default: 2GiB].
    #[arg(
        long = "evolux.max-response-size",
        env = "EVOLUX_MAX_RESPONSE_SIZE",
        value_name = "SIZE"
    )]
    pub evolux_max_response_size: Option<ByteSize>,

    /// Retries of a failed request (5xx, 429, timeout, connection error) [default: 3].
    #[arg(
        long = "evolux.max-retries",
        env = "EVOLUX_MAX_RETRIES",
        value_name = "N"
    )]
    pub evolux_max_retries: Option<u32>,

    /// Campaign UUID to poll (repeatable; the variable takes a comma-separated list).
    /// None: discover campaigns from the records.
    #[arg(
        long = "campaign",
        env = "EVOLUX_CAMPAIGNS",
        value_name = "UUID",
        value_delimiter = ','
    )]
    pub campaigns: Vec<Uuid>,

    /// Time between polls [default: 60s].
    #[arg(
        long = "poll.interval",
        env = "EVOLUX_POLL_INTERVAL",
        value_name = "DURATION"
    )]
    pub poll_interval: Option<HumanDuration>,

    /// Count only subscribers inserted in the last WINDOW (e.g. 7d) [default: all time].
    #[arg(
        long = "poll.window",
        env = "EVOLUX_POLL_WINDOW",
        value_name = "DURATION"
    )]
    pub poll_window: Option<HumanDuration>,

    /// The staleness bound: no counted subscriber goes longer than this without
    /// being read again. Segments that keep coming back unchanged are read less and
    /// less often, down to this; equal to --poll.interval reads everything every
    /// poll [default: 30m, or --poll.interval if longer].
    #[arg(
        long = "poll.max-interval",
        env = "EVOLUX_POLL_MAX_INTERVAL",
        value_name = "DURATION"
    )]
    pub poll_max_interval: Option<HumanDuration>,

    /// How often to read each campaign once unsegmented and compare its total with
    /// the sum of its segments (also at start-up); 0 disables [default: 24h].
    #[arg(
        long = "poll.verify-interval",
        env = "EVOLUX_POLL_VERIFY_INTERVAL",
        value_name = "DURATION"
    )]
    pub poll_verify_interval: Option<HumanDuration>,

    /// A segment whose reads have failed for this long loses its last counts, and its
    /// campaign's series are removed [default: 10 × poll.interval].
    #[arg(
        long = "poll.max-staleness",
        env = "EVOLUX_POLL_MAX_STALENESS",
        value_name = "DURATION"
    )]
    pub poll_max_staleness: Option<HumanDuration>,

    /// At most this many evolux_campaign_subscribers series; the rest are dropped,
    /// counted and logged [default: 10000].
    #[arg(
        long = "poll.max-series",
        env = "EVOLUX_POLL_MAX_SERIES",
        value_name = "N"
    )]
    pub poll_max_series: Option<usize>,

    /// YAML file: everything above plus per-campaign settings and response mapping.
    #[arg(long = "config.file", env = "EVOLUX_CONFIG_FILE", value_name = "PATH")]
    pub config_file: Option<PathBuf>,

    /// Validate the configuration, print a summary and exit (0 valid, 1 invalid).
    #[arg(long = "config.check")]
    pub config_check: bool,

    /// Address to serve on; `:port` means all interfaces [default: :10071].
    #[arg(
        long = "web.listen-address",
        env = "EVOLUX_WEB_LISTEN_ADDRESS",
        value_name = "ADDR"
    )]
    pub web_listen_address: Option<String>,

    /// Path under which to expose metrics [default: /metrics].
    #[arg(
        long = "web.telemetry-path",
        env = "EVOLUX_WEB_TELEMETRY_PATH",
        value_name = "PATH"
    )]
    pub web_telemetry_path: Option<String>,

    /// TLS and basic auth for the endpoints, in the exporter-toolkit web-config
    /// format; re-read when it or its certificates change.
    #[arg(
        long = "web.config.file",
        env = "EVOLUX_WEB_CONFIG_FILE",
        value_name = "PATH"
    )]
    pub web_config_file: Option<PathBuf>,

    /// Log level: error, warn, info, debug or trace [default: info].
    #[arg(long = "log.level", env = "EVOLUX_LOG_LEVEL", value_name = "LEVEL")]
    pub log_level: Option<LogLevel>,

    /// Log format [default: logfmt].
    #[arg(long = "log.format", env = "EVOLUX_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Poll a built-in simulated Evolux API instead of a real one.
    #[arg(long = "demo")]
    pub demo: bool,

    /// This replica's shard, from 0: a number or a StatefulSet pod name ending
    /// in -<ordinal> [default: 0].
    #[arg(long = "shard.index", env = "EVOLUX_SHARD_INDEX", value_name = "N")]
    pub shard_index: Option<ShardIndex>,

    /// Replicas sharing the configured campaigns; each polls only the campaigns
    /// whose UUID hashes to its index [default: 1].
    #[arg(long = "shard.count", env = "EVOLUX_SHARD_COUNT", value_name = "N")]
    pub shard_count: Option<u32>,
}
