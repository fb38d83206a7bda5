//! Reading the Grafana dashboards in `dashboards/` and listing their PromQL.
//!
//! [`promql_expressions`] gives every query of every panel and query variable with the
//! Grafana variables replaced by test values (see [`TEST_VARIABLES`]), ready to be sent
//! to a Prometheus that scrapes the exporter as job `evolux` and has
//! `deploy/prometheus/evolux-rules.yml` loaded.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Values given to Grafana variables by [`substitute_variables`], besides `$job`
/// (the job the exporter is scraped as: see [`substitute_variables_for_job`]).
pub const TEST_VARIABLES: &[(&str, &str)] = &[
    ("instance", ".*"),
    ("campaign", ".*"),
    ("template", ".*"),
    ("view", ".*"),
    ("__rate_interval", "1m"),
    ("__rate_interval_ms", "60000"),
    ("__range", "1h"),
    ("__range_s", "3600"),
    ("__range_ms", "3600000"),
    ("__interval", "15s"),
    ("__interval_ms", "15000"),
];

/// `dashboards/` of this repository.
pub fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")
}

/// Every `dashboards/*.json`, parsed, sorted by file name.
///
/// # Panics
/// When the directory cannot be read or a file is not valid JSON.
pub fn load_dashboards() -> Vec<(PathBuf, Value)> {
    load_dashboards_from(&dashboards_dir())
}

/// Every `<dir>/*.json` (e.g. the mixin rendered for another job), as
/// [`load_dashboards`].
pub fn load_dashboards_from(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()));
            (path, json)
        })
        .collect()
}

/// The dashboard's `uid` ("" when missing).
pub fn uid(dashboard: &Value) -> &str {
    dashboard["uid"].as_str().unwrap_or("")
}

/// Every panel, depth first, including the panels nested in rows (a row's `panels`, and
/// the legacy top-level `rows[].panels`). Row panels themselves are included.
pub fn all_panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(panels: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in panels.as_array().into_iter().flatten() {
            out.push(panel);
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    for row in dashboard["rows"].as_array().into_iter().flatten() {
        walk(&row["panels"], &mut out);
    }
    out
}

/// The dashboard's variables (`templating.list`).
pub fn variables(dashboard: &Value) -> Vec<&Value> {
    dashboard["templating"]["list"]
        .as_array()
        .map(|list| list.iter().collect())
        .unwrap_or_default()
}

/// The query of a query variable: a string, or the `query` of an object (the form
/// Grafana 10+ saves).
pub fn variable_query(variable: &Value) -> Option<&str> {
    match &variable["query"] {
        Value::String(query) => Some(query),
        Value::Object(object) => object.get("query").and_then(Value::as_str),
        _ => None,
    }
}

/// Replaces Grafana variables (`$name`, `${name}`, `${name:format}`, `[[name]]`) named
/// in [`TEST_VARIABLES`]; anything else (e.g. the `$1` of `label_replace`) is kept.
pub fn substitute_variables(expr: &str) -> String {
    substitute_variables_for_job(expr, "evolux")
}

/// [`substitute_variables`] with `$job` standing for `job` (the Prometheus job the
/// exporter is scraped as) instead of `evolux`.
pub fn substitute_variables_for_job(expr: &str, job: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut i = 0;
    while let Some(c) = expr[i..].chars().next() {
        match variable_at(&expr[i..], job) {
            Some((value, len)) => {
                out.push_str(value);
                i += len;
            }
            None => {
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// The test value of the known variable reference `text` starts with, and the length of
/// that reference.
fn variable_at<'a>(text: &str, job: &'a str) -> Option<(&'a str, usize)> {
    let lookup = |name: &str| {
        let name = name.split(':').next().unwrap_or(name);
        if name == "job" {
            return Some(job);
        }
        TEST_VARIABLES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| *value)
    };
    if let Some(after) = text.strip_prefix("${") {
        let end = after.find('}')?;
        return lookup(&after[..end]).map(|value| (value, 2 + end + 1));
    }
    if let Some(after) = text.strip_prefix("[[") {
        let end = after.find("]]")?;
        return lookup(&after[..end]).map(|value| (value, 2 + end + 2));
    }
    let after = text.strip_prefix('$')?;
    let len = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(after.len());
    lookup(&after[..len]).map(|value| (value, 1 + len))
}

/// The PromQL a variable query stands for:
/// `label_values(selector, label)` -> `selector`; `label_values(label)` -> `{label!=""}`;
/// `query_result(expr)` -> `expr`. `None` for queries without PromQL (`label_names()`,
/// `metrics(regex)`).
pub fn variable_query_to_promql(query: &str) -> Option<String> {
    let query = query.trim();
    if let Some(args) = call_arguments(query, "label_values") {
        let args = split_top_level(args, ',');
        return match args.as_slice() {
            [label] => Some(format!("{{{}!=\"\"}}", label.trim())),
            [selector, _label] => Some(selector.trim().to_string()),
            _ => None,
        };
    }
    if let Some(args) = call_arguments(query, "query_result") {
        return Some(args.trim().to_string());
    }
    None
}

/// `(dashboard uid, panel title or "variable <name>", expression)` for every PromQL
/// query of every dashboard: each target `expr` of each panel (nested ones included),
/// and each query variable (through [`variable_query_to_promql`]), with the Grafana
/// variables substituted by [`substitute_variables`].
pub fn promql_expressions() -> Vec<(String, String, String)> {
    promql_expressions_for_job(&dashboards_dir(), "evolux")
}

/// [`promql_expressions`] of the dashboards in `dir`, with `$job` standing for `job`
/// (see [`substitute_variables_for_job`]).
pub fn promql_expressions_for_job(dir: &Path, job: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (_, dashboard) in load_dashboards_from(dir) {
        let uid = uid(&dashboard).to_string();
        for variable in variables(&dashboard) {
            if variable["type"] != "query" {
                continue;
            }
            if let Some(expr) = variable_query(variable).and_then(variable_query_to_promql) {
                let name = variable["name"].as_str().unwrap_or("?");
                out.push((
                    uid.clone(),
                    format!("variable {name}"),
                    substitute_variables_for_job(&expr, job),
                ));
            }
        }
        for panel in all_panels(&dashboard) {
            let title = panel["title"].as_str().unwrap_or("").to_string();
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str().filter(|e| !e.trim().is_empty()) {
                    out.push((
                        uid.clone(),
                        title.clone(),
                        substitute_variables_for_job(expr, job),
                    ));
                }
            }
        }
    }
    out
}

/// The text between the parentheses of `name(...)` when `text` is exactly such a call.
fn call_arguments<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.strip_prefix(name)?
        .trim_start()
        .strip_prefix('(')?
        .strip_suffix(')')
}

/// Splits on `separator` outside brackets and string literals.
fn split_top_level(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => depth -= 1,
            c if c == separator && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}
