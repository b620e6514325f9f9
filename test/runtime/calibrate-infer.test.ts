// A bundle made by the training code in this run goes through calibrate → infer → eval, as a
// user would run them, with real files, the real ONNX graph and real OpenCV.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

import { beforeAll, describe, expect, it } from "vitest";

import { cv } from "../../src/native/opencv.js";
import { calibrationSchema } from "../../src/inference/calibration-file.js";
import { CLI, python, tinyTeachersIn, writeSyntheticCategory } from "../helpers/python.js";

let work: string;
let category: string;
let bundle: string;

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
}

beforeAll(() => {
  let teachers: string;
  ({ work, teachers } = tinyTeachersIn("inspector-roundtrip-"));
  category = path.join(work, "part");
  writeSyntheticCategory(category, 30, 6);
  bundle = path.join(work, "bundle");
  python(["-m", "inspector_training", "train", "--good", category, "--out", bundle, "--teachers", teachers,
    "--students", "2", "--epochs", "2", "--size", "64", "--mode", "strided", "--scales", "17,33"]);
});

describe("calibrate → infer → eval", () => {
  it("refuses too few good images, naming how many are needed", () => {
    const run = cli("calibrate", "--bundle", bundle, "--good", path.join(category, "test", "good"));
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/found 6 good image\(s\); calibration needs at least 10/);
  });

  it("infer refuses an uncalibrated bundle", () => {
    const run = cli("infer", "--bundle", bundle, path.join(category, "test", "good", "000.png"));
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("not calibrated");
  });

  it("calibrates without per-position statistics when asked", () => {
    const run = cli("calibrate", "--bundle", bundle, "--good", path.join(category, "train", "good"), "--no-position-statistics");
    expect(run.status, run.stderr).toBe(0);
    const calibration = calibrationSchema.parse(JSON.parse(readFileSync(path.join(bundle, "calibration.json"), "utf8")));
    expect(calibration.scoring.positions).toBeUndefined();
  });

  it("skips per-position statistics, with a warning, when fewer than 10 images give the statistics", () => {
    // 30 good images, 70 % held back for the threshold: 9 left for the statistics
    const run = cli("calibrate", "--bundle", bundle, "--good", path.join(category, "train", "good"), "--holdout", "0.7");
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/warning: per-position statistics skipped: 9 statistics images, at least 10 are needed/);
    const calibration = calibrationSchema.parse(JSON.parse(readFileSync(path.join(bundle, "calibration.json"), "utf8")));
    expect(calibration.scoring.positions).toBeUndefined();
  });

  it("calibrates on good parts with defective samples and writes the file and report", () => {
    const run = cli("calibrate", "--bundle", bundle, "--good", path.join(category, "train", "good"),
      "--bad", path.join(category, "test", "scratch"), "--masks", path.join(category, "ground_truth", "scratch"), "--target-frr", "0.1");
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(path.join(bundle, "calibration.json"));
    const calibration = calibrationSchema.parse(JSON.parse(readFileSync(path.join(bundle, "calibration.json"), "utf8")));
    expect(calibration.source).toMatchObject({ good_images: 30, statistics_images: 21, threshold_images: 9, bad_images: 6 });
    expect(Object.keys(calibration.scales).sort()).toEqual(["17", "33"]);
    // per-position statistics on a grid of 4×4-pixel cells over the 64² input, std floored at its median
    const positions = calibration.scoring.positions!;
    expect([positions.width, positions.height, positions.mean.length, positions.std.length]).toEqual([16, 16, 256, 256]);
    const stds = [...positions.std].sort((a, b) => a - b);
    expect(stds[0]).toBeGreaterThan(0);
    expect(stds.filter((s) => s === stds[0]).length).toBeGreaterThanOrEqual(128);
    expect(calibration.thresholds.pixel).toBeLessThanOrEqual(calibration.thresholds.image_upper);
    expect(calibration.measured.miss_rate).toBeTypeOf("number");
    expect(calibration.measured.outlined_defect_pixels).toBeGreaterThanOrEqual(0);
    expect(calibration.measured.outlined_defect_pixels).toBeLessThanOrEqual(1);
    const report = readFileSync(path.join(bundle, "calibration-report.html"), "utf8");
    expect(report).toContain("<svg");
    expect(report).toContain("defective (6)");
  });

  it("infers verdicts with heatmaps, and an ERROR line for an unreadable image", () => {
    const out = path.join(work, "heatmaps");
    const good = path.join(category, "test", "good", "000.png");
    const scratched = path.join(category, "test", "scratch", "000.png");
    const run = cli("infer", "--bundle", bundle, "--out", out, good, scratched, path.join(work, "missing.png"));
    expect(run.status).toBe(1);
    const lines = run.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    for (const line of lines.slice(0, 2)) {
      expect(["OK", "NG", "UNCERTAIN"]).toContain(line.verdict);
      expect(line.score).toBeTypeOf("number");
      expect(Object.keys(line.timings)).toEqual(["preprocessMs", "inferMs", "scoreMs", "heatmapMs"]);
      expect(existsSync(line.heatmap)).toBe(true);
      expect(cv.imread(line.heatmap).rows).toBeGreaterThan(0);
      if (line.verdict === "NG") expect(line.regions.length).toBeGreaterThan(0);
    }
    expect(lines[2]).toMatchObject({ verdict: "ERROR", code: "IMAGE_UNREADABLE" });
  });

  it("evaluates on the MVTec-layout test split and saves float maps", () => {
    const out = path.join(work, "eval");
    const run = cli("eval", "--bundle", bundle, "--data", category, "--out", out, "--save-maps");
    expect(run.status, run.stderr).toBe(0);
    const metrics = JSON.parse(readFileSync(path.join(out, "metrics.json"), "utf8"));
    for (const set of [metrics.overall, metrics.per_defect.scratch]) {
      for (const key of ["image_auroc", "pixel_auroc", "au_pro"]) {
        expect(set[key]).toBeGreaterThanOrEqual(0);
        expect(set[key]).toBeLessThanOrEqual(1);
      }
    }
    expect(metrics.overall.images).toBe(12);
    const map = cv.imread(path.join(out, "maps", "scratch", "000.tiff"), cv.IMREAD_UNCHANGED);
    expect([map.cols, map.rows, map.type]).toEqual([96, 96, cv.CV_32F]);
  });

  it("evaluates maps made elsewhere (--maps): the saved maps give the same metrics, ground truth gives 1", () => {
    const out = path.join(work, "eval");
    const again = cli("eval", "--maps", path.join(out, "maps"), "--data", category);
    expect(again.status, again.stderr).toBe(0);
    const fromBundle = JSON.parse(readFileSync(path.join(out, "metrics.json"), "utf8"));
    const fromMaps = JSON.parse(again.stdout);
    expect(fromMaps.overall).toEqual(fromBundle.overall);
    expect(fromMaps.per_defect).toEqual(fromBundle.per_defect);

    // The ground-truth masks as maps (good images: zeros) separate perfectly.
    const perfect = path.join(work, "perfect-maps");
    for (const defect of readdirSync(path.join(category, "test"))) {
      mkdirSync(path.join(perfect, defect), { recursive: true });
      for (const file of readdirSync(path.join(category, "test", defect))) {
        const name = path.parse(file).name;
        const image = cv.imread(path.join(category, "test", defect, file));
        const map = defect === "good" ? new cv.Mat(image.rows, image.cols, cv.CV_32F, 0)
          : cv.imread(path.join(category, "ground_truth", defect, `${name}_mask.png`), cv.IMREAD_GRAYSCALE).convertTo(cv.CV_32F, 1 / 255);
        cv.imwrite(path.join(perfect, defect, `${name}.tiff`), map);
      }
    }
    const ideal = JSON.parse(cli("eval", "--maps", perfect, "--data", category).stdout);
    expect([ideal.overall.image_auroc, ideal.overall.pixel_auroc]).toEqual([1, 1]);
    expect(ideal.overall.au_pro).toBeCloseTo(1, 12); // the curve's integral, summed in floating point

    rmSync(path.join(perfect, "good", "000.tiff"));
    const missing = cli("eval", "--maps", perfect, "--data", category);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/good\/000\.tiff: no anomaly map for .*000\.png/);
    const both = cli("eval", "--maps", perfect, "--bundle", bundle, "--data", category);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--bundle DIR .* or --maps DIR/);
  });
});
