// The ImageNet MobileNetV2 inside the nsfwjs npm package (MIT; a devDependency, never loaded by the
// daemon), for distilling teachers (docs/training.md, "A distilled teacher").
//
//   node scripts/nsfwjs-mobilenet.mjs unpack OUT_DIR
//     writes OUT_DIR/model.json and OUT_DIR/weights.bin: the model in TF.js's plain layers format
//     (nsfwjs ships it as JavaScript modules holding JSON and base64), which
//     `python3 -m inspector_training convert-mobilenet` turns into a PyTorch trunk.
//   node scripts/nsfwjs-mobilenet.mjs reference INPUT.f32 OUTPUT.f32
//     runs TF.js's own model on a 1×224×224×3 float32 NHWC input (raw little-endian) and writes
//     the output of the last frozen ImageNet layer (block_10_project_BN), NHWC, for the test that
//     checks our conversion.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
export const FROZEN_OUTPUT = "block_10_project_BN";

function packaged() {
  const folder = path.resolve(path.dirname(require.resolve("nsfwjs")), "../models/mobilenet_v2"); // dist/cjs → dist/models
  const { modelTopology, weightsManifest } = require(path.join(folder, "model.min.js"));
  const shards = weightsManifest[0].paths.map((name) => Buffer.from(require(path.join(folder, `${name}.min.js`)), "base64"));
  return { modelTopology, weightsManifest, weights: Buffer.concat(shards) };
}

async function reference(inputFile, outputFile) {
  const tf = require("@tensorflow/tfjs");
  await tf.setBackend("cpu");
  const { modelTopology, weightsManifest, weights } = packaged();
  const specs = weightsManifest.flatMap((group) => group.weights);
  const data = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology, weightSpecs: specs, weightData: data }));
  const trunk = tf.model({ inputs: model.inputs, outputs: model.getLayer(FROZEN_OUTPUT).output });
  const raw = readFileSync(inputFile);
  const input = tf.tensor4d(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), [1, 224, 224, 3]);
  const output = trunk.predict(input);
  writeFileSync(outputFile, Buffer.from((await output.data()).buffer));
  process.stdout.write(JSON.stringify({ shape: output.shape }) + "\n");
}

const [command, a, b] = process.argv.slice(2);
if (command === "unpack" && a) {
  const { modelTopology, weightsManifest, weights } = packaged();
  mkdirSync(a, { recursive: true });
  const manifest = weightsManifest.map((group) => ({ ...group, paths: ["weights.bin"] }));
  writeFileSync(path.join(a, "model.json"), JSON.stringify({ modelTopology, weightsManifest: manifest }));
  writeFileSync(path.join(a, "weights.bin"), weights);
  process.stdout.write(`${path.join(a, "model.json")}\n`);
} else if (command === "reference" && a && b) {
  await reference(a, b);
} else {
  process.stderr.write("usage: node scripts/nsfwjs-mobilenet.mjs unpack OUT_DIR | reference INPUT.f32 OUTPUT.f32\n");
  process.exit(2);
}
