//! A small PromQL scanner: enough to find metric selectors and function calls,
//! skipping string literals (label_replace arguments, matcher values).

use super::*;
use std::path::PathBuf;

#[derive(Debug, PartialEq)]
pub struct Selector {
    pub metric: String,
    /// The matchers between the braces, whitespace removed; `None` without braces.
    pub matchers: Option<Vec<String>>,
}

/// Index just past the string literal starting at `start` (a quote character).
pub fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if quote != '`' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// Index of the bracket closing the one at `open`.
pub fn matching_close(chars: &[char], open: usize) -> usize {
    let (opening, closing) = match chars[open] {
        '(' => ('(', ')'),
        '{' => ('{', '}'),
        _ => ('[', ']'),
    };
    let mut depth = 0;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' | '`' => {
                i = skip_string(chars, i);
                continue;
            }
            c if c == opening => depth += 1,
            c if c == closing => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

pub fn split_matchers(inner: &[char]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            '"' | '\'' | '`' => {
                let end = skip_string(inner, i).min(inner.len());
                current.extend(&inner[i..end]);
                i = end;
                continue;
            }
            ',' => out.push(std::mem::take(&mut current)),
            c if c.is_whitespace() => {}
            c => current.push(c),
        }
        i += 1;
    }
    out.push(current);
    out.into_iter().filter(|m| !m.is_empty()).collect()
}

/// Every vector selector of `expr`: a metric name (not followed by `(`), with or without
/// braces, and bare `{...}` selectors (metric "").
pub fn selectors(expr: &str) -> Vec<Selector> {
    let chars: Vec<char> = expr.chars().collect();
    let is_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let is_part = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let next_non_space = |mut i: usize| {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        i
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '"' | '\'' | '`') {
            i = skip_string(&chars, i);
        } else if c == '[' {
            // range or subquery duration
            i = matching_close(&chars, i) + 1;
        } else if c == '{' {
            let close = matching_close(&chars, i);
            out.push(Selector {
                metric: String::new(),
                matchers: Some(split_matchers(&chars[i + 1..close.min(chars.len())])),
            });
            i = close + 1;
        } else if is_start(c) && (i == 0 || !is_part(chars[i - 1])) {
            let start = i;
            while i < chars.len() && is_part(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = next_non_space(i);
            if next < chars.len() && chars[next] == '(' {
                // function, aggregation, or a `by (...)`-style label list: the labels in
                // it are not selectors
                if matches!(
                    word.as_str(),
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                ) {
                    i = matching_close(&chars, next) + 1;
                }
                continue;
            }
            if next < chars.len() && chars[next] == '{' {
                let close = matching_close(&chars, next);
                out.push(Selector {
                    metric: word,
                    matchers: Some(split_matchers(&chars[next + 1..close.min(chars.len())])),
                });
                i = close + 1;
            } else if !is_keyword(&word) {
                out.push(Selector {
                    metric: word,
                    matchers: None,
                });
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Words that are not metric names when no `(` follows them (`sum by (x) (...)`).
pub fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "and"
            | "or"
            | "unless"
            | "bool"
            | "offset"
            | "by"
            | "without"
            | "on"
            | "ignoring"
            | "group_left"
            | "group_right"
            | "atan2"
            | "inf"
            | "Inf"
            | "nan"
            | "NaN"
            | "sum"
            | "min"
            | "max"
            | "avg"
            | "count"
            | "group"
            | "stddev"
            | "stdvar"
            | "topk"
            | "bottomk"
            | "quantile"
            | "count_values"
    )
}

/// The selectors of `expr` that concern the exporter (`evolux_*`, recorded
/// `*:evolux_*:*`, `up`, or a bare `{...}`) and lack the job or instance matcher.
pub fn selectors_missing_job_matchers(expr: &str) -> Vec<String> {
    selectors(expr)
        .into_iter()
        .filter(|s| s.metric.is_empty() || s.metric.contains("evolux_") || s.metric == "up")
        .filter(|s| {
            let matchers = s.matchers.as_deref().unwrap_or_default();
            !(matchers.iter().any(|m| m == JOB_MATCHER)
                && matchers.iter().any(|m| m == INSTANCE_MATCHER))
        })
        .map(|s| {
            format!(
                "{}{{{}}}",
                s.metric,
                s.matchers.unwrap_or_default().join(",")
            )
        })
        .collect()
}

/// The `rate(...)`/`increase(...)` calls of `expr` whose range is not `$__rate_interval`.
pub fn rates_without_rate_interval(expr: &str) -> Vec<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    for function in ["rate", "increase"] {
        let name: Vec<char> = function.chars().collect();
        let mut i = 0;
        while i + name.len() <= chars.len() {
            let boundary = i == 0 || !(chars[i - 1].is_ascii_alphanumeric() || chars[i - 1] == '_');
            if boundary && chars[i..i + name.len()] == name[..] {
                let mut open = i + name.len();
                while open < chars.len() && chars[open].is_whitespace() {
                    open += 1;
                }
                if open < chars.len() && chars[open] == '(' {
                    let close = matching_close(&chars, open).min(chars.len() - 1);
                    let call: String = chars[i..=close].iter().collect();
                    let compact: String = call.chars().filter(|c| !c.is_whitespace()).collect();
                    if !compact.contains("[$__rate_interval]")
                        && !compact.contains("[${__rate_interval}]")
                    {
                        out.push(call);
                    }
                }
            }
            i += 1;
        }
    }
    out
}

/// Identifiers with a colon: recorded series (`level:metric:operations`).
pub fn recorded_series(expr: &str) -> BTreeSet<String> {
    selectors(expr)
        .into_iter()
        .map(|s| s.metric)
        .filter(|m| m.contains(':'))
        .collect()
}

/// The committed rules file, `deploy/prometheus/evolux-rules.yml`.
pub fn rules_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/evolux-rules.yml")
}

/// The names of the recording rules of the rules file at `path`.
pub fn recording_rules_in(path: &Path) -> BTreeSet<String> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rules: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");
    rules["groups"]
        .as_sequence()
        .into_iter()
        .flatten()
        .flat_map(|group| group["rules"].as_sequence().into_iter().flatten())
        .filter_map(|rule| rule["record"].as_str().map(str::to_string))
        .collect()
}
