// Calibrated scoring, verdict bands, regions and heatmaps on maps whose answers are known.
import { describe, expect, it } from "vitest";

import type { Manifest } from "../../src/inference/manifest.js";
import { cv } from "../../src/native/opencv.js";
import { floatsOf } from "../../src/preprocess/preprocess.js";
import { anomalyMap, imageScore } from "../../src/scoring/scoring.js";
import { quantile } from "../../src/scoring/statistics.js";
import { renderHeatmap } from "../../src/verdict/heatmap.js";
import { findRegions } from "../../src/verdict/regions.js";
import { classify } from "../../src/verdict/verdict.js";

function manifestWith(scales: { patch: number; stride: number; side: number; offset?: number }[], size: number): Manifest {
  return {
    input: { shape: [1, 3, size, size] },
    scales: scales.map((s) => ({ patch_size: s.patch, output_stride: s.stride, output_offset: s.offset ?? 0, output_shape: [1, 1, s.side, s.side],
      outputs: { error: `e_${s.patch}`, variance: `v_${s.patch}` }, students: 2, width: 1 })),
  } as unknown as Manifest;
}

const unit = { error: { mean: 0, std: 1 }, variance: { mean: 0, std: 1 } };

describe("anomalyMap", () => {
  it("standardises e and v with the calibration's mean and std and sums them", () => {
    const manifest = manifestWith([{ patch: 17, stride: 1, side: 2 }], 2);
    const outputs = { e_17: { data: Float32Array.of(3, 5, 7, 9), dims: [1, 1, 2, 2] }, v_17: { data: Float32Array.of(1, 1, 1, 3), dims: [1, 1, 2, 2] } };
    const scales = { 17: { error: { mean: 5, std: 2 }, variance: { mean: 1, std: 0.5 } } };
    const map = anomalyMap(outputs, manifest, scales, { roiWidth: 2, roiHeight: 2, blurSigma: 0 });
    // (e−5)/2 + (v−1)/0.5 → −1+0, 0+0, 1+0, 2+4
    expect([...floatsOf(map)]).toEqual([-1, 0, 1, 6]);
    expect(imageScore(map)).toBe(6);
  });

  it("puts a strided map's element i on input pixel i·stride and averages the scales", () => {
    const manifest = manifestWith([{ patch: 33, stride: 4, side: 4 }, { patch: 17, stride: 1, side: 16 }], 16);
    const strided = Float32Array.from({ length: 16 }, (_, i) => i);
    const outputs = {
      e_33: { data: strided, dims: [1, 1, 4, 4] }, v_33: { data: new Float32Array(16), dims: [1, 1, 4, 4] },
      e_17: { data: new Float32Array(256).fill(2), dims: [1, 1, 16, 16] }, v_17: { data: new Float32Array(256), dims: [1, 1, 16, 16] },
    };
    const map = floatsOf(anomalyMap(outputs, manifest, { 33: unit, 17: unit }, { roiWidth: 16, roiHeight: 16, blurSigma: 0 }));
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) expect(map[4 * i * 16 + 4 * j]).toBeCloseTo((strided[i * 4 + j] + 2) / 2, 5);
    }
    // half-way between two strided samples: linear interpolation
    expect(map[0 * 16 + 2]).toBeCloseTo(((0 + 1) / 2 + 2) / 2, 5);
  });

  it("puts element i of a MobileNetV2 block map on input pixel i·stride + offset", () => {
    const manifest = manifestWith([{ patch: 59, stride: 8, side: 4, offset: 7 }], 32);
    const strided = Float32Array.from({ length: 16 }, (_, i) => i);
    const outputs = { e_59: { data: strided, dims: [1, 1, 4, 4] }, v_59: { data: new Float32Array(16), dims: [1, 1, 4, 4] } };
    const map = floatsOf(anomalyMap(outputs, manifest, { 59: unit }, { roiWidth: 32, roiHeight: 32, blurSigma: 0 }));
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) expect(map[(8 * i + 7) * 32 + 8 * j + 7]).toBeCloseTo(strided[i * 4 + j], 5);
    }
    // before the first element's pixel the map holds its value (replicated border)
    expect(map[0]).toBeCloseTo(0, 5);
    expect(map[7 * 32 + 11]).toBeCloseTo(0.5, 5);
  });

  it("standardises per position with good parts' statistics, their grid brought to the input size", () => {
    const manifest = manifestWith([{ patch: 17, stride: 1, side: 2 }], 2);
    const outputs = { e_17: { data: Float32Array.of(3, 5, 7, 9), dims: [1, 1, 2, 2] }, v_17: { data: new Float32Array(4), dims: [1, 1, 2, 2] } };
    const positions = { width: 2, height: 2, mean: [1, 1, 3, 5], std: [1, 4, 2, 0.5] };
    const map = anomalyMap(outputs, manifest, { 17: unit }, { roiWidth: 2, roiHeight: 2, blurSigma: 0, positions });
    // (3−1)/1, (5−1)/4, (7−3)/2, (9−5)/0.5: the edge that always varies (std 4) no longer wins
    expect([...floatsOf(map)]).toEqual([2, 1, 2, 8]);
    // a 1×1 grid is one mean and std for every position
    const one = anomalyMap(outputs, manifest, { 17: unit }, { roiWidth: 2, roiHeight: 2, blurSigma: 0,
      positions: { width: 1, height: 1, mean: [1], std: [2] } });
    expect([...floatsOf(one)]).toEqual([1, 2, 3, 4]);
  });

  it("resizes to the ROI and smooths when asked", () => {
    const manifest = manifestWith([{ patch: 17, stride: 1, side: 8 }], 8);
    const e = new Float32Array(64);
    e[3 * 8 + 3] = 10;
    const outputs = { e_17: { data: e, dims: [1, 1, 8, 8] }, v_17: { data: new Float32Array(64), dims: [1, 1, 8, 8] } };
    const map = anomalyMap(outputs, manifest, { 17: unit }, { roiWidth: 32, roiHeight: 24, blurSigma: 0 });
    expect([map.cols, map.rows]).toEqual([32, 24]);
    const blurred = anomalyMap(outputs, manifest, { 17: unit }, { roiWidth: 32, roiHeight: 24, blurSigma: 3 });
    expect(imageScore(blurred)).toBeLessThan(imageScore(map));
  });
});

describe("classify", () => {
  it("has an empty UNCERTAIN band by default", () => {
    const t = { imageLower: 5, imageUpper: 5, pixel: 3 };
    expect(classify(4.99, t)).toBe("OK");
    expect(classify(5, t)).toBe("NG");
    expect(classify(7, t)).toBe("NG");
  });
  it("is UNCERTAIN inside a band and for a broken score", () => {
    const t = { imageLower: 4, imageUpper: 5, pixel: 3 };
    expect(classify(3.9, t)).toBe("OK");
    expect(classify(4, t)).toBe("UNCERTAIN");
    expect(classify(4.9, t)).toBe("UNCERTAIN");
    expect(classify(5, t)).toBe("NG");
    expect(classify(Number.NaN, t)).toBe("UNCERTAIN");
  });
});

describe("findRegions", () => {
  const map = new cv.Mat(20, 30, cv.CV_32F, 0);
  // region A: 3×2 block peaking at 9; region B: a 2×2 block peaking at 4 (below the peak threshold);
  // region C: one pixel at 8 (smaller than minArea); A's diagonal neighbour joins it (8-connectivity)
  for (const [y, x, v] of [[2, 2, 6], [2, 3, 9], [2, 4, 6], [3, 2, 6], [3, 3, 6], [3, 4, 6], [4, 5, 6],
    [10, 20, 4], [10, 21, 4], [11, 20, 4], [11, 21, 4], [15, 5, 8]] as const) map.set(y, x, v);

  it("keeps 8-connected components whose peak reaches the threshold and that are large enough", () => {
    const regions = findRegions(map, { pixelThreshold: 3, peakThreshold: 5, minArea: 2, offsetX: 100, offsetY: 50 });
    expect(regions).toEqual([{ x: 102, y: 52, width: 4, height: 3, area: 7, peak: 9 }]);
  });

  it("orders regions by peak", () => {
    const regions = findRegions(map, { pixelThreshold: 3, peakThreshold: 0, minArea: 1 });
    expect(regions.map((r) => r.peak)).toEqual([9, 8, 4]);
  });

  it("draws a heatmap cropped to the regions", () => {
    const image = new cv.Mat(20, 30, cv.CV_8UC3, [128, 128, 128]);
    const regions = findRegions(map, { pixelThreshold: 3, peakThreshold: 5, minArea: 2 });
    const jpeg = renderHeatmap(image, map, regions, { format: "jpeg", jpegQuality: 80, scaleMax: 10, margin: 1 });
    const decoded = cv.imdecode(jpeg);
    expect([decoded.cols, decoded.rows]).toEqual([6, 5]); // 4×3 box plus a 1-pixel margin on each side
    const whole = cv.imdecode(renderHeatmap(image, map, [], { format: "png", jpegQuality: 80, scaleMax: 10, margin: 1 }));
    expect([whole.cols, whole.rows]).toEqual([30, 20]);
  });

  it("colours the crop exactly as the same pixels of the whole picture, boxes apart", () => {
    const image = new cv.Mat(20, 30, cv.CV_8UC3, [90, 128, 160]);
    const regions = findRegions(map, { pixelThreshold: 3, peakThreshold: 5, minArea: 2 });
    const options = { format: "png" as const, jpegQuality: 80, scaleMax: 10, margin: 2 };
    const crop = cv.imdecode(renderHeatmap(image, map, regions, options));
    const whole = cv.imdecode(renderHeatmap(image, map, [], options));
    const [box] = regions;
    const [left, top] = [box.x - 2, box.y - 2];
    let compared = 0;
    for (let y = 0; y < crop.rows; y++) {
      for (let x = 0; x < crop.cols; x++) {
        const [fx, fy] = [x + left, y + top];
        const onOutline = fx >= box.x && fx < box.x + box.width && fy >= box.y && fy < box.y + box.height &&
          (fx === box.x || fx === box.x + box.width - 1 || fy === box.y || fy === box.y + box.height - 1);
        if (onOutline) continue;
        expect(crop.atRaw(y, x)).toEqual(whole.atRaw(fy, fx));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(30);
  });

  it("takes each region's peak from its own pixels, not from another region inside its box", () => {
    // A ring of 4s around a single 9 that does not touch it: the ring's box holds the 9.
    const ring = new cv.Mat(12, 12, cv.CV_32F, 0);
    for (let i = 2; i <= 8; i++) for (const [y, x] of [[2, i], [8, i], [i, 2], [i, 8]]) ring.set(y, x, 4);
    ring.set(5, 5, 9);
    const regions = findRegions(ring, { pixelThreshold: 3, peakThreshold: 0, minArea: 1 });
    expect(regions.map((r) => [r.peak, r.area])).toEqual([[9, 1], [4, 24]]);
    expect(findRegions(ring, { pixelThreshold: 3, peakThreshold: 5, minArea: 1 })).toEqual([{ x: 5, y: 5, width: 1, height: 1, area: 1, peak: 9 }]);
  });
});

describe("quantile", () => {
  it("interpolates linearly like numpy", () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4], 1)).toBe(4);
    expect(quantile([10, 20], 0.99)).toBeCloseTo(19.9, 10);
  });
});
