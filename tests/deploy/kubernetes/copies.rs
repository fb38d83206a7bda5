//! The copies of the rules and the dashboards equal their sources.

use super::*;

// Copies of the rules and the dashboards
// ---------------------------------------------------------------------------------

const SYNC_HINT: &str = "run mixin/render.sh (or deploy/kubernetes/sync.sh) to refresh the copy";

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
    let files = dashboard_files();
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
    // sync.sh runs mixin/render.sh, which needs jsonnet.
    let (Some(bash), Some(jsonnet)) = (require_tool("bash"), require_tool("jsonnet")) else {
        return;
    };
    let out = Command::new(bash)
        .arg(kube_dir().join("sync.sh"))
        .arg("--check")
        .env("JSONNET", jsonnet)
        .output()
        .expect("run sync.sh --check");
    assert!(
        out.status.success(),
        "deploy/kubernetes/sync.sh --check:\n{}",
        crate::tools::output_text(&out)
    );
}

// ---------------------------------------------------------------------------------
