//! The output the README quotes is the binary's real output: its
//! configuration-error example and its Logs section, run as the README says.

use std::time::Duration;

use wiremock::{MockServer, ResponseTemplate};

use crate::mock_api::any_report;
use crate::support::exporter::Exporter;
use crate::support::{CAMPAIGN_A, wait_for};

const README: &str = include_str!("../../README.md");

/// The lines of the first ```` ```text ```` block after `marker` in the README.
fn quoted_after(marker: &str) -> Vec<&'static str> {
    let (_, rest) = README
        .split_once(marker)
        .unwrap_or_else(|| panic!("the README has no {marker:?}"));
    let (_, block) = rest
        .split_once("```text\n")
        .unwrap_or_else(|| panic!("no text block after {marker:?}"));
    let (block, _) = block.split_once("```").expect("the block ends");
    block.lines().collect()
}

/// A log line with what differs from run to run (the time, the address, the
/// duration) replaced by `…`.
fn steady(line: &str) -> String {
    line.split(' ')
        .map(|word| match word.split_once('=') {
            Some((key @ ("ts" | "address" | "duration_ms"), _)) => format!("{key}=…"),
            _ => word.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_config_error_example_is_what_the_binary_prints() {
    let quoted = quoted_after("(under `poll:`) gives");
    assert_eq!(quoted.len(), 1, "{quoted:?}");
    let dir = tempfile::tempdir().unwrap();
    // Line 4 reads `  intervall: 60s`, under `poll:`, as the README says.
    std::fs::write(
        dir.path().join("c.yaml"),
        format!("campaigns:\n  - uuid: {CAMPAIGN_A}\npoll:\n  intervall: 60s\n"),
    )
    .unwrap();
    let out = Exporter::new()
        .args([
            "--config.file",
            "c.yaml",
            "--evolux.url=https://acme.evolux.cx",
        ])
        .env("EVOLUX_TOKEN", "x")
        .command()
        .current_dir(dir.path())
        .output()
        .expect("run the exporter");
    assert_eq!(out.status.code(), Some(1), "exit status");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().collect::<Vec<_>>(), quoted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_section_quotes_a_real_first_poll_against_a_refused_token() {
    let quoted: Vec<String> = quoted_after("## Logs").iter().map(|l| steady(l)).collect();
    assert!(quoted.len() >= 3, "{quoted:?}");
    let upstream = MockServer::start().await;
    any_report()
        .respond_with(ResponseTemplate::new(401))
        .mount(&upstream)
        .await;
    let exporter = Exporter::new()
        .args([
            format!("--evolux.url={}", upstream.uri()),
            format!("--campaign={CAMPAIGN_A}"),
        ])
        .env("EVOLUX_TOKEN", "x")
        .spawn()
        .await;
    wait_for("the first poll's log line", Duration::from_secs(30), || {
        std::future::ready(exporter.logs().contains("msg=\"poll finished\""))
    })
    .await;
    let logs = exporter.logs();
    let real: Vec<String> = logs.lines().take(quoted.len()).map(steady).collect();
    assert_eq!(real, quoted, "the whole log:\n{logs}");
}
