// `inspector eval --bundle DIR | --maps DIR --data DIR [--out DIR] [--save-maps]`
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

import { Command } from "commander";

import { evaluate } from "../evaluation/evaluate.js";
import { UserError } from "../errors/user-error.js";
import { numberIn, PROVIDERS_HELP, providerList } from "./options.js";
import { sessionSettings, type SessionChoices } from "../native/providers.js";
import { StageProgress } from "../terminal/stage-progress.js";

interface EvalCliOptions extends SessionChoices {
  bundle?: string;
  maps?: string;
  data?: string;
  out?: string;
  saveMaps?: boolean;
  statisticsImages: number;
  positionStatistics: boolean;
}

export function evalCommand(): Command {
  return new Command("eval")
    .description("measure a bundle on a data set in MVTec AD layout: image AUROC, pixel AUROC, AU-PRO up to 30 % FPR")
    .option("--bundle <dir>", "the bundle to evaluate")
    .option("--maps <dir>", "evaluate anomaly maps made elsewhere instead: float32 TIFFs as <dir>/<defect>/<name>.tiff (the layout --save-maps writes)")
    .option("--data <dir>", "category folder in MVTec AD layout (test/, ground_truth/, train/good)")
    .option("--out <dir>", "folder for metrics.json (and maps/ with --save-maps)")
    .option("--save-maps", "write every anomaly map as a float32 TIFF under OUT/maps/<defect>/<name>.tiff")
    .option("--statistics-images <n>", "train/good images for the statistics when the bundle is not calibrated", numberIn(1, 1e6, true), 100)
    .option("--no-position-statistics", "uncalibrated bundle: no per-position statistics (calibrate's --no-position-statistics)")
    .option("--providers <list>", PROVIDERS_HELP, providerList)
    .option("--threads <n>", "ONNX Runtime threads (0 = every core)", numberIn(0, 1024, true))
    .action(async (options: EvalCliOptions) => {
      if (!options.bundle === !options.maps) throw new UserError("give --bundle DIR (a bundle makes the maps) or --maps DIR (maps made elsewhere), one of the two.");
      if (!options.data) throw new UserError("--data DIR is required: a category folder in MVTec AD layout.");
      if (options.saveMaps && !options.out) throw new UserError("--save-maps needs --out DIR.");
      const progress = new StageProgress();
      const report = await evaluate({
        bundleDir: options.bundle, mapsDir: options.maps, dataDir: options.data, outDir: options.out, saveMaps: Boolean(options.saveMaps),
        statisticsImages: options.statisticsImages, positionStatistics: options.positionStatistics, session: sessionSettings(options),
        onProgress: (stage, done, total) => progress.update(stage, done, total),
        onLog: (line) => progress.line(line),
      }).finally(() => progress.stop());
      const text = `${JSON.stringify(report, null, 2)}\n`;
      if (options.out) {
        mkdirSync(options.out, { recursive: true });
        writeFileSync(path.join(options.out, "metrics.json"), text);
      }
      process.stdout.write(text);
    });
}
