// The Sparkplug B 3.0 edge node against Debian's mosquitto, seen by a primary host written here
// (mqtt.js and Eclipse Tahu's payload codec): STATE awareness, births before data, seq in order
// and wrapping, a Rebirth command answered, an unknown command ignored, NDEATH with the right
// bdSeq when the daemon is killed, births again (next bdSeq) after a broker restart.
import { createRequire } from "node:module";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { connectAsync, type MqttClient } from "mqtt";
import { describe, expect, it } from "vitest";

import { freePort, MOSQUITTO, startDaemon, startMosquitto, waitFor, writeStation } from "../helpers/daemon.js";
import { REPO } from "../helpers/python.js";

interface Decoded { seq?: number; metrics: { name?: string; alias?: number; value: unknown }[] }
const codec = (createRequire(import.meta.url)("sparkplug-payload") as {
  get(ns: string): { encodePayload(p: object): Uint8Array; decodePayload(b: Uint8Array): Record<string, unknown> } }).get("spBv1.0");
/** Tahu decodes 64-bit integers as Long objects: numbers here. */
function decode(payload: Buffer): Decoded {
  const num = (v: unknown) => (v && typeof v === "object" && "low" in v ? Number((v as { toString(): string }).toString()) : v);
  const raw = codec.decodePayload(payload) as { seq?: unknown; metrics?: { name?: string; alias?: unknown; value: unknown }[] };
  return { seq: num(raw.seq) as number | undefined, metrics: (raw.metrics ?? []).map((m) => ({ ...m, alias: num(m.alias) as number | undefined, value: num(m.value) })) };
}

describe.skipIf(!MOSQUITTO)("Sparkplug B edge node", () => {
  it("births after the primary host is online, then DDATA in seq order, answers Rebirth, dies with its bdSeq, and is born again after a broker restart", async () => {
    const port = await freePort();
    const mosquittoDir = mkdtempSync(path.join(tmpdir(), "inspector-sparkplug-broker-"));
    let broker = await startMosquitto(port, [], mosquittoDir);
    const host: MqttClient = await connectAsync(broker.url, { clientId: "scada-host", reconnectPeriod: 200, protocolVersion: 4 });
    const seen: { topic: string; type: string; payload: Decoded; retain: boolean }[] = [];
    host.on("message", (topic, payload, packet) => {
      if (topic.startsWith("spBv1.0/STATE/")) return;
      seen.push({ topic, type: topic.split("/")[2], payload: decode(payload), retain: packet.retain });
    });
    await host.subscribeAsync("spBv1.0/line/#", { qos: 1 });
    // As a primary host does: online again after every reconnect (mqtt.js has renewed the subscription by then).
    host.on("connect", () => void host.publishAsync("spBv1.0/STATE/scada", JSON.stringify({ online: true, timestamp: Date.now() }),
      { qos: 1, retain: true }));
    // The primary host is offline at first: the edge node must not birth.
    await host.publishAsync("spBv1.0/STATE/scada", JSON.stringify({ online: false, timestamp: Date.now() }), { qos: 1, retain: true });

    const dir = mkdtempSync(path.join(tmpdir(), "inspector-sparkplug-"));
    const { pipelineFile, configFile } = writeStation(dir, {
      station: "cell7", bundle: path.join(REPO, "models", "demo"), source: { type: "synthetic", size: 256, seed: 9 },
      trigger: { type: "continuous", minIntervalMs: 0 }, heatmap: { enabled: false },
    }, { mqtt: { url: broker.url, reconnectMs: { min: 200, max: 1000 } }, stateDir: path.join(dir, "state"),
      sparkplug: { enabled: true, groupId: "line", edgeNodeId: "edge1", primaryHostId: "scada" } });
    let daemon = startDaemon(pipelineFile, configFile);
    try {
      await daemon.waitForLog(/station running/);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(seen.filter((m) => m.type !== "NDEATH")).toEqual([]);

      await host.publishAsync("spBv1.0/STATE/scada", JSON.stringify({ online: true, timestamp: Date.now() }), { qos: 1, retain: true });
      // Enough parts for seq to wrap past 255.
      await waitFor(() => seen.filter((m) => m.type === "DDATA").length >= 270, 90_000, "270 DDATA");
      const types = seen.map((m) => m.type);
      expect(types.slice(0, 2)).toEqual(["NBIRTH", "DBIRTH"]);
      const nbirth = seen[0].payload;
      const bdSeq = nbirth.metrics.find((m) => m.name === "bdSeq")!.value as number;
      expect(nbirth.metrics.map((m) => m.name)).toContain("Node Control/Rebirth");
      const dbirth = seen[1].payload;
      expect(dbirth.metrics.map((m) => m.name)).toEqual(expect.arrayContaining(["PartId", "Verdict", "Score", "Code", "Counters/NG", "Model/Bundle"]));
      expect(dbirth.metrics.every((m) => typeof m.alias === "number")).toBe(true);
      expect(seen[0].topic).toBe("spBv1.0/line/NBIRTH/edge1");
      expect(seen[1].topic).toBe("spBv1.0/line/DBIRTH/edge1/cell7");
      const seqs = seen.slice(0, 272).map((m) => m.payload.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i % 256));
      // DDATA by alias: the Verdict alias carries a verdict.
      const verdictAlias = dbirth.metrics.find((m) => m.name === "Verdict")!.alias;
      expect(["OK", "NG", "UNCERTAIN"]).toContain(seen[2].payload.metrics.find((m) => m.alias === verdictAlias)!.value);

      // Rebirth: NBIRTH and DBIRTH again, seq from 0, same bdSeq; an unknown metric is only logged.
      const before = seen.length;
      await host.publishAsync("spBv1.0/line/NCMD/edge1", Buffer.from(codec.encodePayload({ timestamp: Date.now(), metrics: [
        { name: "No Such/Metric", type: "Boolean", value: true }, { name: "Node Control/Rebirth", type: "Boolean", value: true }] })), { qos: 1 });
      await waitFor(() => seen.slice(before).some((m) => m.type === "DBIRTH"), 10_000, "births after Rebirth");
      const reborn = seen.slice(before).filter((m) => m.type === "NBIRTH" || m.type === "DBIRTH");
      expect(reborn.map((m) => m.payload.seq)).toEqual([0, 1]);
      expect(reborn[0].payload.metrics.find((m) => m.name === "bdSeq")!.value).toBe(bdSeq);
      await daemon.waitForLog(/unknown command metric "No Such\/Metric"/, 5000);

      // Killed: the broker publishes the NDEATH Will with the bdSeq of the NBIRTH.
      daemon.child.kill("SIGKILL");
      await daemon.exited;
      await waitFor(() => seen.some((m) => m.type === "NDEATH"), 10_000, "NDEATH");
      const ndeath = seen.find((m) => m.type === "NDEATH")!;
      expect(ndeath.topic).toBe("spBv1.0/line/NDEATH/edge1");
      expect(ndeath.payload.metrics.find((m) => m.name === "bdSeq")!.value).toBe(bdSeq);

      // Started again, then the broker restarts: births after each connection, bdSeq moving on.
      const births = () => seen.filter((m) => m.type === "NBIRTH").map((m) => m.payload.metrics.find((x) => x.name === "bdSeq")!.value as number);
      const beforeRestart = births().length;
      daemon = startDaemon(pipelineFile, configFile);
      await waitFor(() => births().length > beforeRestart, 30_000, "births of the restarted daemon");
      const afterRestart = births().length;
      expect(births().at(-1)).toBe(0); // a new process starts counting again
      await broker.stop();
      broker = await startMosquitto(port, [], mosquittoDir);
      await waitFor(() => births().length > afterRestart, 30_000, "births after the broker restart");
      const all = births();
      // One more per CONNECT (the attempts while the broker was down count too), never the same.
      expect((all.at(-1)! - all.at(-2)! + 256) % 256).toBeGreaterThanOrEqual(1);
    } finally {
      daemon.child.kill("SIGTERM");
      await daemon.exited;
      await host.endAsync(true);
      await broker.stop();
    }
  }, 180_000);
});
