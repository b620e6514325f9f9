// A bundle changed under a running station (`systemctl reload` = SIGHUP): a damaged model or a
// calibration made for another bundle is refused and the station goes on with the bundle it has;
// a good new calibration is swapped in between parts, with triggers in flight, and none is lost.
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { beforeAll, describe, expect, it } from "vitest";

import { freePort, recorder, startDaemon, waitFor, writeStation } from "../helpers/daemon.js";
import { calibratedTinyBundle } from "../helpers/python.js";

let bundle: string;

beforeAll(() => {
  ({ bundle } = calibratedTinyBundle("inspector-reload-"));
});

/** Written aside and renamed, as `inspector calibrate` does. */
function replaceFile(file: string, data: Buffer | string): void {
  writeFileSync(`${file}.new`, data);
  renameSync(`${file}.new`, file);
}

describe("bundle reload (SIGHUP)", () => {
  it("refuses a damaged bundle and keeps judging; swaps a new calibration in between parts without losing any", async () => {
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-reload-station-"));
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "reload", bundle, source: { type: "synthetic", size: 64 }, trigger: { type: "mqtt", queue: 16 } },
      { mqtt: { embedded: { port } }, stateDir: path.join(dir, "state") });
    const daemon = startDaemon(pipelineFile, configFile);
    await daemon.waitForLog(/station running/);
    const sub = await recorder(`mqtt://127.0.0.1:${port}`, ["inspector/reload/verdict", "inspector/reload/status"]);
    const verdicts = () => sub.messages.filter((m) => m.topic.endsWith("/verdict")).map((m) => m.json());
    const refusals = () => daemon.logs.filter((l) => /reload refused/.test(String(l.msg)));
    let sent = 0;
    const trigger = async (count: number) => {
      for (let i = 0; i < count; i++) sub.client.publish("inspector/reload/trigger", `R-${++sent}`, { qos: 1 });
      await waitFor(() => verdicts().length >= sent, 30_000, `${sent} verdicts`);
    };

    await trigger(2);
    const original = verdicts()[0]!.calibration as string;
    expect(original).toMatch(/^[0-9a-f]{12}$/);

    // A flipped byte in the graph: refused, the station keeps its bundle.
    const modelFile = path.join(bundle, "model.onnx");
    const model = readFileSync(modelFile);
    const damaged = Buffer.from(model);
    damaged[damaged.length >> 1]! ^= 0xff;
    replaceFile(modelFile, damaged);
    daemon.child.kill("SIGHUP");
    await waitFor(() => refusals().length >= 1, 30_000, "the first refusal");
    expect(String(refusals()[0]!.msg)).toMatch(/model\.onnx: sha256 .* does not match manifest\.json/);
    expect(String(refusals()[0]!.msg)).toContain(`keeps bundle ${verdicts()[0]!.bundle as string} with calibration ${original}`);
    await trigger(2);
    replaceFile(modelFile, model);

    // A calibration made for another bundle: refused too.
    const calibrationFile = path.join(bundle, "calibration.json");
    const calibration = JSON.parse(readFileSync(calibrationFile, "utf8")) as { bundle_sha256: string; thresholds: Record<string, number> };
    replaceFile(calibrationFile, JSON.stringify({ ...calibration, bundle_sha256: "0".repeat(64) }));
    daemon.child.kill("SIGHUP");
    await waitFor(() => refusals().length >= 2, 30_000, "the second refusal");
    expect(String(refusals()[1]!.msg)).toMatch(/calibration\.json: made for another bundle/);
    await trigger(1);

    // A good new calibration (every part OK), loaded while parts are queued and in flight.
    replaceFile(calibrationFile, JSON.stringify({
      ...calibration, thresholds: { ...calibration.thresholds, image_lower: 1e9, image_upper: 1e9 },
    }));
    for (let i = 0; i < 10; i++) sub.client.publish("inspector/reload/trigger", `R-${++sent}`, { qos: 1 });
    await waitFor(() => verdicts().length >= sent - 8, 30_000, "the burst under way");
    daemon.child.kill("SIGHUP");
    await daemon.waitForLog(/^reloaded/);
    await waitFor(() => verdicts().length >= sent, 30_000, `${sent} verdicts`);
    await trigger(2);

    const all = verdicts();
    expect(all.map((v) => v.partId)).toEqual(Array.from({ length: sent }, (_, i) => `R-${i + 1}`));
    expect(all.filter((v) => v.verdict === "ERROR")).toEqual([]);
    // Each part judged whole by one calibration: the old one up to some part, the new one after.
    const calibrations = all.map((v) => v.calibration as string);
    const swapped = calibrations.findIndex((c) => c !== original);
    expect(swapped).toBeGreaterThan(5);
    expect(new Set(calibrations.slice(swapped)).size).toBe(1);
    expect(calibrations.slice(0, swapped).every((c) => c === original)).toBe(true);
    for (const v of all.slice(swapped)) {
      expect(v.verdict).toBe("OK");
      expect((v.thresholds as { imageUpper: number }).imageUpper).toBe(1e9);
    }
    const status = sub.messages.filter((m) => m.topic.endsWith("/status")).at(-1)!.json();
    expect(status).toMatchObject({ state: "online", calibration: calibrations.at(-1) });

    daemon.child.kill("SIGTERM");
    expect(await daemon.exited, daemon.stderr()).toBe(0);
    await sub.client.endAsync();
  });
});
