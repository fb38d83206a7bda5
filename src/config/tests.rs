use super::*;
use crate::config::units::{ByteSize, HumanDuration};
use crate::server::ListenAddress;
use crate::telemetry::{LogFormat, LogLevel};
use crate::token::TokenSource;

fn cli(args: &[&str]) -> Cli {
    let mut argv = vec!["evolux-exporter"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap()
}

fn merge(args: &[&str], yaml: &str) -> Result<Config, ConfigError> {
    let file = file::parse(yaml).map_err(|message| ConfigError::ParseFile {
        path: "test.yaml".into(),
        message,
    })?;
    Config::merge(cli(args), file, Some("tok".into()))
}

fn err(args: &[&str], yaml: &str) -> String {
    match merge(args, yaml) {
        Ok(_) => panic!("accepted {args:?} {yaml:?}"),
        Err(e) => e.to_string(),
    }
}

const URL: &str = "--evolux.url=https://acme.evolux.cx";

#[test]
fn defaults_follow_the_design() {
    let c = merge(&[URL], "").unwrap();
    assert_eq!(c.evolux.timeout, Duration::from_secs(30));
    assert_eq!(c.evolux.max_concurrency, 4);
    assert_eq!(c.evolux.max_rps, 10.0);
    assert_eq!(c.evolux.max_response_size, 2 << 30);
    assert_eq!(c.poll.interval, Duration::from_secs(60));
    assert_eq!(c.poll.window, None);
    assert_eq!(c.poll.max_staleness, Duration::from_secs(600));
    assert_eq!(c.poll.max_series, 10_000);
    assert_eq!(
        c.web.listen_addresses,
        [ListenAddress::AllInterfaces(10071)]
    );
    assert_eq!(c.web.telemetry_path, "/metrics");
    assert_eq!(c.log.level, LogLevel::Info);
    assert_eq!(c.log.format, LogFormat::Logfmt);
    assert!(c.campaigns.is_empty());
    assert_eq!(c.evolux.url.as_str(), "https://acme.evolux.cx/");
}

#[test]
fn flags_beat_the_file() {
    let yaml = "evolux:\n  url: https://file.evolux.cx\n  timeout: 5s\npoll:\n  interval: 2m\n  window: 7d\nweb:\n  listen_address: 127.0.0.1:9999\n";
    let c = merge(&["--poll.interval=30s"], yaml).unwrap();
    assert_eq!(c.evolux.url.host_str(), Some("file.evolux.cx"));
    assert_eq!(c.evolux.timeout, Duration::from_secs(5));
    assert_eq!(c.poll.interval, Duration::from_secs(30));
    assert_eq!(c.poll.window, Some(Duration::from_secs(7 * 86400)));
    assert_eq!(c.poll.max_staleness, Duration::from_secs(300));
    let c = merge(&["--evolux.url=https://flag.evolux.cx"], yaml).unwrap();
    assert_eq!(c.evolux.url.host_str(), Some("flag.evolux.cx"));
}

#[test]
fn the_design_example_file_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "abc\n").unwrap();
    let yaml = format!(
        r#"
evolux:
  url: https://acme.evolux.cx
  token_file: {}
poll:
  interval: 60s
campaigns:
  - uuid: f45d98dc-ac5e-48f2-9c01-ebe18f86d28b
    name: Black Friday
    window: 7d
    filters:
      template_uuid: 70f4ddb6-ece1-4e13-ab90-3698d9d72bf0
      conversation_field_key: perfil
      conversation_field_value: Pessoa Jurídica
      timezone: America/Sao_Paulo
response:
  records: /data
  next: /links/next
  state: [/state]
  template: [/template_uuid, /template/uuid]
"#,
        token.display()
    );
    let c = merge(&[], &yaml).unwrap();
    assert_eq!(c.campaigns.len(), 1);
    let camp = &c.campaigns[0];
    assert_eq!(camp.name.as_deref(), Some("Black Friday"));
    assert_eq!(c.window_of(camp), Some(Duration::from_secs(7 * 86400)));
    assert_eq!(
        camp.filters.conversation_field,
        Some(("perfil".into(), "Pessoa Jurídica".into()))
    );
    assert!(matches!(c.evolux.token, TokenSource::File(_)));
    // The summary names the campaign but hides the personal filter value.
    let summary = c.summary();
    assert!(
        summary.contains("f45d98dc-ac5e-48f2-9c01-ebe18f86d28b"),
        "{summary}"
    );
    assert!(!summary.contains("Pessoa Jurídica"), "{summary}");
    assert!(!summary.contains("abc"), "{summary}");
}

#[test]
fn flag_campaigns_add_to_file_campaigns() {
    let yaml = "campaigns:\n  - uuid: f45d98dc-ac5e-48f2-9c01-ebe18f86d28b\n    name: BF\n";
    let c = merge(
        &[
            URL,
            "--campaign=f45d98dc-ac5e-48f2-9c01-ebe18f86d28b,0c7e3f5a-9b2d-4d6e-8a1f-5c4b3a2e1d54",
        ],
        yaml,
    )
    .unwrap();
    assert_eq!(c.campaigns.len(), 2);
    assert_eq!(c.campaigns[0].name.as_deref(), Some("BF"));
}

#[test]
fn bad_values_name_their_field() {
    let cases: &[(&[&str], &str, &str)] = &[
        (&[], "", "evolux.url"),
        (&["--evolux.url=ftp://x"], "", "evolux.url"),
        (&["--evolux.url=not a url"], "", "evolux.url"),
        (&["--evolux.url=https://u:p@x.cx"], "", "evolux.url"),
        (
            &[URL, "--evolux.max-concurrency=0"],
            "",
            "evolux.max-concurrency",
        ),
        (&[URL, "--evolux.max-rps=0"], "", "evolux.max-rps"),
        (&[URL, "--poll.max-series=0"], "", "poll.max-series"),
        (
            &[URL, "--web.listen-address=nonsense"],
            "",
            "web.listen-address",
        ),
        (
            &[URL, "--web.listen-address=:99999"],
            "",
            "web.listen-address",
        ),
        (
            &[URL, "--web.telemetry-path=metrics"],
            "",
            "web.telemetry-path",
        ),
        (
            &[URL, "--web.telemetry-path=/healthz"],
            "",
            "web.telemetry-path",
        ),
        (
            &[URL, "--web.telemetry-path=/{x}"],
            "",
            "web.telemetry-path",
        ),
        (
            &[URL, "--web.telemetry-path=/a/:x"],
            "",
            "web.telemetry-path",
        ),
        (
            &[URL, "--poll.interval=1m", "--poll.max-staleness=30s"],
            "",
            "poll.max-staleness",
        ),
        (
            &[URL, "--evolux.token-file=/nonexistent/token"],
            "",
            "evolux.token-file",
        ),
        (&[URL], "poll:\n  intervall: 1m\n", "intervall"),
        (&[URL], "poll:\n  interval: 5x\n", "poll.interval"),
        (
            &[URL],
            "evolux:\n  max_response_size: 2XB\n",
            "evolux.max_response_size",
        ),
        (
            &[URL],
            "campaigns:\n  - uuid: not-a-uuid\n",
            "campaigns[0].uuid",
        ),
        (
            &[URL],
            "campaigns:\n  - uuid: f45d98dc-ac5e-48f2-9c01-ebe18f86d28b\n    filters:\n      conversation_field_key: CPF\n",
            "campaigns[0].filters.conversation_field_key",
        ),
        (
            &[URL],
            "campaigns:\n  - uuid: f45d98dc-ac5e-48f2-9c01-ebe18f86d28b\n    filters:\n      conversation_field_value: x\n",
            "campaigns[0].filters.conversation_field_value",
        ),
        (
            &[URL],
            "campaigns:\n  - uuid: f45d98dc-ac5e-48f2-9c01-ebe18f86d28b\n    filters:\n      campaigns: [x]\n",
            "campaigns",
        ),
        (
            &[URL],
            "campaigns:\n  - uuid: f45d98dc-ac5e-48f2-9c01-ebe18f86d28b\n  - uuid: f45d98dc-ac5e-48f2-9c01-ebe18f86d28b\n",
            "campaigns[1].uuid",
        ),
        (
            &[URL],
            "campaigns:\n  - uuid: f45d98dc-ac5e-48f2-9c01-ebe18f86d28b\n    window: 1d\n    filters:\n      start: 2024-09-05T00:00:00Z\n",
            "campaigns[0].window",
        ),
        (&[URL], "log:\n  format: xml\n", "log.format"),
    ];
    for (args, yaml, field) in cases {
        let msg = err(args, yaml);
        assert!(
            msg.contains(field),
            "{args:?} {yaml:?}: {msg:?} does not name {field}"
        );
    }
}

#[test]
fn missing_token_is_an_error_naming_both_sources() {
    let e = Config::merge(cli(&[URL]), file::FileConfig::default(), None).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("EVOLUX_TOKEN") && msg.contains("token-file"),
        "{msg}"
    );
    // The demo needs neither URL nor token.
    let c = Config::merge(cli(&["--demo"]), file::FileConfig::default(), None).unwrap();
    assert!(c.demo);
}

#[test]
fn listen_addresses_repeat_and_come_from_flags_env_or_file() {
    let c = merge(
        &[
            URL,
            "--web.listen-address=:8080",
            "--web.listen-address=127.0.0.1:1",
        ],
        "",
    )
    .unwrap();
    assert_eq!(
        c.web.listen_addresses,
        [
            ListenAddress::AllInterfaces(8080),
            ListenAddress::Socket("127.0.0.1:1".parse().unwrap())
        ]
    );
    let list = "web:\n  listen_address: [\":1\", \"[::1]:2\"]\n";
    let c = merge(&[URL], list).unwrap();
    assert_eq!(c.web.listen_addresses.len(), 2);
    let one = "web:\n  listen_address: \":3\"\n";
    let c = merge(&[URL], one).unwrap();
    assert_eq!(c.web.listen_addresses, [ListenAddress::AllInterfaces(3)]);
    // The flags replace the file's list, as for every other setting.
    let c = merge(&[URL, "--web.listen-address=:4"], list).unwrap();
    assert_eq!(c.web.listen_addresses, [ListenAddress::AllInterfaces(4)]);
    let err = merge(&[URL], "web:\n  listen_address: []\n").unwrap_err();
    assert!(err.to_string().contains("web.listen_address"), "{err}");
}

#[test]
fn segments_settings_default_validate_and_show_in_the_summary() {
    let c = merge(&[URL], "").unwrap();
    assert_eq!(c.poll.max_interval, Duration::from_secs(1800));
    assert_eq!(c.poll.verify_interval, Some(Duration::from_secs(86_400)));
    assert_eq!(c.poll.deadline, Duration::from_secs(1800));
    let summary = c.summary();
    assert!(
        summary.contains("segmented: each read again within 30m (poll.max-interval)"),
        "{summary}"
    );
    assert!(
        summary.contains("once segments are laid out, then every 1d (poll.verify-interval)"),
        "{summary}"
    );
    assert!(
        summary.contains("cut after 30s without progress, or 30m after the poll began"),
        "{summary}"
    );

    // A longer interval carries the bound with it; the file and env keys work.
    let c = merge(&[URL, "--poll.interval=1h"], "").unwrap();
    assert_eq!(c.poll.max_interval, Duration::from_secs(3600));
    assert!(c.summary().contains("not segmented"), "{}", c.summary());
    let c = merge(&[URL], "poll:\n  max_interval: 2h\n  verify_interval: 0\n").unwrap();
    assert_eq!(c.poll.max_interval, Duration::from_secs(7200));
    assert_eq!(c.poll.verify_interval, None, "0 disables verification");
    assert!(
        c.summary().contains("off (poll.verify-interval 0)"),
        "{}",
        c.summary()
    );

    let e = err(&[URL, "--poll.interval=5m", "--poll.max-interval=1m"], "");
    assert!(
        e.starts_with("poll.max-interval: 1m is shorter than poll.interval 5m"),
        "{e}"
    );
    // 0 is a duration (as in Prometheus), refused with a reason where it makes no sense.
    // Per setting: accepted where 0 means something, refused with why
    // where it does not.
    for (flag, field) in [
        ("--poll.interval=0", "poll.interval"),
        ("--evolux.timeout=0", "evolux.timeout"),
        ("--poll.window=0", "poll.window"),
        ("--poll.max-staleness=0", "poll.max-staleness"),
        ("--poll.max-interval=0", "poll.max-interval"),
    ] {
        let e = err(&[URL, flag], "");
        assert!(e.starts_with(&format!("{field}: ")), "{e}");
        assert!(e.contains("0s"), "{flag}: {e}");
        assert!(e.len() > field.len() + 30, "{flag}: no reason in {e}");
    }
    assert!(merge(&[URL, "--poll.verify-interval=0"], "").is_ok());
}

#[test]
fn the_summary_under_sharding_names_the_shard_and_the_other_replicas_campaigns() {
    let uuids = [
        "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b",
        "0c7e3f5a-9b2d-4d6e-8a1f-5c4b3a2e1d54",
        "2d8f1c36-5a0b-4e8e-9f3d-7b6a5c4d3e2f",
        "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d",
    ];
    let mut args = vec!["--shard.index=1", "--shard.count=2"];
    let flags: Vec<String> = uuids.iter().map(|u| format!("--campaign={u}")).collect();
    args.extend(flags.iter().map(String::as_str));
    let c = merge(&args, "evolux:\n  url: https://x.example\n").unwrap();
    let summary = c.summary();
    assert!(
        summary.contains("shard:              index 1 of 2"),
        "{summary}"
    );
    let owned = c.owned_campaigns().count();
    assert!(
        summary.contains(&format!("polls {owned} of the 4 campaigns")),
        "{summary}"
    );
    let others = summary.matches("'s, not polled here)").count();
    assert_eq!(owned + others, 4, "{summary}");
    for u in uuids {
        assert!(summary.contains(u), "{u} missing from\n{summary}");
    }
}

mod configuration_doc;
mod proxy;
mod response;
mod views;

#[test]
fn the_summary_states_the_web_configs_departures_from_the_exporter_toolkit() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, "rate_limit:\n  interval: 1s\n  burst: 5\n").unwrap();
    let arg = format!("--web.config.file={}", web.display());
    let text = merge(&[URL, &arg], "").unwrap().summary();
    assert!(
        text.contains("then one per 1s"),
        "the rate limit is described: {text}"
    );
    assert!(
        text.contains("  web config departs from the exporter-toolkit on purpose:\n"),
        "{text}"
    );
    assert!(
        text.contains(&crate::webconfig::departure_lines("    ")),
        "{text}"
    );
}
