// `inspector calibrate`: the statistics that standardise e and v, and the decision thresholds,
// from images of good parts (and optionally defective ones). Held-back good images set the
// threshold, so it is not fitted on the images that gave the statistics.
import { existsSync } from "node:fs";
import path from "node:path";

import { UserError } from "../errors/user-error.js";
import { seededShuffle } from "../random/seeded-random.js";
import { BundleRunner } from "../inference/bundle-runner.js";
import type { SessionSettings } from "../native/providers.js";
import { listImages, readImage, readMask } from "../images/image-files.js";
import { cv, type Mat } from "../native/opencv.js";
import { floatsOf } from "../preprocess/preprocess.js";
import { CALIBRATION_FORMAT, CALIBRATION_VERSION, type Calibration } from "../inference/calibration-file.js";
import { mapOfFrame } from "../scoring/frame-map.js";
import { imageScore } from "../scoring/scoring.js";
import { quantile, Subsample } from "../scoring/statistics.js";
import { MIN_POSITION_IMAGES, positionStatistics } from "./position-statistics.js";
import { scaleStatistics } from "./scale-statistics.js";

export type ThresholdMethod = "false-reject" | "f1" | "miss-rate";

export interface CalibrateOptions {
  bundleDir: string;
  goodDir: string;
  badDir?: string;
  /** Ground-truth masks of the defective images (<name>_mask.png or <name>.png). */
  masksDir?: string;
  /** Share of good images held back for the threshold. */
  holdout: number;
  targetFalseRejectRate: number;
  method: ThresholdMethod;
  targetMissRate: number;
  /** Width of the UNCERTAIN band below the NG threshold, in score units. */
  uncertainBand: number;
  /** Share of good pixels allowed above the pixel threshold that outlines regions. */
  pixelFalsePositiveRate: number;
  blurSigma: number;
  /** Standardise the map per position with good parts' statistics (a variation model). */
  positionStatistics: boolean;
  seed: number;
  session?: SessionSettings;
  onProgress?: (stage: string, done: number, total: number) => void;
  onLog?: (line: string) => void;
}

export const DEFAULT_CALIBRATE_OPTIONS = {
  holdout: 0.3,
  targetFalseRejectRate: 0.01,
  method: "false-reject" as ThresholdMethod,
  targetMissRate: 0.05,
  uncertainBand: 0,
  pixelFalsePositiveRate: 0.001,
  blurSigma: 0,
  positionStatistics: true,
  seed: 0,
};

export const MIN_STATISTICS_IMAGES = 5;
export const MIN_THRESHOLD_IMAGES = 5;
const PIXEL_SAMPLE_STRIDE = 7; // bounds the pixel sample's memory; odd so it does not alias image rows

export interface CalibrationResult {
  calibration: Calibration;
  goodScores: number[];
  badScores: number[];
  warnings: string[];
}

/** The threshold maximising F1 for NG (defective = positive) over every observed score. */
function f1Threshold(good: number[], bad: number[]): number {
  const candidates = [...new Set([...good, ...bad])].sort((a, b) => a - b);
  let best = { f1: -1, threshold: candidates[0] };
  for (const t of candidates) {
    const tp = bad.filter((s) => s >= t).length;
    const fp = good.filter((s) => s >= t).length;
    const f1 = (2 * tp) / (2 * tp + fp + (bad.length - tp));
    if (f1 > best.f1) best = { f1, threshold: t };
  }
  return best.threshold;
}

/**
 * With masks: the share of ground-truth defect pixels that the pixel threshold outlines, over all
 * defective images — how much of each defect the reported regions cover.
 */
function outlinedDefectShare(maps: { map: Mat; file: string }[], masksDir: string, pixelThreshold: number): number | null {
  let defect = 0;
  let covered = 0;
  for (const { map, file } of maps) {
    const name = path.parse(file).name;
    const candidates = [`${name}_mask.png`, `${name}.png`].map((n) => path.join(masksDir, n));
    const maskFile = candidates.find((c) => existsSync(c));
    if (!maskFile) throw new UserError(`${file}: no mask in ${masksDir} (expected ${path.basename(candidates[0])} or ${path.basename(candidates[1])}).`);
    let mask = readMask(maskFile);
    if (mask.cols !== map.cols || mask.rows !== map.rows) mask = mask.resize(map.rows, map.cols, 0, 0, cv.INTER_NEAREST);
    const inDefect = mask.threshold(0, 255, cv.THRESH_BINARY);
    const above = map.threshold(pixelThreshold, 255, cv.THRESH_BINARY).convertTo(cv.CV_8U);
    defect += inDefect.countNonZero();
    covered += inDefect.bitwiseAnd(above).countNonZero();
  }
  return defect > 0 ? covered / defect : null;
}

export async function calibrate(options: CalibrateOptions): Promise<CalibrationResult> {
  const good = listImages(options.goodDir, "images of good parts");
  const needed = MIN_STATISTICS_IMAGES + MIN_THRESHOLD_IMAGES;
  const thresholdCount = Math.max(MIN_THRESHOLD_IMAGES, Math.round(good.length * options.holdout));
  if (good.length < needed || good.length - thresholdCount < MIN_STATISTICS_IMAGES) {
    throw new UserError(`${options.goodDir}: found ${good.length} good image(s); calibration needs at least ${needed} ` +
      `(${MIN_STATISTICS_IMAGES} for the statistics, ${MIN_THRESHOLD_IMAGES} held back for the threshold), and about ` +
      `${Math.ceil(1 / options.targetFalseRejectRate)} held back to resolve a ${options.targetFalseRejectRate * 100} % false-reject target.`);
  }
  const bad = options.badDir ? listImages(options.badDir, "images of defective parts") : [];
  if (options.badDir && bad.length === 0) throw new UserError(`${options.badDir}: no images of defective parts found.`);
  if (options.masksDir && !options.badDir) throw new UserError("--masks DIR goes with --bad DIR: they are the defective images' masks.");
  if (options.method !== "false-reject" && bad.length === 0) {
    throw new UserError(`--method ${options.method} chooses the threshold against defective parts: give --bad DIR.`);
  }
  const order = seededShuffle(good, options.seed);
  const thresholdImages = order.slice(0, thresholdCount);
  const statisticsImages = order.slice(thresholdCount);
  const warnings: string[] = [];
  if (thresholdImages.length * options.targetFalseRejectRate < 1) {
    warnings.push(`${thresholdImages.length} held-back images cannot resolve a ${options.targetFalseRejectRate * 100} % ` +
      `false-reject rate (that needs ${Math.ceil(1 / options.targetFalseRejectRate)}): the threshold sits near the highest good score. ` +
      "Calibrate on more good parts for a reliable rate.");
  }

  const runner = await BundleRunner.open(options.bundleDir, { requireCalibration: false, session: options.session });
  options.onLog?.(runner.describe());
  try {
    const scales = await scaleStatistics(runner, statisticsImages, (done, total) => options.onProgress?.("statistics", done, total));
    const perPosition = options.positionStatistics && statisticsImages.length >= MIN_POSITION_IMAGES;
    if (options.positionStatistics && !perPosition) {
      warnings.push(`per-position statistics skipped: ${statisticsImages.length} statistics images, at least ` +
        `${MIN_POSITION_IMAGES} are needed; every position is scored alike. Calibrate on more good parts.`);
    }
    const positions = perPosition
      ? await positionStatistics(runner, statisticsImages, scales, (done, total) => options.onProgress?.("positions", done, total))
      : undefined;

    // Pass 2: image scores (and a pixel sample) of the held-back good images; pass 3: defective ones.
    const defectMaps: { map: Mat; file: string }[] = [];
    const scoreImages = async (files: string[], stage: string, pixels?: Subsample) => {
      const scores: number[] = [];
      for (const [index, file] of files.entries()) {
        const map = await mapOfFrame(runner, readImage(file), { scales, blurSigma: options.blurSigma, positions });
        scores.push(imageScore(map));
        if (pixels) pixels.add(floatsOf(map));
        else if (options.masksDir) defectMaps.push({ map, file });
        options.onProgress?.(stage, index + 1, files.length);
      }
      return scores;
    };
    const pixels = new Subsample(PIXEL_SAMPLE_STRIDE);
    const goodScores = await scoreImages(thresholdImages, "threshold", pixels);
    const badScores = await scoreImages(bad, "defective");
    const sortedGood = Float64Array.from(goodScores).sort();
    if (sortedGood[0] === sortedGood[sortedGood.length - 1]) {
      throw new UserError("every held-back good image has the same score: the scores are degenerate. Check the images and the bundle.");
    }

    const falseRejectThreshold = quantile(sortedGood, 1 - options.targetFalseRejectRate);
    let threshold = falseRejectThreshold;
    if (options.method === "f1") threshold = f1Threshold(goodScores, badScores);
    if (options.method === "miss-rate") threshold = quantile(Float64Array.from(badScores).sort(), options.targetMissRate);
    const pixelThreshold = Math.min(quantile(pixels.sorted(), 1 - options.pixelFalsePositiveRate), threshold);
    const outlined = options.masksDir ? outlinedDefectShare(defectMaps, options.masksDir, pixelThreshold) : null;
    const rate = (scores: number[], predicate: (s: number) => boolean) =>
      scores.length ? scores.filter(predicate).length / scores.length : null;

    const calibration: Calibration = {
      format: CALIBRATION_FORMAT,
      format_version: CALIBRATION_VERSION,
      created: new Date().toISOString(),
      bundle_sha256: runner.bundle.sha256,
      source: {
        good: path.resolve(options.goodDir),
        ...(options.badDir ? { bad: path.resolve(options.badDir), bad_images: bad.length } : {}),
        good_images: good.length,
        statistics_images: statisticsImages.length,
        threshold_images: thresholdImages.length,
      },
      scales,
      scoring: { blur_sigma: options.blurSigma, ...(positions ? { positions } : {}) },
      thresholds: {
        image_lower: threshold - options.uncertainBand,
        image_upper: threshold,
        pixel: pixelThreshold,
        method: options.method,
        target_false_reject_rate: options.targetFalseRejectRate,
      },
      measured: {
        held_back_false_reject_rate: rate(goodScores, (s) => s >= threshold),
        miss_rate: rate(badScores, (s) => s < threshold),
        outlined_defect_pixels: outlined,
        false_reject_threshold: falseRejectThreshold,
        good_score_max: sortedGood[sortedGood.length - 1],
        seed: options.seed,
        pixel_false_positive_rate: options.pixelFalsePositiveRate,
      },
    };
    return { calibration, goodScores, badScores, warnings };
  } finally {
    await runner.close();
  }
}
