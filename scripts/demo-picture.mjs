// Draws docs/images/demo-station.png: one synthetic part of each kind, as the demo station sees
// it, above the heatmap it publishes, with the verdict and score. Run after `npm ci`:
//   node scripts/demo-picture.mjs [BUNDLE] [OUT]
import { BundleRunner } from "../dist/inference/bundle-runner.js";
import { cv } from "../dist/native/opencv.js";
import { drawPart, seededRandom } from "../dist/sources/synthetic-part.js";
import { inspectFrame } from "../dist/verdict/inspect.js";

const bundle = process.argv[2] ?? "models/demo";
const out = process.argv[3] ?? "docs/images/demo-station.png";
const kinds = [null, "scratch", "crack", "dent", "stain", "missing_hole"];
const tile = 256;
const label = 28;
const runner = await BundleRunner.open(bundle, { requireCalibration: true });
const canvas = new cv.Mat(2 * tile + 2 * label, kinds.length * tile, cv.CV_8UC3, [255, 255, 255]);
const random = seededRandom(11);
for (const [i, kind] of kinds.entries()) {
  const part = drawPart(tile, kind, random);
  const result = await inspectFrame(runner, part.image, { minRegionArea: 4, heatmap: { format: "png", margin: 10_000 } });
  const heatmap = cv.imdecode(result.heatmap).resize(tile, tile);
  part.image.copyTo(canvas.getRegion(new cv.Rect(i * tile, label, tile, tile)));
  heatmap.copyTo(canvas.getRegion(new cv.Rect(i * tile, 2 * label + tile, tile, tile)));
  const colour = result.verdict === "OK" ? new cv.Vec3(40, 140, 40) : new cv.Vec3(30, 30, 200);
  canvas.putText(kind ?? "good part", new cv.Point2(i * tile + 8, 20), cv.FONT_HERSHEY_SIMPLEX, 0.6, new cv.Vec3(60, 60, 60), 1, cv.LINE_AA);
  canvas.putText(`${result.verdict}  score ${result.score.toFixed(1)}`, new cv.Point2(i * tile + 8, tile + label + 20),
    cv.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2, cv.LINE_AA);
}
cv.imwrite(out, canvas);
await runner.close();
console.log(out);
