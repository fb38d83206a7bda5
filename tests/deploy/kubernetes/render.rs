//! Rendering the manifests with `kubectl kustomize`, and reading the objects.

use super::*;

/// One `kubectl kustomize` output.
pub struct Rendering {
    pub name: &'static str,
    pub docs: Vec<Value>,
    pub yaml: String,
    /// Secrets the rendering mounts but leaves to the user (name, then key and
    /// content): what [`super::arguments_and_overlays::config_check`] writes for them.
    pub external_secrets: BTreeMap<String, BTreeMap<String, String>>,
}

/// The three renderings, made once per test process from a copy of
/// `deploy/kubernetes/` in which the overlays' `token` files hold the example token
/// (a developer's real `token` file is never read).
pub struct Renderings {
    pub base: Rendering,
    pub example: Rendering,
    pub all: Rendering,
    pub example_token: String,
    pub _dir: tempfile::TempDir,
}

impl Renderings {
    pub fn each(&self) -> [&Rendering; 3] {
        [&self.base, &self.example, &self.all]
    }
}

/// The renderings, or `None` (test skipped) when `kubectl` is missing.
pub fn rendered() -> Option<&'static Renderings> {
    static CELL: OnceLock<Renderings> = OnceLock::new();
    let kubectl = require_tool("kubectl")?;
    Some(CELL.get_or_init(|| render_all(&kubectl)))
}

pub fn render_all(kubectl: &Path) -> Renderings {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("kubernetes");
    copy_tree(&kube_dir(), &copy);
    let example_token = read(&kube_dir().join("overlays/example/token.example"));
    for overlay in ["example", "ci-all"] {
        std::fs::write(
            copy.join("overlays").join(overlay).join("token"),
            &example_token,
        )
        .expect("write token");
    }
    let render = |name: &'static str, rel: &str| {
        let out = Command::new(kubectl)
            .arg("kustomize")
            .arg(copy.join(rel))
            .output()
            .expect("run kubectl kustomize");
        assert!(
            out.status.success(),
            "kubectl kustomize {rel} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let yaml = String::from_utf8(out.stdout).expect("utf-8 output");
        let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&yaml)
            .map(|d| Value::deserialize(d).expect("rendered YAML parses"))
            .filter(|v| !v.is_null())
            .collect();
        assert!(!docs.is_empty(), "{rel} renders nothing");
        // The base leaves the token's Secret to the overlay.
        let external_secrets = if name == "base" {
            BTreeMap::from([(
                TOKEN_SECRET.to_string(),
                BTreeMap::from([("token".to_string(), "dummy-token\n".to_string())]),
            )])
        } else {
            BTreeMap::new()
        };
        Rendering {
            name,
            docs,
            yaml,
            external_secrets,
        }
    };
    Renderings {
        base: render("base", "base"),
        example: render("overlays/example", "overlays/example"),
        all: render("overlays/ci-all", "overlays/ci-all"),
        example_token: example_token.trim().to_string(),
        _dir: dir,
    }
}

/// Copies a directory tree, leaving out any file named `token` (a real API token).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else if entry.file_name() != "token" {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

impl Rendering {
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.docs.iter().filter(move |d| d["kind"] == kind)
    }

    pub fn one(&self, kind: &str, name: &str) -> Option<&Value> {
        self.docs
            .iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
    }

    pub fn kinds(&self) -> BTreeSet<String> {
        self.docs.iter().map(|d| str_of(&d["kind"])).collect()
    }

    /// Deployments and StatefulSets.
    pub fn workloads(&self) -> Vec<&Value> {
        self.docs
            .iter()
            .filter(|d| {
                matches!(
                    d["kind"].as_str(),
                    Some("Deployment" | "StatefulSet" | "DaemonSet")
                )
            })
            .collect()
    }

    pub fn config_maps(&self) -> impl Iterator<Item = &Value> {
        self.of_kind("ConfigMap")
    }
}

pub fn str_of(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_default()
}

pub fn name_of(d: &Value) -> String {
    format!("{}/{}", str_of(&d["kind"]), str_of(&d["metadata"]["name"]))
}

pub fn seq(v: &Value) -> &[Value] {
    v.as_sequence().map(Vec::as_slice).unwrap_or(&[])
}

pub fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (str_of(k), str_of(v)))
                .collect::<BTreeMap<_, _>>()
        })
        .unwrap_or_default()
}

/// Whether every `selector` label is among `labels`.
pub fn selects(selector: &BTreeMap<String, String>, target: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| target.get(k) == Some(v))
}

pub fn pod_spec(workload: &Value) -> &Value {
    &workload["spec"]["template"]["spec"]
}

pub fn containers(workload: &Value) -> Vec<&Value> {
    let spec = pod_spec(workload);
    seq(&spec["initContainers"])
        .iter()
        .chain(seq(&spec["containers"]))
        .collect()
}

pub fn exporter_container(workload: &Value) -> &Value {
    let all = seq(&pod_spec(workload)["containers"]);
    assert_eq!(
        all.len(),
        1,
        "{}: one container expected",
        name_of(workload)
    );
    &all[0]
}

pub fn arg_value<'a>(container: &'a Value, flag: &str) -> Option<&'a str> {
    seq(&container["args"])
        .iter()
        .filter_map(Value::as_str)
        .find_map(|a| a.strip_prefix(flag)?.strip_prefix('='))
}

/// Minimal base64 (standard alphabet, padded), for Secret data.
pub fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .unwrap_or_else(|| panic!("not base64: {text:?}")) as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Kinds defined by CRDs (not validated by `kubernetes-validate`, checked here).
pub const CRD_KINDS: &[&str] = &["ServiceMonitor", "PrometheusRule"];

pub fn is_crd_kind(d: &Value) -> bool {
    CRD_KINDS.contains(&d["kind"].as_str().unwrap_or(""))
}

/// `dashboards/*.json` by file name.
pub fn dashboard_files() -> BTreeMap<String, serde_json::Value> {
    crate::dashboard_queries::load_dashboards()
        .into_iter()
        .map(|(path, json)| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                json,
            )
        })
        .collect()
}

/// The job the rules' `up{job=...}` alert names: the one a ServiceMonitor must set.
pub fn rules_job() -> String {
    let rules = super::read(&super::repo().join("deploy/prometheus/evolux-rules.yml"));
    rules
        .split("up{job=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the rules name the exporter's job in an up{job=...} alert")
        .to_string()
}
