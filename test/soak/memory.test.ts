// Memory over a long run (`make soak`; not part of `make test`): the daemon's resident memory
// after SOAK_PARTS parts (default 20,000) stays within 10 % of what it was after a tenth of them;
// and under SOAK_OVERLOAD_TRIGGERS triggers (default 20,000) sent faster than it judges, every one
// is answered (judged or BUSY) and memory stays as flat.
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
  }, 3 * 3600_000);
});

const OVERLOAD_TRIGGERS = Number(process.env.SOAK_OVERLOAD_TRIGGERS ?? 20_000);

describe("overload", () => {
  it(`answers ${OVERLOAD_TRIGGERS} triggers sent faster than the station judges, with bounded memory`, async () => {
    const { bundle } = calibratedTinyBundle("inspector-overload-");
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-overload-station-"));
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "overload", bundle, source: { type: "synthetic", size: 64 }, trigger: { type: "mqtt", queue: 4 } },
      { mqtt: { embedded: { port } }, stateDir: path.join(dir, "state"), logging: { format: "json", level: "info" } });
    const daemon = startDaemon(pipelineFile, configFile);
    await daemon.waitForLog(/station running/);
    const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 200 });
    const counts = { verdicts: 0, busy: 0, judged: 0 };
    client.on("message", (_topic, payload) => {
      counts.verdicts++;
      if (payload.includes('"code":"BUSY"')) counts.busy++;
      else counts.judged++;
    });
    await client.subscribeAsync("inspector/overload/verdict", { qos: 1 });
    // 200 triggers a second, in bursts of 20 every 100 ms: several times what the station judges.
    const samples: { sent: number; rss: number }[] = [];
    const started = Date.now();
    for (let sent = 0; sent < OVERLOAD_TRIGGERS;) {
      for (let i = 0; i < 20 && sent < OVERLOAD_TRIGGERS; i++) client.publish("inspector/overload/trigger", `O-${++sent}`, { qos: 1 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (sent % Math.max(20, Math.floor(OVERLOAD_TRIGGERS / 20 / 20) * 20) === 0) samples.push({ sent, rss: rssMb(daemon.child.pid!) });
    }
    await waitFor(() => counts.verdicts >= OVERLOAD_TRIGGERS, 120_000, `${OVERLOAD_TRIGGERS} verdicts`);
    const seconds = (Date.now() - started) / 1000;
    const tenth = samples.find((s) => s.sent >= OVERLOAD_TRIGGERS / 10)!;
    const last = samples.at(-1)!;
    console.info(`overload: ${OVERLOAD_TRIGGERS} triggers in ${seconds.toFixed(0)} s → ${counts.judged} judged, ${counts.busy} BUSY; ` +
      `RSS ${tenth.rss.toFixed(1)} MB after ${tenth.sent} triggers, ${last.rss.toFixed(1)} MB after ${last.sent} ` +
      `(${((last.rss / tenth.rss - 1) * 100).toFixed(1)} %); samples ${samples.map((s) => s.rss.toFixed(0)).join(" ")}`);
    expect(counts.verdicts).toBe(OVERLOAD_TRIGGERS);
    expect(counts.busy).toBeGreaterThan(0);
    expect(last.rss).toBeLessThanOrEqual(tenth.rss * 1.1);
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    await client.endAsync(true);
  }, 3600_000);
});
