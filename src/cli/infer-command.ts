// `inspector infer --bundle DIR IMAGES…`: verdicts as JSON lines, heatmaps as files.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

import { Command, Option } from "commander";

import { BundleRunner } from "../inference/bundle-runner.js";
import { readImage } from "../images/image-files.js";
import type { Roi } from "../preprocess/preprocess.js";
import { DEFAULT_MIN_REGION_AREA, judgeFrame } from "../verdict/frame-verdict.js";
import { UserError } from "../errors/user-error.js";
import { numberIn, PROVIDERS_HELP, providerList, roiOption } from "./options.js";
import { sessionSettings, type SessionChoices } from "../native/providers.js";

interface InferCliOptions extends SessionChoices {
  bundle?: string;
  out?: string;
  roi?: Roi;
  format: "jpeg" | "png";
  minArea: number;
}

export function inferCommand(): Command {
  return new Command("infer")
    .description("inspect image files with a calibrated bundle: one verdict JSON line per image on stdout")
    .argument("<images...>", "image files")
    .option("--bundle <dir>", "a calibrated bundle")
    .option("--out <dir>", "folder for the heatmaps (default: none written)")
    .option("--roi <x,y,w,h>", "region of interest in each image", roiOption)
    .addOption(new Option("--format <format>", "heatmap format").choices(["jpeg", "png"]).default("jpeg"))
    .option("--min-area <px>", "smallest region reported, in pixels", numberIn(1, 1e9, true), DEFAULT_MIN_REGION_AREA)
    .option("--providers <list>", PROVIDERS_HELP, providerList)
    .option("--threads <n>", "ONNX Runtime threads (0 = every core)", numberIn(0, 1024, true))
    .action(async (images: string[], options: InferCliOptions) => {
      if (!options.bundle) throw new UserError("--bundle DIR is required: a calibrated bundle folder.");
      const runner = await BundleRunner.open(options.bundle, { requireCalibration: true, session: sessionSettings(options) });
      process.stderr.write(`${runner.describe()}\n`);
      if (options.out) mkdirSync(options.out, { recursive: true });
      let errors = 0;
      try {
        for (const image of images) {
          try {
            const result = await judgeFrame(runner, readImage(image), { roi: options.roi, minRegionArea: options.minArea, heatmap: { format: options.format } });
            let heatmapPath: string | undefined;
            if (options.out) {
              heatmapPath = path.join(options.out, `${path.parse(image).name}.heatmap.${options.format === "png" ? "png" : "jpg"}`);
              writeFileSync(heatmapPath, result.heatmap);
            }
            process.stdout.write(`${JSON.stringify({
              image, verdict: result.verdict, score: result.score, thresholds: result.thresholds, regions: result.regions,
              heatmap: heatmapPath ?? null, timings: result.timings, bundle: runner.bundle.id,
            })}\n`);
          } catch (err) {
            errors++;
            const code = (err as { code?: string }).code ?? "INSPECTION_FAILED";
            process.stdout.write(`${JSON.stringify({ image, verdict: "ERROR", code, message: (err as Error).message, bundle: runner.bundle.id })}\n`);
          }
        }
      } finally {
        await runner.close();
      }
      if (errors > 0) throw new UserError(`${errors} of ${images.length} image(s) could not be inspected (ERROR lines above).`, 1);
    });
}
