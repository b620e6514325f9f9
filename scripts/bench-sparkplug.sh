#!/usr/bin/env bash
# What the Sparkplug B edge node costs a station (issue 19): `inspector bench` on the demo station
# without it and with it (on the embedded broker, no primary host: DDATA for every part),
# alternating REPEAT times. Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
PARTS=${PARTS:-200}
OUT=results/sparkplug-cost
mkdir -p "$OUT"
export OPENCV4NODEJS_DISABLE_AUTOBUILD=1
printf 'mqtt:\n  embedded:\n    port: 1884\n' > "$OUT/without.yaml"
printf 'mqtt:\n  embedded:\n    port: 1884\nsparkplug:\n  enabled: true\n  groupId: bench\n' > "$OUT/with.yaml"
for i in $(seq "$REPEAT"); do
  for k in without with; do
    node bin/inspector.js bench --pipeline pipelines/demo.yaml --config "$OUT/$k.yaml" --parts "$PARTS" --warmup 10 --json > "$OUT/$k-$i.json"
  done
done
node -e '
const fs = require("fs");
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const k of ["without", "with"]) {
  const r = [...Array(Number(process.argv[1])).keys()].map((i) => JSON.parse(fs.readFileSync(`results/sparkplug-cost/${k}-${i + 1}.json`, "utf8")));
  console.log(k.padEnd(8), "daemon/bare", r.map((x) => x.ratio.toFixed(3)).join(" "), "median", median(r.map((x) => x.ratio)).toFixed(3),
    "; main thread CPU", median(r.map((x) => x.mainThreadCpuMsPerPart ?? NaN)).toFixed(2), "ms/part");
}' "$REPEAT"
