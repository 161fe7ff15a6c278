#!/usr/bin/env bash
# A monkey soak of one real MTA with its shipped plan, for hours, with the memory of the toolkit
# and of the MTA sampled over time. Not for CI.
#
#   bash scripts/soak.sh TARGET [DURATION] [OUTDIR] [SEED] [CONCURRENCY]
#   bash scripts/soak.sh postfix 60m soak-postfix 2026 3
#
# OUTDIR gets report.json, report.html, run.log (the monkey's output) and rss.csv: every 30 s,
# the monkey's RSS and the summed RSS and count of the MTA's processes (all descendants of the
# monkey, which starts the MTA). Ctrl-C stops the run; the monkey still writes its reports.
set -euo pipefail

target=${1:?usage: scripts/soak.sh TARGET [DURATION] [OUTDIR] [SEED] [CONCURRENCY]}
duration=${2:-60m}
out=${3:-soak-$target}
seed=${4:-2026}
concurrency=${5:-3}
here="$(cd "$(dirname "$0")/.." && pwd)"
plan="$here/monkey/plans/$target.yaml"
[ -f "$plan" ] || { echo "soak: no shipped plan $plan" >&2; exit 2; }
mkdir -p "$out"

node "$here/dist/bin/smtpchaos.js" monkey run --target "$target" --plan "$plan" --duration "$duration" --seed "$seed" \
  --concurrency "$concurrency" --json "$out/report.json" --out "html=$out/report.html" >"$out/run.log" 2>&1 &
monkey=$!
trap 'kill -INT "$monkey" 2>/dev/null || true' INT TERM

# 0 for a process that is gone or a zombie (no VmRSS line)
rss_kib() { local v; v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true); echo "${v:-0}"; }
descendants() {
  local kids
  kids=$(cat /proc/"$1"/task/*/children 2>/dev/null || true)
  for k in $kids; do echo "$k"; descendants "$k"; done
}

echo "elapsed_s,monkey_rss_mib,mta_rss_mib,mta_processes" >"$out/rss.csv"
start=$(date +%s)
while kill -0 "$monkey" 2>/dev/null; do
  mta=0 n=0
  for p in $(descendants "$monkey"); do mta=$((mta + $(rss_kib "$p"))); n=$((n + 1)); done
  echo "$(($(date +%s) - start)),$(($(rss_kib "$monkey") / 1024)),$((mta / 1024)),$n" >>"$out/rss.csv"
  sleep 30
done
wait "$monkey" || code=$?
echo "soak: $target done (exit ${code:-0}); $out/report.json, $out/report.html, $out/rss.csv"
exit "${code:-0}"
