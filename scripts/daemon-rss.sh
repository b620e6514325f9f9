#!/usr/bin/env bash
# The daemon's resident memory over a long run, sampled every 10 s from /proc: the demo station at
# full speed for PARTS parts (default 2,400), on its own embedded broker. Prints "seconds MB" lines.
set -euo pipefail
cd "$(dirname "$0")/.."
PARTS=${PARTS:-2400}
work=$(mktemp -d)
sed -e "s#bundle: ../models/demo#bundle: $PWD/models/demo#" -e 's#minIntervalMs: 500.*#minIntervalMs: 0#' \
    -e "s#  seed: 1#  seed: 1\n  count: $PARTS#" pipelines/demo.yaml > "$work/station.yaml"
printf 'mqtt:\n  embedded:\n    port: 1895\nstateDir: %s/state\nlogging:\n  format: json\n  level: warn\n' "$work" > "$work/daemon.yaml"
OPENCV4NODEJS_DISABLE_AUTOBUILD=1 node bin/inspector.js run --pipeline "$work/station.yaml" --config "$work/daemon.yaml" >/dev/null 2>&1 &
pid=$!
start=$SECONDS
while kill -0 "$pid" 2>/dev/null; do
  awk -v t=$((SECONDS - start)) '/VmRSS/ { printf "%d %.1f\n", t, $2 / 1024 }' "/proc/$pid/status" 2>/dev/null || true
  sleep 10
done
rm -rf "$work"
