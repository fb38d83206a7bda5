//! `promtool check metrics` on a real scrape of the exporter.

use serde_json::json;
use wiremock::MockServer;

use crate::mock_api::{CAMPAIGN_B, any_report, data, records};
use crate::support::exporter::Exporter;
use crate::support::{CAMPAIGN_A, TEMPLATE_1, TEMPLATE_2};
use crate::tools::require_tool;

#[tokio::test]
async fn a_real_scrape_passes_promtool_check_metrics() {
    let Some(promtool) = require_tool("promtool") else {
        return;
    };
    let upstream = MockServer::start().await;
    let mut recs = records(CAMPAIGN_A, TEMPLATE_1, 50).0;
    recs.push(json!({"state": "custom_state", "template": {"uuid": TEMPLATE_2, "name": "Name with \"quotes\" and \\ backslash"}}));
    recs.push(json!({"state": "sent"}));
    any_report().respond_with(data(recs)).mount(&upstream).await;
    let mut exporter = Exporter::new()
        .env("EVOLUX_TOKEN", "dummy-token")
        .args([
            format!("--evolux.url={}", upstream.uri()),
            format!("--campaign={CAMPAIGN_A}"),
            format!("--campaign={CAMPAIGN_B}"),
        ])
        .start()
        .await;
    let scrape = exporter.scrape().await.0;
    assert!(scrape.contains("evolux_campaign_subscribers{"), "{scrape}");

    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run promtool");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = crate::tools::output_text(&out);
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{report}\n--- scrape ---\n{scrape}"
    );
    assert!(
        report.trim().is_empty(),
        "promtool has remarks (lint):\n{report}"
    );
}
