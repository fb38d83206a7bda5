//! What each rendering holds, and its schemas.

use super::*;

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
    for rendering in r.each() {
        validate_strict(&validator, rendering);
    }
}

/// Runs `kubernetes-validate --strict` (the newest and the oldest schemas the tool
/// ships, 1.25) over every built-in object of `rendering`; the CRD kinds, which it
/// has no schema for, must be `monitoring.coreos.com/v1` (other tests check them).
pub(crate) fn validate_strict(validator: &Path, rendering: &Rendering) {
    let dir = tempfile::tempdir().unwrap();
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
    for version in [None, Some("1.25.0")] {
        let mut cmd = Command::new(validator);
        cmd.arg("--strict").arg("--no-warn");
        if let Some(v) = version {
            cmd.arg("--kubernetes-version").arg(v);
        }
        let out = cmd.arg(&file).output().expect("run kubernetes-validate");
        let report = crate::tools::output_text(&out);
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

// ---------------------------------------------------------------------------------
