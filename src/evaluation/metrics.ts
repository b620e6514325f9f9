// Detection metrics as MVTec AD's published evaluation computes them: ROC AUC, and the area under
// the per-region-overlap (PRO) curve up to a false-positive rate limit, normalised by that limit.

/** Sorts a copy ascending (typed-array sort is numeric and fast, unlike Array#sort). */
function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/**
 * Area under the ROC curve, ties counted half (identical to the trapezoid rule on the ROC curve).
 * Computed as the Mann–Whitney U statistic on the sorted scores of each class, so that tens of
 * millions of pixels need two typed-array sorts and no index sort.
 */
export function auroc(positives: ArrayLike<number>, negatives: ArrayLike<number>): number {
  if (positives.length === 0 || negatives.length === 0) return Number.NaN;
  const pos = sortedCopy(positives);
  const neg = sortedCopy(negatives);
  let below = 0; // negatives strictly below the current positive
  let u = 0;
  for (let i = 0; i < pos.length; i++) {
    const score = pos[i];
    while (below < neg.length && neg[below] < score) below++;
    let equal = 0;
    while (below + equal < neg.length && neg[below + equal] === score) equal++;
    u += below + equal / 2;
  }
  return u / (pos.length * neg.length);
}

/** One test image for PRO: its anomaly map and its ground-truth regions (0 = anomaly-free pixel, k = region k). */
export interface LabelledMap {
  scores: ArrayLike<number>;
  regions: ArrayLike<number>;
  regionCount: number;
}

export interface Curve {
  fpr: number[];
  pro: number[];
}

/**
 * The PRO curve of MVTec's `compute_pro`: every anomaly-free pixel of every image adds one false
 * positive, every pixel of ground-truth region R adds 1/|R| of overlap; pixels of all images are
 * pooled and swept from the highest score down, one point per distinct score; the curve runs from
 * (0, 0) to (1, 1) with both coordinates clipped to 1.
 */
export function proCurve(images: LabelledMap[]): Curve {
  let okCount = 0;
  let regionTotal = 0;
  let regionPixelCount = 0;
  for (const image of images) {
    regionTotal += image.regionCount;
    for (let i = 0; i < image.regions.length; i++) if (image.regions[i] === 0) okCount++; else regionPixelCount++;
  }
  // Anomaly-free pixels need only their sorted scores; region pixels, usually few, carry a weight.
  const okScores = new Float64Array(okCount);
  const regionScores = new Float64Array(regionPixelCount);
  const regionWeights = new Float64Array(regionPixelCount);
  let ok = 0;
  let inRegion = 0;
  for (const image of images) {
    const sizes = new Float64Array(image.regionCount + 1);
    for (let i = 0; i < image.regions.length; i++) sizes[image.regions[i]]++;
    for (let i = 0; i < image.scores.length; i++) {
      const region = image.regions[i];
      if (region === 0) okScores[ok++] = image.scores[i];
      else {
        regionScores[inRegion] = image.scores[i];
        regionWeights[inRegion++] = 1 / sizes[region];
      }
    }
  }
  okScores.sort();
  const order = Uint32Array.from({ length: regionPixelCount }, (_, i) => i)
    .sort((a, b) => regionScores[a] - regionScores[b]);

  const fpr = [0];
  const pro = [0];
  let okIndex = okScores.length - 1; // walking both ascending arrays from their top
  let regionIndex = order.length - 1;
  let falsePositives = 0;
  let overlap = 0;
  while (okIndex >= 0 || regionIndex >= 0) {
    const nextOk = okIndex >= 0 ? okScores[okIndex] : -Infinity;
    const nextRegion = regionIndex >= 0 ? regionScores[order[regionIndex]] : -Infinity;
    const threshold = Math.max(nextOk, nextRegion);
    while (okIndex >= 0 && okScores[okIndex] === threshold) { falsePositives++; okIndex--; }
    while (regionIndex >= 0 && regionScores[order[regionIndex]] === threshold) {
      overlap += regionWeights[order[regionIndex]];
      regionIndex--;
    }
    // One point per distinct score, after all pixels of that score (MVTec's keep_mask).
    fpr.push(Math.min(okCount > 0 ? falsePositives / okCount : Number.NaN, 1));
    pro.push(Math.min(regionTotal > 0 ? overlap / regionTotal : Number.NaN, 1));
  }
  fpr.push(1);
  pro.push(1);
  return { fpr, pro };
}

/** Trapezoid rule up to xMax, interpolating linearly at xMax (MVTec's `trapezoid`). */
export function trapezoid(x: number[], y: number[], xMax?: number): number {
  const keep = x.map((v, i) => Number.isFinite(v) && Number.isFinite(y[i]));
  let xs = x.filter((_, i) => keep[i]);
  let ys = y.filter((_, i) => keep[i]);
  let correction = 0;
  if (xMax !== undefined) {
    if (!xs.includes(xMax)) {
      let insert = 0; // bisect_right: first index with xs[i] > xMax
      while (insert < xs.length && xs[insert] <= xMax) insert++;
      if (insert <= 0 || insert >= xs.length) throw new Error(`trapezoid: xMax ${xMax} outside the curve`);
      const yInterp = ys[insert - 1] + ((ys[insert] - ys[insert - 1]) * (xMax - xs[insert - 1])) / (xs[insert] - xs[insert - 1]);
      correction = 0.5 * (yInterp + ys[insert - 1]) * (xMax - xs[insert - 1]);
    }
    const inside = xs.map((v) => v <= xMax);
    xs = xs.filter((_, i) => inside[i]);
    ys = ys.filter((_, i) => inside[i]);
  }
  let area = 0;
  for (let i = 1; i < xs.length; i++) area += 0.5 * (ys[i] + ys[i - 1]) * (xs[i] - xs[i - 1]);
  return area + correction;
}

export const DEFAULT_PRO_LIMIT = 0.3;

/** Area under the PRO curve up to `limit` false-positive rate, divided by `limit` (1 = perfect). */
export function auPro(images: LabelledMap[], limit = DEFAULT_PRO_LIMIT): number {
  const curve = proCurve(images);
  if (curve.pro.slice(1, -1).some((v) => Number.isNaN(v))) return Number.NaN; // no defect regions at all
  return trapezoid(curve.fpr, curve.pro, limit) / limit;
}
