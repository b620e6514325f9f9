// Memory over a long run (`make soak`; not part of `make test`): the daemon's resident memory
// after SOAK_PARTS parts (default 20,000) stays within 10 % of what it was after a tenth of them.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { connectAsync } from "mqtt";

import { freePort, startDaemon, waitFor, writeStation } from "../helpers/daemon.js";
import { calibratedTinyBundle } from "../helpers/python.js";

const PARTS = Number(process.env.SOAK_PARTS ?? 20_000);

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

describe("soak", () => {
  it(`keeps resident memory flat over ${PARTS} parts`, async () => {
    const { bundle } = calibratedTinyBundle("inspector-soak-");
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-soak-station-"));
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "soak", bundle, source: { type: "synthetic", size: 64, count: PARTS }, trigger: { type: "mqtt", queue: 4 } },
      { mqtt: { embedded: { port } }, stateDir: path.join(dir, "state"), logging: { format: "json", level: "info" } });
    const daemon = startDaemon(pipelineFile, configFile);
    await daemon.waitForLog(/station running/);
    // A counter, not a recorder: the test itself must not grow with the run.
    const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4 });
    let verdicts = 0;
    client.on("message", () => { verdicts++; });
    await client.subscribeAsync("inspector/soak/verdict", { qos: 1 });
    // Triggered one at a time at the station's own pace: every part is inspected, none is BUSY.
    const samples: { parts: number; rss: number }[] = [];
    const started = Date.now();
    for (let n = 1; n <= PARTS; n++) {
      client.publish("inspector/soak/trigger", `S-${n}`, { qos: 1 });
      await waitFor(() => verdicts >= n, 30_000, `verdict ${n}`);
      if (n % Math.max(1, Math.floor(PARTS / 20)) === 0) samples.push({ parts: n, rss: rssMb(daemon.child.pid!) });
    }
    const seconds = (Date.now() - started) / 1000;
    const tenth = samples.find((s) => s.parts >= PARTS / 10)!;
    const last = samples.at(-1)!;
    console.info(`soak: ${PARTS} parts in ${seconds.toFixed(0)} s; RSS ${tenth.rss.toFixed(1)} MB after ${tenth.parts}, ` +
      `${last.rss.toFixed(1)} MB after ${last.parts} (${((last.rss / tenth.rss - 1) * 100).toFixed(1)} %); ` +
      `samples ${samples.map((s) => s.rss.toFixed(0)).join(" ")}`);
    expect(last.rss).toBeLessThanOrEqual(tenth.rss * 1.1);
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    await client.endAsync(true);
  });
});
