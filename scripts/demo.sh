#!/usr/bin/env bash
# The demo until the daemon lands: synthetic parts → `inspector train` with the shipped p=33
# teacher (strided, two students, a few epochs) → `inspector calibrate` → `inspector infer` on
# parts it has not seen, some with scratches. Everything goes to demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=demo-output
PYTHON=${PYTHON:-/usr/bin/python3}
rm -rf "$out"
echo "== 1/4 drawing synthetic parts (40 good for training, 6 good and 6 scratched for testing)"
PYTHONPATH=training "$PYTHON" -c "from pathlib import Path; from inspector_training.synthetic import write_mvtec_category; \
write_mvtec_category(Path('$out/part'), 40, 6, 6, 128)"
echo "== 2/4 training students against the shipped teacher"
node bin/inspector.js train --good "$out/part" --out "$out/bundle" --scales 33 --students 2 --epochs 4 \
  --size 128 --mode strided
echo "== 3/4 calibrating on the good parts"
node bin/inspector.js calibrate --bundle "$out/bundle" --good "$out/part/train/good" --bad "$out/part/test/scratch" --target-frr 0.05
echo "== 4/4 inspecting unseen parts (verdict per line; heatmaps in $out/heatmaps)"
node bin/inspector.js infer --bundle "$out/bundle" --out "$out/heatmaps" "$out"/part/test/good/*.png "$out"/part/test/scratch/*.png |
  node -e 'require("readline").createInterface({input: process.stdin}).on("line", (l) => { const r = JSON.parse(l);
    console.log(`${r.verdict.padEnd(9)} score ${r.score.toFixed(2).padStart(7)}  regions ${String(r.regions.length).padStart(2)}  ${r.image}`); })'
echo "calibration report: $out/bundle/calibration-report.html"
