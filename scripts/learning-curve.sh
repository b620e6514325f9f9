#!/usr/bin/env bash
# The students' learning curve on the carved validation data (issue 16 item 2): 256² inputs
# trained on 128² crops, and 128², without and with the students' penalty, at 2 → 4 → 8 epochs, each evaluated with and without
# per-position statistics. Resumable: raising --epochs continues a bundle's last checkpoint, and a
# point whose metrics exist is skipped. Metrics in $OUT/curve-NAME-eE[-alike]/metrics.json.
#   scripts/carve-validation.py ../shared/datasets/magnetic-tile/train/good /work/carved   # once
#   nohup scripts/learning-curve.sh > /work/research/curve.log 2>&1 &
set -x
cd "$(dirname "$0")/.."
CARVED=${CARVED:-/work/carved}
BUNDLES=${BUNDLES:-/work/bundles}
OUT=${OUT:-/work/research}
export OPENCV4NODEJS_DISABLE_AUTOBUILD=1
curve() { # NAME TRAIN-ARGS...
  local name=$1; shift
  for e in 2 4 8; do
    local out=$OUT/curve-$name-e$e
    [ -f "$out/metrics.json" ] && [ -f "$out-alike/metrics.json" ] && continue
    node bin/inspector.js train --good "$CARVED/train/good" --out "$BUNDLES/carved-$name" --epochs $e "$@" || exit 1
    rm -f "$BUNDLES/carved-$name/calibration.json"
    node bin/inspector.js eval --bundle "$BUNDLES/carved-$name" --data "$CARVED" --statistics-images 500 --out "$out"
    node bin/inspector.js eval --bundle "$BUNDLES/carved-$name" --data "$CARVED" --statistics-images 500 --no-position-statistics --out "$out-alike"
  done
}
# RESULTS section 8: the recipe before the students' penalty
curve 256-crop128 --size 256 --crop 128 --penalty-images none
curve 128 --penalty-images none
# RESULTS section 10: the default recipe since, with the penalty
curve 128-penalty
echo CURVE-DONE
