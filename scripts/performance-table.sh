#!/usr/bin/env bash
# Reruns every measurement of docs/PERFORMANCE.md on this machine and leaves the JSON reports in
# results/performance/. Run it on an otherwise idle machine: other work skews every figure.
#   scripts/performance-table.sh               # the demo station + every bundle in $BUNDLES
#   BUNDLES=/work/bundles PARTS=200 scripts/performance-table.sh
#   STATION_ONLY=1 REPEAT=5 scripts/performance-table.sh   # the demo station and memory only (minutes, not an hour)
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLES=${BUNDLES:-/work/bundles}
PARTS=${PARTS:-200}
OUT=results/performance
mkdir -p "$OUT"
export OPENCV4NODEJS_DISABLE_AUTOBUILD=1
bench() { node bin/inspector.js bench "$@" --json; }

# The demo station, every core (the default) and one ONNX Runtime thread, REPEAT times each: the
# spread between runs is part of the result.
REPEAT=${REPEAT:-3}
printf 'inference:\n  threads: 1\nmqtt:\n  embedded:\n    port: 1884\n' > "$OUT/one-thread.yaml"
for i in $(seq "$REPEAT"); do
  bench --pipeline pipelines/demo.yaml --config config/demo.yaml --parts "$PARTS" --warmup 10 > "$OUT/demo-station-$i.json"
  bench --pipeline pipelines/demo.yaml --config "$OUT/one-thread.yaml" --parts "$PARTS" --warmup 10 > "$OUT/demo-station-1-thread-$i.json"
done

# Each bundle alone (session.run and PyTorch eager), for the trade-off table.
if [ -z "${STATION_ONLY:-}" ]; then
bench --bundle models/demo --parts 50 --warmup 5 > "$OUT/bundle-demo.json"
for dir in "$BUNDLES"/magnetic-tile-*; do
  [ -f "$dir/manifest.json" ] || continue
  name=$(basename "$dir")
  # The dense and p=17 graphs take seconds per run: fewer runs.
  case "$name" in *dense*|*p17*) runs=3 ;; *) runs=20 ;; esac
  bench --bundle "$dir" --parts "$runs" --warmup 1 > "$OUT/bundle-$name.json"
done
fi

# Memory over a long run: RSS after 200 and after 2,000 parts.
bench --pipeline pipelines/demo.yaml --config config/demo.yaml --parts 2000 --warmup 10 > "$OUT/demo-station-2000.json"
echo "reports in $OUT/"
