#!/usr/bin/env bash
# Sessions held at once by several storm processes on one machine (issue #22 item 4): every
# process has its own descriptor limit (ulimit -n), so a run beyond it is N shards of one run,
# started together (--start-at), each against its own server (a server is one process too, with
# the same limit), their connections spread over loopback source addresses (--source), then
# merged into one report whose peak concurrency comes from the merged timeline.
# usage: bash bench/held-across-processes.sh [PROCESSES] [SESSIONS_EACH] [RAMP] [HOLD] [SERVER]
#   defaults: 6 17000 40s 55s embedded (102,000 sessions, each started once: --max-sessions;
#   the hold stays under the embedded target's 60 s idle timeout, and above the ramp so that
#   all are open at once). SERVER: embedded (the toolkit's own
#   target, about 13 KiB a connection) or sink (Postfix's smtp-sink: about 190 KiB a connection
#   here, so 100,000 would not fit 24 GiB). Loopback only. Needs dist/ (npm run build).
set -euo pipefail
PROCS=${1:-6}
EACH=${2:-17000}
RAMP=${3:-40s}
HOLD=${4:-55s}
SERVER=${5:-embedded}
usage() { echo "held-across-processes: $1 (usage: bash bench/held-across-processes.sh [PROCESSES] [SESSIONS_EACH] [RAMP] [HOLD] [embedded|sink])" >&2; exit 2; }
[[ "$PROCS" =~ ^[1-9][0-9]*$ ]] || usage "PROCESSES: a positive integer, got '$PROCS'"
[[ "$EACH" =~ ^[1-9][0-9]*$ ]] || usage "SESSIONS_EACH: a positive integer, got '$EACH'"
[[ "$RAMP" =~ ^[1-9][0-9]*(ms|s|m)$ ]] || usage "RAMP: a duration such as 40s, got '$RAMP'"
[[ "$HOLD" =~ ^[1-9][0-9]*(ms|s|m)$ ]] || usage "HOLD: a duration such as 55s, got '$HOLD'"
[ "$SERVER" = embedded ] || [ "$SERVER" = sink ] || usage "SERVER: embedded or sink, got '$SERVER'"
TOTAL=$((PROCS * EACH))
SINK=/usr/sbin/smtp-sink
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLI="$ROOT/dist/bin/smtpchaos.js"
[ "$SERVER" != sink ] || [ -x "$SINK" ] || { echo "held-across-processes: $SINK missing: install postfix (npm run setup:mtas)" >&2; exit 2; }
[ -f "$CLI" ] || { echo "held-across-processes: $CLI missing: npm run build" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)"
LIMIT=$(ulimit -n)
if [ $((EACH + 256)) -gt "$LIMIT" ]; then
  echo "held-across-processes: $EACH sessions per process do not fit 'ulimit -n' $LIMIT: use more processes" >&2
  exit 2
fi
OUT=$(mktemp -d /tmp/smtpchaos-held-XXXXXX)
SINKS=()
cleanup() {
  # only what this script started: the sinks by PID, the embedded targets by their state
  for pid in "${SINKS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for i in $(seq 1 "$PROCS"); do
    if [ -d "$OUT/target-$i" ]; then node "$CLI" target stop embedded --state "$OUT/target-$i" >/dev/null 2>&1 || true; fi
  done
}
trap cleanup EXIT
USER_FLAG=()
[ "$(id -u)" = 0 ] && USER_FLAG=(-u nobody)
PORTS=()
for i in $(seq 1 "$PROCS"); do
  if [ "$SERVER" = sink ]; then
    port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    "$SINK" "${USER_FLAG[@]}" -m $((EACH + 512)) "127.0.0.1:$port" 4096 >/dev/null 2>&1 &
    SINKS+=($!)
  else
    port=$(node "$CLI" target start embedded --state "$OUT/target-$i" | sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p')
    [ -n "$port" ] || { echo "held-across-processes: the embedded target $i did not start" >&2; exit 2; }
  fi
  PORTS+=("$port")
done
sleep 1
AT=$(date -u -d "+5 seconds" +%Y-%m-%dT%H:%M:%SZ)
echo "held-across-processes: $PROCS storm processes x $EACH = $TOTAL held sessions, ramp $RAMP, hold $HOLD; $SERVER servers on ports ${PORTS[*]}; start at $AT; parts in $OUT" >&2
PIDS=()
for i in $(seq 1 "$PROCS"); do
  node "$CLI" storm --host 127.0.0.1 --port "${PORTS[$((i - 1))]}" --weight hold=1 --hold "$HOLD" \
    --stages "$RAMP:$TOTAL,$HOLD:$TOTAL" --max-sessions "$TOTAL" --timeout 90s --source 127.0.0.2-127.0.0.9 --seed 22 \
    --shard "$i/$PROCS" --start-at "$AT" --json "$OUT/shard-$i.json" >"$OUT/shard-$i.log" 2>&1 &
  PIDS+=($!)
done
PEAK=0
# RSS of all storm processes together, sampled every 2 s while they run
while kill -0 "${PIDS[@]}" 2>/dev/null; do
  rss=0
  for pid in "${PIDS[@]}"; do
    r=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    rss=$((rss + ${r:-0}))
  done
  [ "$rss" -gt "$PEAK" ] && PEAK=$rss
  sleep 2
done
FAILED=0
for pid in "${PIDS[@]}"; do wait "$pid" || FAILED=$((FAILED + 1)); done
echo "held-across-processes: storm processes' peak RSS together: $((PEAK / 1024)) MiB; $FAILED of $PROCS exited non-zero (see $OUT/shard-*.log)" >&2
node "$CLI" storm merge "$OUT"/shard-*.json
