//! The monitoring mixin in `mixin/`: its default rendering is what the repository
//! ships (`dashboards/`, `deploy/prometheus/evolux-rules.yml` and the Kubernetes
//! copies), and rendered for other selectors every alert, recording rule and
//! dashboard query selects by them, promtool accepts the rules, and the rule unit
//! tests pass with their input series relabelled to the selector.
//!
//! Rendering needs `jsonnet` and `bash` (and the promtool tests `promtool`): a test
//! without them is skipped with a notice, or fails when `CI=true`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;
use tempfile::TempDir;

use crate::dashboard_queries::{
    all_panels, load_dashboards_from, variable_query, variable_query_to_promql, variables,
};
use crate::dashboards::promql::selectors;
use crate::tools::require_tool;

/// The selectors the mixin is rendered for besides the default: another job, and
/// two labels (a namespace the scrape configuration adds, and a job).
pub const CUSTOM_SELECTORS: &[&str] = &[r#"job="evolux-custom""#, r#"namespace="mon",job="x""#];
const DEFAULT_SELECTOR: &str = r#"job="evolux""#;
/// The rule unit-test files of `deploy/prometheus/`.
pub const RULE_TEST_FILES: &[&str] = &[
    "evolux-rules.test.yml",
    "evolux-progress.test.yml",
    "evolux-rising.test.yml",
    "evolux-bursts.test.yml",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The mixin rendered by `mixin/render.sh --out` into a temporary directory.
pub struct Rendered {
    dir: TempDir,
}

impl Rendered {
    pub fn dashboards(&self) -> PathBuf {
        self.dir.path().join("dashboards")
    }
    pub fn rules(&self) -> PathBuf {
        self.dir.path().join("prometheus/evolux-rules.yml")
    }
    fn prometheus_rule(&self) -> PathBuf {
        self.dir.path().join("kubernetes/prometheusrule.yaml")
    }
}

/// `mixin/render.sh [--selector S] --out <tmp>`; `None` (test skipped) without
/// jsonnet or bash.
///
/// # Panics
/// When the script fails, or when a tool is missing and `CI=true`.
pub fn render(selector: Option<&str>) -> Option<Rendered> {
    let bash = require_tool("bash")?;
    let jsonnet = require_tool("jsonnet")?;
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut command = Command::new(bash);
    command
        .arg(repo().join("mixin/render.sh"))
        .env("JSONNET", jsonnet);
    if let Some(selector) = selector {
        command.args(["--selector", selector]);
    }
    let out = command
        .arg("--out")
        .arg(dir.path())
        .output()
        .expect("run mixin/render.sh");
    assert!(
        out.status.success(),
        "mixin/render.sh --selector {selector:?} failed:\n{}",
        crate::tools::output_text(&out)
    );
    Some(Rendered { dir })
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn json_files(dir: &Path) -> BTreeMap<String, String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, read(&path))
        })
        .collect()
}

#[test]
fn the_default_rendering_is_the_committed_files_byte_for_byte() {
    let Some(r) = render(None) else { return };
    let rendered = json_files(&r.dashboards());
    assert_eq!(rendered.len(), 3, "{:?}", rendered.keys());
    let hint = "run mixin/render.sh to regenerate the committed files";
    for dir in [
        "dashboards",
        "deploy/kubernetes/components/dashboards",
        "deploy/helm/evolux-exporter/files/dashboards",
    ] {
        let committed = json_files(&repo().join(dir));
        assert_eq!(
            committed.keys().collect::<Vec<_>>(),
            rendered.keys().collect::<Vec<_>>(),
            "{dir}/: {hint}"
        );
        for (name, text) in &rendered {
            assert!(committed[name] == *text, "{dir}/{name} differs: {hint}");
        }
    }
    for (rendered, committed) in [
        (r.rules(), "deploy/prometheus/evolux-rules.yml"),
        (
            r.rules(),
            "deploy/helm/evolux-exporter/files/evolux-rules.yml",
        ),
        (
            r.prometheus_rule(),
            "deploy/kubernetes/components/prometheus-operator/prometheusrule.yaml",
        ),
    ] {
        assert!(
            read(&rendered) == read(&repo().join(committed)),
            "{committed} differs from the mixin's rendering: {hint}"
        );
    }
}

#[test]
fn render_check_finds_the_committed_files_up_to_date() {
    let Some(bash) = require_tool("bash") else {
        return;
    };
    let Some(jsonnet) = require_tool("jsonnet") else {
        return;
    };
    let out = Command::new(bash)
        .arg(repo().join("mixin/render.sh"))
        .arg("--check")
        .env("JSONNET", jsonnet)
        .output()
        .expect("run mixin/render.sh --check");
    assert!(
        out.status.success(),
        "mixin/render.sh --check:\n{}",
        crate::tools::output_text(&out)
    );
}

/// The `name="value"` pairs of a selector of equality matchers.
fn selector_labels(selector: &str) -> Vec<(String, String)> {
    selector
        .split(',')
        .map(|matcher| {
            let (name, value) = matcher
                .split_once('=')
                .unwrap_or_else(|| panic!("{matcher} is not name=\"value\""));
            (
                name.trim().to_string(),
                value.trim().trim_matches('"').to_string(),
            )
        })
        .collect()
}

/// Every PromQL expression the rendering holds: `(where, expr)` for each rule and
/// for each target and query variable of each dashboard (unsubstituted).
fn expressions(r: &Rendered) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let rules: Value = serde_yaml::from_str(&read(&r.rules())).expect("rules YAML");
    for group in rules["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            let name = rule["record"].as_str().or(rule["alert"].as_str()).unwrap();
            out.push((
                format!("rule {name}"),
                rule["expr"].as_str().unwrap().into(),
            ));
        }
    }
    for (path, dashboard) in load_dashboards_from(&r.dashboards()) {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for variable in variables(&dashboard) {
            if variable["type"] != "query" {
                continue;
            }
            if let Some(query) = variable_query(variable) {
                let name = variable["name"].as_str().unwrap_or("?");
                let expr = variable_query_to_promql(query).unwrap_or_else(|| query.into());
                out.push((format!("{file} variable {name}"), expr));
            }
        }
        for panel in all_panels(&dashboard) {
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    out.push((format!("{file} panel {}", panel["title"]), expr.into()));
                }
            }
        }
    }
    out
}

#[test]
fn rendered_for_other_selectors_every_expression_selects_by_them() {
    for selector in CUSTOM_SELECTORS {
        let Some(r) = render(Some(selector)) else {
            return;
        };
        let matchers: Vec<String> = selector_labels(selector)
            .iter()
            .map(|(name, value)| format!("{name}=\"{value}\""))
            .collect();
        let exprs = expressions(&r);
        assert!(exprs.len() > 100, "only {} expressions", exprs.len());
        let mut problems = Vec::new();
        for (place, expr) in &exprs {
            if !expr.contains(selector) {
                problems.push(format!("{place}: lacks {selector}: {expr}"));
            }
            if expr.contains(DEFAULT_SELECTOR) {
                problems.push(format!("{place}: still has {DEFAULT_SELECTOR}: {expr}"));
            }
            // Not only somewhere in the expression: in each of its selectors of the
            // exporter's series (raw, recorded and `up`).
            for s in selectors(expr) {
                if !(s.metric.contains("evolux_") || s.metric == "up") {
                    continue;
                }
                let have = s.matchers.unwrap_or_default();
                if !matchers.iter().all(|m| have.contains(m)) {
                    problems.push(format!("{place}: {} lacks {selector}", s.metric));
                }
            }
        }
        assert!(problems.is_empty(), "{selector}:\n{}", problems.join("\n"));
    }
}

/// Runs promtool in `dir`; its success and output.
fn promtool(promtool: &Path, dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(promtool)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool");
    let text = crate::tools::output_text(&out);
    (out.status.success(), text)
}

/// A rule unit-test file rewritten for `selector`: its input series and expected
/// samples carry the selector's labels instead of `job="evolux"`, its expected
/// alerts those labels instead of `job: evolux`, and the descriptions the new job.
/// Also the number of places changed.
pub fn relabel_rule_tests(text: &str, selector: &str) -> (String, usize) {
    let labels = selector_labels(selector);
    let job = labels
        .iter()
        .find(|(name, _)| name == "job")
        .map_or("", |(_, value)| value.as_str());
    let mut tests: Value = serde_yaml::from_str(text).expect("unit tests YAML");
    let mut changed = 0;
    relabel(&mut tests, selector, &labels, job, &mut changed);
    (serde_yaml::to_string(&tests).unwrap(), changed)
}

fn relabel(
    value: &mut Value,
    selector: &str,
    labels: &[(String, String)],
    job: &str,
    changed: &mut usize,
) {
    match value {
        Value::Sequence(items) => {
            for item in items {
                relabel(item, selector, labels, job, changed);
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let key = key.as_str().unwrap_or("");
                match (key, item.as_str()) {
                    ("series" | "labels", Some(text)) if text.contains(DEFAULT_SELECTOR) => {
                        *item = Value::from(text.replace(DEFAULT_SELECTOR, selector));
                        *changed += 1;
                    }
                    ("description", Some(text)) if text.contains("job evolux") => {
                        *item = Value::from(text.replace("job evolux", &format!("job {job}")));
                        *changed += 1;
                    }
                    ("exp_labels", _) if item["job"] == "evolux" => {
                        let map = item.as_mapping_mut().unwrap();
                        map.remove("job");
                        for (name, value) in labels {
                            map.insert(Value::from(name.as_str()), Value::from(value.as_str()));
                        }
                        *changed += 1;
                    }
                    _ => relabel(item, selector, labels, job, changed),
                }
            }
        }
        _ => {}
    }
}

#[test]
fn rendered_for_other_selectors_the_rules_pass_promtool_and_their_unit_tests() {
    for selector in CUSTOM_SELECTORS {
        let Some(r) = render(Some(selector)) else {
            return;
        };
        let Some(promtool_bin) = require_tool("promtool") else {
            return;
        };
        let dir = r.rules().parent().unwrap().to_path_buf();
        let (ok, out) = promtool(&promtool_bin, &dir, &["check", "rules", "evolux-rules.yml"]);
        assert!(ok, "{selector}: promtool check rules:\n{out}");
        for file in RULE_TEST_FILES {
            let original = read(&repo().join("deploy/prometheus").join(file));
            // The tests as committed select job="evolux": against rules rendered for
            // another selector they must fail, or the selector would not matter.
            fs::write(dir.join(file), &original).unwrap();
            let (ok, _) = promtool(&promtool_bin, &dir, &["test", "rules", file]);
            assert!(
                !ok,
                "{selector}: {file} passes unchanged: the rules ignore the selector?"
            );

            let (relabelled, changed) = relabel_rule_tests(&original, selector);
            assert!(changed > 10, "{file}: only {changed} places relabelled");
            assert!(!relabelled.contains(DEFAULT_SELECTOR), "{relabelled}");
            fs::write(dir.join(file), &relabelled).unwrap();
            let (ok, out) = promtool(&promtool_bin, &dir, &["test", "rules", file]);
            assert!(
                ok,
                "{selector}: promtool test rules {file} (relabelled):\n{out}"
            );
        }
    }
}

#[test]
fn relabelling_the_unit_tests_covers_series_samples_alert_labels_and_descriptions() {
    let text = r#"
tests:
  - input_series:
      - series: 'up{job="evolux", instance="i"}'
    promql_expr_test:
      - exp_samples:
          - labels: 'r{job="evolux", instance="i"}'
    alert_rule_test:
      - exp_alerts:
          - exp_labels: {severity: critical, job: evolux}
            exp_annotations: {description: "no target in job evolux for 10m"}
"#;
    let (out, changed) = relabel_rule_tests(text, r#"namespace="mon",job="x""#);
    assert_eq!(changed, 4, "{out}");
    let v: Value = serde_yaml::from_str(&out).unwrap();
    let test = &v["tests"][0];
    assert_eq!(
        test["input_series"][0]["series"],
        r#"up{namespace="mon",job="x", instance="i"}"#
    );
    assert_eq!(
        test["promql_expr_test"][0]["exp_samples"][0]["labels"],
        r#"r{namespace="mon",job="x", instance="i"}"#
    );
    let alert = &test["alert_rule_test"][0]["exp_alerts"][0];
    assert_eq!(alert["exp_labels"]["job"], "x");
    assert_eq!(alert["exp_labels"]["namespace"], "mon");
    assert_eq!(alert["exp_labels"]["severity"], "critical");
    assert_eq!(
        alert["exp_annotations"]["description"],
        "no target in job x for 10m"
    );
}
