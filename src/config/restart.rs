//! What a reload (SIGHUP, `POST /-/reload`) can change while running: the
//! campaigns (and, through them, their windows and filters, and the shard's
//! share). Everything else is read once at start-up; a reload that changes
//! it is named in the log, and the running value stays.

use super::{Config, settings as s};

/// The settings whose new value (in `new`) differs from the running one
/// (`old`) but takes effect only at a restart, by their flag names.
pub fn needs_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    let (o, n) = (&old.evolux, &new.evolux);
    let (op, np) = (&old.poll, &new.poll);
    let (ow, nw) = (&old.web, &new.web);
    // poll.window reaches configured campaigns through their resolved
    // windows; only discovery reads it once.
    let discovery = new.campaigns.is_empty();
    let checks = [
        (s::EVOLUX_URL.flag, o.url == n.url),
        (
            s::EVOLUX_TOKEN_FILE.flag,
            o.token.describe() == n.token.describe(),
        ),
        (s::EVOLUX_CA_FILE.flag, o.ca_file == n.ca_file),
        (s::EVOLUX_PROXY_URL.flag, o.proxy == n.proxy),
        (s::EVOLUX_TIMEOUT.flag, o.timeout == n.timeout),
        (
            s::EVOLUX_MAX_CONCURRENCY.flag,
            o.max_concurrency == n.max_concurrency,
        ),
        (s::EVOLUX_MAX_RPS.flag, o.max_rps == n.max_rps),
        (
            s::EVOLUX_MAX_RESPONSE_SIZE.flag,
            o.max_response_size == n.max_response_size,
        ),
        (s::EVOLUX_MAX_RETRIES.flag, o.max_retries == n.max_retries),
        (s::POLL_INTERVAL.flag, op.interval == np.interval),
        (s::POLL_WINDOW.flag, !discovery || op.window == np.window),
        (
            s::POLL_MAX_INTERVAL.flag,
            op.max_interval == np.max_interval,
        ),
        (
            s::POLL_VERIFY_INTERVAL.flag,
            op.verify_interval == np.verify_interval,
        ),
        (
            s::POLL_MAX_STALENESS.flag,
            op.max_staleness == np.max_staleness,
        ),
        (s::POLL_MAX_SERIES.flag, op.max_series == np.max_series),
        (
            s::WEB_LISTEN_ADDRESS.flag,
            ow.listen_addresses == nw.listen_addresses,
        ),
        (
            s::WEB_TELEMETRY_PATH.flag,
            ow.telemetry_path == nw.telemetry_path,
        ),
        (s::WEB_CONFIG_FILE.flag, ow.config_file == nw.config_file),
        (
            "web.enable-lifecycle",
            ow.enable_lifecycle == nw.enable_lifecycle,
        ),
        (s::LOG_LEVEL.flag, old.log.level == new.log.level),
        (s::LOG_FORMAT.flag, old.log.format == new.log.format),
        (
            "response",
            format!("{:?}", old.response) == format!("{:?}", new.response),
        ),
        ("demo", old.demo == new.demo),
    ];
    checks
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, file};
    use super::*;

    fn load(args: &[&str], yaml: &str) -> Config {
        let mut argv = vec!["evolux-exporter", "--evolux.url=https://acme.evolux.cx"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).unwrap();
        Config::merge(cli, file::parse(yaml).unwrap(), Some("tok".into())).unwrap()
    }

    const A: &str = "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b";
    const B: &str = "0c7e3f5a-9b2d-4d6e-8a1f-5c4b3a2e1d54";

    #[test]
    fn campaigns_change_at_runtime_and_the_rest_is_named() {
        let old = load(&[], &format!("campaigns:\n  - uuid: {A}\n"));
        let more = load(
            &[],
            &format!(
                "campaigns:\n  - uuid: {A}\n  - uuid: {B}\n    name: Promo\npoll:\n  window: 7d\n"
            ),
        );
        assert_eq!(needs_restart(&old, &more), Vec::<&str>::new());
        let moved = load(
            &["--web.listen-address=:9", "--evolux.timeout=5s"],
            &format!("campaigns:\n  - uuid: {A}\nlog:\n  level: debug\n"),
        );
        assert_eq!(
            needs_restart(&old, &moved),
            ["evolux.timeout", "web.listen-address", "log.level"]
        );
    }

    #[test]
    fn in_discovery_the_window_is_read_once() {
        let old = load(&[], "");
        let new = load(&["--poll.window=1d"], "");
        assert_eq!(needs_restart(&old, &new), ["poll.window"]);
    }
}
