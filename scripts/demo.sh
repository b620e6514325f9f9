#!/usr/bin/env bash
# The demo until the daemon lands: synthetic good parts → `inspector train` with the shipped
# teachers (p=33, strided, two students, a few epochs) → a bundle under demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=demo-output
PYTHON=${PYTHON:-/usr/bin/python3}
PYTHONPATH=training "$PYTHON" -m inspector_training.synthetic "$out/good" 24
node bin/inspector.js train --good "$out/good" --out "$out/bundle" --scales 33 --students 2 --epochs 3 \
  --size 128 --mode strided
echo "bundle manifest: $out/bundle/manifest.json"
