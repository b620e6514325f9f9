// Metrics on small hand-computed cases (the arithmetic is written out beside each expectation).
import { describe, expect, it } from "vitest";

import { auPro, auroc, proCurve, trapezoid } from "../../src/evaluation/metrics.js";

describe("auroc", () => {
  it("counts ties as one half", () => {
    // pairs: 0.9>0.5, 0.9>0.1, 0.5=0.5 (½), 0.5>0.1 → 3.5 of 4
    expect(auroc([0.9, 0.5], [0.5, 0.1])).toBeCloseTo(0.875, 12);
  });
  it("is 1 for perfect separation, 0 for inverted, ½ for constant scores", () => {
    expect(auroc([3, 4], [1, 2])).toBe(1);
    expect(auroc([1, 2], [3, 4])).toBe(0);
    expect(auroc([5, 5, 5], [5, 5])).toBe(0.5);
  });
  it("is undefined without one of the classes", () => {
    expect(auroc([], [1])).toBeNaN();
  });
});

describe("PRO curve and AU-PRO", () => {
  it("follows one region and two anomaly-free pixels", () => {
    const curve = proCurve([{ scores: [0.1, 0.4, 0.35, 0.8], regions: [0, 1, 1, 0], regionCount: 1 }]);
    expect(curve.fpr).toEqual([0, 0.5, 0.5, 0.5, 1, 1]);
    expect(curve.pro).toEqual([0, 0, 0.5, 1, 1, 1]);
    expect(trapezoid(curve.fpr, curve.pro)).toBeCloseTo(0.5, 12);
    // the highest score is a false positive at FPR 0.5 > 0.3: nothing is found before the limit
    expect(auPro([{ scores: [0.1, 0.4, 0.35, 0.8], regions: [0, 1, 1, 0], regionCount: 1 }])).toBe(0);
  });

  it("treats tied scores as one point and interpolates at the limit", () => {
    const image = { scores: [0.5, 0.5, 0.2], regions: [0, 1, 0], regionCount: 1 };
    const curve = proCurve([image]);
    expect(curve.fpr).toEqual([0, 0.5, 1, 1]);
    expect(curve.pro).toEqual([0, 1, 1, 1]);
    // at FPR 0.3 the PRO is 0.6 by interpolation: area = ½·(0 + 0.6)·0.3 = 0.09, /0.3 = 0.3
    expect(auPro([image])).toBeCloseTo(0.3, 12);
  });

  it("weighs regions equally whatever their size, pooling every image", () => {
    const images = [
      { scores: [0.9, 0.8, 0.1, 0.2], regions: [1, 1, 0, 0], regionCount: 1 }, // a 2-pixel region
      { scores: [0.3, 0.7, 0.6], regions: [0, 0, 1], regionCount: 1 },        // a 1-pixel region
      { scores: [0.05, 0.65], regions: [0, 0], regionCount: 0 },              // an anomaly-free image
    ];
    const curve = proCurve(images);
    expect(curve.fpr.map((v) => +v.toFixed(6))).toEqual([0, 0, 0, 0.166667, 0.333333, 0.333333, 0.5, 0.666667, 0.833333, 1, 1]);
    expect(curve.pro).toEqual([0, 0.25, 0.5, 0.5, 0.5, 1, 1, 1, 1, 1, 1]);
    // up to FPR 1/6 the area is ½·(0.5+0.5)·(1/6); from 1/6 to 0.3 the PRO stays 0.5: total 0.15, /0.3 = 0.5
    expect(auPro(images)).toBeCloseTo(0.5, 12);
  });

  it("handles several regions in one image", () => {
    // regions 1 (2 px) and 2 (1 px) in one image; region 2 is found first
    const image = { scores: [0.6, 0.2, 0.9, 0.1, 0.3], regions: [1, 1, 2, 0, 0], regionCount: 2 };
    const curve = proCurve([image]);
    // 0.9 → PRO ½ (region 2 whole); 0.6 → +¼; 0.3 → FP ½; 0.2 → +¼; 0.1 → FP 1
    expect(curve.fpr).toEqual([0, 0, 0, 0.5, 0.5, 1, 1]);
    expect(curve.pro).toEqual([0, 0.5, 0.75, 0.75, 1, 1, 1]);
  });

  it("is undefined when no image has a defect region", () => {
    expect(auPro([{ scores: [0.1, 0.2], regions: [0, 0], regionCount: 0 }])).toBeNaN();
  });
});

describe("trapezoid", () => {
  it("uses the exact limit when it is on the curve", () => {
    expect(trapezoid([0, 0.3, 1], [0, 0.6, 1], 0.3)).toBeCloseTo(0.09, 12);
  });
  it("drops non-finite points", () => {
    expect(trapezoid([0, Number.NaN, 1], [0, 5, 1])).toBeCloseTo(0.5, 12);
  });
});
