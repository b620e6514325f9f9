// Synthetic parts written as a category in MVTec AD's layout, for training, calibration and eval.
import { mkdirSync } from "node:fs";
import path from "node:path";

import { cv } from "../native/opencv.js";
import { type DefectKind, drawPart } from "./synthetic-part.js";
import { seededRandom } from "../random/seeded-random.js";

export interface SyntheticDatasetSpec {
  out: string;
  /** Good parts in train/good. */
  count: number;
  /** Test images per defect kind, and as many good ones in test/good. */
  testPerKind: number;
  size: number;
  defects: readonly DefectKind[];
  seed: number;
}

export function writeSyntheticDataset(spec: SyntheticDatasetSpec, progress?: (done: number, total: number) => void): void {
  const random = seededRandom(spec.seed);
  const total = spec.count + spec.testPerKind * (1 + spec.defects.length);
  let done = 0;
  const write = (folder: string, index: number, defect: DefectKind | null) => {
    const part = drawPart(spec.size, defect, random);
    const name = String(index).padStart(3, "0");
    cv.imwrite(path.join(spec.out, folder, `${name}.png`), part.image.cvtColor(cv.COLOR_BGR2GRAY));
    if (defect) cv.imwrite(path.join(spec.out, "ground_truth", defect, `${name}_mask.png`), part.mask);
    progress?.(++done, total);
  };
  for (const folder of ["train/good", "test/good", ...spec.defects.flatMap((d) => [`test/${d}`, `ground_truth/${d}`])]) {
    mkdirSync(path.join(spec.out, folder), { recursive: true });
  }
  for (let i = 0; i < spec.count; i++) write("train/good", i, null);
  for (let i = 0; i < spec.testPerKind; i++) write("test/good", i, null);
  for (const defect of spec.defects) for (let i = 0; i < spec.testPerKind; i++) write(`test/${defect}`, i, defect);
}
