//! Configuration: the command line and environment ([`cli::Cli`]) and the
//! YAML file ([`file`]), turned into the plain values of the layers below,
//! in three steps: parse (clap, serde; pure), validate ([`validate`]; pure,
//! every error naming its field), load what the settings name
//! ([`resources`]: token file, CA bundle, web config, listen address), once.
//! Each setting is defined once, in [`settings`].
//!
//! Precedence is flag, environment, file, default.

pub mod cli;
pub(crate) mod file;
mod resources;
pub mod restart;
pub mod settings;
pub mod shard;
mod summary;
mod targets;
pub mod units;
mod validate;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use cli::{Cli, Mode};
pub use shard::Shard;

use crate::evolux::ClientSettings;
use crate::evolux::fields::ResponseLayout;
use crate::evolux::proxy::ProxyEnv;
pub use crate::model::{Campaign, Filters, View};
use crate::poller::PollSettings;
use crate::server::ListenAddress;
use crate::telemetry::LogConfig;
use crate::webconfig::WebConfigSource;

/// The validated configuration the exporter runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// How to reach the API.
    pub evolux: ClientSettings,
    /// Campaigns to poll; empty means discovery.
    pub campaigns: Vec<Campaign>,
    /// Views: named queries counted beside the campaigns.
    pub views: Vec<View>,
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
    /// Where to listen: one or more addresses, all serving the same.
    pub listen_addresses: Vec<ListenAddress>,
    /// Serve `POST /-/reload`.
    pub enable_lifecycle: bool,
    /// Path of the metrics endpoint.
    pub telemetry_path: String,
    /// `--web.config.file`, for the summary.
    pub config_file: Option<PathBuf>,
    /// Its settings: TLS and basic auth, loaded once, watched while serving.
    pub security: Option<Arc<WebConfigSource>>,
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
    /// config file it names and the environment (`EVOLUX_TOKEN`, and the
    /// proxy variables `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` and their
    /// lower-case forms).
    pub fn load(cli: Cli) -> Result<Config, ConfigError> {
        Config::load_with_env(
            cli,
            std::env::var("EVOLUX_TOKEN").ok(),
            &ProxyEnv::from_process(),
        )
    }

    /// As [`Config::load`], with the token that `EVOLUX_TOKEN` would give
    /// and no proxy variable (the process's are not read).
    pub fn load_with_token(cli: Cli, env_token: Option<String>) -> Result<Config, ConfigError> {
        Config::load_with_env(cli, env_token, &ProxyEnv::default())
    }

    /// As [`Config::load`], with the token that `EVOLUX_TOKEN` would give
    /// and the proxy variables `proxy_env`.
    pub fn load_with_env(
        cli: Cli,
        env_token: Option<String>,
        proxy_env: &ProxyEnv,
    ) -> Result<Config, ConfigError> {
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
        resources::load(validate::validate(cli, file, env_token, proxy_env)?)
    }

    /// The three steps on a parsed command line, a parsed file and the
    /// token from the environment (no proxy variable): validate (pure), then
    /// load what the settings name (token file, CA bundle, web config,
    /// listen address).
    #[cfg(test)]
    pub(crate) fn merge(
        cli: Cli,
        file: file::FileConfig,
        env_token: Option<String>,
    ) -> Result<Config, ConfigError> {
        resources::load(validate::validate(
            cli,
            file,
            env_token,
            &ProxyEnv::default(),
        )?)
    }

    /// The campaigns this replica polls: all, or its shard's share.
    pub fn owned_campaigns(&self) -> impl Iterator<Item = &Campaign> {
        self.campaigns.iter().filter(|c| self.shard.owns(&c.uuid))
    }

    /// The insertion window of a campaign: its own, else `poll.window`.
    pub fn window_of(&self, campaign: &Campaign) -> Option<Duration> {
        resolved_window(campaign.window, &campaign.filters, self.poll.window)
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

    /// The views this replica polls, each with its insertion window
    /// resolved as a campaign's is.
    pub fn poll_views(&self) -> Vec<View> {
        self.views
            .iter()
            .filter(|v| self.shard.owns_view(&v.name))
            .map(|v| View {
                window: resolved_window(v.window, &v.filters, self.poll.window),
                ..v.clone()
            })
            .collect()
    }

    /// A human summary for `--config.check`: no token, no personal filter values.
    pub fn summary(&self) -> String {
        summary::Summary(self).to_string()
    }
}

/// A target's insertion window: its own, else `poll.window`; none with a
/// fixed start or end.
fn resolved_window(own: Option<Duration>, f: &Filters, poll: Option<Duration>) -> Option<Duration> {
    if f.start.is_some() || f.end.is_some() {
        return None;
    }
    own.or(poll)
}

#[cfg(test)]
mod tests;
