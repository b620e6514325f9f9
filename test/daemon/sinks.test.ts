// The outcome stream's seam: a sink added in a few lines sees every judged part as plain data, in
// the order judged, the same parts the MQTT verdict sink publishes; a sink that throws holds no
// other sink up. In-process daemon, real bundle, real files, aedes.
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";

import { Aedes } from "aedes";

import { pino } from "pino";
import { beforeAll, describe, expect, it } from "vitest";

import { loadDaemonConfig } from "../../src/config/daemon-config.js";
import { loadPipeline } from "../../src/config/pipeline-config.js";
import { StationDaemon } from "../../src/daemon/station-daemon.js";
import type { PartOutcome } from "../../src/pipeline/part.js";
import type { OutcomeSink } from "../../src/sinks/outcome-sink.js";
import { writeSyntheticDataset } from "../../src/sources/synthetic-dataset.js";
import { recorder, waitFor, writeStation } from "../helpers/daemon.js";
import { calibratedTinyBundle } from "../helpers/python.js";

let work: string;
let bundle: string;

beforeAll(() => {
  ({ work, bundle } = calibratedTinyBundle("inspector-sinks-", 12));
  writeSyntheticDataset({ out: path.join(work, "line"), count: 5, testPerKind: 0, size: 96, defects: [], seed: 11 });
});

describe("outcome sinks", () => {
  it("hand every part to a throw-away sink as plain data, the same parts MQTT carries, past a sink that throws", async () => {
    const broker = await Aedes.createBroker();
    const server = createServer(broker.handle);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
    const parts = path.join(work, "line", "train", "good");
    const dir = path.join(work, "station");
    mkdirSync(dir, { recursive: true });
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "sinks", bundle, source: { type: "folder", path: parts } },
      { mqtt: { url }, stateDir: path.join(work, "state") });
    const collected: PartOutcome[] = [];
    const stopped: string[] = [];
    const collector: OutcomeSink = {
      name: "collector", start: () => {}, receive: (outcome) => collected.push(outcome), stop: (reason) => { stopped.push(reason); },
    };
    const thrower: OutcomeSink = { name: "thrower", start: () => {}, receive: () => { throw new Error("broken sink"); }, stop: () => {} };
    const log = pino({ level: "silent" });
    const daemon = new StationDaemon({ config: loadDaemonConfig(configFile), pipeline: loadPipeline(pipelineFile), log, sinks: [thrower, collector] });
    const sub = await recorder(url, ["inspector/sinks/verdict"]);
    try {
      await daemon.start();
      await daemon.whenFinished();
      await waitFor(() => sub.messages.length >= 5, 10_000, "five verdicts on MQTT");
    } finally {
      await daemon.stop("test done");
      await sub.client.endAsync();
      server.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    }
    const verdicts = sub.messages.map((m) => m.json());
    expect(collected).toHaveLength(5);
    expect(collected.map((o) => o.partId)).toEqual(verdicts.map((v) => v.partId));
    expect(collected.map((o) => o.verdict)).toEqual(verdicts.map((v) => v.verdict));
    expect(collected.map((o) => o.score)).toEqual(verdicts.map((v) => v.score));
    expect(verdicts.map((v) => v.seq)).toEqual([1, 2, 3, 4, 5]);
    for (const outcome of collected) {
      // Plain data: the heatmap's bytes, no topic, no sequence number of any one output.
      expect(outcome.heatmap?.data).toBeInstanceOf(Buffer);
      expect("seq" in outcome).toBe(false);
      expect(JSON.stringify({ ...outcome, heatmap: null })).not.toContain("inspector/sinks");
    }
    expect(stopped).toEqual(["test done"]);
  }, 120_000);
});
