// What a part leaves behind on the main thread: its input buffer comes back from the worker for
// the next frame, and its frame's pixels are released with its verdict. Left to the collector,
// both counted as external memory and made V8 run a full collection every 2 s at full speed.
import path from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { loadPipeline } from "../../src/config/pipeline-config.js";
import { BundleRunner, prepareFor } from "../../src/inference/bundle-runner.js";
import { capturePart, isCaptured, judgePart, type StationContext } from "../../src/pipeline/inspect-part.js";
import { createSource } from "../../src/sources/open-source.js";
import { drawPart } from "../../src/sources/synthetic-part.js";
import { seededRandom } from "../../src/random/seeded-random.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
let runner: BundleRunner;

beforeAll(async () => {
  runner = await BundleRunner.open(path.join(ROOT, "models", "demo"), { requireCalibration: true });
});

afterAll(() => runner.close());

describe("per-part buffers", () => {
  it("prepares the next frame into the input the worker handed back, with the same outputs as a fresh buffer", async () => {
    const length = runner.bundle.manifest.input.shape.reduce((a, b) => a * b, 1);
    const frame = drawPart(256, "scratch", seededRandom(7)).image;
    // Opening ran the graph once: that input came back, and prepare() takes it.
    const reused = runner.prepare(frame);
    expect(runner.worker.takeInput()).toBeUndefined();
    const fromReused = await runner.infer(reused);
    expect(reused.tensor.length).toBe(0); // handed to the worker, not copied
    const fromFresh = await runner.infer({ ...prepareFor(runner.bundle, frame), preprocessMs: 0 });
    for (const [name, output] of Object.entries(fromFresh.outputs)) expect(fromReused.outputs[name].data).toEqual(output.data);
    expect(runner.worker.takeInput()?.length).toBe(length);
    expect(runner.worker.takeInput()?.length).toBe(length);
    expect(runner.worker.takeInput()).toBeUndefined();
  });

  it("releases a part's frame once its verdict is made", async () => {
    const pipeline = loadPipeline(path.join(ROOT, "pipelines", "demo.yaml"));
    const source = createSource(pipeline.source);
    await source.open();
    const context: StationContext = { station: "demo", config: pipeline, source, runner };
    const part = await capturePart(context, { partId: "p1", triggeredAt: new Date() });
    if (!isCaptured(part)) throw new Error("the synthetic source gave no part");
    expect(part.frame.image.empty).toBeFalsy();
    const outcome = await judgePart(context, part);
    expect(outcome.verdict).not.toBe("ERROR");
    expect(outcome.heatmap?.data.length).toBeGreaterThan(0);
    expect(part.frame.image.empty).toBeTruthy();
    expect(part.prepared.roiImage.empty).toBeTruthy();
    await source.close();
  });
});
