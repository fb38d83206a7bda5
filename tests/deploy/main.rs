//! Tests of what ships beside the binary, run with outside tools:
//! dashboards, alerting rules, promtool, a real Prometheus, Kubernetes.

#[path = "../support/mod.rs"]
mod support;

mod dashboards;
mod kubernetes;
mod prometheus_e2e;
mod promtool;
mod rules;
