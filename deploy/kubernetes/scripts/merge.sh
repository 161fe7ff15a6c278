#!/bin/sh
# The merge step (the merge Job's container): waits until every shard has written its exit code
# to RUN_DIR/shard-I.exit (or until WAIT_SECONDS, for shards killed without a word: OOM, a lost
# node; or until the start barrier called the run off), merges the shards that exited 0 with the
# run's thresholds, writes RUN_DIR/verdict.txt (the console report), merged.json, storm.html and
# merge.exit, and exits with merge's code: 0 every threshold passed, 1 one failed, 2 an error. A
# shard that failed or never finished makes the run incomplete: the rest is still merged and
# reported, and the step exits 2 where the thresholds passed on the rest.
#
# env: RUN_DIR (or RUN), SHARDS, JOB_UID (the merge Job's UID), THRESHOLDS (separated by ";"),
# WAIT_SECONDS (or DEADLINE_SECONDS: the Job's deadline less 300 s for the merge), POLL_SECONDS,
# SMTPCHAOS (the CLI)
set -u

RUN_DIR=${RUN_DIR:-/results/${RUN:?RUN is not set}}
: "${SHARDS:?}" "${JOB_UID:?}"
WAIT_SECONDS=${WAIT_SECONDS:-$((${DEADLINE_SECONDS:?} - 300))}
POLL_SECONDS=${POLL_SECONDS:-10}
SMTPCHAOS=${SMTPCHAOS:-node /app/dist/bin/smtpchaos.js}

if ! mkdir -p "$RUN_DIR" 2>/dev/null || ! touch "$RUN_DIR/.writable-merge" 2>/dev/null; then
  echo "merge: cannot write $RUN_DIR as uid $(id -u) gid $(id -g) (groups $(id -G))" >&2
  exit 2
fi
rm -f "$RUN_DIR/.writable-merge"
# One merge per RUN directory: an earlier run's shards must not pass for this one's.
owner="$RUN_DIR/merge-owner"
[ -s "$owner" ] || { echo "$JOB_UID" > "$owner.tmp" && mv -f "$owner.tmp" "$owner"; }
if [ "$(cat "$owner")" != "$JOB_UID" ]; then
  echo "merge: $RUN_DIR was merged by Job $(cat "$owner"), not this one ($JOB_UID): set a new RUN in kustomization.yaml" >&2
  exit 2
fi

finish() {
  echo "$1" > "$RUN_DIR/merge.exit"
  exit "$1"
}

echo "merge: waiting for $SHARDS shards in $RUN_DIR (at most ${WAIT_SECONDS}s)"
began=$(date +%s)
while :; do
  n=0
  i=1
  while [ "$i" -le "$SHARDS" ]; do
    [ -s "$RUN_DIR/shard-$i.exit" ] && n=$((n + 1))
    i=$((i + 1))
  done
  [ "$n" -ge "$SHARDS" ] && break
  if [ -e "$RUN_DIR/barrier-failed" ]; then
    echo "merge: the start barrier called the run off: $(cat "$RUN_DIR/barrier-failed")"
    break
  fi
  if [ $(($(date +%s) - began)) -ge "$WAIT_SECONDS" ]; then
    echo "merge: gave up waiting after ${WAIT_SECONDS}s: $n of $SHARDS shards finished"
    break
  fi
  sleep "$POLL_SECONDS"
done

# The parts: shards that exited 0. The others are named, and merge names them missing too.
set --
missing=
i=1
while [ "$i" -le "$SHARDS" ]; do
  rc=$(cat "$RUN_DIR/shard-$i.exit" 2>/dev/null) || rc=
  if [ "$rc" = 0 ] && [ -s "$RUN_DIR/shard-$i.json" ]; then
    set -- "$@" "$RUN_DIR/shard-$i.json"
  else
    missing="$missing $i/$SHARDS(${rc:-no exit code})"
  fi
  i=$((i + 1))
done
[ -n "$missing" ] && echo "merge: shards that did not finish (shard(exit code)):$missing"
if [ "$#" -eq 0 ]; then
  echo "merge: no shard finished: nothing to merge" | tee "$RUN_DIR/verdict.txt"
  finish 2
fi

# THRESHOLDS: "p99(dot)<2s; rate(ungraceful)==0" -> --threshold EXPR ... (no globbing: * ? [)
set -f
old_ifs=$IFS
IFS=';'
for t in ${THRESHOLDS:-}; do
  IFS=$old_ifs
  t=${t#"${t%%[! ]*}"}
  t=${t%"${t##*[! ]}"}
  [ -n "$t" ] && set -- "$@" --threshold "$t"
done
IFS=$old_ifs
set +f

# shellcheck disable=SC2086 # SMTPCHAOS is a word list
$SMTPCHAOS storm merge "$@" --json "$RUN_DIR/merged.json" --html "$RUN_DIR/storm.html" > "$RUN_DIR/verdict.txt" 2>&1
rc=$?
cat "$RUN_DIR/verdict.txt"
echo "merge: storm merge exited $rc; report in $RUN_DIR: verdict.txt, merged.json, storm.html"
if [ -n "$missing" ]; then
  if [ "$rc" = 0 ]; then
    echo "merge: the run is incomplete (shards$missing): exit 2 although the thresholds passed on the rest" | tee -a "$RUN_DIR/verdict.txt"
    rc=2
  else
    echo "merge: the run is incomplete (shards$missing)" | tee -a "$RUN_DIR/verdict.txt"
  fi
fi
finish "$rc"
