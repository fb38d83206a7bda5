//! End to end with a real Prometheus: the exporter binary runs in demo mode, a
//! Prometheus on loopback scrapes it every second with `deploy/prometheus/evolux-rules.yml`
//! loaded, and the test shows that
//!
//! 1. the target is up;
//! 2. every rule of the rules file is loaded, has been evaluated, and has health `ok`;
//! 3. every PromQL expression of every dashboard panel and query variable (Grafana
//!    variables substituted, see `support/dashboard_queries.rs`) is accepted by Prometheus, as an
//!    instant query and as a range query;
//! 4. every one of them returns data, except the panels listed in [`MAY_BE_EMPTY`].
//!
//! The same again with the mixin rendered for another selector (`mixin/render.sh
//! --selector`): Prometheus scrapes the exporter as job `evolux-custom` with a target
//! label `namespace="mon"`, and loads the rules and runs the dashboards rendered for
//! `namespace="mon",job="evolux-custom"`.
//!
//! Skipped without `prometheus` on PATH (or `$PROMETHEUS`), unless `CI=true`. On failure
//! the logs of Prometheus and of the exporter are printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::dashboard_queries::{dashboards_dir, promql_expressions_for_job};
use crate::prometheus::{Prometheus, eventually};
use crate::support::exporter::{Exporter, Running};
use crate::tools::require_tool;

/// How long each wait may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(60);
/// How often a wait polls Prometheus.
const POLL: Duration = Duration::from_millis(250);
/// The scrape and rule evaluation interval given to Prometheus.
const INTERVAL: &str = "1s";
/// The range of the range queries (ending now) and their step.
const RANGE: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(1);

/// Panels allowed to return no data in a freshly started demo, by (dashboard uid, panel
/// title); every other panel and variable query must return at least one sample.
///
/// Keep this list minimal, and say for each entry why "no data" is the right answer.
/// Everything else has data within seconds in the demo: every (campaign, template) has
/// all six states (zeros included), the windowed rules count from the first sample
/// Prometheus has, the demo's campaigns keep dispatching (so "processed in the last
/// hour" grows within seconds) with a few percent of errors (so "errors in the last
/// hour" does too), and the demo answers about 2% of the requests with 503 (so the API
/// error ratio exists).
/// The demo's faults (2 % of requests answer 503) are cured by retries, so
/// no read fails and the failures panel has nothing to show.
const MAY_BE_EMPTY: &[(&str, &str)] = &[("evolux-exporter-health", "Failed reads by reason")];

/// Recorded series a freshly started Prometheus cannot have yet: each campaign's error
/// baseline sums the whole hours before the last hour (mixin/rules/baseline.libsonnet),
/// so it needs two hours of history. A dashboard query reading one of them may return
/// no data here; their rules are still loaded, evaluated and healthy (step 2), the
/// queries accepted (step 3), every other query of their panels must return data, and
/// `deploy/prometheus/evolux-rising.test.yml` checks their values over day-long
/// histories.
const NEEDS_HISTORY: &[&str] = &[
    "campaign:evolux_subscribers_error:ratio_baseline",
    "campaign:evolux_subscribers_error:ratio_rise_threshold",
];

/// The view panels and variables, by (dashboard uid, panel title or "variable <name>"):
/// each must be among the queries that return data (the demo runs views `pj` and `pf`).
const VIEW_QUERIES: &[(&str, &str)] = &[
    ("evolux-overview", "Subscribers by state per view"),
    ("evolux-overview", "variable view"),
    ("evolux-exporter-health", "Poll success by view"),
    ("evolux-exporter-health", "Staleness by view"),
    ("evolux-exporter-health", "Segments by view"),
    ("evolux-exporter-health", "variable view"),
];

/// `expr` reads a series of [`NEEDS_HISTORY`].
fn needs_history(expr: &str) -> bool {
    NEEDS_HISTORY.iter().any(|name| expr.contains(name))
}

/// What Prometheus scrapes the exporter as, and the rules and dashboards it is given.
struct Setup {
    /// The scrape job's name, and `$job` in the dashboards' queries.
    job: &'static str,
    /// Target labels the scrape configuration adds (`static_configs[].labels`).
    labels: Value,
    rules: PathBuf,
    dashboards: PathBuf,
}

/// `(group, rule name)` of every rule in the rules file, in order.
fn rules_in_file(path: &Path) -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    let mut out = Vec::new();
    for group in yaml["groups"].as_sequence().expect("groups") {
        let group_name = group["name"].as_str().expect("group name");
        for rule in group["rules"].as_sequence().expect("rules") {
            let name = rule["record"]
                .as_str()
                .or_else(|| rule["alert"].as_str())
                .expect("a rule has `record` or `alert`");
            out.push((group_name.to_string(), name.to_string()));
        }
    }
    out
}

/// The prometheus.yml: everything every [`INTERVAL`], the setup's job on the
/// exporter, the setup's rules.
fn prometheus_config(exporter: &Running, setup: &Setup) -> Value {
    json!({
        "global": {
            "scrape_interval": INTERVAL,
            "scrape_timeout": INTERVAL,
            "evaluation_interval": INTERVAL,
        },
        "rule_files": [setup.rules.display().to_string()],
        "scrape_configs": [{
            "job_name": setup.job,
            "static_configs": [{
                "targets": [exporter.addr.to_string()],
                "labels": setup.labels.clone(),
            }],
        }],
    })
}

/// `Ok` once the target of job `job` is up.
async fn evolux_target_up(
    prometheus: &Prometheus,
    exporter: &Running,
    job: &str,
) -> Result<(), String> {
    let data = prometheus.api("targets", &[("state", "active")]).await?;
    let targets = data["activeTargets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ours: Vec<&Value> = targets
        .iter()
        .filter(|t| t["labels"]["job"] == job)
        .collect();
    match ours.as_slice() {
        [target] if target["health"] == "up" => {
            let url = target["scrapeUrl"].as_str().unwrap_or("");
            assert_eq!(url, format!("http://{}/metrics", exporter.addr));
            Ok(())
        }
        [target] => Err(format!(
            "target health {} (last error {})",
            target["health"], target["lastError"]
        )),
        _ => Err(format!("{} targets in job {job}: {targets:?}", ours.len())),
    }
}

/// `Ok` with the loaded rules (`(group, name)` -> the rule's JSON) once every rule has
/// been evaluated at least once.
async fn rules_evaluated(
    prometheus: &Prometheus,
) -> Result<Vec<((String, String), Value)>, String> {
    let data = prometheus.api("rules", &[]).await?;
    let mut out = Vec::new();
    let mut not_yet = Vec::new();
    for group in data["groups"].as_array().into_iter().flatten() {
        let group_name = group["name"].as_str().unwrap_or("?").to_string();
        for rule in group["rules"].as_array().into_iter().flatten() {
            let name = rule["name"].as_str().unwrap_or("?").to_string();
            let last = rule["lastEvaluation"].as_str().unwrap_or("");
            if last.is_empty() || last.starts_with("0001-01-01") {
                not_yet.push(name.clone());
            }
            out.push(((group_name.clone(), name), rule.clone()));
        }
    }
    if out.is_empty() {
        return Err("no rule loaded".into());
    }
    if !not_yet.is_empty() {
        return Err(format!("not evaluated yet: {not_yet:?}"));
    }
    Ok(out)
}

/// `(dashboard uid, panel title)` is in [`MAY_BE_EMPTY`].
fn may_be_empty(uid: &str, panel: &str) -> bool {
    MAY_BE_EMPTY.iter().any(|(u, p)| *u == uid && *p == panel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_demo_and_runs_every_dashboard_query_and_rule() {
    let setup = Setup {
        job: "evolux",
        labels: json!({}),
        rules: Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/evolux-rules.yml"),
        dashboards: dashboards_dir(),
    };
    scrape_the_demo_and_run_every_query_and_rule(&setup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mixin_rendered_for_another_job_runs_every_query_and_rule() {
    let Some(rendered) = crate::mixin::render(Some(r#"namespace="mon",job="evolux-custom""#))
    else {
        return;
    };
    let setup = Setup {
        job: "evolux-custom",
        labels: json!({ "namespace": "mon" }),
        rules: rendered.rules(),
        dashboards: rendered.dashboards(),
    };
    scrape_the_demo_and_run_every_query_and_rule(&setup).await;
}

async fn scrape_the_demo_and_run_every_query_and_rule(setup: &Setup) {
    let Some(prometheus_bin) = require_tool("prometheus") else {
        return;
    };
    let job = setup.job;
    let started = Instant::now();
    let elapsed = || format!("{:.1}s", started.elapsed().as_secs_f64());

    // Declared first so it is removed last: the guards below kill the processes (and
    // print their logs if the test failed) before their files go.
    let dir = tempfile::tempdir().expect("temporary directory");
    let exporter = Exporter::new()
        .args(["--demo", "--poll.interval=1s", "--log.level=info"])
        .start()
        .await;
    println!("[{}] exporter ready on {}", elapsed(), exporter.addr);
    let prometheus = Prometheus::start(
        &prometheus_bin,
        &prometheus_config(&exporter, setup),
        dir.path(),
    )
    .await;
    println!("[{}] prometheus ready on {}", elapsed(), prometheus.addr);

    // 1. The target is up.
    eventually(
        &format!("the target of job {job} to be up"),
        DEADLINE,
        POLL,
        || evolux_target_up(&prometheus, &exporter, job),
    )
    .await;
    println!("[{}] target up", elapsed());

    // Enough history for the dashboards: the campaign metrics, two scrapes of the
    // counters (so rate() and increase() have a value), and the recording rules the
    // "last hour" panels read.
    for expr in [
        "evolux_campaign_subscribers",
        "evolux_view_subscribers",
        "increase(evolux_api_requests_total[1m])",
        "campaign_template:evolux_subscribers_error:delta1h",
        "campaign_template:evolux_subscribers_processed:delta1h",
    ] {
        eventually(&format!("`{expr}` to return data"), DEADLINE, POLL, || {
            prometheus.query_nonempty(expr)
        })
        .await;
    }
    println!("[{}] metrics and recording rules have data", elapsed());

    // 2. Every rule of the file is loaded, evaluated, and healthy.
    let loaded = eventually("every rule to be evaluated once", DEADLINE, POLL, || {
        rules_evaluated(&prometheus)
    })
    .await;
    // Prometheus lists the groups in its own order: compare sorted lists.
    let mut expected = rules_in_file(&setup.rules);
    expected.sort();
    let mut loaded_names: Vec<(String, String)> =
        loaded.iter().map(|(key, _)| key.clone()).collect();
    loaded_names.sort();
    assert_eq!(
        loaded_names,
        expected,
        "the rules Prometheus loaded (left) differ from those of {} (right)",
        setup.rules.display()
    );
    let unhealthy: Vec<String> = loaded
        .iter()
        .filter(|(_, rule)| rule["health"] != "ok")
        .map(|((group, name), rule)| {
            format!(
                "{group}/{name}: health {} lastError {}",
                rule["health"], rule["lastError"]
            )
        })
        .collect();
    assert!(
        unhealthy.is_empty(),
        "rules not healthy:\n{}",
        unhealthy.join("\n")
    );
    let alert_states: BTreeMap<String, String> = loaded
        .iter()
        .filter(|(_, rule)| rule["type"] == "alerting")
        .map(|((_, name), rule)| {
            (
                name.clone(),
                rule["state"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    println!(
        "[{}] {} rules loaded, evaluated, health ok; alert states: {alert_states:?}",
        elapsed(),
        loaded.len()
    );

    // 3. Every dashboard expression is accepted, as an instant and as a range query.
    let expressions = promql_expressions_for_job(&setup.dashboards, job);
    assert!(
        !expressions.is_empty(),
        "no PromQL found in {}",
        setup.dashboards.display()
    );
    let mut rejected = Vec::new();
    for (uid, panel, expr) in &expressions {
        if let Err(e) = prometheus.query(expr).await {
            rejected.push(format!("{uid} / {panel} (instant query): {e}\n    {expr}"));
        }
        if let Err(e) = prometheus.query_range(expr, RANGE, STEP).await {
            rejected.push(format!("{uid} / {panel} (range query): {e}\n    {expr}"));
        }
    }
    assert!(
        rejected.is_empty(),
        "{} of {} dashboard queries were rejected by Prometheus:\n{}",
        rejected.len(),
        2 * expressions.len(),
        rejected.join("\n")
    );
    println!(
        "[{}] all {} dashboard expressions accepted (instant and range)",
        elapsed(),
        expressions.len()
    );

    // 4. Every panel that should have data has data. The demo moves on while we wait,
    // so a query is asked again until it answers, up to DEADLINE.
    for (uid, panel) in MAY_BE_EMPTY {
        assert!(
            expressions.iter().any(|(u, p, _)| u == uid && p == panel),
            "MAY_BE_EMPTY names {uid} / {panel}, which is not a dashboard panel"
        );
    }
    for name in NEEDS_HISTORY {
        assert!(
            expressions.iter().any(|(_, _, expr)| expr.contains(name)),
            "NEEDS_HISTORY names {name}, which no dashboard query reads"
        );
    }
    for (uid, panel, _) in expressions.iter().filter(|(_, _, e)| needs_history(e)) {
        assert!(
            expressions
                .iter()
                .any(|(u, p, e)| u == uid && p == panel && !needs_history(e)),
            "{uid} / {panel}: every query needs history, so none is checked for data"
        );
    }
    // The views (issue 19): the demo runs views pj and pf, so their panels and the
    // view variable are among those that must have data, not exempted.
    for (uid, panel) in VIEW_QUERIES {
        let theirs: Vec<&(String, String, String)> = expressions
            .iter()
            .filter(|(u, p, _)| u == uid && p == panel)
            .collect();
        assert!(!theirs.is_empty(), "no dashboard query {uid} / {panel}");
        assert!(
            !may_be_empty(uid, panel)
                && theirs
                    .iter()
                    .any(|(_, _, e)| e.contains("view") && !needs_history(e)),
            "{uid} / {panel} must be checked for data"
        );
    }
    let must_have_data: Vec<&(String, String, String)> = expressions
        .iter()
        .filter(|(uid, panel, expr)| !may_be_empty(uid, panel) && !needs_history(expr))
        .collect();
    let allowed_empty = expressions.len() - must_have_data.len();
    let mut waiting = must_have_data;
    let wait_start = Instant::now();
    let mut first_pass = true;
    loop {
        let mut still = Vec::new();
        for item in waiting {
            if prometheus
                .query(&item.2)
                .await
                .map_or(true, |r| r.is_empty())
            {
                still.push(item);
            }
        }
        if first_pass {
            first_pass = false;
            for (uid, panel, _) in &still {
                println!("[{}] no data yet: {uid} / {panel}", elapsed());
            }
        }
        waiting = still;
        if waiting.is_empty() || wait_start.elapsed() > DEADLINE {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let empty: Vec<String> = waiting
        .iter()
        .map(|(uid, panel, expr)| format!("{uid} / {panel}:\n    {expr}"))
        .collect();
    assert!(
        empty.is_empty(),
        "{} dashboard queries returned no data after {DEADLINE:?} (add a panel to \
         MAY_BE_EMPTY only if no data is the right answer in a fresh demo):\n{}",
        empty.len(),
        empty.join("\n")
    );
    println!(
        "[{}] every dashboard query returns data ({} allowed to be empty)",
        elapsed(),
        allowed_empty
    );
}
