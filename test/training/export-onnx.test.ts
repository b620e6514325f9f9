// The exported fused graph, run by onnxruntime-node, gives PyTorch's outputs.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";

import { beforeAll, describe, expect, it } from "vitest";

import { ort } from "../../src/native/onnxruntime.js";
import { CLI, python, tinyTrainingSetup } from "../helpers/python.js";

function readFloats(file: string): Float32Array {
  const bytes = readFileSync(file);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

let work: string;
let teachers: string;
let good: string;

beforeAll(() => {
  ({ work, teachers, good } = tinyTrainingSetup("inspector-export-"));
});

/** A MobileNetV2 trunk file as `inspector convert-mobilenet` writes one, with random weights. */
function randomTrunk(file: string): string {
  python(["-c", `
import torch; from pathlib import Path; from inspector_training import mobilenet_v2
torch.manual_seed(0)
mobilenet_v2.save(mobilenet_v2.MobileNetV2Trunk().eval(), "0" * 64, Path(${JSON.stringify(file)}))
`]);
  return file;
}

describe.each(["dense", "strided", "imagenet-trunk"])("a %s bundle made by `inspector train`", (mode) => {
  it("matches PyTorch through onnxruntime-node", async () => {
    const bundle = path.join(work, `bundle-${mode}`);
    const kind = mode === "imagenet-trunk"
      ? ["--mode", "strided", "--imagenet-trunk", randomTrunk(path.join(work, "trunk.pt")), "--batch", "2"]
      : ["--mode", mode];
    const run = spawnSync(process.execPath, [CLI, "train", "--good", good, "--out", bundle, "--teachers", teachers,
      "--students", "2", "--epochs", "1", "--size", "48", ...kind], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(bundle); // the bundle's path is the last thing printed

    const reference = path.join(work, `ref-${mode}`);
    python(["-m", "inspector_training", "reference", "--bundle", bundle, "--out", reference]);
    const index = JSON.parse(readFileSync(path.join(reference, "reference.json"), "utf8")) as {
      input: { file: string; shape: number[] };
      outputs: Record<string, { file: string; shape: number[] }>;
    };
    const manifest = JSON.parse(readFileSync(path.join(bundle, "manifest.json"), "utf8")) as {
      scales: { patch_size: number; output_shape: number[]; outputs: { error: string; variance: string } }[];
    };
    const session = await ort.InferenceSession.create(path.join(bundle, "model.onnx"));
    const input = new ort.Tensor("float32", readFloats(path.join(reference, index.input.file)), index.input.shape);
    const outputs = await session.run({ image: input });
    expect(Object.keys(outputs).sort()).toEqual(Object.keys(index.outputs).sort());
    for (const scale of manifest.scales) {
      for (const name of [scale.outputs.error, scale.outputs.variance]) {
        expect(outputs[name].dims).toEqual(scale.output_shape);
        const expected = readFloats(path.join(reference, index.outputs[name].file));
        const actual = outputs[name].data as Float32Array;
        let worst = 0;
        for (let i = 0; i < expected.length; i++) {
          worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
        }
        expect(worst, `${name}: largest relative difference`).toBeLessThan(1e-4);
      }
    }
  });
});
