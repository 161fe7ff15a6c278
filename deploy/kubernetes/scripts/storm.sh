#!/bin/sh
# One shard of the storm (the storm container): shard I/N of the run STORM_ARGS describes, from the
# start the barrier wrote, with as many worker threads as the pod requests CPUs. The result goes to
# RUN_DIR/shard-I.json and storm's exit code to RUN_DIR/shard-I.exit, which the merge step waits for.
#
# env: RUN_DIR (or RUN), SHARDS, SHARD_INDEX, START_AT_FILE, WORKERS (requests.cpu, rounded up),
# TARGET_HOST, TARGET_PORT, TARGET_HOST6 (empty: no IPv6 share), TARGET_TLS_PORT (empty: no
# implicit-TLS share), SEED, STORM_ARGS (more storm flags, split on blanks), SMTPCHAOS (the CLI)
set -u

RUN_DIR=${RUN_DIR:-/results/${RUN:?RUN is not set}}
: "${SHARDS:?}" "${SHARD_INDEX:?}" "${WORKERS:?}" "${TARGET_HOST:?}" "${TARGET_PORT:?}" "${SEED:?}"
START_AT_FILE=${START_AT_FILE:-/barrier/start-at}
SMTPCHAOS=${SMTPCHAOS:-node /app/dist/bin/smtpchaos.js}
shard=$((SHARD_INDEX + 1))
start=$(cat "$START_AT_FILE") || exit 2

# A storm holds one descriptor per session.
# shellcheck disable=SC3045 # dash, the image's sh, has ulimit -n and -H
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

set -- --host "$TARGET_HOST" --port "$TARGET_PORT" --allow-remote
# Say what the run does rather than let the mix's IPv6 and implicit-TLS shares fall back to IPv4
# and plain text.
if [ -n "${TARGET_HOST6:-}" ]; then
  set -- "$@" --host6 "$TARGET_HOST6"
else
  echo "storm.sh: TARGET_HOST6 is empty: no IPv6 sessions (--ipv6 0)"
  set -- "$@" --ipv6 0
fi
if [ -n "${TARGET_TLS_PORT:-}" ]; then
  set -- "$@" --tls-port "$TARGET_TLS_PORT"
else
  echo "storm.sh: TARGET_TLS_PORT is empty: no implicit-TLS sessions (--implicit-tls 0)"
  set -- "$@" --implicit-tls 0
fi
set -- "$@" --shard "$shard/$SHARDS" --start-at "$start" --seed "$SEED" --workers "$WORKERS" \
  --json "$RUN_DIR/shard-$shard.json"
# SMTPCHAOS and STORM_ARGS are word lists: split, not globbed
set -f
# shellcheck disable=SC2086
$SMTPCHAOS storm "$@" ${STORM_ARGS:-} &
pid=$!
# sh is PID 1 here and would ignore SIGTERM (deadline, eviction): pass it on, so storm writes its
# partial report and exits 130. A trapped signal ends `wait` early: wait again for storm's code.
signalled=0
trap 'signalled=1; kill -TERM "$pid" 2>/dev/null' TERM INT
wait "$pid"
rc=$?
while [ "$signalled" = 1 ]; do
  signalled=0
  wait "$pid"
  rc=$?
done
echo "$rc" > "$RUN_DIR/shard-$shard.exit"
exit "$rc"
