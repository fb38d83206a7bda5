//! The chart renders the Kustomize manifests' workload and the mixin's rules and
//! dashboards, and its arguments are accepted by the real binary.

use super::*;
use crate::kubernetes::arguments_and_overlays::{config_check, configured_campaigns};
use crate::kubernetes::render::rendered as kustomize;
use std::collections::BTreeSet;

/// A workload's spec, comparable across Helm and Kustomize: the pod template's
/// metadata (Helm adds its labels and the config checksum) dropped, the ConfigMap's
/// name without Kustomize's hash suffix, the environment sorted by name.
fn comparable(workload: &Value) -> Value {
    let mut spec = workload["spec"].clone();
    let t = spec["template"].as_mapping_mut().unwrap();
    t.remove("metadata");
    for v in spec["template"]["spec"]["volumes"]
        .as_sequence_mut()
        .unwrap()
    {
        if let Some(name) = v["configMap"]["name"].as_str() {
            let name = name.strip_suffix(&format!("-{}", name.rsplit('-').next().unwrap()));
            let name = match name {
                Some(n) if n.ends_with("-config") => n.to_string(),
                _ => str_of(&v["configMap"]["name"]),
            };
            v["configMap"]["name"] = Value::from(name);
        }
    }
    let container = spec["template"]["spec"]["containers"][0]
        .as_mapping_mut()
        .unwrap();
    if let Some(env) = container.get_mut("env").and_then(Value::as_sequence_mut) {
        env.sort_by_key(|e| str_of(&e["name"]));
    }
    spec
}

#[test]
fn the_workload_equals_the_kustomize_base_and_sharding_component() {
    let (Some(charts), Some(k)) = (ci_charts(), kustomize()) else {
        return;
    };
    let helm = charts["default-values.yaml"]
        .rendering
        .one("Deployment", "evolux-exporter")
        .expect("the chart's Deployment");
    let base = k.base.one("Deployment", "evolux-exporter").expect("base");
    assert!(
        comparable(helm) == comparable(base),
        "the chart's Deployment differs from deploy/kubernetes/base:\n--- Kustomize\n{}\n--- Helm\n{}",
        serde_yaml::to_string(&comparable(base)).unwrap(),
        serde_yaml::to_string(&comparable(helm)).unwrap()
    );
    // The pod's labels: the selector's, and the component, in both.
    let pod_labels = |w: &Value| labels(&w["spec"]["template"]["metadata"]["labels"]);
    for key in [
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/component",
    ] {
        assert_eq!(
            pod_labels(helm).get(key),
            pod_labels(base).get(key),
            "{key}"
        );
    }

    // Sharded: the ci-all overlay's StatefulSet (4 replicas, every component), with
    // the chart's sharding values (3 replicas).
    let helm = charts["sharding-values.yaml"]
        .rendering
        .one("StatefulSet", "evolux-exporter")
        .expect("the chart's StatefulSet");
    let overlay = k.all.one("StatefulSet", "evolux-exporter").expect("ci-all");
    let (mut h, mut o) = (comparable(helm), comparable(overlay));
    assert_eq!(h["replicas"], 3);
    let env = |s: &Value, name: &str| {
        seq(&s["template"]["spec"]["containers"][0]["env"])
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["value"].clone())
    };
    assert_eq!(env(&h, "EVOLUX_SHARD_COUNT"), Some(Value::from("3")));
    let overlay_replicas = o["replicas"].as_u64().expect("replicas").to_string();
    assert_eq!(
        env(&o, "EVOLUX_SHARD_COUNT"),
        Some(Value::from(overlay_replicas.as_str()))
    );
    for s in [&mut h, &mut o] {
        s.as_mapping_mut().unwrap().remove("replicas");
        for e in s["template"]["spec"]["containers"][0]["env"]
            .as_sequence_mut()
            .unwrap()
        {
            if e["name"] == "EVOLUX_SHARD_COUNT" {
                e["value"] = Value::from("<replicas>");
            }
        }
    }
    assert!(
        h == o,
        "the chart's StatefulSet differs from the Kustomize sharding component's:\n--- Kustomize\n{}\n--- Helm\n{}",
        serde_yaml::to_string(&o).unwrap(),
        serde_yaml::to_string(&h).unwrap()
    );
}

#[test]
fn the_rules_and_dashboards_are_the_mixins_rendering() {
    let Some(charts) = ci_charts() else { return };
    let r = &charts["all-values.yaml"].rendering;
    let rule = r
        .one("PrometheusRule", "evolux-exporter")
        .expect("PrometheusRule");
    let mixin: Value =
        serde_yaml::from_str(&read(&repo().join("deploy/prometheus/evolux-rules.yml"))).unwrap();
    let mut groups = seq(&rule["spec"]["groups"]).to_vec();
    // all-values.yaml appends one group of its own, last.
    let extra = groups.pop().expect("groups");
    assert_eq!(extra["name"], "evolux.local", "additionalRules come last");
    assert!(
        groups.as_slice() == seq(&mixin["groups"]),
        "the PrometheusRule's groups differ from deploy/prometheus/evolux-rules.yml: run mixin/render.sh"
    );
    assert_eq!(
        rule["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );

    let files = dashboard_files();
    let mut seen = BTreeMap::new();
    for cm in r
        .config_maps()
        .filter(|cm| cm["metadata"]["labels"]["grafana_dashboard"] == "1")
    {
        assert_eq!(
            cm["metadata"]["annotations"]["grafana_folder"],
            "Evolux",
            "{}",
            name_of(cm)
        );
        for (key, text) in cm["data"].as_mapping().unwrap() {
            let json: serde_json::Value = serde_json::from_str(text.as_str().unwrap())
                .unwrap_or_else(|e| panic!("{}: {key:?}: {e}", name_of(cm)));
            seen.insert(str_of(key), json);
        }
    }
    assert_eq!(
        seen, files,
        "the dashboard ConfigMaps are dashboards/*.json"
    );

    // The sidecar's label and folder annotation are the user's to name.
    let python = helm_python().unwrap();
    let chart = render(
        python,
        "sidecar",
        "dashboards:\n  enabled: true\n  label: grafana_dashboard_evolux\n  labelValue: yes-please\n  folderAnnotation: k8s-sidecar-target-directory\n  folder: /tmp/dashboards/evolux\n",
    );
    let cms: Vec<&Value> = chart
        .rendering
        .config_maps()
        .filter(|cm| cm["metadata"]["labels"]["grafana_dashboard_evolux"] == "yes-please")
        .collect();
    assert_eq!(cms.len(), files.len());
    for cm in cms {
        assert_eq!(
            cm["metadata"]["annotations"]["k8s-sidecar-target-directory"],
            "/tmp/dashboards/evolux"
        );
    }
}

/// The first ```yaml example of `readme` after `heading`: the values
/// example of the chart's README or the project's.
fn readme_example(readme: &Path, heading: &str) -> String {
    let text = read(readme);
    let section = text
        .find(heading)
        .unwrap_or_else(|| panic!("{} has no {heading:?}", readme.display()));
    let start = text[section..]
        .find("```yaml\n")
        .map(|at| section + at)
        .unwrap_or_else(|| panic!("{} has no ```yaml example", readme.display()));
    let rest = &text[start + 8..];
    rest[..rest.find("```").unwrap()].to_string()
}

#[test]
fn rendered_arguments_pass_config_check_and_shards_split_the_campaigns() {
    let Some(charts) = ci_charts() else { return };
    let python = helm_python().unwrap();
    let chart_readme = readme_example(&chart_dir().join("README.md"), "## Install");
    let readme = readme_example(&repo().join("README.md"), "## Kubernetes");
    let examples = [
        render(python, "the chart's README example", &chart_readme),
        render(python, "README's example", &readme),
    ];
    for r in charts
        .values()
        .map(|c| &c.rendering)
        .chain(examples.iter().map(|c| &c.rendering))
    {
        for w in r.workloads() {
            let ctx = format!("{}: {}", r.name, name_of(w));
            let name = str_of(&w["metadata"]["name"]);
            let pods: Vec<String> = if w["kind"] == "StatefulSet" {
                let n = w["spec"]["replicas"].as_u64().unwrap();
                (0..n).map(|i| format!("{name}-{i}")).collect()
            } else {
                vec![format!("{name}-5d8f7c9b6-x2k4q")]
            };
            let mut owners: BTreeMap<String, usize> = BTreeMap::new();
            for (ordinal, pod) in pods.iter().enumerate() {
                let checked = config_check(r, w, pod, ordinal as u32);
                assert_eq!(checked.listen, ":10071", "{ctx}");
                for c in checked.owned {
                    if let Some(other) = owners.insert(c.clone(), ordinal) {
                        panic!("{ctx}: campaign {c} polled by pods {other} and {ordinal}");
                    }
                }
            }
            let configured = configured_campaigns(r, w);
            assert_eq!(
                owners.keys().cloned().collect::<BTreeSet<_>>(),
                configured,
                "{ctx}: every configured campaign is polled by exactly one pod"
            );
            if pods.len() > 1 {
                assert!(configured.len() >= 2, "{ctx}");
            }
        }
    }
}

#[test]
fn the_service_monitor_network_policy_budget_and_test_pod_reach_the_exporter() {
    let Some(charts) = ci_charts() else { return };
    let r = &charts["all-values.yaml"].rendering;
    let w = r.workloads()[0];
    let pod_labels = labels(&w["spec"]["template"]["metadata"]["labels"]);
    let service = r.one("Service", "evolux-exporter").expect("Service");
    assert!(selects(&labels(&service["spec"]["selector"]), &pod_labels));
    assert_eq!(service["spec"]["ports"][0]["name"], "metrics");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "metrics");
    let service_labels = labels(&service["metadata"]["labels"]);

    // The ServiceMonitor scrapes that Service (not the shards' headless one) with
    // the job the mixin's rules select, over HTTPS with the web config.
    let sm = r
        .one("ServiceMonitor", "evolux-exporter")
        .expect("ServiceMonitor");
    let sm_selector = labels(&sm["spec"]["selector"]["matchLabels"]);
    assert!(selects(&sm_selector, &service_labels));
    let shards = r
        .one("Service", "evolux-exporter-shards")
        .expect("headless Service");
    assert!(!selects(
        &sm_selector,
        &labels(&shards["metadata"]["labels"])
    ));
    let endpoint = &sm["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"], "metrics");
    assert_eq!(endpoint["path"], "/metrics");
    assert_eq!(endpoint["scheme"], "https");
    let job = rules_job();
    let relabel = seq(&endpoint["relabelings"])
        .iter()
        .find(|rl| rl["targetLabel"] == "job")
        .expect("a job relabeling");
    assert_eq!(relabel["replacement"], job);
    assert_eq!(sm["metadata"]["labels"]["release"], "kube-prometheus-stack");

    // The NetworkPolicy and the PodDisruptionBudget select the exporter's pods.
    let np = r.of_kind("NetworkPolicy").next().expect("NetworkPolicy");
    assert!(selects(
        &labels(&np["spec"]["podSelector"]["matchLabels"]),
        &pod_labels
    ));
    assert_eq!(np["spec"]["ingress"][0]["ports"][0]["port"], "metrics");
    let pdb = r.of_kind("PodDisruptionBudget").next().expect("PDB");
    assert!(selects(
        &labels(&pdb["spec"]["selector"]["matchLabels"]),
        &pod_labels
    ));
    // The `helm test` pod: let in by the NetworkPolicy, matched by no selector of
    // the exporter's pods.
    let test = r.of_kind("Pod").next().expect("test pod");
    let test_labels = labels(&test["metadata"]["labels"]);
    assert!(
        seq(&np["spec"]["ingress"][0]["from"])
            .iter()
            .any(|from| from["namespaceSelector"].is_null()
                && selects(&labels(&from["podSelector"]["matchLabels"]), &test_labels)),
        "the NetworkPolicy lets the test pod in"
    );
    for selector in [
        &service["spec"]["selector"],
        &pdb["spec"]["selector"]["matchLabels"],
        &w["spec"]["selector"]["matchLabels"],
    ] {
        assert!(!selects(&labels(selector), &test_labels), "{selector:?}");
    }

    // Probes and the `helm test` pod follow the scheme; the test asks /readyz of
    // the Service.
    let c = exporter_container(w);
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["scheme"], "HTTPS", "{probe}");
    }
    assert_eq!(test["metadata"]["annotations"]["helm.sh/hook"], "test");
    // Sharded (2 replicas): each pod, by its stable name under the headless Service.
    assert_eq!(
        test_urls(test),
        [
            "https://evolux-exporter-0.evolux-exporter-shards:10071/readyz",
            "https://evolux-exporter-1.evolux-exporter-shards:10071/readyz"
        ]
    );
    let script = str_of(&test["spec"]["containers"][0]["command"][2]);
    assert!(script.contains("--no-check-certificate"), "{script}");
    assert_eq!(
        str_of(&shards["spec"]["clusterIP"]),
        "None",
        "pod DNS names need a headless Service"
    );
    let defaults = &charts["default-values.yaml"].rendering;
    let test = defaults.of_kind("Pod").next().expect("test pod");
    assert_eq!(test_urls(test), ["http://evolux-exporter:10071/readyz"]);
}

/// The URLs the `helm test` pod asks, after `sh -c SCRIPT NAME`.
fn test_urls(pod: &Value) -> Vec<String> {
    let command: Vec<String> = seq(&pod["spec"]["containers"][0]["command"])
        .iter()
        .map(str_of)
        .collect();
    assert_eq!(command[..2], ["sh", "-c"], "{command:?}");
    command[4..].to_vec()
}
