// A data set in MVTec AD's layout: test/<defect>/*.png with ground_truth/<defect>/<name>_mask.png;
// test/good has no masks. An image whose mask is empty counts as anomaly-free, as in MVTec's evaluation.
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

import { UserError } from "../errors/user-error.js";
import { listImages } from "../images/image-files.js";

export interface TestImage {
  defect: string;
  file: string;
  name: string;
  /** Absent for test/good (all pixels anomaly-free). */
  maskFile?: string;
}

export function listTestImages(dataDir: string): TestImage[] {
  const testDir = path.join(dataDir, "test");
  if (!existsSync(testDir) || !statSync(testDir).isDirectory()) {
    throw new UserError(`${dataDir}: no test/ folder. --data takes a category folder in MVTec AD layout ` +
      "(test/<defect>/*.png, ground_truth/<defect>/<name>_mask.png).");
  }
  const images: TestImage[] = [];
  for (const defect of readdirSync(testDir).sort()) {
    if (!statSync(path.join(testDir, defect)).isDirectory()) continue;
    for (const file of listImages(path.join(testDir, defect))) {
      const name = path.parse(file).name;
      let maskFile: string | undefined;
      if (defect !== "good") {
        const candidates = [".png", ".bmp", ".jpg", ".tif", ".tiff"].map((ext) => path.join(dataDir, "ground_truth", defect, `${name}_mask${ext}`));
        maskFile = candidates.find((c) => existsSync(c));
        if (!maskFile) throw new UserError(`${file}: no ground-truth mask (expected ${candidates[0]}).`);
      }
      images.push({ defect, file, name, maskFile });
    }
  }
  if (!images.some((i) => i.defect === "good")) throw new UserError(`${testDir}: no good/ images; AUROC needs anomaly-free test images.`);
  return images;
}
