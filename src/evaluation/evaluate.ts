// `inspector eval`: anomaly maps for every test image of an MVTec-layout data set and the
// metrics MVTec reports, overall and per defect type (that type's images plus every good one).
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";

import { UserError } from "../errors/user-error.js";
import { positionStatistics } from "../calibration/position-statistics.js";
import { scaleStatistics } from "../calibration/scale-statistics.js";
import { BundleRunner } from "../inference/bundle-runner.js";
import type { SessionSettings } from "../native/providers.js";
import { listImages, readImage, readMask } from "../images/image-files.js";
import { cv, type Mat } from "../native/opencv.js";
import { floatsOf } from "../preprocess/preprocess.js";
import type { Calibration, PositionStatistics } from "../inference/calibration-file.js";
import { mapOfFrame } from "../scoring/frame-map.js";
import { imageScore } from "../scoring/scoring.js";
import { auPro, auroc, DEFAULT_PRO_LIMIT, type LabelledMap } from "./metrics.js";
import { listTestImages, type TestImage } from "./mvtec-dataset.js";

export interface EvaluateOptions {
  /** The bundle that makes the maps; or, with `mapsDir`, none: the maps are read from there. */
  bundleDir?: string;
  /** Anomaly maps made elsewhere, as float32 TIFFs laid out as --save-maps writes them (<defect>/<name>.tiff). */
  mapsDir?: string;
  dataDir: string;
  outDir?: string;
  saveMaps: boolean;
  /** Good training images used for the statistics when the bundle is not calibrated. */
  statisticsImages: number;
  /** With an uncalibrated bundle: per-position statistics too, as `inspector calibrate` makes by default. */
  positionStatistics?: boolean;
  session?: SessionSettings;
  onProgress?: (stage: string, done: number, total: number) => void;
  onLog?: (line: string) => void;
}

export interface MetricSet {
  image_auroc: number;
  pixel_auroc: number;
  au_pro: number;
  images: number;
}

export interface EvaluationReport {
  overall: MetricSet;
  per_defect: Record<string, MetricSet>;
  bundle: string;
  data: string;
  statistics_from: string;
  pro_fpr_limit: number;
  seconds_per_image: number;
  provider: string;
}

interface Scored extends LabelledMap {
  image: TestImage;
  score: number;
  anomalous: boolean;
  mask: Uint8Array;
}

function metricsOf(items: Scored[]): MetricSet {
  const positives: number[] = [];
  const negatives: number[] = [];
  for (const item of items) (item.anomalous ? positives : negatives).push(item.score);
  let pixelPositives = 0;
  let pixelNegatives = 0;
  for (const item of items) for (let i = 0; i < item.mask.length; i++) item.mask[i] ? pixelPositives++ : pixelNegatives++;
  const pos = new Float32Array(pixelPositives);
  const neg = new Float32Array(pixelNegatives);
  let p = 0;
  let n = 0;
  for (const item of items) {
    for (let i = 0; i < item.mask.length; i++) {
      if (item.mask[i]) pos[p++] = item.scores[i] as number;
      else neg[n++] = item.scores[i] as number;
    }
  }
  return { image_auroc: auroc(positives, negatives), pixel_auroc: auroc(pos, neg), au_pro: auPro(items, DEFAULT_PRO_LIMIT), images: items.length };
}

/** Statistics from the data set's own train/good when the bundle carries no calibration. */
async function statisticsFromTraining(runner: BundleRunner, dataDir: string, count: number, perPosition: boolean):
  Promise<{ scales: Calibration["scales"]; positions?: PositionStatistics }> {
  const files = listImages(path.join(dataDir, "train", "good")).slice(0, count);
  if (files.length === 0) throw new UserError(`${runner.bundle.dir} is not calibrated and ${dataDir}/train/good has no images: calibrate the bundle first.`);
  const scales = await scaleStatistics(runner, files);
  return { scales, positions: perPosition ? await positionStatistics(runner, files, scales) : undefined };
}

/** Makes (or reads) the anomaly map of one test image, at the image's size or any other. */
interface MapMaker {
  describe: string;
  statisticsFrom: string;
  provider: string;
  mapOf(image: TestImage): Promise<Mat>;
  close(): Promise<void>;
}

async function bundleMaps(options: EvaluateOptions & { bundleDir: string }): Promise<MapMaker> {
  const runner = await BundleRunner.open(options.bundleDir, { requireCalibration: false, session: options.session });
  try {
    const calibration = runner.bundle.calibration;
    const { scales, positions } = calibration ? { scales: calibration.scales, positions: calibration.scoring.positions }
      : await statisticsFromTraining(runner, options.dataDir, options.statisticsImages, options.positionStatistics ?? true);
    const blurSigma = calibration?.scoring.blur_sigma ?? 0;
    return {
      describe: runner.bundle.id,
      statisticsFrom: calibration ? "calibration.json" : `${options.dataDir}/train/good (bundle not calibrated)` +
        (positions ? ", per position" : ""),
      provider: runner.worker.provider,
      mapOf: (image) => mapOfFrame(runner, readImage(image.file), { scales, blurSigma, positions }),
      close: () => runner.close(),
    };
  } catch (err) {
    await runner.close();
    throw err;
  }
}

function fileMaps(mapsDir: string): MapMaker {
  return {
    describe: `maps from ${path.resolve(mapsDir)}`,
    statisticsFrom: "the maps as given",
    provider: "none",
    async mapOf(image) {
      const file = path.join(mapsDir, image.defect, `${image.name}.tiff`);
      if (!existsSync(file)) throw new UserError(`${file}: no anomaly map for ${image.file}. --maps takes a folder laid out as ` +
        "--save-maps writes one: <defect>/<name>.tiff, float32, one per test image.");
      const map = cv.imread(file, cv.IMREAD_UNCHANGED);
      if (map.empty || map.channels !== 1) throw new UserError(`${file}: not a single-channel image; write the map as a float32 TIFF.`);
      return map.type === cv.CV_32F ? map : map.convertTo(cv.CV_32F);
    },
    close: async () => {},
  };
}

export async function evaluate(options: EvaluateOptions): Promise<EvaluationReport> {
  const tests = listTestImages(options.dataDir);
  if (!options.bundleDir === !options.mapsDir) throw new UserError("give either a bundle or a folder of maps to evaluate, not both or neither.");
  const maker = options.bundleDir ? await bundleMaps({ ...options, bundleDir: options.bundleDir }) : fileMaps(options.mapsDir!);
  options.onLog?.(maker.describe);
  try {
    const scored: Scored[] = [];
    let seconds = 0;
    for (const [index, image] of tests.entries()) {
      const started = performance.now();
      let map = await maker.mapOf(image);
      seconds += (performance.now() - started) / 1000;
      const maskMat = image.maskFile ? readMask(image.maskFile) : cv.Mat.zeros(map.rows, map.cols, cv.CV_8U);
      if (map.cols !== maskMat.cols || map.rows !== maskMat.rows) map = map.resize(maskMat.rows, maskMat.cols, 0, 0, cv.INTER_LINEAR);
      const binary = maskMat.threshold(0, 1, cv.THRESH_BINARY);
      const labels = binary.connectedComponents(8, cv.CV_32S);
      const regionCount = labels.minMaxLoc().maxVal;
      const labelBytes = labels.getData();
      const regions = new Int32Array(labelBytes.length / 4);
      new Uint8Array(regions.buffer).set(labelBytes);
      const mask = new Uint8Array(binary.getData());
      if (options.saveMaps && options.outDir) {
        const dir = path.join(options.outDir, "maps", image.defect);
        mkdirSync(dir, { recursive: true });
        cv.imwrite(path.join(dir, `${image.name}.tiff`), map);
      }
      scored.push({ image, scores: floatsOf(map), regions, regionCount, mask, score: imageScore(map), anomalous: regionCount > 0 });
      options.onProgress?.("evaluating", index + 1, tests.length);
    }
    const defects = [...new Set(tests.map((t) => t.defect))].filter((d) => d !== "good");
    const good = scored.filter((s) => s.image.defect === "good");
    const perDefect: Record<string, MetricSet> = {};
    for (const defect of defects) perDefect[defect] = metricsOf([...good, ...scored.filter((s) => s.image.defect === defect)]);
    return {
      overall: metricsOf(scored),
      per_defect: perDefect,
      bundle: maker.describe,
      data: path.resolve(options.dataDir),
      statistics_from: maker.statisticsFrom,
      pro_fpr_limit: DEFAULT_PRO_LIMIT,
      seconds_per_image: seconds / tests.length,
      provider: maker.provider,
    };
  } finally {
    await maker.close();
  }
}
