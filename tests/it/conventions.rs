//! What operators expect of any Prometheus exporter, against the real
//! binary: process metrics and a scrape counter measured at each scrape
//! (plain and gzip), several listen addresses and dual-stack `:port`,
//! `--version` in the Prometheus common format, the `/-/` probes, and
//! reloading the configuration with SIGHUP or `POST /-/reload`.

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use wiremock::MockServer;

use crate::mock_api::{CAMPAIGN_B, data, record, report};
use crate::support::exporter::{Exporter, Running, listen_addresses};
use crate::support::metrics::Metrics;
use crate::support::{CAMPAIGN_A, TEMPLATE_1, wait_for};

/// An upstream that answers A with 3 records and B with 2.
pub(crate) async fn upstream() -> MockServer {
    let server = MockServer::start().await;
    for (campaign, n) in [(CAMPAIGN_A, 3), (CAMPAIGN_B, 2)] {
        let records: Vec<_> = (0..n)
            .map(|_| record(campaign, TEMPLATE_1, "sent"))
            .collect();
        report(campaign)
            .respond_with(data(records))
            .mount(&server)
            .await;
    }
    server
}

fn write_config(path: &Path, campaigns: &[&str]) {
    let mut yaml = String::from("campaigns:\n");
    for c in campaigns {
        yaml.push_str(&format!("  - uuid: {c}\n"));
    }
    // Write and rename, as a ConfigMap update does.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, yaml).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The exporter polling `upstream` every second for the campaigns of the
/// file `config`, with `extra` flags.
async fn start(upstream: &MockServer, config: &Path, extra: &[&str]) -> Running {
    let mut args = vec![
        format!("--evolux.url={}", upstream.uri()),
        format!("--config.file={}", config.display()),
        "--poll.interval=1s".into(),
        "--poll.max-interval=1s".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    Exporter::new()
        .args(args)
        .env("EVOLUX_TOKEN", "x")
        .start()
        .await
}

/// Scrapes (every 100 ms, up to 30 s) until a scrape satisfies `cond`.
async fn wait_for_scrape(
    exporter: &mut Running,
    what: &str,
    cond: impl Fn(&Metrics) -> bool,
) -> Metrics {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = exporter.scrape().await;
        if cond(&m) {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; the last scrape:\n{}",
            m.0
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sends_sighup(pid: u32) {
    let hup = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(hup.success(), "kill -HUP {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sighup_takes_in_new_campaigns_and_a_broken_file_keeps_the_last_good_ones() {
    let api = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    write_config(&config, &[CAMPAIGN_A]);
    let mut exporter = start(&api, &config, &[]).await;
    let m = exporter.scrape().await;
    assert_eq!(m.campaign_total(CAMPAIGN_A), 3.0, "{}", m.0);
    assert_eq!(m.campaign_total(CAMPAIGN_B), 0.0);
    assert_eq!(
        m.get("evolux_config_last_reload_successful", &[]),
        Some(1.0)
    );
    let loaded_at = m
        .get("evolux_config_last_reload_success_timestamp_seconds", &[])
        .expect("the load time");

    // B added: the next poll reads it.
    write_config(&config, &[CAMPAIGN_A, CAMPAIGN_B]);
    sends_sighup(exporter.pid);
    let m = wait_for_scrape(&mut exporter, "campaign B polled after SIGHUP", |m| {
        m.campaign_total(CAMPAIGN_B) == 2.0
    })
    .await;
    assert_eq!(m.campaign_total(CAMPAIGN_A), 3.0);
    assert_eq!(
        m.get("evolux_config_last_reload_successful", &[]),
        Some(1.0)
    );
    let reloaded_at = m
        .get("evolux_config_last_reload_success_timestamp_seconds", &[])
        .unwrap();
    assert!(reloaded_at > loaded_at, "{reloaded_at} > {loaded_at}");
    assert!(exporter.logs().contains("configuration reloaded"));

    // A file that no longer loads: refused, the gauge says so, both
    // campaigns keep being polled.
    std::fs::write(&config, "campaigns:\n  - uuid: not-a-uuid\n").unwrap();
    sends_sighup(exporter.pid);
    let m = wait_for_scrape(&mut exporter, "the reload gauge at 0", |m| {
        m.get("evolux_config_last_reload_successful", &[]) == Some(0.0)
    })
    .await;
    assert_eq!(
        m.get("evolux_config_last_reload_success_timestamp_seconds", &[]),
        Some(reloaded_at)
    );
    let polls_before = api.received_requests().await.unwrap().len();
    wait_for("another poll of both", Duration::from_secs(10), || {
        let api = &api;
        async move { api.received_requests().await.unwrap().len() >= polls_before + 2 }
    })
    .await;
    let m = exporter.scrape().await;
    assert_eq!(m.campaign_total(CAMPAIGN_A), 3.0);
    assert_eq!(m.campaign_total(CAMPAIGN_B), 2.0);
    let logs = exporter.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("reload refused") && l.contains("campaigns[0].uuid")),
        "the refusal names the field:\n{logs}"
    );

    // Removed again: B's series go.
    write_config(&config, &[CAMPAIGN_A]);
    sends_sighup(exporter.pid);
    wait_for_scrape(&mut exporter, "campaign B's series gone", |m| {
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_B)])
            .is_none()
            && m.get("evolux_config_last_reload_successful", &[]) == Some(1.0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_reload_needs_the_lifecycle_flag_and_names_settings_that_need_a_restart() {
    let api = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    write_config(&config, &[CAMPAIGN_A]);

    let mut plain = start(&api, &config, &[]).await;
    let refused = plain
        .http
        .post(plain.url("/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let get = plain.http.get(plain.url("/-/reload")).send().await.unwrap();
    assert_eq!(get.status(), 405, "only POST and PUT reload");
    plain.assert_running("after /-/reload");

    let mut exporter = start(&api, &config, &["--web.enable-lifecycle"]).await;
    std::fs::write(
        &config,
        format!(
            "campaigns:\n  - uuid: {CAMPAIGN_A}\n  - uuid: {CAMPAIGN_B}\nlog:\n  level: debug\n"
        ),
    )
    .unwrap();
    let ok = exporter
        .http
        .post(exporter.url("/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200, "{:?}", ok.text().await);
    wait_for_scrape(&mut exporter, "campaign B polled after /-/reload", |m| {
        m.campaign_total(CAMPAIGN_B) == 2.0
    })
    .await;
    let logs = exporter.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("change only at a restart") && l.contains("settings=log.level")),
        "{logs}"
    );
    std::fs::write(&config, "poll:\n  intervall: 1s\n").unwrap();
    let bad = exporter
        .http
        .post(exporter.url("/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 500);
    let why = bad.text().await.unwrap();
    assert!(why.contains("poll.intervall"), "{why}");
}

/// `--version`, and `evolux_exporter_build_info` saying the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_is_in_the_prometheus_common_format_and_matches_build_info() {
    let out = Exporter::new().args(["--version"]).run();
    assert!(out.success(), "{}", out.text);
    let lines: Vec<&str> = out.text.lines().collect();
    let first = lines[0];
    let rest = first
        .strip_prefix(&format!(
            "evolux-exporter, version {} (branch: ",
            env!("CARGO_PKG_VERSION")
        ))
        .unwrap_or_else(|| panic!("{first}"));
    let (branch, rest) = rest.split_once(", revision: ").expect("revision");
    let revision = rest.strip_suffix(')').expect("closing parenthesis");
    assert!(!branch.is_empty() && !revision.is_empty(), "{first}");
    for (line, label) in
        lines[1..]
            .iter()
            .zip(["build user:", "build date:", "rust version:", "platform:"])
    {
        assert!(line.trim_start().starts_with(label), "{line:?} is {label}");
    }
    assert_eq!(lines.len(), 5, "{}", out.text);
    let rust = lines[3].trim_start()["rust version:".len()..].trim();
    assert!(rust.starts_with("rustc "), "{rust}");

    let mut demo = Exporter::new().args(["--demo"]).start().await;
    let m = demo.scrape().await;
    let info = m
        .samples("evolux_exporter_build_info")
        .next()
        .expect("build_info");
    let label = |k: &str| {
        info.0
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(label("version").as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(label("revision").as_deref(), Some(revision));
    assert_eq!(label("branch").as_deref(), Some(branch));
    assert_eq!(label("rustversion").as_deref(), Some(rust));
}

/// The scrape-time part: process figures that move between scrapes, the
/// scrape counter, in plain and gzip bodies alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_metrics_and_scrapes_are_measured_at_each_scrape_plain_and_gzip() {
    let mut exporter = Exporter::new()
        .args(["--demo", "--poll.interval=1s"])
        .start()
        .await;
    let first = exporter.scrape().await;
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            first.get(name, &[]).is_some_and(|v| v > 0.0),
            "{name}\n{}",
            first.0
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let started = first.get("process_start_time_seconds", &[]).unwrap();
    assert!(
        (now - 120.0..=now + 1.0).contains(&started),
        "{started} vs {now}"
    );
    let cpu = first.get("process_cpu_seconds_total", &[]).unwrap();
    let scrapes = |m: &Metrics| m.get("evolux_exporter_scrapes_total", &[("code", "200")]);
    let before = scrapes(&first).expect("the scrape counter");
    // The demo polls every second: CPU time grows, and each scrape counts.
    let later = wait_for_scrape(&mut exporter, "CPU time to grow", |m| {
        m.get("process_cpu_seconds_total", &[])
            .is_some_and(|c| c > cpu)
    })
    .await;
    assert!(scrapes(&later).unwrap() > before);

    let gz = exporter
        .http
        .get(exporter.url("/metrics"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let bytes = gz.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .expect("valid gzip, every member");
    let mut one_member = String::new();
    let _ = flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut one_member);
    assert!(
        one_member.len() < text.len(),
        "the scrape-time part is a second member"
    );
    let m = Metrics(text);
    assert!(m.get("evolux_up", &[]).is_some(), "the poll's part");
    assert!(
        m.get("process_open_fds", &[]).is_some(),
        "the scrape-time part"
    );
    assert!(scrapes(&m).unwrap() > scrapes(&later).unwrap());
}

/// `:port` on IPv6 and IPv4, plus a second address serving the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listen_address_serves_and_port_only_means_ipv6_and_ipv4() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let exporter = Exporter::new()
        .args([
            "--demo".to_string(),
            format!("--web.listen-address=:{port}"),
            "--web.listen-address=127.0.0.1:0".to_string(),
        ])
        .spawn()
        .await;
    let addrs = listen_addresses(&exporter.logs());
    assert_eq!(addrs.len(), 2, "{}", exporter.logs());
    let second = addrs[1];
    assert_ne!(second.port(), port);
    let mut urls = vec![
        format!("http://127.0.0.1:{port}"),
        format!("http://{second}"),
    ];
    let ipv6_loopback = std::net::TcpListener::bind("[::1]:0").is_ok();
    if ipv6_loopback {
        urls.push(format!("http://[::1]:{port}"));
    } else {
        eprintln!("notice: this host has no IPv6 loopback; [::1] is not tried");
    }
    for base in urls {
        for path in ["/-/healthy", "/healthz", "/metrics"] {
            let r = exporter
                .http
                .get(format!("{base}{path}"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{base}{path}: {e}"));
            assert_eq!(r.status(), 200, "{base}{path}");
        }
        let ready = exporter
            .http
            .get(format!("{base}/-/ready"))
            .send()
            .await
            .unwrap();
        assert!(
            [200, 503].contains(&ready.status().as_u16()),
            "{base}/-/ready"
        );
    }
}
