#!/usr/bin/env bash
# What the station page and the NG image archive cost a station (issue 18): `inspector bench` on
# the demo station without them ("without"); with the page served and every NG/UNCERTAIN part
# archived, nobody watching ("served"); and the same with the page open in Chromium on this
# machine at the lowest CPU priority, as an operator's screen elsewhere would not take the
# station's cores ("watched"). Alternating, REPEAT times. Run it on an otherwise idle machine.
#   scripts/bench-page.sh            # REPEAT=3 PARTS=200
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
PARTS=${PARTS:-200}
OUT=results/page-cost
mkdir -p "$OUT"
export OPENCV4NODEJS_DISABLE_AUTOBUILD=1
printf 'mqtt:\n  embedded:\n    port: 1884\nhttp:\n  enabled: false\n' > "$OUT/without.yaml"
printf 'mqtt:\n  embedded:\n    port: 1884\nhttp:\n  enabled: true\n  port: 8099\n' > "$OUT/with.yaml"
sed 's#^bundle: \.\./models/demo#bundle: '"$PWD"'/models/demo#' pipelines/demo.yaml > "$OUT/demo.yaml"
{ cat "$OUT/demo.yaml"; printf 'archive:\n  enabled: true\n  dir: archive\n'; } > "$OUT/demo-archive.yaml"
for i in $(seq "$REPEAT"); do
  node bin/inspector.js bench --pipeline "$OUT/demo.yaml" --config "$OUT/without.yaml" --parts "$PARTS" --warmup 10 --json > "$OUT/without-$i.json"
  node bin/inspector.js bench --pipeline "$OUT/demo-archive.yaml" --config "$OUT/with.yaml" --parts "$PARTS" --warmup 10 --json > "$OUT/served-$i.json"
  nice -n 19 node scripts/page-open.mjs http://127.0.0.1:8099/ 600 2> "$OUT/browser-$i.log" & browser=$!
  node bin/inspector.js bench --pipeline "$OUT/demo-archive.yaml" --config "$OUT/with.yaml" --parts "$PARTS" --warmup 10 --json > "$OUT/watched-$i.json"
  kill "$browser" 2>/dev/null || true
  wait "$browser" 2>/dev/null || true
done
node -e '
const fs = require("fs");
const read = (k) => [...Array(Number(process.argv[1])).keys()].map((i) => JSON.parse(fs.readFileSync(`results/page-cost/${k}-${i + 1}.json`, "utf8")));
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const k of ["without", "served", "watched"]) {
  const r = read(k);
  console.log(k.padEnd(8), "per part (median of runs)", median(r.map((x) => x.perPartMs.median)).toFixed(1), "ms;",
    "runs:", r.map((x) => x.perPartMs.median.toFixed(1)).join(" "), "; main thread CPU", median(r.map((x) => x.mainThreadCpuMsPerPart ?? NaN)).toFixed(2), "ms/part; process CPU",
    median(r.map((x) => x.processCpuMsPerPart)).toFixed(1), "ms/part, runs:", r.map((x) => x.processCpuMsPerPart.toFixed(1)).join(" "));
}
const wo = median(read("without").map((x) => x.perPartMs.median));
for (const k of ["served", "watched"]) console.log(`${k} / without: ${(median(read(k).map((x) => x.perPartMs.median)) / wo).toFixed(3)}`);
' "$REPEAT"
grep -h "page-open:" "$OUT"/browser-*.log | sed "s/^/watched: /"
echo "archived: $(ls "$OUT"/archive/ng 2>/dev/null | grep -c png) NG parts"
