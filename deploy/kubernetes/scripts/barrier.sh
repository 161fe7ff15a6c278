#!/bin/sh
# The storm pods' start barrier (their init container). Each shard records when it arrived in
# RUN_DIR/arrived/shard-I (its node's clock, Unix seconds) and waits until all SHARDS have; then
# every shard computes the same start, the latest arrival + LEAD_SECONDS, and writes it to
# START_AT_FILE for the storm container's --start-at. No shard decides alone and no API access is
# needed: the shared volume is the rendezvous. LEAD_SECONDS covers how late a pod may see the last
# arrival (NFS clients cache directory listings for up to a minute) and the storm container's
# start. A shard that gives up writes exit code 2 to RUN_DIR/shard-I.exit for the merge step and
# calls the run off (RUN_DIR/barrier-failed): the other shards give up too, and a pod arriving
# later does not start a storm of its own.
#
# env: RUN_DIR (or RUN: /results/$RUN), SHARDS, SHARD_INDEX (the completion index, from 0),
# JOB_UID (the storm Job's UID), LEAD_SECONDS, BARRIER_TIMEOUT_SECONDS, START_AT_FILE, POLL_SECONDS
set -u

RUN_DIR=${RUN_DIR:-/results/${RUN:?RUN is not set}}
: "${SHARDS:?}" "${SHARD_INDEX:?}" "${JOB_UID:?}"
LEAD_SECONDS=${LEAD_SECONDS:-90}
BARRIER_TIMEOUT_SECONDS=${BARRIER_TIMEOUT_SECONDS:-900}
START_AT_FILE=${START_AT_FILE:-/barrier/start-at}
POLL_SECONDS=${POLL_SECONDS:-2}
# --shard and the result files count from 1; the completion index from 0
shard=$((SHARD_INDEX + 1))
me="barrier: shard $shard/$SHARDS"

# before RUN_DIR is known to be this run's, so nothing is written there
refuse() {
  echo "$me: $*" >&2
  exit 2
}
give_up() {
  echo "$me: $*" >&2
  echo 2 > "$RUN_DIR/shard-$shard.exit"
  if [ ! -e "$RUN_DIR/barrier-failed" ]; then
    echo "shard $shard/$SHARDS: $*" > "$RUN_DIR/.barrier-failed.$shard" && mv -f "$RUN_DIR/.barrier-failed.$shard" "$RUN_DIR/barrier-failed"
  fi
  exit 2
}

# Fail now, not after the storm: its report goes to this volume.
if ! mkdir -p "$RUN_DIR/arrived" 2>/dev/null || ! touch "$RUN_DIR/.writable-$shard" 2>/dev/null; then
  refuse "cannot write $RUN_DIR as uid $(id -u) gid $(id -g) (groups $(id -G)): make the volume writable for them (fsGroup is ignored by some volume types, NFS among them)"
fi
rm -f "$RUN_DIR/.writable-$shard"

# A RUN directory belongs to one storm Job: a rerun with the same RUN would start at the old
# run's (past) instant and be merged with the old results.
owner="$RUN_DIR/owner"
if [ ! -s "$owner" ]; then
  echo "$JOB_UID" > "$owner.$shard.tmp" && mv -f "$owner.$shard.tmp" "$owner"
fi
if [ "$(cat "$owner")" != "$JOB_UID" ]; then
  refuse "$RUN_DIR belongs to storm Job $(cat "$owner"), not this one ($JOB_UID): set a new RUN in kustomization.yaml"
fi

# A replacement pod of this index keeps the first arrival, so the start does not move.
arrival="$RUN_DIR/arrived/shard-$shard"
if [ ! -s "$arrival" ]; then
  date +%s > "$RUN_DIR/arrived/.shard-$shard.tmp" && mv -f "$RUN_DIR/arrived/.shard-$shard.tmp" "$arrival"
fi
echo "$me: arrived; waiting for all $SHARDS shards (at most ${BARRIER_TIMEOUT_SECONDS}s)"

began=$(date +%s)
while :; do
  if [ -e "$RUN_DIR/barrier-failed" ]; then
    give_up "the run was called off: $(cat "$RUN_DIR/barrier-failed")"
  fi
  n=0
  latest=0
  i=1
  while [ "$i" -le "$SHARDS" ]; do
    t=$(cat "$RUN_DIR/arrived/shard-$i" 2>/dev/null) || t=
    case "$t" in
      '' | *[!0-9]*) ;;
      *)
        n=$((n + 1))
        [ "$t" -gt "$latest" ] && latest=$t
        ;;
    esac
    i=$((i + 1))
  done
  [ "$n" -ge "$SHARDS" ] && break
  now=$(date +%s)
  if [ $((now - began)) -ge "$BARRIER_TIMEOUT_SECONDS" ]; then
    give_up "only $n of $SHARDS shards arrived in ${BARRIER_TIMEOUT_SECONDS}s; are storm pods Pending? One storm pod per node (required anti-affinity) needs $SHARDS schedulable nodes"
  fi
  sleep "$POLL_SECONDS"
done

start=$((latest + LEAD_SECONDS))
if ! { echo "$start" > "$START_AT_FILE.tmp" && mv -f "$START_AT_FILE.tmp" "$START_AT_FILE"; }; then
  give_up "cannot write $START_AT_FILE"
fi
left=$((start - $(date +%s)))
if [ "$left" -le 0 ]; then
  # storm refuses a start already past (exit 2, naming how late): a late shard would not overlap the others
  echo "$me: all $SHARDS arrived, but the start ($start) passed $((-left))s ago: this pod is late"
else
  echo "$me: all $SHARDS arrived; the storm starts at $start (Unix seconds), in ${left}s"
fi
