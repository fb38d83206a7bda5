//! Tests of what ships beside the binary, run with outside tools:
//! dashboards, alerting rules, promtool, a real Prometheus, Kubernetes.

#[path = "../support/mod.rs"]
mod support;

// The parts of tests/support this binary uses besides support/mod.rs.
#[path = "../support/dashboard_queries.rs"]
mod dashboard_queries;
#[path = "../support/exporter_once.rs"]
mod exporter_once;
#[path = "../support/mock_api.rs"]
mod mock_api;
#[path = "../support/prometheus.rs"]
mod prometheus;
#[path = "../support/tools.rs"]
mod tools;

mod dashboards;
mod helm;
mod kubernetes;
mod mixin;
mod prometheus_e2e;
mod promtool;
mod rules;
mod status_page;
