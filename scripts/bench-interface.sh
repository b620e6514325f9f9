#!/usr/bin/env bash
# What a PLC/SCADA interface costs a station (issue 19): `inspector bench` on the demo station
# without it and with it, alternating REPEAT times. Run it on an otherwise idle machine.
#   scripts/bench-interface.sh sparkplug   # the edge node on the embedded broker, no primary host: DDATA for every part
#   scripts/bench-interface.sh opcua       # the OPC UA server, with an MES client subscribed to its events and result counter
set -euo pipefail
cd "$(dirname "$0")/.."
INTERFACE=${1:?usage: scripts/bench-interface.sh sparkplug|opcua}
REPEAT=${REPEAT:-3}
PARTS=${PARTS:-200}
OUT=results/$INTERFACE-cost
mkdir -p "$OUT"
export OPENCV4NODEJS_DISABLE_AUTOBUILD=1
printf 'mqtt:\n  embedded:\n    port: 1884\n' > "$OUT/without.yaml"
case "$INTERFACE" in
  sparkplug) printf 'sparkplug:\n  enabled: true\n  groupId: bench\n' ;;
  opcua) printf 'stateDir: %s\nopcua:\n  enabled: true\n  host: 127.0.0.1\n  port: 4841\n  allowAnonymous: true\n' "$PWD/$OUT/state" ;;
  *) echo "unknown interface $INTERFACE: sparkplug or opcua" >&2; exit 2 ;;
esac | cat "$OUT/without.yaml" - > "$OUT/with.yaml"
for i in $(seq "$REPEAT"); do
  node bin/inspector.js bench --pipeline pipelines/demo.yaml --config "$OUT/without.yaml" --parts "$PARTS" --warmup 10 --json > "$OUT/without-$i.json"
  client=
  if [ "$INTERFACE" = opcua ]; then
    nice -n 19 node scripts/opcua-watch.mjs opc.tcp://127.0.0.1:4841 600 2> "$OUT/client-$i.log" & client=$!
  fi
  node bin/inspector.js bench --pipeline pipelines/demo.yaml --config "$OUT/with.yaml" --parts "$PARTS" --warmup 10 --json > "$OUT/with-$i.json"
  if [ -n "$client" ]; then kill "$client" 2>/dev/null || true; wait "$client" 2>/dev/null || true; fi
done
node -e '
const fs = require("fs");
const [repeat, out] = process.argv.slice(1);
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const k of ["without", "with"]) {
  const r = [...Array(Number(repeat)).keys()].map((i) => JSON.parse(fs.readFileSync(`${out}/${k}-${i + 1}.json`, "utf8")));
  console.log(k.padEnd(8), "daemon/bare", r.map((x) => x.ratio.toFixed(3)).join(" "), "median", median(r.map((x) => x.ratio)).toFixed(3),
    "; per part", median(r.map((x) => x.perPartMs.median)).toFixed(1), "ms; main thread CPU", median(r.map((x) => x.mainThreadCpuMsPerPart ?? NaN)).toFixed(2),
    "ms/part; process CPU", median(r.map((x) => x.processCpuMsPerPart)).toFixed(1), "ms/part");
}' "$REPEAT" "$OUT"
cat "$OUT"/client-*.log 2>/dev/null | grep opcua-watch || true
