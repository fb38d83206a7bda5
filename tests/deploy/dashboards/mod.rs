//! Conventions of the Grafana dashboards in `dashboards/`.
//!
//! Every dashboard: a `datasource` variable used by every panel, target and query
//! variable as `${datasource}` (no `__inputs`, no `${DS_PROMETHEUS}`); `job` and
//! `instance` variables matched by every `evolux_*`/`up` selector; `$__rate_interval` in
//! every `rate`/`increase`; a description and a unit on every panel; a fixed, unique uid;
//! tags; `"id": null`; a recent schemaVersion. Recorded series used by a dashboard must
//! be defined in `deploy/prometheus/evolux-rules.yml`.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::Path;

use crate::dashboard_queries::{
    all_panels, dashboards_dir, load_dashboards_from, promql_expressions,
    promql_expressions_for_job, substitute_variables, uid, variable_query,
    variable_query_to_promql, variables,
};
use serde_json::{Value, json};

pub mod promql;
use promql::*;

/// The job name and selector the mixin is rendered for by the tests that check the
/// dashboards of another job.
const CUSTOM_JOB: &str = "evolux-custom";
const CUSTOM_SELECTOR: &str = r#"job="evolux-custom""#;

const EXPECTED_FILES: &[&str] = &[
    "evolux-campaign-detail.json",
    "evolux-campaigns-overview.json",
    "evolux-exporter-health.json",
];
const PANEL_TYPES: &[&str] = &["timeseries", "stat", "bargauge", "table", "gauge"];
const JOB_MATCHER: &str = r#"job=~"$job""#;
const INSTANCE_MATCHER: &str = r#"instance=~"$instance""#;

fn datasource_ref() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

// ------------------------------------------------------------------------------------
// The checker checks itself.

#[test]
fn scanner_finds_selectors_and_their_matchers() {
    let expr = r#"sum by (campaign) (evolux_campaign_subscribers{job=~"$job", instance=~"$instance", state="a,b}"})
        / on (campaign) group_left (campaign_name) evolux_campaign_info
        + label_replace(up{job=~"$job"}, "x", "$1", "y", "evolux_fake(.*)")
        + rate(evolux_api_requests_total{job=~"$job", instance=~"$instance"}[5m] offset 1h)"#;
    let found = selectors(expr);
    let names: Vec<&str> = found.iter().map(|s| s.metric.as_str()).collect();
    assert_eq!(
        names,
        [
            "evolux_campaign_subscribers",
            "evolux_campaign_info",
            "up",
            "evolux_api_requests_total"
        ]
    );
    assert_eq!(
        found[0].matchers.as_deref().unwrap(),
        [JOB_MATCHER, INSTANCE_MATCHER, r#"state="a,b}""#]
    );
    assert_eq!(found[1].matchers, None);
    assert_eq!(
        selectors_missing_job_matchers(expr),
        ["evolux_campaign_info{}", r#"up{job=~"$job"}"#]
    );
    assert_eq!(
        rates_without_rate_interval(expr),
        [r#"rate(evolux_api_requests_total{job=~"$job", instance=~"$instance"}[5m] offset 1h)"#]
    );
    assert!(rates_without_rate_interval("irate(x[5m]) + increase(y[$__rate_interval])").is_empty());
    assert_eq!(
        recorded_series("campaign:evolux_subscribers_error:delta1h{a=\"b\"} / on (c) d"),
        BTreeSet::from(["campaign:evolux_subscribers_error:delta1h".to_string()])
    );
}

#[test]
fn variables_are_substituted_for_test_queries() {
    assert_eq!(
        substitute_variables(
            r#"rate(x{job=~"$job", instance=~"${instance}", c=~"[[campaign]]"}[$__rate_interval]) + label_replace(y, "a", "$1", "b", "(.+)") + $__range_s + $unknown"#
        ),
        r#"rate(x{job=~"evolux", instance=~".*", c=~".*"}[1m]) + label_replace(y, "a", "$1", "b", "(.+)") + 3600 + $unknown"#
    );
    assert_eq!(
        variable_query_to_promql(r#"label_values(evolux_up{job=~"$job"}, instance)"#).as_deref(),
        Some(r#"evolux_up{job=~"$job"}"#)
    );
    assert_eq!(
        variable_query_to_promql("label_values(job)").as_deref(),
        Some(r#"{job!=""}"#)
    );
    assert_eq!(variable_query_to_promql("label_names()"), None);
}

// ------------------------------------------------------------------------------------
// The dashboards.

#[test]
fn the_three_dashboards_exist() {
    three_dashboards_in(&dashboards_dir());
}

fn three_dashboards_in(dir: &Path) {
    let files: BTreeSet<String> = load_dashboards_from(dir)
        .iter()
        .map(|(path, _)| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in EXPECTED_FILES {
        assert!(
            files.contains(*expected),
            "dashboards/{expected} is missing"
        );
    }
}

#[test]
fn dashboards_follow_the_conventions() {
    let problems = convention_problems(&dashboards_dir(), &rules_file());
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

/// The same checks, and the same PromQL listing, on the dashboards the mixin renders
/// for another job (with the rules rendered for it).
#[test]
fn dashboards_rendered_for_another_job_follow_the_conventions() {
    let Some(r) = crate::mixin::render(Some(CUSTOM_SELECTOR)) else {
        return;
    };
    three_dashboards_in(&r.dashboards());
    let problems = convention_problems(&r.dashboards(), &r.rules());
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
    expressions_listed_with_variables_substituted(&r.dashboards(), CUSTOM_JOB);
}

/// What is wrong with the dashboards in `dir`, whose recorded series must be
/// recording rules of `rules`.
fn convention_problems(dir: &Path, rules: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut uids: HashMap<String, String> = HashMap::new();
    let recorded = recording_rules_in(rules);

    for (path, dashboard) in load_dashboards_from(dir) {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut problem = |what: String| problems.push(format!("{file}: {what}"));
        let text = fs::read_to_string(&path).unwrap();

        // Identity and metadata
        if text.contains("__inputs") || text.contains("DS_PROMETHEUS") {
            problem("uses __inputs or ${DS_PROMETHEUS}; use the datasource variable".into());
        }
        if !dashboard["id"].is_null() {
            problem(format!("id is {}, expected null", dashboard["id"]));
        }
        let uid = uid(&dashboard).to_string();
        if uid.is_empty() {
            problem("no uid".into());
        } else if let Some(other) = uids.insert(uid.clone(), file.clone()) {
            problem(format!("uid {uid} also used by {other}"));
        }
        if dashboard["title"].as_str().is_none_or(str::is_empty) {
            problem("no title".into());
        }
        let tags = dashboard["tags"].as_array().cloned().unwrap_or_default();
        if !tags.contains(&json!("evolux")) {
            problem(format!("tags {tags:?} do not include \"evolux\""));
        }
        if dashboard["schemaVersion"].as_u64().is_none_or(|v| v < 36) {
            problem(format!("schemaVersion {} < 36", dashboard["schemaVersion"]));
        }

        // Variables
        let vars = variables(&dashboard);
        let by_name = |name: &str| vars.iter().find(|v| v["name"] == name).copied();
        match by_name("datasource") {
            Some(v) if v["type"] == "datasource" && v["query"] == "prometheus" => {}
            _ => problem("no `datasource` variable of type datasource, query prometheus".into()),
        }
        for name in ["job", "instance"] {
            match by_name(name) {
                Some(v) if v["type"] == "query" => {}
                _ => problem(format!("no `{name}` query variable")),
            }
        }
        for v in &vars {
            if v["type"] != "query" {
                continue;
            }
            let name = v["name"].as_str().unwrap_or("?");
            if v["datasource"] != datasource_ref() {
                problem(format!(
                    "variable {name}: datasource {} is not ${{datasource}}",
                    v["datasource"]
                ));
            }
            match variable_query(v) {
                Some(q) if variable_query_to_promql(q).is_some() => {}
                other => problem(format!("variable {name}: unsupported query {other:?}")),
            }
        }

        // Panels
        let panels = all_panels(&dashboard);
        if panels.is_empty() {
            problem("no panels".into());
        }
        let mut ids = BTreeSet::new();
        let mut areas: Vec<(String, [i64; 4])> = Vec::new();
        for panel in panels {
            let title = panel["title"].as_str().unwrap_or("").to_string();
            let mut problem =
                |what: String| problems.push(format!("{file}: panel {title:?}: {what}"));
            let kind = panel["type"].as_str().unwrap_or("");
            if kind == "row" {
                continue;
            }
            if !PANEL_TYPES.contains(&kind) {
                problem(format!("type {kind:?} is not one of {PANEL_TYPES:?}"));
            }
            if title.is_empty() {
                problem("no title".into());
            }
            if !ids.insert(panel["id"].to_string()) {
                problem(format!("duplicate id {}", panel["id"]));
            }
            let grid = &panel["gridPos"];
            let pos: Vec<i64> = ["x", "y", "w", "h"]
                .iter()
                .filter_map(|k| grid[*k].as_i64())
                .collect();
            if let [x, y, w, h] = pos[..] {
                if w <= 0 || h <= 0 || x < 0 || y < 0 || x + w > 24 {
                    problem(format!("bad gridPos {grid}"));
                }
                for (other, [ox, oy, ow, oh]) in &areas {
                    if x < ox + ow && *ox < x + w && y < oy + oh && *oy < y + h {
                        problem(format!("gridPos overlaps panel {other:?}"));
                    }
                }
                areas.push((title.clone(), [x, y, w, h]));
            } else {
                problem(format!("gridPos {grid} needs x, y, w, h"));
            }
            if panel["description"]
                .as_str()
                .is_none_or(|d| d.trim().is_empty())
            {
                problem("no description".into());
            }
            if panel["fieldConfig"]["defaults"]["unit"]
                .as_str()
                .is_none_or(str::is_empty)
            {
                problem("no fieldConfig.defaults.unit".into());
            }
            if panel["datasource"] != datasource_ref() {
                problem(format!(
                    "datasource {} is not ${{datasource}}",
                    panel["datasource"]
                ));
            }
            let targets = panel["targets"].as_array().cloned().unwrap_or_default();
            if targets.is_empty() {
                problem("no targets".into());
            }
            for target in &targets {
                let reference = target["refId"].as_str().unwrap_or("?");
                if !target["datasource"].is_null() && target["datasource"] != datasource_ref() {
                    problem(format!(
                        "target {reference}: datasource is not ${{datasource}}"
                    ));
                }
                let Some(expr) = target["expr"].as_str().filter(|e| !e.trim().is_empty()) else {
                    problem(format!("target {reference}: no expr"));
                    continue;
                };
                for selector in selectors_missing_job_matchers(expr) {
                    problem(format!(
                        "target {reference}: selector {selector} lacks {JOB_MATCHER} and {INSTANCE_MATCHER}"
                    ));
                }
                for call in rates_without_rate_interval(expr) {
                    problem(format!(
                        "target {reference}: {call} does not use $__rate_interval"
                    ));
                }
                for series in recorded_series(expr) {
                    if !recorded.contains(&series) {
                        problem(format!(
                            "target {reference}: {series} is not a recording rule of evolux-rules.yml"
                        ));
                    }
                }
            }
        }
    }
    problems
}

#[test]
fn every_promql_expression_is_listed_with_variables_substituted() {
    assert_eq!(
        promql_expressions(),
        promql_expressions_for_job(&dashboards_dir(), "evolux")
    );
    expressions_listed_with_variables_substituted(&dashboards_dir(), "evolux");
}

fn expressions_listed_with_variables_substituted(dir: &Path, job: &str) {
    let exprs = promql_expressions_for_job(dir, job);
    let uids: BTreeSet<&str> = exprs.iter().map(|(uid, _, _)| uid.as_str()).collect();
    assert_eq!(
        uids,
        BTreeSet::from([
            "evolux-campaign-detail",
            "evolux-exporter-health",
            "evolux-overview"
        ])
    );
    let mut problems = Vec::new();
    for (uid, title, expr) in &exprs {
        // only `$1`-style label_replace references may remain
        let leftover = expr
            .match_indices('$')
            .map(|(i, _)| &expr[i..])
            .find(|rest| !rest[1..].starts_with(|c: char| c.is_ascii_digit()));
        if let Some(rest) = leftover {
            problems.push(format!(
                "{uid} / {title}: unsubstituted variable at {:.20}",
                rest
            ));
        }
        if expr.contains("[[") || expr.contains("${") {
            problems.push(format!("{uid} / {title}: unsubstituted variable in {expr}"));
        }
        let balance = |open: char, close: char| {
            expr.chars().filter(|c| *c == open).count()
                == expr.chars().filter(|c| *c == close).count()
        };
        if !(balance('(', ')') && balance('{', '}') && balance('[', ']')) {
            problems.push(format!("{uid} / {title}: unbalanced brackets in {expr}"));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
    for name in [
        "variable job",
        "variable instance",
        "variable campaign",
        "variable view",
    ] {
        assert!(
            exprs
                .iter()
                .any(|(uid, title, _)| uid == "evolux-overview" && title == name),
            "{name} of evolux-overview not listed"
        );
    }
    let (_, _, rate_expr) = exprs
        .iter()
        .find(|(_, title, _)| title == "API requests by status code")
        .expect("panel API requests by status code");
    assert!(
        rate_expr.contains(&format!(r#"job=~"{job}", instance=~".*""#))
            && rate_expr.contains("[1m]"),
        "{rate_expr}"
    );
}
