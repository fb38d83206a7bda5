#!/usr/bin/env bash
# The whole performance comparison: the exporter's benchmarks, and the peer
# approaches a user would otherwise write (Python json.load + Counter, jq),
# on the same seeded data set of 1 000 000 records. Prints markdown tables.
#
#   bash benches/compare.sh            # needs python3, jq, GNU time; wrk and
#                                      # nginx-light for the serving bench
set -euo pipefail
cd "$(dirname "$0")/.."
records=${RECORDS:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "## Ingest ($records records)"
INGEST_RECORDS=$records cargo bench -q --bench ingest 2>/dev/null | sed -n '/^|/p;/^ingest:/p'

echo
echo "## Peers on the same bytes (whole body in memory, then count)"
INGEST_RECORDS=$records INGEST_WRITE="$work/body.json" cargo bench -q --bench ingest >/dev/null 2>&1
bytes=$(stat -c %s "$work/body.json")
echo "| approach | time | MB/s | peak RSS |"
echo "|---|---|---|---|"
peer() {
    local name=$1; shift
    local out
    out=$( { /usr/bin/time -f '%e %M' "$@" >/dev/null; } 2>&1 | tail -n 1)
    local secs=${out% *} kb=${out#* }
    awk -v n="$name" -v s="$secs" -v kb="$kb" -v b="$bytes" \
        'BEGIN { printf "| %s | %.2f s | %.0f | %.0f MB |\n", n, s, b / 1e6 / s, kb * 1024 / 1e6 }'
}
peer "Python json.load + collections.Counter" python3 -c '
import collections, json, sys
with open(sys.argv[1], "rb") as f:
    page = json.load(f)
c = collections.Counter((r["campaign_uuid"], r["template_uuid"], r["state"]) for r in page["data"])
print(sum(c.values()))' "$work/body.json"
peer "jq group_by" jq '[.data[] | [.campaign_uuid, .template_uuid, .state]] | group_by(.) | map(length) | add' "$work/body.json"
rm -f "$work/body.json"

echo
echo "## Exporter process memory"
cargo bench -q --bench rss 2>/dev/null | sed -n '/^|/p'

echo
echo "## Render"
cargo bench -q --bench render 2>/dev/null | sed -n '/^|/p'

for bench in serve fanout; do
    if [ -f "benches/$bench.rs" ]; then
        echo
        echo "## ${bench^}"
        cargo bench -q --bench "$bench" 2>/dev/null | sed -n '/^|/p;/^[A-Za-z].*:/p'
    fi
done
