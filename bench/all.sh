#!/usr/bin/env bash
# Every docs/api.md §9 benchmark in one go, ending with one table of figures next to their bars.
#
#   bash bench/all.sh                      # full size (about 10 minutes on 2 cores)
#   METRICS_BENCH_LEADS=100000 bash bench/all.sh   # a quicker, smaller metrics data set
#
# Runs, one after the other (never at once): bench/run.sh (HTTP ingest vs pgbench on the same
# statement and server, round robin vs owner-given, RSS), then the cargo benches batch_ingest,
# batch_rss, decide_latency, sla_scan, metrics_report and webhook_fanout. Each keeps its full output in
# bench/results/all-<time>/; the table is printed at the end and saved there too.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/bench/results/all-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
cd "$ROOT"

step() { echo "bench/all: $*" >&2; }

step "ingest: bench/run.sh --duration ${DURATION:-10} --connections ${CONNECTIONS:-16}"
bash bench/run.sh --duration "${DURATION:-10}" --connections "${CONNECTIONS:-16}" >"$OUT/ingest.txt" 2>&1 ||
    { tail -20 "$OUT/ingest.txt" >&2; exit 1; }
for b in batch_ingest batch_rss decide_latency sla_scan metrics_report webhook_fanout; do
    step "cargo bench --bench $b"
    cargo bench --bench "$b" >"$OUT/$b.txt" 2>&1 || { tail -20 "$OUT/$b.txt" >&2; exit 1; }
done

field() { awk -v k="$2" 'index($0, k) == 1 { v = substr($0, length(k) + 1); gsub(/^ +/, "", v); print v; exit }' "$OUT/$1"; }
first() { field "$1" "$2" | awk '{print $1}'; }
row() { grep -m1 "^| $2" "$OUT/$1" | awk -F'|' '{gsub(/^ +| +$/, "", $3); gsub(/^ +| +$/, "", $4); print $3 " | " $4}'; }

{
    echo "salgate benchmarks — $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD), $(nproc) CPUs"
    echo
    echo "| docs/api.md §9 | measured | bar |"
    echo "| --- | --- | --- |"
    echo "| single-lead ingest over HTTP / pgbench, same SQL and server (means of two runs each) | $(first ingest.txt '  ratio HTTP / pgbench') ($(first ingest.txt '  HTTP ingest req/s (2xx)') req/s vs $(first ingest.txt '  pgbench TPS (ingest statement)') TPS) | ≥ 0.80 |"
    echo "| round robin / owner-given ingest (routing) | $(field ingest.txt '  ratio round robin / owner given') | ≥ 0.90 |"
    echo "| batch ingest, 1,000 per request | $(row batch_ingest.txt 'batch ingest') |"
    echo "| accept/reject at 1,000 req/s | $(row decide_latency.txt 'accept/reject') |"
    echo "| SLA: flag 10,000 due among 1,000,000 open | $(row sla_scan.txt 'flag') |"
    echo "| SLA: scan with nothing due | $(row sla_scan.txt 'scan with nothing due') |"
    echo "| acceptance report, 90 days by week | $(row metrics_report.txt 'acceptance report') |"
    echo "| service RSS under ingest load | $(field ingest.txt '  service peak RSS (VmRSS, sampled)') | < 100 MiB |"
    echo "| service RSS, 4 clients sending 16 MiB batches | $(row batch_rss.txt '4 clients') |"
    echo "| webhook fan-out, alone and next to a subscriber that never answers | $(row webhook_fanout.txt 'webhook fan-out') |"
} | tee "$OUT/table.md"
echo "full outputs in ${OUT#"$ROOT"/}" >&2
