//! The command line as clap parses it: every flag optional, so that the
//! config file can fill what the command line and environment leave out.
//! The flags' names, variables and help come from [`super::settings`].

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};
use uuid::Uuid;

use super::settings::SETTINGS;
use super::shard::ShardIndex;
use super::units::{ByteSize, HumanDuration};
use crate::telemetry::{LogFormat, LogLevel};

/// Prometheus exporter for Evolux Chat campaigns: polls the campaign-subscribers
/// report API and serves subscriber counts by campaign, template and state.
///
/// Every setting can also be given by its environment variable or by its key in
/// the YAML file of --config.file (precedence: flag, environment, file, default).
/// The API token is read from EVOLUX_TOKEN or from --evolux.token-file, never
/// from a flag, so that it cannot show in `ps`.
#[derive(Debug, Default, Parser)]
#[command(
    name = "evolux-exporter",
    about,
    long_about,
    disable_version_flag = true
)]
pub struct Cli {
    #[arg(long)]
    pub evolux_url: Option<String>,
    #[arg(long)]
    pub evolux_token_file: Option<PathBuf>,
    #[arg(long)]
    pub evolux_ca_file: Option<PathBuf>,
    #[arg(long)]
    pub evolux_proxy_url: Option<String>,
    /// Whether `evolux_proxy_url` came from `EVOLUX_PROXY_URL` rather than
    /// the flag: its errors name where it was set.
    #[arg(skip)]
    pub evolux_proxy_url_from_env: bool,
    #[arg(long)]
    pub evolux_timeout: Option<HumanDuration>,
    #[arg(long)]
    pub evolux_max_concurrency: Option<usize>,
    #[arg(long)]
    pub evolux_max_rps: Option<f64>,
    #[arg(long)]
    pub evolux_max_response_size: Option<ByteSize>,
    #[arg(long)]
    pub evolux_max_retries: Option<u32>,
    #[arg(long, value_delimiter = ',')]
    pub campaigns: Vec<Uuid>,
    #[arg(long)]
    pub poll_interval: Option<HumanDuration>,
    #[arg(long)]
    pub poll_window: Option<HumanDuration>,
    #[arg(long)]
    pub poll_max_interval: Option<HumanDuration>,
    #[arg(long)]
    pub poll_verify_interval: Option<HumanDuration>,
    #[arg(long)]
    pub poll_max_staleness: Option<HumanDuration>,
    #[arg(long)]
    pub poll_max_series: Option<usize>,
    #[arg(long)]
    pub config_file: Option<PathBuf>,
    /// Validate the configuration, print a summary and exit (0 valid, 1 invalid).
    #[arg(long = "config.check")]
    pub config_check: bool,
    /// Read each configured campaign once as a poll would and print what was
    /// found (shape, pagination, totals, counts, whether start/end tile;
    /// never personal data); exit 0 when it can be counted exactly, else 1.
    #[arg(long = "evolux.diagnose", conflicts_with = "config_check")]
    pub evolux_diagnose: bool,
    #[arg(long, value_delimiter = ',')]
    pub web_listen_address: Vec<String>,
    #[arg(long)]
    pub web_telemetry_path: Option<String>,
    #[arg(long)]
    pub web_config_file: Option<PathBuf>,
    #[arg(long)]
    pub log_level: Option<LogLevel>,
    #[arg(long)]
    pub log_format: Option<LogFormat>,
    /// Poll a built-in simulated Evolux API instead of a real one.
    #[arg(long = "demo")]
    pub demo: bool,
    /// Serve POST /-/reload (re-read the configuration, as SIGHUP does).
    #[arg(long = "web.enable-lifecycle")]
    pub web_enable_lifecycle: bool,
    /// Print the version and build facts, and exit.
    #[arg(long = "version", short = 'V')]
    pub version: bool,
    #[arg(long)]
    pub shard_index: Option<ShardIndex>,
    #[arg(long)]
    pub shard_count: Option<u32>,
}

/// What the binary does once its configuration is loaded: one mode, chosen
/// by the action flags (which exclude each other).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Poll and serve (no action flag).
    Serve,
    /// `--config.check`: print the configuration's summary and exit.
    Check,
    /// `--evolux.diagnose`: read each campaign once, print what was found,
    /// exit 0 when it can be counted exactly.
    Diagnose,
}

impl Cli {
    /// The mode the action flags ask for.
    pub fn mode(&self) -> Mode {
        if self.config_check {
            Mode::Check
        } else if self.evolux_diagnose {
            Mode::Diagnose
        } else {
            Mode::Serve
        }
    }

    /// The command line's definition: the fields above, named, documented
    /// and bound to their variables by [`SETTINGS`].
    pub fn command() -> clap::Command {
        SETTINGS
            .iter()
            .fold(<Cli as CommandFactory>::command(), |cmd, s| {
                cmd.mut_arg(s.id, |a| {
                    a.long(s.flag)
                        .env(s.env)
                        .hide_env_values(true)
                        .value_name(s.value_name)
                        .help(s.help_text())
                })
            })
    }

    /// Parses `args` (the program name first).
    pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        cli.evolux_proxy_url_from_env = matches.value_source("evolux_proxy_url")
            == Some(clap::parser::ValueSource::EnvVariable);
        Ok(cli)
    }

    /// Parses the process's arguments.
    pub fn try_parse() -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::env::args_os())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_is_well_formed_and_every_setting_names_a_field() {
        // mut_arg panics on an id that is no field; debug_assert checks
        // names and variables are unique.
        Cli::command().debug_assert();
        let cmd = Cli::command();
        for s in SETTINGS {
            let arg = cmd.get_arguments().find(|a| a.get_id() == s.id).unwrap();
            assert_eq!(arg.get_long(), Some(s.flag));
        }
        let settings_and_actions = SETTINGS.len()
            + [
                "config.check",
                "evolux.diagnose",
                "demo",
                "web.enable-lifecycle",
                "version",
            ]
            .len();
        let flags = cmd.get_arguments().filter(|a| a.get_id() != "help").count();
        assert_eq!(flags, settings_and_actions, "a flag without a setting");
    }

    #[test]
    fn flags_and_variables_come_from_the_settings() {
        let cli = Cli::try_parse_from([
            "x",
            "--evolux.timeout=5s",
            "--campaign=f45d98dc-ac5e-48f2-9c01-ebe18f86d28b",
        ])
        .unwrap();
        assert_eq!(
            cli.evolux_timeout.map(|d| d.0),
            Some(std::time::Duration::from_secs(5))
        );
        assert_eq!(cli.campaigns.len(), 1);
        assert!(Cli::try_parse_from(["x", "--evolux-timeout=5s"]).is_err());
    }

    #[test]
    fn the_action_flags_choose_one_mode() {
        let mode = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied())).map(|c| c.mode())
        };
        assert_eq!(mode(&[]).unwrap(), Mode::Serve);
        assert_eq!(mode(&["--config.check"]).unwrap(), Mode::Check);
        assert_eq!(mode(&["--evolux.diagnose"]).unwrap(), Mode::Diagnose);
        assert!(mode(&["--config.check", "--evolux.diagnose"]).is_err());
    }
}
