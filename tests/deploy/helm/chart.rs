//! The chart as Helm sees it: lint, schemas, what each values file renders, and the
//! values it refuses.

use super::*;
use crate::kubernetes::objects::validate_strict;
use crate::tools::require_tool;
use std::collections::BTreeSet;

#[test]
fn lint_strict_is_clean_for_the_defaults_and_every_ci_file() {
    let Some(python) = helm_python() else { return };
    for file in CI_FILES {
        let values = read(&chart_dir().join("ci").join(file));
        let report = lint(python, &values);
        assert_eq!(report["total_charts_linted"], 1, "{file}: {report:#}");
        assert_eq!(
            report["messages"].as_array().map(Vec::len),
            Some(0),
            "{file}: helm lint --strict has something to say:\n{report:#}"
        );
        assert!(
            report["errors"].as_array().is_none_or(Vec::is_empty),
            "{file}: {report:#}"
        );
    }
    // The lint really looks: a chart without its icon gets a message.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("evolux-exporter");
    copy_tree(&chart_dir(), &copy);
    let chart_yaml = read(&copy.join("Chart.yaml"));
    let without_icon: String = chart_yaml
        .lines()
        .filter(|l| !l.starts_with("icon:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(copy.join("Chart.yaml"), without_icon).unwrap();
    let out = Command::new(python)
        .args([
            "-c",
            "import sys, json, helm_python as h; print(json.dumps(h.lint(sys.argv[1], {}, strict=True)))",
        ])
        .arg(&copy)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("lint JSON");
    assert!(
        report.to_string().contains("icon"),
        "lint of a chart without icon: {report:#}"
    );
}

#[test]
fn every_rendering_passes_kubernetes_validate_strict() {
    let Some(charts) = ci_charts() else { return };
    let Some(validator) = require_tool("kubernetes-validate") else {
        return;
    };
    for chart in charts.values() {
        validate_strict(&validator, &chart.rendering);
    }
}

#[test]
fn each_ci_file_renders_the_expected_objects_with_the_standard_labels() {
    let Some(charts) = ci_charts() else { return };
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let base = [
        "ConfigMap",
        "Deployment",
        "Pod",
        "Service",
        "ServiceAccount",
    ];
    let expected = [
        ("default-values.yaml", set(&base)),
        ("quickstart-values.yaml", {
            let mut s = set(&base);
            s.insert("Secret".into());
            s
        }),
        (
            "sharding-values.yaml",
            set(&[
                "ConfigMap",
                "Pod",
                "Service",
                "ServiceAccount",
                "StatefulSet",
            ]),
        ),
        (
            "all-values.yaml",
            set(&[
                "ConfigMap",
                "NetworkPolicy",
                "Pod",
                "PodDisruptionBudget",
                "PrometheusRule",
                "Service",
                "ServiceAccount",
                "ServiceMonitor",
                "StatefulSet",
            ]),
        ),
    ];
    for (file, kinds) in expected {
        let r = &charts[file].rendering;
        assert_eq!(r.kinds(), kinds, "{file}");
        for d in &r.docs {
            let ctx = format!("{file}: {}", name_of(d));
            assert_eq!(d["metadata"]["namespace"], "monitoring", "{ctx}");
            let l = labels(&d["metadata"]["labels"]);
            // The test pod has a name of its own: no selector of the exporter's
            // pods may match it.
            let app = if d["kind"] == "Pod" {
                "evolux-exporter-test"
            } else {
                "evolux-exporter"
            };
            for (key, value) in [
                ("app.kubernetes.io/name", app),
                ("app.kubernetes.io/instance", RELEASE_NAME),
                ("app.kubernetes.io/part-of", "evolux-exporter"),
                ("app.kubernetes.io/managed-by", "Helm"),
                ("app.kubernetes.io/version", "0.1.0"),
                ("helm.sh/chart", "evolux-exporter-0.1.0"),
            ] {
                assert_eq!(l.get(key).map(String::as_str), Some(value), "{ctx}: {key}");
            }
            assert!(l.contains_key("app.kubernetes.io/component"), "{ctx}");
        }
    }
    // The chart's appVersion is the crate's version: the image tag defaults to it.
    let chart: Value = serde_yaml::from_str(&read(&chart_dir().join("Chart.yaml"))).unwrap();
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(chart["apiVersion"], "v2");
    for key in [
        "kubeVersion",
        "icon",
        "maintainers",
        "version",
        "description",
    ] {
        assert!(!chart[key].is_null(), "Chart.yaml has no {key}");
    }
    let image = str_of(
        &exporter_container(charts["default-values.yaml"].rendering.workloads()[0])["image"],
    );
    assert_eq!(
        image,
        format!(
            "ghcr.io/evolux/evolux-exporter:{}",
            env!("CARGO_PKG_VERSION")
        )
    );
    let image =
        str_of(&exporter_container(charts["all-values.yaml"].rendering.workloads()[0])["image"]);
    assert!(
        image.contains("@sha256:"),
        "the digest wins over the tag: {image}"
    );
}

#[test]
fn the_schema_refuses_bad_values_and_names_them() {
    let Some(python) = helm_python() else { return };
    for file in CI_FILES {
        let values = read(&chart_dir().join("ci").join(file));
        assert_eq!(schema(python, &values), Ok(()), "{file}");
    }
    for (values, names) in [
        ("sharding:\n  replicas: 0\n", "replicas"),
        ("sharding:\n  replicas: \"3\"\n", "replicas"),
        ("shardng:\n  replicas: 2\n", "shardng"),
        ("serviceMonitor:\n  enabeld: true\n", "enabeld"),
        ("image:\n  pullPolicy: Sometimes\n", "pullPolicy"),
        ("token:\n  value: 12345\n", "value"),
        ("campaigns: [not-a-uuid]\n", "campaigns"),
        ("extraArgs: --evolux.max-rps=5\n", "extraArgs"),
        ("webConfig:\n  scheme: http\n", "scheme"),
        ("campaigns:\n  - uuid: not-a-uuid\n", "uuid"),
        (
            "podDisruptionBudget:\n  maxUnavailable: most\n",
            "maxUnavailable",
        ),
        ("podDisruptionBudget:\n  minAvailable: -1\n", "minAvailable"),
    ] {
        let verdict = schema(python, values);
        let message = verdict
            .clone()
            .err()
            .unwrap_or_else(|| panic!("the schema accepts {values:?}"));
        assert!(message.contains(names), "{values:?}: {message}");
        // helm install would refuse it too: the schema runs at render.
        assert!(
            try_render(python, "bad", values).is_err(),
            "{values:?} renders"
        );
    }
}

#[test]
fn contradictory_values_fail_the_render_with_a_reason() {
    let Some(python) = helm_python() else { return };
    for (values, reason) in [
        (
            "token:\n  value: abc\n  existingSecret: mine\n",
            "token.value and token.existingSecret are exclusive",
        ),
        (
            "sharding:\n  replicas: 2\n",
            "sharding.replicas > 1 needs configured campaigns",
        ),
        (
            "webConfig:\n  enabled: true\n",
            "webConfig.existingSecret is required",
        ),
        (
            "campaigns: [0b6f8d1e-6c1a-4e39-9a0e-2d0c1b7f3a11]\nconfig:\n  campaigns:\n    - uuid: 5e2a9c44-1d7b-4f0e-8b36-7a9c2e4d5f60\n",
            "campaigns and config.campaigns are exclusive",
        ),
        (
            "webConfig:\n  scheme: HTTPS\n",
            "webConfig.scheme HTTPS needs webConfig.enabled",
        ),
        (
            "extraEnv:\n  - name: EVOLUX_TOKEN\n    value: abc\n",
            "extraEnv: EVOLUX_TOKEN is not allowed",
        ),
        (
            "extraEnv:\n  - name: EVOLUX_TOKEN_FILE\n    value: /t\n",
            "extraEnv: EVOLUX_TOKEN_FILE is not allowed",
        ),
        (
            "extraArgs: [--evolux.token-file=/elsewhere]\n",
            "extraArgs: --evolux.token-file is the chart's own",
        ),
        (
            "podLabels:\n  app.kubernetes.io/instance: other\n",
            "podLabels: app.kubernetes.io/instance is the chart's own label",
        ),
        (
            "podAnnotations:\n  checksum/config: pinned\n",
            "podAnnotations: checksum/config is the chart's own",
        ),
        (
            "serviceMonitor:\n  enabled: true\n  interval: 5s\n  scrapeTimeout: 10s\n",
            "serviceMonitor.scrapeTimeout 10s is longer than serviceMonitor.interval 5s",
        ),
        (
            "serviceMonitor:\n  enabled: true\n  interval: 1m\n  scrapeTimeout: 1m500ms\n",
            "is longer than serviceMonitor.interval 1m",
        ),
        (
            "podDisruptionBudget:\n  enabled: true\n  maxUnavailable: \"\"\n",
            "podDisruptionBudget: set maxUnavailable or minAvailable",
        ),
    ] {
        let err = try_render(python, "contradiction", values)
            .err()
            .unwrap_or_else(|| panic!("{values:?} renders"));
        assert!(err.contains(reason), "{values:?}: {err}");
    }
}

#[test]
fn a_config_change_rolls_the_pods_and_nothing_else_does() {
    let Some(python) = helm_python() else { return };
    let checksum = |values: &str| {
        let chart = render(python, "checksum", values);
        let w = chart.rendering.workloads()[0].clone();
        str_of(&w["spec"]["template"]["metadata"]["annotations"]["checksum/config"])
    };
    let base = checksum("");
    assert_eq!(base.len(), 64, "a sha256: {base:?}");
    assert_eq!(
        checksum("podAnnotations: {a: b}\nextraArgs: [--log.level=debug]\n"),
        base
    );
    assert_ne!(checksum("config:\n  poll:\n    interval: 2m\n"), base);
    assert_ne!(
        checksum("campaigns: [0b6f8d1e-6c1a-4e39-9a0e-2d0c1b7f3a11]\n"),
        base,
        "the campaigns shortcut is part of the config"
    );
}

#[test]
fn the_readme_table_names_every_top_level_value() {
    let values: Value = serde_yaml::from_str(&read(&chart_dir().join("values.yaml"))).unwrap();
    let readme = read(&chart_dir().join("README.md"));
    let table: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `")).collect();
    assert!(
        table.len() >= 10,
        "the chart's README has its table of values"
    );
    // Chart-internal names a user does not set.
    let internal = [
        "nameOverride",
        "fullnameOverride",
        "serviceAccount",
        "service",
        "test",
    ];
    for key in values.as_mapping().unwrap().keys().map(str_of) {
        if internal.contains(&key.as_str()) {
            continue;
        }
        assert!(
            table
                .iter()
                .any(|row| row.contains(&format!("`{key}`")) || row.contains(&format!("`{key}."))),
            "deploy/helm/evolux-exporter/README.md's table does not name `{key}`"
        );
    }
}

#[test]
fn unusual_but_valid_values_render_valid_objects() {
    let Some(python) = helm_python() else { return };
    let Some(validator) = require_tool("kubernetes-validate") else {
        return;
    };
    let long = "an-evolux-exporter-release-name-sixty-three-characters-long-xyz";
    assert_eq!(long.len(), 63);
    let values = format!(
        "fullnameOverride: {long}
campaigns: [0b6f8d1e-6c1a-4e39-9a0e-2d0c1b7f3a11, 5e2a9c44-1d7b-4f0e-8b36-7a9c2e4d5f60]
config:
  evolux: {{url: https://acme.evolux.cx}}
  campaigns: []
sharding: {{replicas: 2}}
image:
  pullSecrets: [regcred, {{name: mirror}}]
serviceMonitor: {{enabled: true, interval: \"\", scrapeTimeout: \"\"}}
dashboards: {{enabled: true, labelValue: 1}}
podDisruptionBudget: {{enabled: true, minAvailable: 0}}
resources: null
"
    );
    let chart = render(python, "unusual", &values);
    let r = &chart.rendering;
    validate_strict(&validator, r);
    // Service names are DNS labels, and label values too: 63 characters at most
    // (other names may have 253, which kubernetes-validate checks).
    for d in &r.docs {
        if d["kind"] == "Service" {
            let name = str_of(&d["metadata"]["name"]);
            assert!(
                name.len() <= 63,
                "{}: {} characters",
                name_of(d),
                name.len()
            );
        }
        for (key, value) in labels(&d["metadata"]["labels"]) {
            assert!(value.len() <= 63, "{}: label {key}={value}", name_of(d));
        }
    }
    let sts = r.of_kind("StatefulSet").next().expect("StatefulSet");
    // A pod's name, and its controller-revision-hash label (name + 11), fit in 63.
    assert!(str_of(&sts["metadata"]["name"]).len() + 11 <= 63);
    assert!(
        r.one("Service", &str_of(&sts["spec"]["serviceName"]))
            .is_some()
    );
    let pod = pod_spec(sts);
    let secrets: Vec<String> = seq(&pod["imagePullSecrets"])
        .iter()
        .map(|s| str_of(&s["name"]))
        .collect();
    assert_eq!(secrets, ["regcred", "mirror"]);
    assert!(
        exporter_container(sts)["resources"].is_null(),
        "resources: null removes them"
    );
    let endpoint = &r.of_kind("ServiceMonitor").next().unwrap()["spec"]["endpoints"][0];
    assert!(endpoint["interval"].is_null() && endpoint["scrapeTimeout"].is_null());
    let pdb = r.of_kind("PodDisruptionBudget").next().unwrap();
    assert_eq!(pdb["spec"]["minAvailable"], 0, "minAvailable: 0 is kept");
    assert!(pdb["spec"]["maxUnavailable"].is_null());
}

/// Values that YAML would read as another type stay strings: a token key
/// `yes` (a boolean to YAML 1.1) names the Secret's file, a job `2024` (a
/// number) is the job label; a timeout equal to the interval is accepted.
#[test]
fn values_that_look_like_other_types_stay_strings() {
    let Some(python) = helm_python() else { return };
    let chart = render(
        python,
        "strings",
        "token: {key: \"yes\", value: abc}\nserviceMonitor: {enabled: true, job: \"2024\", interval: 1m30s, scrapeTimeout: 90s}\n",
    );
    let r = &chart.rendering;
    let secret = r.of_kind("Secret").next().expect("the token Secret");
    assert_eq!(secret["data"]["yes"], "YWJj", "{secret:?}");
    let c = exporter_container(r.workloads()[0]);
    assert_eq!(
        arg_value(c, "--evolux.token-file"),
        Some("/var/run/secrets/evolux/yes")
    );
    let endpoint = &r.of_kind("ServiceMonitor").next().unwrap()["spec"]["endpoints"][0];
    let job = seq(&endpoint["relabelings"])
        .iter()
        .find(|rl| rl["targetLabel"] == "job")
        .map(|rl| rl["replacement"].clone());
    assert_eq!(job, Some(Value::String("2024".into())));
}

/// The default URL never resolves (no token leaves before the operator sets
/// theirs), and NOTES say so until a real one is set.
#[test]
fn the_placeholder_url_sends_nothing_and_notes_ask_for_the_real_one() {
    let Some(charts) = ci_charts() else { return };
    let defaults = &charts["default-values.yaml"];
    let config = defaults
        .rendering
        .config_maps()
        .find_map(|cm| cm["data"]["config.yaml"].as_str())
        .expect("the config");
    let config: Value = serde_yaml::from_str(config).expect("yaml");
    let url = str_of(&config["evolux"]["url"]);
    assert!(url.ends_with(".invalid"), "{url}: a name that can resolve");
    let warning = format!("WARNING: config.evolux.url is {url}: set your Evolux server's URL");
    assert!(defaults.notes.contains(&warning), "{}", defaults.notes);
    let quickstart = &charts["quickstart-values.yaml"];
    assert!(
        !quickstart.notes.contains("config.evolux.url is"),
        "{}",
        quickstart.notes
    );
}
