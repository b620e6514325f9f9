// A frame judged on an already-opened bundle: raw maps → calibrated anomaly map →
// verdict, regions and heatmap. The daemon and `inspector infer` both go through here.
import { performance } from "node:perf_hooks";

import type { BundleRunner, PreparedFrame } from "../inference/bundle-runner.js";
import type { Mat } from "../native/opencv.js";
import type { Roi } from "../preprocess/preprocess.js";
import { mapOfResult, mapScoringOf } from "../scoring/frame-map.js";
import { imageScore } from "../scoring/scoring.js";
import { DEFAULT_HEATMAP_OPTIONS, heatmapCrop, renderHeatmap, type HeatmapOptions } from "./heatmap.js";
import { findRegions, type Region } from "./regions.js";
import { classify, type Thresholds, type VerdictKind } from "./verdict.js";

export interface JudgeOptions {
  roi?: Roi;
  minRegionArea: number;
  /** Replace the calibrated thresholds (a station's override). */
  thresholds?: Partial<Thresholds>;
  /** false: no heatmap is drawn (a station with heatmaps off spends nothing on them). */
  heatmap?: Partial<Omit<HeatmapOptions, "offsetX" | "offsetY">> | false;
}

export interface FrameVerdict {
  verdict: Exclude<VerdictKind, "ERROR">;
  score: number;
  thresholds: Thresholds;
  regions: Region[];
  /** Empty when heatmaps are off. */
  heatmap: Buffer;
  heatmapFormat: "jpeg" | "png";
  /** Where the heatmap lies in the ROI (it is cropped to the regions), in ROI pixels. */
  heatmapRect: { x: number; y: number; width: number; height: number };
  timings: { preprocessMs: number; inferMs: number; scoreMs: number; heatmapMs: number };
}

export const DEFAULT_MIN_REGION_AREA = 4;

export function calibratedThresholds(runner: BundleRunner, override?: Partial<Thresholds>): Thresholds {
  const t = runner.bundle.calibration!.thresholds;
  return { imageLower: t.image_lower, imageUpper: t.image_upper, pixel: t.pixel, ...override };
}

export function judgeFrame(runner: BundleRunner, frame: Mat, options: JudgeOptions): Promise<FrameVerdict> {
  return judgePrepared(runner, runner.prepare(frame, options.roi), options);
}

/** The rest of a part once its frame is prepared (BundleRunner.prepare). */
export async function judgePrepared(runner: BundleRunner, prepared: PreparedFrame, options: JudgeOptions): Promise<FrameVerdict> {
  const calibration = runner.bundle.calibration;
  if (!calibration) throw new Error(`${runner.bundle.dir}: not calibrated`);
  const raw = await runner.infer(prepared);
  const scoreStarted = performance.now();
  const map = mapOfResult(runner, raw, mapScoringOf(calibration));
  const score = imageScore(map);
  const thresholds = calibratedThresholds(runner, options.thresholds);
  const verdict = classify(score, thresholds);
  const regions = verdict === "OK" ? [] : findRegions(map, {
    pixelThreshold: thresholds.pixel, peakThreshold: thresholds.imageLower, minArea: options.minRegionArea,
    offsetX: options.roi?.x, offsetY: options.roi?.y,
  });
  const heatmapStarted = performance.now();
  const heatmapOptions: HeatmapOptions = {
    ...DEFAULT_HEATMAP_OPTIONS, scaleMax: 2 * thresholds.imageUpper, ...(options.heatmap || {}),
    offsetX: options.roi?.x, offsetY: options.roi?.y,
  };
  const heatmapRect = heatmapCrop(map, regions, heatmapOptions);
  const heatmap = options.heatmap === false ? Buffer.alloc(0) : renderHeatmap(raw.roiImage, map, regions, heatmapOptions, heatmapRect);
  map.release();
  return {
    verdict, score, thresholds, regions, heatmap, heatmapFormat: heatmapOptions.format, heatmapRect,
    timings: { preprocessMs: raw.preprocessMs, inferMs: raw.inferMs, scoreMs: heatmapStarted - scoreStarted,
      heatmapMs: performance.now() - heatmapStarted },
  };
}
