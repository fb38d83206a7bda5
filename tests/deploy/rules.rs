//! The Prometheus rules in `deploy/prometheus/`: `promtool check rules` and
//! `promtool test rules` must pass (skipped without promtool, unless `CI=true`), and
//! every alert must be documented in RUNBOOK.md and covered by the unit tests.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tools::require_tool;
use serde_yaml::Value;

const RULES: &str = "evolux-rules.yml";
const RULE_TESTS: &str = "evolux-rules.test.yml";
/// The day-long unit tests of the error alerts against each campaign's baseline.
const BASELINE_TESTS: &[&str] = &["evolux-rising.test.yml", "evolux-bursts.test.yml"];
/// The error alerts each case of [`BASELINE_TESTS`] asserts at every time it checks.
const ERROR_ALERTS: &[&str] = &[
    "EvoluxCampaignErrorRising",
    "EvoluxCampaignErrorBurst",
    "EvoluxCampaignErrorRatioHigh",
];
/// The unit tests of the campaign-progress recording rules.
const PROGRESS_TESTS: &str = "evolux-progress.test.yml";
/// The campaign-progress recording rules, each unit tested in [`PROGRESS_TESTS`].
const PROGRESS_RULES: &[&str] = &[
    "campaign:evolux_subscribers_processed:rate1h",
    "campaign:evolux_subscribers_backlog_drain:seconds",
    "campaign:evolux_subscribers_processed:ratio",
];
const RUNBOOK: &str = "RUNBOOK.md";
const RUNBOOK_URL: &str =
    "https://github.com/evolux/evolux-exporter/blob/main/deploy/prometheus/RUNBOOK.md#";
const SEVERITIES: &[&str] = &["critical", "warning", "info"];

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus")
}

fn read(name: &str) -> String {
    let path = rules_dir().join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn yaml(name: &str) -> Value {
    serde_yaml::from_str(&read(name)).unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"))
}

fn rules(kind: &str) -> Vec<Value> {
    yaml(RULES)["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|group| group["rules"].as_sequence().cloned().unwrap_or_default())
        .filter(|rule| rule.get(kind).is_some())
        .collect()
}

/// Runs `promtool args...` in deploy/prometheus and fails with its output unless it
/// succeeds.
fn promtool(promtool: &Path, args: &[&str]) {
    let output = Command::new(promtool)
        .args(args)
        .current_dir(rules_dir())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", promtool.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "`promtool {}` failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        args.join(" "),
        output.status
    );
    println!("promtool {}:\n{stdout}{stderr}", args.join(" "));
}

#[test]
fn promtool_check_rules_accepts_the_rules_file() {
    let Some(path) = require_tool("promtool") else {
        return;
    };
    promtool(&path, &["check", "rules", RULES]);
}

#[test]
fn promtool_test_rules_passes_the_rule_unit_tests() {
    let Some(path) = require_tool("promtool") else {
        return;
    };
    let mut files = vec![RULE_TESTS, PROGRESS_TESTS];
    files.extend(BASELINE_TESTS);
    let mut args = vec!["test", "rules"];
    args.extend(&files);
    let started = std::time::Instant::now();
    promtool(&path, &args);
    println!(
        "promtool test rules took {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn every_progress_rule_is_recorded_and_unit_tested_with_and_without_data() {
    let recorded: BTreeSet<String> = rules("record")
        .iter()
        .filter_map(|rule| rule["record"].as_str().map(str::to_string))
        .collect();
    let tests = yaml(PROGRESS_TESTS);
    assert_eq!(tests["rule_files"][0].as_str(), Some(RULES));
    let cases: Vec<&Value> = tests["tests"]
        .as_sequence()
        .expect("tests")
        .iter()
        .flat_map(|group| {
            group["promql_expr_test"]
                .as_sequence()
                .into_iter()
                .flatten()
        })
        .collect();
    for name in PROGRESS_RULES {
        assert!(recorded.contains(*name), "{name} is not a rule of {RULES}");
        let mine: Vec<&&Value> = cases
            .iter()
            .filter(|c| c["expr"].as_str().is_some_and(|e| e.starts_with(name)))
            .collect();
        assert!(
            mine.iter().any(|c| c["exp_samples"]
                .as_sequence()
                .is_some_and(|s| !s.is_empty())),
            "{name}: no test in {PROGRESS_TESTS} where it has a value"
        );
    }
    // The drain estimate's point: no series at all while nothing drains.
    assert!(
        cases.iter().any(|c| c["expr"] == PROGRESS_RULES[1]
            && c["exp_samples"].as_sequence().is_some_and(Vec::is_empty)),
        "{PROGRESS_TESTS}: no test where {} has no series",
        PROGRESS_RULES[1]
    );
}

/// GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to
/// hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn every_alert_has_labels_annotations_and_a_runbook_section() {
    let runbook = read(RUNBOOK);
    let anchors: BTreeSet<String> = runbook
        .lines()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| anchor(heading.trim_start_matches('#')))
        .collect();
    let alerts = rules("alert");
    assert!(!alerts.is_empty(), "no alert in {RULES}");
    let mut problems = Vec::new();
    for rule in &alerts {
        let name = rule["alert"].as_str().unwrap_or("?");
        let mut problem = |what: &str| problems.push(format!("{name}: {what}"));
        let severity = rule["labels"]["severity"].as_str().unwrap_or("");
        if !SEVERITIES.contains(&severity) {
            problem(&format!(
                "labels.severity {severity:?} is not one of {SEVERITIES:?}"
            ));
        }
        for key in ["summary", "description", "runbook_url"] {
            if rule["annotations"][key]
                .as_str()
                .is_none_or(|s| s.trim().is_empty())
            {
                problem(&format!("no annotations.{key}"));
            }
        }
        let summary = rule["annotations"]["summary"].as_str().unwrap_or("");
        if !summary.ends_with('.') || summary.contains('\n') || summary.contains("{{") {
            problem("the summary should be one plain sentence");
        }
        if !rule["annotations"]["description"]
            .as_str()
            .unwrap_or("")
            .contains("{{")
        {
            problem("the description should be templated");
        }
        match rule["annotations"]["runbook_url"]
            .as_str()
            .and_then(|url| url.strip_prefix(RUNBOOK_URL))
        {
            Some(fragment) if fragment == name.to_lowercase() && anchors.contains(fragment) => {}
            _ => problem(&format!(
                "runbook_url must be {RUNBOOK_URL}{} with a `## {name}` heading in {RUNBOOK}",
                name.to_lowercase()
            )),
        }
        if rule["for"].as_str().is_none() {
            problem("no `for:` (a single bad evaluation should not alert)");
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn every_alert_is_unit_tested_firing_and_silent() {
    let files: Vec<Value> = std::iter::once(RULE_TESTS)
        .chain(BASELINE_TESTS.iter().copied())
        .map(|name| {
            let tests = yaml(name);
            assert_eq!(
                tests["rule_files"][0].as_str(),
                Some(RULES),
                "{name} must test {RULES}"
            );
            tests
        })
        .collect();
    let cases: Vec<&Value> = files
        .iter()
        .flat_map(|tests| tests["tests"].as_sequence().expect("tests"))
        .flat_map(|group| group["alert_rule_test"].as_sequence().into_iter().flatten())
        .collect();
    let mut problems = Vec::new();
    for rule in rules("alert") {
        let name = rule["alert"].as_str().unwrap_or("?");
        let mine: Vec<&&Value> = cases.iter().filter(|c| c["alertname"] == name).collect();
        let firing: Vec<&&Value> = mine
            .iter()
            .copied()
            .filter(|c| c["exp_alerts"].as_sequence().is_some_and(|a| !a.is_empty()))
            .collect();
        if firing.is_empty() {
            problems.push(format!("{name}: no test where it fires"));
        }
        if !mine
            .iter()
            .any(|c| c["exp_alerts"].as_sequence().is_none_or(Vec::is_empty))
        {
            problems.push(format!("{name}: no test where it stays silent"));
        }
        for case in firing {
            for alert in case["exp_alerts"].as_sequence().into_iter().flatten() {
                if alert["exp_labels"]["severity"].is_null() {
                    problems.push(format!(
                        "{name}: an expected alert without exp_labels.severity"
                    ));
                }
                if alert["exp_annotations"]["description"].is_null() {
                    problems.push(format!("{name}: an expected alert without exp_annotations"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn recording_rules_are_named_level_metric_operations() {
    let mut seen = BTreeSet::new();
    for rule in rules("record") {
        let name = rule["record"].as_str().unwrap_or("");
        let parts: Vec<&str> = name.split(':').collect();
        assert!(
            parts.len() == 3
                && parts.iter().all(|p| {
                    !p.is_empty()
                        && p.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                })
                && parts[1].starts_with("evolux_"),
            "recording rule {name:?} is not level:evolux_metric:operations"
        );
        assert!(seen.insert(name.to_string()), "{name} recorded twice");
    }
    assert!(!seen.is_empty(), "no recording rule in {RULES}");
}

/// Minutes of a promtool duration such as `24h35m` or `2h`.
fn minutes(duration: &str) -> u64 {
    let (mut total, mut number) = (0, 0);
    for c in duration.chars() {
        match c {
            '0'..='9' => number = number * 10 + u64::from(c.to_digit(10).unwrap()),
            'd' | 'h' | 'm' => {
                total += number
                    * if c == 'd' {
                        1440
                    } else if c == 'h' {
                        60
                    } else {
                        1
                    };
                number = 0;
            }
            _ => panic!("unexpected {c:?} in duration {duration:?}"),
        }
    }
    total
}

#[test]
fn every_baseline_case_is_day_long_and_asserts_all_three_error_alerts_at_several_times() {
    let mut problems = Vec::new();
    let mut fired = BTreeSet::new();
    for file in BASELINE_TESTS {
        let tests = yaml(file);
        for group in tests["tests"].as_sequence().expect("tests") {
            let name = group["name"].as_str().unwrap_or("?");
            let mut problem = |what: String| problems.push(format!("{file}: {name}: {what}"));
            if group["interval"].as_str() != Some("1m") {
                problem("samples must be one minute apart".into());
            }
            // The longest history, in samples: each `a+bxN` gives N + 1, `_xN` N.
            let samples = group["input_series"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|series| {
                    series["values"]
                        .as_str()
                        .unwrap_or("")
                        .split_whitespace()
                        .map(|part| match part.split_once('x') {
                            Some((start, n)) => n.parse::<u64>().unwrap() + u64::from(start != "_"),
                            None => 1,
                        })
                        .sum::<u64>()
                })
                .max()
                .unwrap_or(0);
            if samples < 24 * 60 {
                problem(format!("only {samples} samples: not a day-long history"));
            }
            let mut times: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
            for case in group["alert_rule_test"].as_sequence().into_iter().flatten() {
                let time = minutes(case["eval_time"].as_str().unwrap_or("0m"));
                let alert = case["alertname"].as_str().unwrap_or("?");
                times.entry(time).or_default().insert(alert);
                if case["exp_alerts"]
                    .as_sequence()
                    .is_some_and(|a| !a.is_empty())
                {
                    fired.insert(alert.to_string());
                }
            }
            if times.len() < 3 {
                problem(format!("asserts at {} times, fewer than 3", times.len()));
            }
            for (time, alerts) in &times {
                if ERROR_ALERTS.iter().any(|a| !alerts.contains(a)) {
                    problem(format!("at {time}m it asserts only {alerts:?}"));
                }
            }
        }
    }
    for alert in ERROR_ALERTS {
        if !fired.contains(*alert) {
            problems.push(format!("no baseline case where {alert} fires"));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn minutes_reads_promtool_durations() {
    assert_eq!(minutes("2h"), 120);
    assert_eq!(minutes("24h35m"), 1475);
    assert_eq!(minutes("1d3h"), 1620);
    assert_eq!(minutes("30m"), 30);
}
