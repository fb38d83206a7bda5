#!/usr/bin/env bash
# The Kustomize components keep copies of files outside deploy/kubernetes/
# (kustomize cannot read files above its root):
#
#   components/prometheus-operator/prometheusrule.yaml  (spec: the rules of
#                                          deploy/prometheus/evolux-rules.yml)
#   components/dashboards/*.json           (the dashboards of dashboards/)
#
# All of them, and their sources, are rendered from the monitoring mixin by
# mixin/render.sh; this script runs it, with the same arguments: run it (or
# mixin/render.sh) after changing mixin/; with --check it changes nothing and
# exits 1 if a file is out of date (`cargo test --test deploy` fails then too).
set -euo pipefail
exec "$(cd "$(dirname "$0")/../.." && pwd)/mixin/render.sh" "$@"
