//! The output the README and docs/ quote is the binary's real output: the
//! configuration-error example (docs/configuration.md) and the Logs section
//! (docs/operations.md), run as they say.

use std::time::Duration;

use wiremock::{MockServer, ResponseTemplate};

use crate::mock_api::any_report;
use crate::support::exporter::Exporter;
use crate::support::{CAMPAIGN_A, wait_for};

/// The README and every docs/ file that may quote the binary's output.
const DOCS: [(&str, &str); 9] = [
    ("README.md", include_str!("../../README.md")),
    (
        "docs/configuration.md",
        include_str!("../../docs/configuration.md"),
    ),
    ("docs/metrics.md", include_str!("../../docs/metrics.md")),
    ("docs/segments.md", include_str!("../../docs/segments.md")),
    (
        "docs/operations.md",
        include_str!("../../docs/operations.md"),
    ),
    ("docs/security.md", include_str!("../../docs/security.md")),
    (
        "docs/performance.md",
        include_str!("../../docs/performance.md"),
    ),
    (
        "docs/kubernetes.md",
        include_str!("../../docs/kubernetes.md"),
    ),
    (
        "docs/development.md",
        include_str!("../../docs/development.md"),
    ),
];

/// The lines of the first ```` ```text ```` block after `marker` in the one
/// document that holds `marker`, and that document's name.
fn quoted_after(marker: &str) -> (&'static str, Vec<&'static str>) {
    let mut found = DOCS
        .iter()
        .filter_map(|&(name, text)| Some((name, text.split_once(marker)?.1)));
    let (name, rest) = found
        .next()
        .unwrap_or_else(|| panic!("no document has {marker:?}"));
    let others: Vec<_> = found.map(|(n, _)| n).collect();
    assert!(others.is_empty(), "{marker:?} in {name} and {others:?}");
    let (_, block) = rest
        .split_once("```text\n")
        .unwrap_or_else(|| panic!("{name}: no text block after {marker:?}"));
    let (block, _) = block.split_once("```").expect("the block ends");
    (name, block.lines().collect())
}

#[test]
fn every_docs_file_is_searched_for_quotes() {
    // docs/evolux-api.md describes the server's API and quotes none of the
    // binary's output; every other docs/*.md must be in DOCS.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/docs");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .expect("read docs/")
        .map(|e| {
            e.expect("a docs/ entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".md") && n != "evolux-api.md")
        .map(|n| format!("docs/{n}"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = DOCS
        .iter()
        .map(|(n, _)| n.to_string())
        .filter(|n| n.starts_with("docs/"))
        .collect();
    listed.sort();
    assert_eq!(listed, on_disk);
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
    let (doc, quoted) = quoted_after("(under `poll:`) gives");
    assert_eq!(doc, "docs/configuration.md");
    assert_eq!(quoted.len(), 1, "{quoted:?}");
    let dir = tempfile::tempdir().unwrap();
    // Line 4 reads `  intervall: 60s`, under `poll:`, as the document says.
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
    let (doc, quoted) = quoted_after("\n## Logs\n");
    assert_eq!(doc, "docs/operations.md");
    let quoted: Vec<String> = quoted.iter().map(|l| steady(l)).collect();
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
