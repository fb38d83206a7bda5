#!/usr/bin/env bash
# Takes docs/status-page.png, the README's picture of the status page:
# builds the exporter, runs the demo on a loopback port until its first
# poll, and has headless Chromium photograph `/`. Rerun it after changing
# the page. Needs chromium (Debian: apt-get install chromium).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/docs/status-page.png}"
port="${PORT:-18071}"
chromium="${CHROMIUM:-chromium}"
command -v "$chromium" >/dev/null || { echo "no $chromium on PATH" >&2; exit 1; }

cargo build --quiet --manifest-path "$root/Cargo.toml" --bin evolux-exporter
bin="${CARGO_TARGET_DIR:-$root/target}/debug/evolux-exporter"
"$bin" --demo --poll.interval=1h --web.listen-address="127.0.0.1:$port" 2>/dev/null &
pid=$!
profile="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$profile"' EXIT

for _ in $(seq 1 100); do
    if curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
    sleep 0.2
done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { echo "the demo never got ready" >&2; exit 1; }

"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --user-data-dir="$profile" --window-size=1200,1500 \
    --screenshot="$out" "http://127.0.0.1:$port/" 2>/dev/null
echo "wrote $out"
