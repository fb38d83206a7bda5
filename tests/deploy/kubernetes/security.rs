//! The security context, and the token kept out of ConfigMaps and literals.

use super::*;

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
