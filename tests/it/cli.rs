//! The binary's command line: `--config.check`, bad configurations rejected
//! with a message naming the field, and `--help`.

use crate::exporter_once::Finished;
use crate::mock_api::CAMPAIGN_B;
use crate::support::CAMPAIGN_A as CAMPAIGN;
use crate::support::exporter::Exporter;

/// The binary with `args` and only the environment `env`, run to the end.
fn run(args: &[&str], env: &[(&str, &str)]) -> Finished {
    env.iter()
        .fold(Exporter::new().args(args.iter().copied()), |e, (k, v)| {
            e.env(k, *v)
        })
        .run()
}

#[test]
fn config_check_prints_a_summary_without_secrets() {
    let o = run(
        &[
            "--config.check",
            "--evolux.url=https://acme.evolux.cx",
            &format!("--campaign={CAMPAIGN}"),
        ],
        &[
            ("EVOLUX_TOKEN", "s3cret-token-value"),
            ("EVOLUX_POLL_WINDOW", "7d"),
        ],
    );
    let out = &o.text;
    assert!(o.status.success(), "{out}");
    assert!(out.contains("configuration OK"), "{out}");
    assert!(out.contains(CAMPAIGN), "{out}");
    assert!(out.contains("window 7d"), "env var read: {out}");
    assert!(!out.contains("s3cret-token-value"), "token printed: {out}");
}

#[test]
fn config_check_says_when_the_campaigns_need_more_reads_than_a_poll_may_make() {
    let campaigns: Vec<String> = (0..30)
        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
        .collect();
    let list = format!("--campaign={}", campaigns.join(","));
    let check = |interval: &str| {
        run(
            &[
                "--config.check",
                "--evolux.url=https://acme.evolux.cx",
                &list,
                interval,
            ],
            &[("EVOLUX_TOKEN", "t")],
        )
    };
    // 2 s at 10 requests a second: 16 reads a poll for 30 campaigns.
    let o = check("--poll.interval=2s");
    assert!(o.status.success(), "{}", o.text);
    assert!(
        o.text.contains("request budget:     16 reads a poll"),
        "{}",
        o.text
    );
    assert!(
        o.text
            .contains("warning:            30 campaigns need at least 30 reads a poll")
            && o.text.contains("raise --poll.interval or --evolux.max-rps"),
        "{}",
        o.text
    );
    // At the default minute: 480 a poll, no warning.
    let o = check("--poll.interval=60s");
    assert!(
        o.text.contains("request budget:     480 reads a poll"),
        "{}",
        o.text
    );
    assert!(!o.text.contains("warning:"), "{}", o.text);
}

#[test]
fn bad_configurations_are_rejected_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    };
    let unknown_key = write("unknown.yaml", "poll:\n  intervall: 1m\n");
    let half_pair = write(
        "half.yaml",
        &format!(
            "campaigns:\n  - uuid: {CAMPAIGN}\n    filters:\n      conversation_field_key: CPF\n"
        ),
    );
    let bad_uuid = write("uuid.yaml", "campaigns:\n  - uuid: 1234\n");
    let bad_duration = write("dur.yaml", "poll:\n  window: seven days\n");
    let web_unknown_key = write("web1.yml", "tls_server_config:\n  cert_fil: a.pem\n");
    let web_plain_hash = write("web2.yml", "basic_auth_users:\n  prometheus: hunter2\n");
    let web_missing_cert = write(
        "web3.yml",
        "tls_server_config:\n  cert_file: /nonexistent/tls.crt\n  key_file: /nonexistent/tls.key\n",
    );
    let not_pem = write("ca.pem", "this is not a certificate\n");
    let url = "--evolux.url=https://acme.evolux.cx";
    let token = [("EVOLUX_TOKEN", "t")];
    type Case<'a> = (Vec<String>, &'a [(&'a str, &'a str)], &'a str);
    let cases: Vec<Case> = vec![
        (vec!["--evolux.url=ftp://acme".into()], &token, "evolux.url"),
        (vec![], &token, "evolux.url"),
        (vec![url.into()], &[], "EVOLUX_TOKEN"),
        (
            vec![url.into(), "--evolux.token-file=/nonexistent/token".into()],
            &[],
            "evolux.token-file",
        ),
        (
            vec![url.into(), "--campaign=not-a-uuid".into()],
            &token,
            "--campaign",
        ),
        (
            vec![url.into(), "--poll.interval=soon".into()],
            &token,
            "--poll.interval",
        ),
        (
            vec![url.into(), "--evolux.max-response-size=huge".into()],
            &token,
            "--evolux.max-response-size",
        ),
        (
            vec![url.into(), "--web.listen-address=nowhere".into()],
            &token,
            "web.listen-address",
        ),
        (
            vec![url.into(), "--log.format=xml".into()],
            &token,
            "--log.format",
        ),
        (
            vec![url.into(), format!("--config.file={unknown_key}")],
            &token,
            "poll.intervall",
        ),
        (
            vec![url.into(), format!("--config.file={half_pair}")],
            &token,
            "conversation_field_key",
        ),
        (
            vec![url.into(), format!("--config.file={bad_uuid}")],
            &token,
            "campaigns[0].uuid",
        ),
        (
            vec![url.into(), format!("--config.file={bad_duration}")],
            &token,
            "poll.window",
        ),
        (
            vec![url.into(), "--config.file=/nonexistent.yaml".into()],
            &token,
            "config.file",
        ),
        (
            // A directory: exists, but cannot be read as a token.
            vec![
                url.into(),
                format!("--evolux.token-file={}", dir.path().display()),
            ],
            &[],
            "evolux.token-file",
        ),
        (
            vec![url.into(), "--web.listen-address=:99999".into()],
            &token,
            "web.listen-address",
        ),
        (
            vec![url.into(), "--web.config.file=/nonexistent/web.yml".into()],
            &token,
            "web.config.file",
        ),
        (
            vec![url.into(), format!("--web.config.file={web_unknown_key}")],
            &token,
            "tls_server_config.cert_fil",
        ),
        (
            vec![url.into(), format!("--web.config.file={web_plain_hash}")],
            &token,
            "basic_auth_users.prometheus",
        ),
        (
            vec![url.into(), format!("--web.config.file={web_missing_cert}")],
            &token,
            "tls_server_config.cert_file",
        ),
        (
            vec![url.into(), "--evolux.ca-file=/nonexistent/ca.pem".into()],
            &token,
            "evolux.ca-file",
        ),
        (
            vec![url.into(), format!("--evolux.ca-file={not_pem}")],
            &token,
            "evolux.ca-file",
        ),
    ];
    for (args, env, field) in cases {
        let mut argv: Vec<&str> = vec!["--config.check"];
        argv.extend(args.iter().map(String::as_str));
        let o = run(&argv, env);
        let out = &o.text;
        assert_eq!(
            o.status.code(),
            Some(1),
            "{args:?} should fail with exit 1: {out}"
        );
        assert!(
            out.contains(field),
            "{args:?}: message does not name {field}: {out}"
        );
    }
}

#[test]
fn env_vars_configure_like_flags() {
    let o = run(
        &["--config.check"],
        &[
            ("EVOLUX_URL", "https://env.evolux.cx"),
            ("EVOLUX_TOKEN", "t"),
            ("EVOLUX_CAMPAIGNS", &format!("{CAMPAIGN},{CAMPAIGN_B}")),
            ("EVOLUX_WEB_LISTEN_ADDRESS", "127.0.0.1:12345"),
        ],
    );
    let out = &o.text;
    assert!(o.status.success(), "{out}");
    assert!(out.contains("https://env.evolux.cx"), "{out}");
    assert!(out.contains("campaigns:          2"), "{out}");
    assert!(out.contains("127.0.0.1:12345"), "{out}");
}

#[test]
fn help_lists_every_flag_of_the_design() {
    let o = run(&["--help"], &[]);
    let out = &o.text;
    assert!(o.status.success());
    for flag in [
        "--evolux.url",
        "--evolux.token-file",
        "--evolux.timeout",
        "--evolux.max-concurrency",
        "--evolux.max-rps",
        "--evolux.max-response-size",
        "--campaign",
        "--poll.interval",
        "--poll.window",
        "--config.file",
        "--config.check",
        "--web.listen-address",
        "--web.telemetry-path",
        "--log.level",
        "--log.format",
        "--demo",
        "EVOLUX_TOKEN",
    ] {
        assert!(out.contains(flag), "--help lacks {flag}");
    }
}

/// `--help` names each setting's variable but never prints its value: a
/// proxy URL in `EVOLUX_PROXY_URL` may hold a password.
#[test]
fn help_never_prints_a_variables_value() {
    let o = run(
        &["--help"],
        &[
            (
                "EVOLUX_PROXY_URL",
                "http://ops:pr0xy-s3cret@proxy.corp:3128",
            ),
            ("EVOLUX_URL", "https://env.evolux.cx"),
        ],
    );
    let out = &o.text;
    assert!(o.status.success(), "{out}");
    assert!(out.contains("[env: EVOLUX_PROXY_URL]"), "{out}");
    assert!(
        !out.contains("pr0xy-s3cret") && !out.contains("env.evolux.cx"),
        "{out}"
    );
}
