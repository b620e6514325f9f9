// Pass 1 of calibration (and of evaluating an uncalibrated bundle): the mean and std of e and v
// per scale, over every output position of the given good images.
import { UserError } from "../errors/user-error.js";
import type { BundleRunner } from "../inference/bundle-runner.js";
import { readImage } from "../images/image-files.js";
import type { Calibration } from "../inference/calibration-file.js";
import { Moments } from "../scoring/statistics.js";

export async function scaleStatistics(runner: BundleRunner, files: string[],
  onProgress?: (done: number, total: number) => void): Promise<Calibration["scales"]> {
  const scales = runner.bundle.manifest.scales;
  const moments = scales.map(() => ({ error: new Moments(), variance: new Moments() }));
  for (const [index, file] of files.entries()) {
    const { outputs } = await runner.run(readImage(file));
    scales.forEach((scale, i) => {
      moments[i].error.add(outputs[scale.outputs.error].data);
      moments[i].variance.add(outputs[scale.outputs.variance].data);
    });
    onProgress?.(index + 1, files.length);
  }
  const result: Calibration["scales"] = {};
  scales.forEach((scale, i) => {
    const m = moments[i];
    for (const [name, value] of [["error", m.error], ["variance", m.variance]] as const) {
      if (!(value.std > 0) || !Number.isFinite(value.mean)) {
        throw new UserError(`p=${scale.patch_size}: the ${name} maps are degenerate on these images (std ${value.std}). ` +
          "The bundle's students may be untrained or the images blank: check both, then retrain or recalibrate.");
      }
    }
    result[String(scale.patch_size)] = { error: { mean: m.error.mean, std: m.error.std }, variance: { mean: m.variance.mean, std: m.variance.std } };
  });
  return result;
}
