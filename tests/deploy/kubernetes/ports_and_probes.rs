//! Ports, port names and selectors that must agree, and probe and scrape paths asked
//! of a running exporter.

use super::*;

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
    let job = rules_job();
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
    report(CAMPAIGN_A)
        .respond_with(data(recs).set_delay(Duration::from_millis(1500)))
        .mount(&upstream)
        .await;
    let mut exporter = Exporter::new()
        .env("EVOLUX_TOKEN", "dummy-token")
        .args([
            format!("--evolux.url={}", upstream.uri()),
            format!("--campaign={CAMPAIGN_A}"),
            "--poll.interval=1h".into(),
            "--evolux.timeout=5s".into(),
        ])
        .spawn()
        .await;
    let status = |p: &str| {
        let get = exporter.http.get(exporter.url(p)).send();
        async move { get.await.expect("the exporter answers").status() }
    };
    for p in &liveness {
        assert_eq!(status(p).await, 200, "liveness {p} before the first poll");
    }
    for p in &readiness {
        assert_eq!(status(p).await, 503, "readiness {p} before the first poll");
    }
    exporter.wait_ready(Duration::from_secs(10)).await;
    for p in liveness.iter().chain(&readiness).chain(&scrape) {
        let get = exporter.http.get(exporter.url(p)).send().await;
        assert_eq!(
            get.expect("answers").status(),
            200,
            "{p} after the first poll"
        );
    }
    let m = exporter.scrape().await;
    assert_eq!(m.campaign_total(CAMPAIGN_A), 10.0);
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(1.0),
        "the campaign is up once ready"
    );
}

// ---------------------------------------------------------------------------------
