// A frame's calibrated anomaly map from a bundle: the one path from image to map that the daemon,
// `inspector calibrate` and `inspector eval` share (scoring.ts holds the math).
import type { BundleRunner, RawResult } from "../inference/bundle-runner.js";
import type { Calibration, PositionStatistics } from "../inference/calibration-file.js";
import type { Mat } from "../native/opencv.js";
import type { Roi } from "../preprocess/preprocess.js";
import { anomalyMap } from "./scoring.js";

/** What turns a bundle's raw outputs into a calibrated map: per-scale statistics, the blur, per-position statistics. */
export interface MapScoring {
  scales: Calibration["scales"];
  blurSigma: number;
  positions?: PositionStatistics;
}

export function mapScoringOf(calibration: Calibration): MapScoring {
  return { scales: calibration.scales, blurSigma: calibration.scoring.blur_sigma, positions: calibration.scoring.positions };
}

/** The map of an inferred frame, the size of its ROI. */
export function mapOfResult(runner: BundleRunner, raw: RawResult, scoring: MapScoring): Mat {
  return anomalyMap(raw.outputs, runner.bundle.manifest, scoring.scales,
    { roiWidth: raw.roiImage.cols, roiHeight: raw.roiImage.rows, blurSigma: scoring.blurSigma, positions: scoring.positions });
}

export async function mapOfFrame(runner: BundleRunner, frame: Mat, scoring: MapScoring, roi?: Roi): Promise<Mat> {
  return mapOfResult(runner, await runner.run(frame, roi), scoring);
}
