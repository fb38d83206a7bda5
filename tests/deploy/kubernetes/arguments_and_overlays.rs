//! The containers' arguments, checked by the real binary, and what the overlays and
//! the sharding component change.

use super::*;

// The container's arguments, checked by the real binary
// ---------------------------------------------------------------------------------

/// What `--config.check` said for one pod.
pub(crate) struct Checked {
    pub listen: String,
    pub telemetry_path: String,
    pub owned: BTreeSet<String>,
}

/// Runs the binary with `--config.check` as `pod_name` of `workload` would run: the
/// rendered arguments and environment, with every mounted ConfigMap and Secret
/// written under a temporary root and the file arguments pointed into it.
pub(crate) fn config_check(
    rendering: &Rendering,
    workload: &Value,
    pod_name: &str,
    ordinal: u32,
) -> Checked {
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
                None => {
                    let files = rendering
                        .external_secrets
                        .get(name)
                        .unwrap_or_else(|| panic!("{ctx}: Secret {name} is not rendered"));
                    for (key, text) in files {
                        std::fs::write(dir.join(key), text).unwrap();
                    }
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

    let mut exporter = Exporter::new();
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
        exporter = exporter.env(&name, value);
    }
    let out = exporter.args(&args).args(["--config.check"]).run();
    let ok = out.success();
    let text = out.text;
    assert!(ok, "{ctx}: --config.check {args:?} fails:\n{text}");

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
    let owned = text
        .lines()
        .filter_map(|l| l.strip_prefix("    - "))
        .filter(|l| !l.ends_with("not polled here)"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        // Other lists (the web config's public paths) are indented alike.
        .filter(|word| uuid::Uuid::parse_str(word).is_ok())
        .collect();
    Checked {
        listen: listen.to_string(),
        telemetry_path,
        owned,
    }
}

pub(crate) fn configured_campaigns(rendering: &Rendering, workload: &Value) -> BTreeSet<String> {
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
                    format!(":{METRICS_PORT}"),
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
