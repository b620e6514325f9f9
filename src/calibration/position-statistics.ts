// Calibration's second pass: the fused map's mean and std at each position over good parts — a
// variation model, as machine-vision libraries build one from good parts at a fixed camera. A place
// where good parts always differ from each other (a part's edge, a corner where the background
// shows, a reflection) gets a wide std and stops outscoring a defect elsewhere; a place where they
// agree keeps its sensitivity.
import { UserError } from "../errors/user-error.js";
import type { BundleRunner } from "../inference/bundle-runner.js";
import { readImage } from "../images/image-files.js";
import { cv } from "../native/opencv.js";
import { floatsOf } from "../preprocess/preprocess.js";
import type { Calibration, PositionStatistics } from "../inference/calibration-file.js";
import { fusedMap } from "../scoring/scoring.js";
import { quantile } from "../scoring/statistics.js";

/** Input pixels per grid cell along each side: the stride of a p=33 map, fine enough for any
 * part's layout and small enough for calibration.json (a 256² input: 64×64 cells). */
export const POSITION_GRID_STRIDE = 4;
export const MIN_POSITION_IMAGES = 10;

/**
 * Per position, std is floored at the median std over all positions: with a few dozen good parts
 * a position's std is itself noisy, and a place that happened to vary little would otherwise
 * turn small differences into large scores. The floor only ever lowers scores.
 */
export async function positionStatistics(runner: BundleRunner, files: string[], scales: Calibration["scales"],
  onProgress?: (done: number, total: number) => void): Promise<PositionStatistics> {
  if (files.length < MIN_POSITION_IMAGES) {
    throw new UserError(`per-position statistics need at least ${MIN_POSITION_IMAGES} good images, got ${files.length}: ` +
      "calibrate on more good parts, or pass --no-position-statistics.");
  }
  const manifest = runner.bundle.manifest;
  const [, , height, width] = manifest.input.shape;
  const gridWidth = Math.ceil(width / POSITION_GRID_STRIDE);
  const gridHeight = Math.ceil(height / POSITION_GRID_STRIDE);
  const cells = gridWidth * gridHeight;
  const sum = new Float64Array(cells);
  const squares = new Float64Array(cells);
  for (const [index, file] of files.entries()) {
    const { outputs } = await runner.run(readImage(file));
    const map = fusedMap(outputs, manifest, scales);
    const grid = map.resize(gridHeight, gridWidth, 0, 0, cv.INTER_AREA);
    const values = floatsOf(grid);
    map.release();
    grid.release();
    for (let i = 0; i < cells; i++) {
      sum[i] += values[i];
      squares[i] += values[i] * values[i];
    }
    onProgress?.(index + 1, files.length);
  }
  const mean = Array.from(sum, (s) => s / files.length);
  const std = Array.from(squares, (q, i) => Math.sqrt(Math.max(q / files.length - mean[i] * mean[i], 0)));
  const floor = quantile(Float64Array.from(std).sort(), 0.5);
  if (!(floor > 0) || !mean.every(Number.isFinite)) {
    throw new UserError("the anomaly maps of the good images do not vary from part to part (median std 0): the images " +
      "may be copies of one frame or blank. Check them, or pass --no-position-statistics.");
  }
  return { width: gridWidth, height: gridHeight, mean, std: std.map((s) => Math.max(s, floor)) };
}
