//! The real binary, run as a child process with debug logging, against an
//! upstream whose records (and error pages) hold personal data and the
//! token, with a campaign and a view filtered by personal data: none of it
//! may reach `/metrics`, the status page, the logs or the command line.
//! SIGTERM ends it gracefully.

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::{MockServer, ResponseTemplate};

use wiremock::Request;

use crate::mock_api::{CAMPAIGN_B, data, report};
use crate::support::exporter::Exporter;
use crate::support::metrics::Metrics;
use crate::support::{CAMPAIGN_A, TEMPLATE_1};

const SECRET_TOKEN: &str = "evx-tok-Zq8Rw3Kd91PmX";
const PHONE: &str = "5511987654321";
const NAME: &str = "Maria Confidencial";
const CPF: &str = "123.456.789-09";
/// What must never show anywhere the exporter writes.
const SECRETS: [&str; 4] = [SECRET_TOKEN, PHONE, NAME, CPF];

/// Records served for campaign A.
const RECORDS: usize = 7;
/// A view of campaign A filtered by a CPF and a name.
const VIEW: &str = "by-cpf";

/// All the subscribers the view counted.
fn view_total(m: &Metrics) -> f64 {
    m.samples("evolux_view_subscribers")
        .filter(|(l, _)| l.iter().any(|(k, v)| k == "view" && v == VIEW))
        .map(|(_, v)| v)
        .sum()
}

fn subscriber(i: usize) -> Value {
    let states = ["pending", "sent", "completed", "error"];
    json!({
        "uuid": format!("0d3c2b1a-0000-4000-8000-{i:012}"),
        "name": NAME,
        "phone_number": PHONE,
        "state": states[i % states.len()],
        "template_uuid": TEMPLATE_1,
        "template_name": "Boas-vindas",
        "campaign_uuid": CAMPAIGN_A,
        "campaign_name": "Campanha Teste",
        "conversation_fields": {"CPF": CPF, "nome": NAME},
        "custom_fields": {"cpf": CPF, "telefone": PHONE}
    })
}

/// A 500 page that repeats personal data and the token, as a misconfigured
/// proxy might.
fn leaky_error_page() -> String {
    format!(
        "<html><body><h1>500 Internal Server Error</h1><pre>request from {NAME} ({PHONE}, CPF {CPF})\nAuthorization: Bearer {SECRET_TOKEN}</pre></body></html>"
    )
}

/// What one run of the binary left behind.
struct Run {
    metrics: Metrics,
    status_page: String,
    logs: String,
    cmdline: String,
    status: ExitStatus,
    shutdown_took: Duration,
    upstream: MockServer,
}

/// Runs the binary against a wiremock upstream until it has counted campaign
/// A (and, when `failing`, found campaign B failing), scrapes it, then sends
/// SIGTERM.
async fn run_binary(format: &str, failing: bool) -> Run {
    let upstream = MockServer::start().await;
    let recs: Vec<Value> = (0..RECORDS).map(subscriber).collect();
    report(CAMPAIGN_A)
        .respond_with(data(recs))
        .mount(&upstream)
        .await;
    report(CAMPAIGN_B)
        .respond_with(if failing {
            ResponseTemplate::new(500).set_body_raw(leaky_error_page(), "text/html")
        } else {
            data(json!([]))
        })
        .mount(&upstream)
        .await;

    // Personal data in the query too: filters the exporter must not log.
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("config.yaml");
    std::fs::write(
        &config_file,
        format!(
            "campaigns:\n  - uuid: {CAMPAIGN_A}\n    filters:\n      phone_number: \"{PHONE}\"\n      name: {NAME}\n      conversation_field_key: cpf\n      conversation_field_value: \"{CPF}\"\nviews:\n  - name: {VIEW}\n    campaigns: [{CAMPAIGN_A}]\n    filters:\n      name: {NAME}\n      conversation_field_key: cpf\n      conversation_field_value: \"{CPF}\"\n"
        ),
    )
    .unwrap();
    let mut exporter = Exporter::new()
        .env("EVOLUX_TOKEN", SECRET_TOKEN)
        .args([
            format!("--evolux.url={}", upstream.uri()),
            format!("--config.file={}", config_file.display()),
            format!("--campaign={CAMPAIGN_B}"),
            "--log.level=debug".into(),
            format!("--log.format={format}"),
            // One retry of the failing campaign, so that the debug line of
            // the retry is written too.
            "--evolux.max-retries=1".into(),
            "--evolux.timeout=5s".into(),
        ])
        .start()
        .await;
    // Read once the binary serves: right after spawn() the kernel may not
    // have set up the new program's arguments yet.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", exporter.pid))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .expect("read the child's /proc/<pid>/cmdline");
    let mut metrics = exporter.scrape().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while metrics.campaign_total(CAMPAIGN_A) != RECORDS as f64
        || view_total(&metrics) != RECORDS as f64
    {
        assert!(
            Instant::now() < deadline,
            "no scrape with the counts within 10 s:\n{}",
            metrics.0
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        metrics = exporter.scrape().await;
    }

    let status_page = reqwest::get(exporter.url("/"))
        .await
        .expect("the status page")
        .text()
        .await
        .expect("its body");
    let stopped = exporter.stop(Duration::from_secs(5)).await;
    Run {
        metrics,
        status_page,
        logs: stopped.logs,
        cmdline,
        status: stopped.status,
        shutdown_took: stopped.took,
        upstream,
    }
}

/// The requests `upstream` received for `campaign`'s report.
async fn requests_for(upstream: &MockServer, campaign: &str) -> Vec<Request> {
    upstream
        .received_requests()
        .await
        .expect("wiremock records requests")
        .into_iter()
        .filter(|r| {
            r.url
                .query_pairs()
                .any(|(k, v)| k == "campaigns[]" && v == campaign)
        })
        .collect()
}

/// Checks shared by every run.
async fn assert_private(run: &Run, what: &str) {
    assert!(
        run.status.success(),
        "{what}: graceful exit, got {:?}\n{}",
        run.status,
        run.logs
    );
    assert!(
        run.shutdown_took < Duration::from_secs(5),
        "{what}: shutdown took {:?}",
        run.shutdown_took
    );
    for secret in SECRETS {
        assert!(
            !run.metrics.0.contains(secret),
            "{what}: /metrics holds {secret:?}\n{}",
            run.metrics.0
        );
        assert!(
            !run.logs.contains(secret),
            "{what}: the logs hold {secret:?}\n{}",
            run.logs
        );
        assert!(
            !run.status_page.contains(secret),
            "{what}: the status page holds {secret:?}\n{}",
            run.status_page
        );
    }
    assert!(
        run.status_page.contains(CAMPAIGN_A),
        "{what}: a real status page"
    );
    assert!(!run.metrics.0.contains("Bearer"), "{what}");
    assert!(!run.logs.contains("Bearer"), "{what}: {}", run.logs);
    assert!(
        !run.cmdline.contains(SECRET_TOKEN),
        "{what}: the token shows in ps: {}",
        run.cmdline
    );
    assert!(run.cmdline.contains("--log.level=debug"), "{}", run.cmdline);
    // The counts were there, and the data really went through the exporter:
    // the records held the personal data and the query carried it as filters.
    assert_eq!(
        run.metrics
            .get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(1.0),
        "{what}"
    );
    let requests = requests_for(&run.upstream, CAMPAIGN_A).await;
    let to_a = requests.first().expect("a request for campaign A");
    let q: Vec<(String, String)> = to_a
        .url
        .query_pairs()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    for (k, v) in [
        ("phone_number", PHONE),
        ("name", NAME),
        ("conversation_field_value", CPF),
    ] {
        assert!(
            q.iter().any(|(qk, qv)| qk == k && qv == v),
            "{what}: the query carries {k}: {q:?}"
        );
    }
    assert_eq!(
        to_a.headers["authorization"],
        format!("Bearer {SECRET_TOKEN}").as_str()
    );
    // The view was read and counted, its query carrying the CPF and the
    // name (and not the campaign's phone number).
    assert_eq!(
        run.metrics.get("evolux_view_up", &[("view", VIEW)]),
        Some(1.0),
        "{what}"
    );
    assert_eq!(view_total(&run.metrics), RECORDS as f64, "{what}");
    let view_query = requests
        .iter()
        .find(|r| !r.url.query_pairs().any(|(k, _)| k == "phone_number"));
    let view_query = view_query.expect("a request for the view");
    for (k, v) in [("name", NAME), ("conversation_field_value", CPF)] {
        assert!(
            view_query
                .url
                .query_pairs()
                .any(|(qk, qv)| qk == k && qv == v),
            "{what}: the view's query carries {k}"
        );
    }
}

async fn assert_failing_b(run: &Run) {
    assert_eq!(
        run.metrics
            .get("evolux_campaign_up", &[("campaign", CAMPAIGN_B)]),
        Some(0.0),
        "{}",
        run.metrics.0
    );
    assert_eq!(run.metrics.get("evolux_up", &[]), Some(0.0));
    // Every request for B failed, and was tried twice (--evolux.max-retries=1).
    let to_b = requests_for(&run.upstream, CAMPAIGN_B).await.len();
    assert!(to_b >= 2 && to_b % 2 == 0, "{to_b} requests for B");
    assert_eq!(
        run.metrics
            .get("evolux_api_requests_total", &[("code", "500")]),
        Some(to_b as f64)
    );
}

fn logfmt_lines(logs: &str) -> Vec<&str> {
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    for l in &lines {
        assert!(l.starts_with("ts="), "not a logfmt line: {l}");
    }
    lines
}

fn json_lines(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn json_message(v: &Value) -> &str {
    v["message"]
        .as_str()
        .or_else(|| v["fields"]["message"].as_str())
        .unwrap_or("")
}

#[tokio::test]
async fn logfmt_run_leaks_nothing() {
    let run = run_binary("logfmt", false).await;
    assert_private(&run, "logfmt").await;
    let lines = logfmt_lines(&run.logs);
    assert!(
        lines.iter().any(|l| l.contains(r#"msg="poll finished""#)
            && l.contains("campaigns=2")
            && l.contains("failed=0")),
        "{}",
        run.logs
    );
    assert_eq!(run.metrics.get("evolux_up", &[]), Some(1.0));
}

#[tokio::test]
async fn logfmt_run_with_a_leaky_error_page_leaks_nothing() {
    let run = run_binary("logfmt", true).await;
    assert_private(&run, "logfmt, failing").await;
    assert_failing_b(&run).await;
    let lines = logfmt_lines(&run.logs);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(r#"msg="poll finished""#) && l.contains("failed=1")),
        "{}",
        run.logs
    );
    assert!(
        lines.iter().any(|l| l.contains("level=warn")
            && l.contains(&format!("campaign={CAMPAIGN_B}"))
            && l.contains("HTTP 500")),
        "a warning names the failing campaign\n{}",
        run.logs
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("level=debug") && l.contains("retrying")),
        "debug lines were written\n{}",
        run.logs
    );
}

#[tokio::test]
async fn json_run_leaks_nothing() {
    let run = run_binary("json", false).await;
    assert_private(&run, "json").await;
    let lines = json_lines(&run.logs);
    assert!(
        lines
            .iter()
            .any(|v| json_message(v) == "poll finished" && v["failed"] == json!(0)),
        "{}",
        run.logs
    );
    assert_eq!(run.metrics.get("evolux_up", &[]), Some(1.0));
}

#[tokio::test]
async fn json_run_with_a_leaky_error_page_leaks_nothing() {
    let run = run_binary("json", true).await;
    assert_private(&run, "json, failing").await;
    assert_failing_b(&run).await;
    let lines = json_lines(&run.logs);
    assert!(
        lines
            .iter()
            .any(|v| json_message(v) == "poll finished" && v["failed"] == json!(1)),
        "{}",
        run.logs
    );
    assert!(
        lines.iter().any(|v| v["level"] == "WARN"
            && v["campaign"] == CAMPAIGN_B
            && v["error"].as_str().is_some_and(|e| e.contains("HTTP 500"))),
        "a warning names the failing campaign\n{}",
        run.logs
    );
    assert!(
        lines
            .iter()
            .any(|v| v["level"] == "DEBUG" && json_message(v).contains("retrying")),
        "debug lines were written\n{}",
        run.logs
    );
}
