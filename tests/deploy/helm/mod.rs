//! The Helm chart of `deploy/helm/evolux-exporter/`, through Helm's own engine.
//!
//! No `helm` binary is installable on the CI machines; the PyPI package
//! `helm-python-sdk` carries Helm 4's engine (render, lint, schema validation) as a
//! library, and `deploy/helm/render.py` hands its answers to these tests as JSON.
//! The chart is rendered with its defaults and with each file of its `ci/`
//! directory, and checked like the Kustomize manifests (`super::kubernetes`, whose
//! helpers this module reuses): `lint --strict`, `kubernetes-validate --strict`, the
//! schema's refusals, the token kept out of arguments and variables, the copies of
//! the mixin, the pod spec against the Kustomize base's, and the rendered arguments
//! accepted by the real binary (`--config.check`).
//!
//! Tools: a `python3` that imports `helm_python` (`pip install helm-python-sdk==0.2.2
//! pyyaml`), or `$HELM_PYTHON` naming one; `kubernetes-validate`; `kubectl` for the
//! comparison with Kustomize. Without them the tests are skipped with a notice, or
//! fail when `CI=true`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::kubernetes::render::*;
use crate::kubernetes::{read, repo};
use crate::tools::{find_tool, in_ci};
use serde::Deserialize;
use serde_yaml::Value;

mod chart;
mod parity;
mod token;

/// The release the tests install: its name makes the objects' names equal to the
/// Kustomize base's (`evolux-exporter`).
const RELEASE_NAME: &str = "evolux-exporter";
const CI_FILES: &[&str] = &[
    "default-values.yaml",
    "quickstart-values.yaml",
    "sharding-values.yaml",
    "all-values.yaml",
];

fn chart_dir() -> PathBuf {
    repo().join("deploy/helm/evolux-exporter")
}

/// A Python interpreter that imports `helm_python`: `$HELM_PYTHON`, else `python3`.
/// `None` (test skipped) after a notice when there is none; a failure when `CI=true`.
pub fn helm_python() -> Option<&'static Path> {
    static CELL: OnceLock<Option<PathBuf>> = OnceLock::new();
    let found = CELL.get_or_init(|| {
        let python = std::env::var_os("HELM_PYTHON")
            .map(PathBuf::from)
            .or_else(|| find_tool("python3"))?;
        let ok = Command::new(&python)
            .args(["-c", "import helm_python, yaml"])
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then_some(python)
    });
    if found.is_none() {
        let hint = "no python3 that imports helm_python and yaml: \
                    `pip install helm-python-sdk==0.2.2 pyyaml`, or point $HELM_PYTHON at one";
        assert!(!in_ci(), "{hint}; it is required when CI=true");
        eprintln!("SKIPPED: {hint}");
    }
    found.as_deref()
}

/// One rendering of the chart: its objects (as a Kustomize [`Rendering`], so the
/// Kustomize checks apply), and its NOTES.txt.
pub struct Chart {
    pub rendering: Rendering,
    pub notes: String,
}

/// Runs `deploy/helm/render.py` with `values` (YAML text) in a file.
fn run_script(python: &Path, command: &str, values: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("values.yaml");
    std::fs::write(&file, values).unwrap();
    Command::new(python)
        .arg(repo().join("deploy/helm/render.py"))
        .arg(command)
        .arg(&file)
        .output()
        .expect("run deploy/helm/render.py")
}

/// Renders the chart with `values`, or Helm's error.
pub fn try_render(python: &Path, name: &'static str, values: &str) -> Result<Chart, String> {
    let out = run_script(python, "render", values);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let files: BTreeMap<String, String> =
        serde_json::from_slice(&out.stdout).expect("render.py prints JSON");
    let notes = files
        .iter()
        .find(|(path, _)| path.ends_with("/NOTES.txt"))
        .map(|(_, text)| text.clone())
        .unwrap_or_default();
    let yaml = files
        .iter()
        .filter(|(path, _)| path.ends_with(".yaml"))
        .map(|(_, text)| text.as_str())
        .collect::<Vec<_>>()
        .join("\n---\n");
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&yaml)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{name}: rendered YAML: {e}")))
        .filter(|v| !v.is_null())
        .collect();
    let mut rendering = Rendering {
        name,
        docs,
        yaml,
        external_secrets: BTreeMap::new(),
    };
    rendering.external_secrets = external_secrets(&rendering);
    Ok(Chart { rendering, notes })
}

/// [`try_render`], which must succeed.
pub fn render(python: &Path, name: &'static str, values: &str) -> Chart {
    try_render(python, name, values).unwrap_or_else(|e| panic!("{name}: helm render failed: {e}"))
}

/// The Secrets the workload mounts that the chart leaves to the user, with what
/// a user would put in them: a dummy token, and a web config with basic auth.
fn external_secrets(r: &Rendering) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for w in r.workloads() {
        let c = exporter_container(w);
        for v in seq(&pod_spec(w)["volumes"]) {
            let Some(secret) = v["secret"]["secretName"].as_str() else {
                continue;
            };
            if r.one("Secret", secret).is_some() {
                continue;
            }
            let (flag, content) = match v["name"].as_str() {
                Some("token") => ("--evolux.token-file", "dummy-token\n".to_string()),
                Some("web-config") => ("--web.config.file", web_config()),
                other => panic!("{}: unexpected Secret volume {other:?}", r.name),
            };
            let path = arg_value(c, flag).unwrap_or_else(|| panic!("{}: no {flag}", r.name));
            let key = path.rsplit('/').next().unwrap().to_string();
            out.entry(secret.to_string())
                .or_insert_with(BTreeMap::new)
                .insert(key, content);
        }
    }
    out
}

/// A web config as a user would put in `webConfig.existingSecret`.
fn web_config() -> String {
    let hash = bcrypt::hash("scrape-password", 4).expect("bcrypt");
    format!("basic_auth_users:\n  prometheus: {hash}\n")
}

/// Helm's strict lint report for `values`.
pub fn lint(python: &Path, values: &str) -> serde_json::Value {
    let out = run_script(python, "lint", values);
    assert!(
        out.status.success(),
        "render.py lint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("lint JSON")
}

/// The schema's verdict on `values`: `Err` with Helm's message when refused.
pub fn schema(python: &Path, values: &str) -> Result<(), String> {
    let out = run_script(python, "schema", values);
    match out.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(String::from_utf8_lossy(&out.stdout).into_owned()),
        _ => panic!("render.py schema: {}", String::from_utf8_lossy(&out.stderr)),
    }
}

/// The chart rendered with each file of `ci/`, once per test process.
pub fn ci_charts() -> Option<&'static BTreeMap<&'static str, Chart>> {
    static CELL: OnceLock<BTreeMap<&'static str, Chart>> = OnceLock::new();
    let python = helm_python()?;
    Some(CELL.get_or_init(|| {
        CI_FILES
            .iter()
            .map(|file| {
                let values = read(&chart_dir().join("ci").join(file));
                (*file, render(python, file, &values))
            })
            .collect()
    }))
}
