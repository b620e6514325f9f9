#!/usr/bin/env bash
# Reproduces the rows of docs/RESULTS.md for one trained bundle: evaluates it as trained, then
# re-exported in the other mode (same weights), on ../shared/datasets/magnetic-tile's test split.
# Statistics (ẽ, ṽ) come from the data set's train/good, as `inspector eval` does for an
# uncalibrated bundle. Usage: scripts/magnetic-tile-results.sh BUNDLE [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=${1:?usage: $0 BUNDLE [OUT]}
out=${2:-results/$(basename "$bundle")}
data=../shared/datasets/magnetic-tile
[ -d "$data" ] || { echo "skipped: $data is not here (see ../shared/datasets/README.md)"; exit 0; }
mode=$(node -p "JSON.parse(require('fs').readFileSync('$bundle/manifest.json', 'utf8')).mode")
other=$([ "$mode" = dense ] && echo strided || echo dense)
node bin/inspector.js export --bundle "$bundle" --out "$bundle-$other" --mode "$other" >/dev/null
for variant in "$bundle" "$bundle-$other"; do
  name=$(basename "$variant")
  node bin/inspector.js eval --bundle "$variant" --data "$data" --out "$out/$name" >/dev/null
  node -e "const m = JSON.parse(require('fs').readFileSync('$out/$name/metrics.json', 'utf8'));
    const o = m.overall; console.log(['$name', o.image_auroc.toFixed(3), o.pixel_auroc.toFixed(3), o.au_pro.toFixed(3),
    (m.seconds_per_image * 1000).toFixed(0) + ' ms'].join(' | '))"
done
