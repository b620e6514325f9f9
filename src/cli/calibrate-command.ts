// `inspector calibrate --bundle DIR --good DIR [--bad DIR]`
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { Command, Option } from "commander";

import { calibrate, DEFAULT_CALIBRATE_OPTIONS, type ThresholdMethod } from "../calibration/calibrate.js";
import { captureGoodParts } from "../calibration/capture.js";
import { calibrationReport } from "../calibration/report.js";
import { loadPipeline } from "../config/pipeline-config.js";
import { CALIBRATION_FILE } from "../inference/calibration-file.js";
import { UserError } from "../errors/user-error.js";
import { numberIn, PROVIDERS_HELP, providerList } from "./options.js";
import { sessionSettings, type SessionChoices } from "../native/providers.js";
import { StageProgress } from "../terminal/stage-progress.js";

export const REPORT_FILE = "calibration-report.html";

interface CalibrateCliOptions extends SessionChoices {
  bundle?: string;
  positionStatistics: boolean;
  good?: string;
  pipeline?: string;
  count: number;
  keep?: string;
  intervalMs: number;
  bad?: string;
  masks?: string;
  holdout: number;
  targetFrr: number;
  method: ThresholdMethod;
  targetMissRate: number;
  uncertainBand: number;
  pixelFpr: number;
  blur: number;
  seed: number;
}

export function calibrateCommand(): Command {
  const d = DEFAULT_CALIBRATE_OPTIONS;
  return new Command("calibrate")
    .description("compute score statistics and thresholds for a bundle from images of good parts")
    .option("--bundle <dir>", "the bundle to calibrate (calibration.json and calibration-report.html are written into it)")
    .option("--good <dir>", "folder of images of good parts, as the station sees them")
    .option("--pipeline <file>", "capture the good parts through this station's source and ROI instead of --good (its bundle unless --bundle)")
    .option("--count <n>", "with --pipeline: good parts to capture", numberIn(10, 1e6, true), 100)
    .option("--interval-ms <ms>", "with --pipeline: pause between captures (time to change the part)", numberIn(0, 3_600_000, true), 0)
    .option("--keep <dir>", "with --pipeline: keep the captured images in this folder (for retraining later)")
    .option("--bad <dir>", "folder of images of defective parts: reports the miss rate, enables --method f1|miss-rate")
    .option("--masks <dir>", "ground-truth masks of the --bad images: reports how much of each defect the regions outline")
    .option("--holdout <share>", "share of good images held back to set the threshold", numberIn(0.1, 0.9), d.holdout)
    .option("--target-frr <rate>", "false-reject rate on good parts the NG threshold aims at", numberIn(0, 0.5), d.targetFalseRejectRate)
    .addOption(new Option("--method <method>", "how to choose the NG threshold").choices(["false-reject", "f1", "miss-rate"]).default(d.method))
    .option("--target-miss-rate <rate>", "with --method miss-rate: share of defective parts allowed below the threshold", numberIn(0, 1), d.targetMissRate)
    .option("--uncertain-band <width>", "width of the UNCERTAIN band below the NG threshold (score units)", numberIn(0, 1e6), d.uncertainBand)
    .option("--pixel-fpr <rate>", "share of good pixels allowed above the region-outline threshold", numberIn(0, 0.5), d.pixelFalsePositiveRate)
    .option("--blur <sigma>", "Gaussian smoothing of the anomaly map, in image pixels (0 = none)", numberIn(0, 100), d.blurSigma)
    .option("--no-position-statistics", "score every position alike instead of against good parts' statistics at that position " +
      "(for parts that do not sit at the same place in the ROI)")
    .option("--seed <n>", "seed of the statistics/threshold split", numberIn(0, 2 ** 31, true), d.seed)
    .option("--providers <list>", PROVIDERS_HELP, providerList)
    .option("--threads <n>", "ONNX Runtime threads (0 = every core)", numberIn(0, 1024, true))
    .action(async (options: CalibrateCliOptions) => {
      const progress = new StageProgress();
      let captured: string | undefined;
      if (options.pipeline) {
        if (options.good) throw new UserError("give --good DIR or --pipeline FILE, not both.");
        const pipeline = loadPipeline(options.pipeline);
        options.bundle ??= pipeline.bundle;
        captured = options.keep ?? mkdtempSync(path.join(tmpdir(), "inspector-capture-"));
        progress.line(`capturing ${options.count} good parts from station ${pipeline.station} into ${captured}`);
        await captureGoodParts({ pipeline, count: options.count, out: captured, intervalMs: options.intervalMs,
          onProgress: (done, total) => progress.update("capture", done, total) }).catch((err) => {
          progress.stop();
          throw err;
        });
        options.good = captured;
      }
      if (!options.bundle) throw new UserError("--bundle DIR is required: the bundle folder to calibrate.");
      if (!options.good) throw new UserError("--good DIR (a folder of images of good parts) or --pipeline FILE is required.");
      const result = await calibrate({
        bundleDir: options.bundle, goodDir: options.good, badDir: options.bad, masksDir: options.masks, holdout: options.holdout,
        targetFalseRejectRate: options.targetFrr, method: options.method, targetMissRate: options.targetMissRate,
        uncertainBand: options.uncertainBand, pixelFalsePositiveRate: options.pixelFpr, blurSigma: options.blur,
        positionStatistics: options.positionStatistics,
        seed: options.seed, session: sessionSettings(options),
        onProgress: (stage, done, total) => progress.update(stage, done, total),
        onLog: (line) => progress.line(line),
      }).finally(() => {
        progress.stop();
        if (captured && !options.keep) rmSync(captured, { recursive: true, force: true });
      });
      for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
      const file = path.join(options.bundle, CALIBRATION_FILE);
      // Written aside and renamed: a station reloading meanwhile sees the old file or the new one, never half of one.
      writeFileSync(`${file}.tmp`, `${JSON.stringify(result.calibration, null, 2)}\n`);
      renameSync(`${file}.tmp`, file);
      writeFileSync(path.join(options.bundle, REPORT_FILE),
        calibrationReport(result.calibration, result.goodScores, result.badScores, result.warnings));
      const t = result.calibration.thresholds;
      const m = result.calibration.measured as { held_back_false_reject_rate: number; miss_rate: number | null };
      process.stderr.write(`NG threshold ${t.image_upper.toFixed(4)} (${t.method}); held-back false-reject rate ` +
        `${(m.held_back_false_reject_rate * 100).toFixed(1)} %` +
        (m.miss_rate === null ? "" : `, miss rate ${(m.miss_rate * 100).toFixed(1)} %`) +
        `; report: ${path.join(options.bundle, REPORT_FILE)}\n`);
      process.stdout.write(`${file}\n`);
    });
}
