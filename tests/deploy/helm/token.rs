//! The token: only ever a file mounted from a Secret; never an argument, a variable
//! or a ConfigMap, in any rendering.

use super::*;

/// A token nobody would write by accident, so finding it anywhere means a leak.
const SENTINEL: &str = "tok-5f3e9a1c-sentinel-7d2b";

/// Every ci/ file, with the token given as `token.value` instead of a Secret.
fn with_token_value(file: &str) -> String {
    let values = read(&chart_dir().join("ci").join(file));
    let mut v: Value = serde_yaml::from_str(&values).unwrap_or(Value::Null);
    if v.is_null() {
        v = Value::Mapping(Default::default());
    }
    v["token"] = serde_yaml::from_str(&format!("{{value: {SENTINEL}}}")).unwrap();
    serde_yaml::to_string(&v).unwrap()
}

#[test]
fn the_token_is_never_an_argument_or_a_variable_in_any_rendering() {
    let Some(python) = helm_python() else { return };
    for file in CI_FILES {
        let chart = render(python, file, &with_token_value(file));
        let r = &chart.rendering;
        let ctx = format!("{file} with token.value");
        // Only the chart's Secret holds it, base64-encoded under token.key.
        let secrets: Vec<&Value> = r.of_kind("Secret").collect();
        assert_eq!(secrets.len(), 1, "{ctx}: one Secret");
        let secret = secrets[0];
        assert_eq!(secret["metadata"]["name"], "evolux-exporter-token", "{ctx}");
        let data = base64_decode(secret["data"]["token"].as_str().expect("key token"));
        assert_eq!(String::from_utf8(data).unwrap(), SENTINEL, "{ctx}");
        assert!(
            !r.yaml.contains(SENTINEL),
            "{ctx}: the token in clear text in the rendering"
        );
        for cm in r.config_maps() {
            let text = serde_yaml::to_string(cm).unwrap();
            assert!(
                !text.contains("token"),
                "{ctx}: {} names a token",
                name_of(cm)
            );
        }
        for w in r.workloads() {
            let c = exporter_container(w);
            assert_no_token_variable(c, &ctx);
            // Mounted as the token file: the whole Secret as a directory (a rotated
            // token reaches the pod), read-only.
            let file = arg_value(c, "--evolux.token-file").expect("--evolux.token-file");
            assert_eq!(file, "/var/run/secrets/evolux/token", "{ctx}");
            let mount = seq(&c["volumeMounts"])
                .iter()
                .find(|m| m["mountPath"] == "/var/run/secrets/evolux")
                .unwrap_or_else(|| panic!("{ctx}: the token is not mounted"));
            assert!(
                mount["subPath"].is_null() && mount["readOnly"] == true,
                "{ctx}"
            );
            let volume = seq(&pod_spec(w)["volumes"])
                .iter()
                .find(|v| v["name"] == mount["name"])
                .unwrap();
            assert_eq!(
                volume["secret"]["secretName"], "evolux-exporter-token",
                "{ctx}"
            );
            assert!(volume["secret"]["items"].is_null(), "{ctx}");
        }
        assert!(
            chart
                .notes
                .contains("WARNING: the token was given as token.value"),
            "{ctx}: NOTES warn about token.value:\n{}",
            chart.notes
        );
    }
}

/// No variable of `c` names a token or comes from a Secret, and no
/// variable source is a Secret.
fn assert_no_token_variable(c: &Value, ctx: &str) {
    for e in seq(&c["env"]) {
        let name = str_of(&e["name"]);
        assert!(!name.contains("TOKEN"), "{ctx}: env {name}");
        assert!(
            e["valueFrom"]["secretKeyRef"].is_null(),
            "{ctx}: env {name} from a Secret"
        );
    }
    for source in seq(&c["envFrom"]) {
        assert!(source["secretRef"].is_null(), "{ctx}: envFrom a Secret");
    }
}

/// The ci/ files as written (an existing Secret, extra variables and
/// arguments): the token is the mounted file, never a variable.
#[test]
fn with_an_existing_secret_the_token_is_only_the_mounted_file() {
    let Some(charts) = ci_charts() else { return };
    for (file, chart) in charts {
        for w in chart.rendering.workloads() {
            let c = exporter_container(w);
            assert_no_token_variable(c, file);
            let files: Vec<&str> = seq(&c["args"])
                .iter()
                .filter_map(|a| a.as_str())
                .filter(|a| a.starts_with("--evolux.token"))
                .collect();
            assert_eq!(files.len(), 1, "{file}: {files:?}");
            assert!(files[0].starts_with("--evolux.token-file=/var/run/secrets/evolux/"));
        }
    }
}

#[test]
fn an_existing_secret_is_mounted_by_name_and_key_and_notes_say_what_is_missing() {
    let Some(python) = helm_python() else { return };
    let chart = render(
        python,
        "existing",
        "token:\n  existingSecret: corp-evolux\n  key: api-token\n",
    );
    let r = &chart.rendering;
    assert_eq!(r.of_kind("Secret").count(), 0, "the chart makes no Secret");
    let w = r.workloads()[0];
    let c = exporter_container(w);
    assert_eq!(
        arg_value(c, "--evolux.token-file"),
        Some("/var/run/secrets/evolux/api-token")
    );
    assert!(
        seq(&pod_spec(w)["volumes"])
            .iter()
            .any(|v| v["secret"]["secretName"] == "corp-evolux"),
        "the existing Secret is the token volume"
    );
    assert!(
        !chart.notes.contains("WARNING: the token") && !chart.notes.contains("pods wait for"),
        "{}",
        chart.notes
    );
    // With neither, NOTES say which Secret the pods wait for, and how to make it.
    let defaults = &ci_charts().unwrap()["default-values.yaml"];
    assert!(
        defaults.notes.contains(
            "kubectl -n monitoring create secret generic evolux-exporter-token --from-file=token=./token"
        ),
        "{}",
        defaults.notes
    );
}
