#!/usr/bin/env bash
# Renders the monitoring mixin (mixin/*.libsonnet) into the files it is the
# single source of:
#
#   dashboards/*.json                                   the Grafana dashboards
#   deploy/prometheus/evolux-rules.yml                  recording rules + alerts
#   deploy/kubernetes/components/dashboards/*.json      copies for the Kustomize
#   deploy/kubernetes/components/prometheus-operator/prometheusrule.yaml
#                                                       component (kustomize cannot
#                                                       read files above its root)
#   deploy/helm/evolux-exporter/files/                  copies for the Helm chart
#                                                       (dashboards/*.json and
#                                                       evolux-rules.yml; a chart
#                                                       reads only its own files)
#
# Usage:
#   mixin/render.sh                   regenerate those files (default selector)
#   mixin/render.sh --check           change nothing; exit 1 if one differs
#   mixin/render.sh --selector 'job="my-evolux"' --out DIR
#                                     render for your own job into DIR/dashboards/,
#                                     DIR/prometheus/evolux-rules.yml and
#                                     DIR/kubernetes/prometheusrule.yaml
#
# Needs jsonnet (Debian's `jsonnet` package), or $JSONNET pointing at one.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
jsonnet="${JSONNET:-jsonnet}"
check=false
selector=""
out=""

usage() {
    sed -n '/^# Usage:/,/^# Needs/p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while (($#)); do
    case "$1" in
        --check) check=true ;;
        --selector) (($# >= 2)) || usage; selector="$2"; shift ;;
        --selector=*) selector="${1#--selector=}" ;;
        --out) (($# >= 2)) || usage; out="$2"; shift ;;
        --out=*) out="${1#--out=}" ;;
        -h | --help) usage ;;
        *) echo "render.sh: unknown argument: $1" >&2; usage ;;
    esac
    shift
done
if [[ -n "$selector" && -z "$out" ]]; then
    echo "render.sh: --selector needs --out: the committed files are the default rendering" >&2
    exit 2
fi
if $check && [[ -n "$out" ]]; then
    echo "render.sh: --check compares the committed files; it takes no --out" >&2
    exit 2
fi
if ! command -v "$jsonnet" >/dev/null 2>&1; then
    echo "render.sh: $jsonnet not found: install Debian's jsonnet package or set \$JSONNET" >&2
    exit 2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/dashboards" "$tmp/prometheus" "$tmp/kubernetes"
args=(-S -m "$tmp")
[[ -n "$selector" ]] && args+=(--tla-str "selector=$selector")
"$jsonnet" "${args[@]}" "$here/render.jsonnet" >/dev/null

if [[ -n "$out" ]]; then
    mkdir -p "$out"
    cp -R "$tmp/dashboards" "$tmp/prometheus" "$tmp/kubernetes" "$out/"
    echo "rendered into $out (selector ${selector:-the default})"
    exit 0
fi

stale=0
# Installs $1 (a rendered file) as $2, or with --check reports whether it differs.
put() {
    if $check; then
        if ! cmp -s "$1" "$2"; then
            echo "out of date: ${2#"$root"/}" >&2
            stale=1
        fi
    else
        cp "$1" "$2"
    fi
}
# Removes the dashboards of directory $1 that the mixin no longer renders.
prune() {
    local file
    for file in "$1"/*.json; do
        [[ -e "$file" && ! -e "$tmp/dashboards/$(basename "$file")" ]] || continue
        if $check; then
            echo "not rendered by the mixin: ${file#"$root"/}" >&2
            stale=1
        else
            rm "$file"
        fi
    done
}

for dir in "$root/dashboards" "$root/deploy/kubernetes/components/dashboards" \
    "$root/deploy/helm/evolux-exporter/files/dashboards"; do
    for file in "$tmp"/dashboards/*.json; do
        put "$file" "$dir/$(basename "$file")"
    done
    prune "$dir"
done
put "$tmp/prometheus/evolux-rules.yml" "$root/deploy/prometheus/evolux-rules.yml"
put "$tmp/prometheus/evolux-rules.yml" "$root/deploy/helm/evolux-exporter/files/evolux-rules.yml"
put "$tmp/kubernetes/prometheusrule.yaml" \
    "$root/deploy/kubernetes/components/prometheus-operator/prometheusrule.yaml"

if $check; then
    ((stale == 0)) && echo "rendered files up to date"
    exit "$stale"
fi
echo "rendered; if dashboards/ gained or lost a file, update deploy/kubernetes/components/dashboards/kustomization.yaml"
