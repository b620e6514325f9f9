// The method's scoring, calibrated: per scale the regression error e and predictive variance v
// are standardised with their mean and std on good parts and summed (ẽ + ṽ); the scales are
// averaged at the model's input resolution, then — when the calibration has them — standardised
// once more per position with the mean and std good parts have there (a variation model: a place
// where good parts always differ, such as a part's edge, stops outscoring a defect elsewhere),
// brought back to the ROI's size and optionally smoothed. The image score is the map's maximum:
// one defective spot is enough for NG.
import type { Manifest, ScaleInfo } from "../inference/manifest.js";
import type { ScoreTensors } from "../inference/inference-client.js";
import { cv, freed, type Mat } from "../native/opencv.js";
import type { Calibration, PositionStatistics } from "../inference/calibration-file.js";

export type ScaleStatistics = Calibration["scales"][string];

function mapOf(data: Float32Array, dims: number[]): Mat {
  const [, , rows, cols] = dims;
  return new cv.Mat(Buffer.from(data.buffer, data.byteOffset, rows * cols * 4), rows, cols, cv.CV_32F);
}

/** ẽ + ṽ for one scale, at the scale's own resolution. */
export function standardisedScale(outputs: ScoreTensors, scale: ScaleInfo, stats: ScaleStatistics): Mat {
  const error = outputs[scale.outputs.error];
  const variance = outputs[scale.outputs.variance];
  const e = mapOf(error.data, error.dims).convertTo(cv.CV_32F, 1 / stats.error.std, -stats.error.mean / stats.error.std);
  const v = mapOf(variance.data, variance.dims).convertTo(cv.CV_32F, 1 / stats.variance.std, -stats.variance.mean / stats.variance.std);
  return freed(e.add(v), e, v);
}

/**
 * A strided map's element i is the patch centred on input pixel i·stride + offset, so it is
 * upsampled with dst(x) = src((x − offset) / stride) exactly (an inverse affine map), not with
 * resize()'s centre alignment.
 */
export function toInputResolution(map: Mat, stride: number, width: number, height: number, offset = 0): Mat {
  if (stride === 1 && offset === 0) return map;
  const inverse = new cv.Mat([[1 / stride, 0, -offset / stride], [0, 1 / stride, -offset / stride]], cv.CV_64F);
  return freed(map.warpAffine(inverse, new cv.Size(width, height), cv.INTER_LINEAR + cv.WARP_INVERSE_MAP, cv.BORDER_REPLICATE), map);
}

export interface ScoreOptions {
  roiWidth: number;
  roiHeight: number;
  /** Gaussian smoothing of the final map, in ROI pixels; 0 = none. */
  blurSigma: number;
  /** Per-position statistics of good parts (calibration.json's scoring.positions); none = skip. */
  positions?: PositionStatistics;
}

/** The scales' ẽ + ṽ averaged, at the model's input resolution (CV_32F). */
export function fusedMap(outputs: ScoreTensors, manifest: Manifest, scales: Calibration["scales"]): Mat {
  const [, , height, width] = manifest.input.shape;
  let sum: Mat | undefined;
  for (const scale of manifest.scales) {
    const stats = scales[String(scale.patch_size)];
    const upsampled = toInputResolution(standardisedScale(outputs, scale, stats), scale.output_stride, width, height,
      scale.output_offset);
    sum = sum ? freed(sum.add(upsampled), sum, upsampled) : upsampled;
  }
  return freed(sum!.convertTo(cv.CV_32F, 1 / manifest.scales.length), sum!);
}

// The statistics' grid brought to the input resolution once per calibration, not per part.
const positionMats = new WeakMap<PositionStatistics, { key: string; mean: Mat; std: Mat }>();

function positionsAt(stats: PositionStatistics, width: number, height: number): { mean: Mat; std: Mat } {
  const key = `${width}x${height}`;
  const cached = positionMats.get(stats);
  if (cached?.key === key) return cached;
  const grid = (values: number[]) => new cv.Mat(Buffer.from(Float32Array.from(values).buffer), stats.height, stats.width, cv.CV_32F)
    .resize(height, width, 0, 0, cv.INTER_LINEAR);
  const entry = { key, mean: grid(stats.mean), std: grid(stats.std) };
  positionMats.set(stats, entry);
  return entry;
}

/** (map − mean(x)) / std(x), the per-position statistics of good parts; map at input resolution. */
export function standardisedPerPosition(map: Mat, stats: PositionStatistics): Mat {
  const { mean, std } = positionsAt(stats, map.cols, map.rows);
  const centred = map.sub(mean);
  return freed(centred.hDiv(std), centred);
}

/** The fused anomaly map (CV_32F, ROI size) of one frame. */
export function anomalyMap(outputs: ScoreTensors, manifest: Manifest, scales: Calibration["scales"], options: ScoreOptions): Mat {
  const [, , height, width] = manifest.input.shape;
  let map = fusedMap(outputs, manifest, scales);
  if (options.positions) map = freed(standardisedPerPosition(map, options.positions), map);
  if (options.roiWidth !== width || options.roiHeight !== height) {
    map = freed(map.resize(options.roiHeight, options.roiWidth, 0, 0, cv.INTER_LINEAR), map);
  }
  if (options.blurSigma > 0) map = freed(map.gaussianBlur(new cv.Size(0, 0), options.blurSigma), map);
  return map;
}

export function imageScore(map: Mat): number {
  return map.minMaxLoc().maxVal;
}

