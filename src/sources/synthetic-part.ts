// A synthetic machined part as a camera would see it: a brushed-steel flange on a dark belt, with a
// chamfered bore, a keyway, a turned groove and four bolt holes, under a side light, with small
// pose and lighting jitter from part to part and sensor noise. Defects come with their masks.
// It feeds the demo, `inspector synth` and the fast tests: no data set needs to be downloaded.
import { DEFECT_KINDS, type DefectKind } from "../config/pipeline-config.js";
import { cv, freed, type Mat } from "../native/opencv.js";

export { DEFECT_KINDS, type DefectKind };

export interface SyntheticPart {
  /** 8-bit BGR (gray content: industrial cameras here are mostly monochrome). */
  image: Mat;
  /** 8-bit, 255 on defective pixels, 0 elsewhere. */
  mask: Mat;
  defect: DefectKind | null;
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/**
 * The surface and noise planes of the last size drawn, reused: a new Mat copies them, and fresh
 * 256 KB arrays per part made the garbage collector run every few parts on the station's thread.
 */
let scratch: { size: number; pixels: Float32Array; noise: Float32Array } | undefined;

function scratchFor(size: number): { pixels: Float32Array; noise: Float32Array } {
  if (scratch?.size !== size) scratch = { size, pixels: new Float32Array(size * size), noise: new Float32Array(size * size) };
  return scratch;
}

const BELT = 38;
const SENSOR_NOISE = 2.5;

/**
 * Sensor noise values at the midpoints of 2^12 equally likely bins of N(0, SENSOR_NOISE²) (tails
 * to ±3.5 σ): one 32-bit random number then gives two normal draws by lookup. Box–Muller's log,
 * sqrt and cos per pixel cost the demo station 3 ms of its main thread per part; a table of 2^16
 * (256 KB, looked up at random) missed the cache while ONNX Runtime ran beside it (0.4 ms per part,
 * 0.1 ms alone); this one (16 KB) stays in the core's first-level cache.
 */
const NOISE_BITS = 12;
const NOISE_BY_BIN = (() => {
  const bins = 1 << NOISE_BITS;
  const table = new Float32Array(bins);
  const density = (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
  // Walk the normal CDF once (trapezoids of 1e-4), reading off each bin's midpoint quantile.
  const step = 1e-4;
  let x = -8;
  let cdf = 0;
  for (let k = 0; k < bins; k++) {
    const p = (k + 0.5) / bins;
    while (cdf < p) {
      cdf += step * (density(x) + density(x + step)) / 2;
      x += step;
    }
    table[k] = SENSOR_NOISE * x;
  }
  return table;
})();

interface Pose {
  cx: number;
  cy: number;
  outer: number;
  angle: number;
  brightness: number;
  /** Direction of the light. */
  lx: number;
  ly: number;
}

// The per-pixel loops live in functions of their own: in drawPart, the defect branches that most
// parts never take made V8 drop its optimised code every few parts, and a loop run unoptimised
// allocates a heap number per pixel (640 KB per part, collected on the station's thread).

/** Surface: grain along the part's own axis (it turns with the part), lit from one side. */
function drawSurface(pixels: Float32Array, size: number, pose: Pose, random: () => number): void {
  const { cx, cy, outer, angle, brightness, lx, ly } = pose;
  const grainLength = Math.ceil(2 * size);
  const grain = new Float32Array(grainLength);
  let walk = 0;
  for (let i = 0; i < grainLength; i++) grain[i] = walk = 0.6 * walk + gaussian(random);
  const [cosA, sinA] = [Math.cos(angle), Math.sin(angle)];
  // Row by row over the part's disc only, the belt filled at once; along a row the grain index and
  // the light change linearly. This runs for every pixel of every part on the station's thread.
  pixels.fill(BELT);
  for (let y = 0; y < size; y++) {
    const dy = y - cy;
    if (dy * dy > outer * outer) continue;
    const halfChord = Math.sqrt(outer * outer - dy * dy);
    const first = Math.max(0, Math.ceil(cx - halfChord));
    const last = Math.min(size - 1, Math.floor(cx + halfChord));
    const dx = first - cx;
    let across = -sinA * dx + cosA * dy + size;
    let shading = 132 + brightness + 38 * (lx * dx + ly * dy) / outer;
    const shadingStep = 38 * lx / outer;
    for (let x = first, i = y * size + first; x <= last; x++, i++, across -= sinA, shading += shadingStep) {
      pixels[i] = shading + 5 * grain[Math.round(across) % grainLength];
    }
  }
}

/** A dent (a hollow: dark on the side facing the light, bright on the far side) or a stain (darker). */
function shadeBlemish(pixels: Float32Array, size: number, pose: Pick<Pose, "cx" | "cy" | "outer" | "lx" | "ly">,
  centre: { x: number; y: number }, radius: number, kind: "dent" | "stain"): void {
  const { cx, cy, outer, lx, ly } = pose;
  // The centre once into numbers: it is an OpenCV Point2, whose x and y are native getters (a
  // read per pixel made a blemish cost 3 ms).
  const [px, py] = [centre.x, centre.y];
  const rim = (outer - 2) ** 2;
  const dent = kind === "dent";
  for (let y = Math.max(0, Math.floor(py - 3 * radius)); y < Math.min(size, py + 3 * radius); y++) {
    for (let x = Math.max(0, Math.floor(px - 3 * radius)); x < Math.min(size, px + 3 * radius); x++) {
      if ((x - cx) ** 2 + (y - cy) ** 2 > rim) continue; // on the part, not the belt
      const dx = (x - px) / radius;
      const dy = (y - py) / radius;
      const fall = Math.exp(-(dx * dx + dy * dy));
      pixels[y * size + x] += dent ? 80 * (lx * dx + ly * dy) * fall : -55 * fall * (1 + 0.3 * Math.sin(5 * dx + 3 * dy));
    }
  }
}

/** Sensor noise: xorshift32 seeded from the part's generator, two normal draws per number by table lookup. */
function fillSensorNoise(noise: Float32Array, random: () => number): void {
  // Inline: a call per pixel pair cost more than the noise.
  let state = (random() * 4294967296) | 1;
  for (let i = 0; i < noise.length; i += 2) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    noise[i] = NOISE_BY_BIN[state >>> (32 - NOISE_BITS)];
    if (i + 1 < noise.length) noise[i + 1] = NOISE_BY_BIN[state & ((1 << NOISE_BITS) - 1)];
  }
}

export function drawPart(size: number, defect: DefectKind | null, random: () => number): SyntheticPart {
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * random();
  const cx = size / 2 + uniform(-0.02, 0.02) * size;
  const cy = size / 2 + uniform(-0.02, 0.02) * size;
  // Parts sit in a fixture: a few degrees of play, not free rotation.
  const angle = uniform(-4, 4) * Math.PI / 180;
  const outer = 0.42 * size;
  const bore = 0.13 * size;
  const groove = 0.2 * size;
  const boltCircle = 0.3 * size;
  const bolt = 0.045 * size;
  const lightAngle = uniform(-0.4, 0.4) - Math.PI / 4;
  const [lx, ly] = [Math.cos(lightAngle), Math.sin(lightAngle)];
  const brightness = uniform(-8, 8);
  const polar = (radius: number, theta: number) => new cv.Point2(cx + radius * Math.cos(theta + angle), cy + radius * Math.sin(theta + angle));

  const { pixels, noise } = scratchFor(size);
  drawSurface(pixels, size, { cx, cy, outer, angle, brightness, lx, ly }, random);

  // Mat.zeros, not new Mat(…, 0): the binding fills the latter element by element (2 ms here).
  const mask = cv.Mat.zeros(size, size, cv.CV_8U);
  const white = new cv.Vec3(255, 255, 255);
  // A point on the flat ring between the bolt holes and the rim (or the groove and the bolts).
  const onSurface = () => {
    const theta = uniform(0, 2 * Math.PI) + Math.PI / 4;
    const radius = random() < 0.5 ? uniform(boltCircle + bolt * 1.8, outer * 0.92) : uniform(groove + 0.02 * size, boltCircle - bolt * 1.6);
    return polar(radius, theta);
  };

  if (defect === "dent" || defect === "stain") {
    const centre = onSurface();
    const radius = uniform(0.04, 0.07) * size;
    shadeBlemish(pixels, size, { cx, cy, outer, lx, ly }, centre, radius, defect);
    mask.drawCircle(centre, Math.round(radius * (defect === "dent" ? 1.2 : 1.1)), white, -1);
  }

  const image = new cv.Mat(Buffer.from(pixels.buffer), size, size, cv.CV_32F);
  const shade = (v: number) => new cv.Vec3(v + brightness, v + brightness, v + brightness);
  // Machined features: chamfers catch the light, holes are dark.
  image.drawCircle(new cv.Point2(cx, cy), Math.round(outer), shade(190), 2, cv.LINE_AA);
  image.drawCircle(new cv.Point2(cx, cy), Math.round(groove), shade(95), 2, cv.LINE_AA);
  image.drawCircle(new cv.Point2(cx, cy), Math.round(bore + 2), shade(200), 3, cv.LINE_AA);
  image.drawCircle(new cv.Point2(cx, cy), Math.round(bore), shade(28), -1, cv.LINE_AA);
  const keyway = [[-0.25, bore - 2], [0.25, bore - 2], [0.25, bore + 0.035 * size], [-0.25, bore + 0.035 * size]]
    .map(([w, r]) => polar(Math.hypot(w * bore, r), Math.atan2(w * bore, r) - Math.PI / 2));
  image.drawFillPoly([keyway], shade(28), cv.LINE_AA);
  const missing = defect === "missing_hole" ? Math.floor(uniform(0, 4)) : -1;
  for (let k = 0; k < 4; k++) {
    const centre = polar(boltCircle, Math.PI / 4 + k * Math.PI / 2);
    if (k === missing) {
      mask.drawCircle(centre, Math.round(bolt + 3), white, -1);
      continue;
    }
    image.drawCircle(centre, Math.round(bolt + 1.5), shade(185), 2, cv.LINE_AA);
    image.drawCircle(centre, Math.round(bolt), shade(32), -1, cv.LINE_AA);
  }

  if (defect === "scratch") {
    const start = onSurface();
    const direction = uniform(0, Math.PI);
    const length = uniform(0.12, 0.3) * size;
    const end = new cv.Point2(start.x + length * Math.cos(direction), start.y + length * Math.sin(direction));
    const width = Math.max(2, Math.round(size / 128) + (random() < 0.5 ? 0 : 1));
    image.drawLine(start, end, shade(215), width, cv.LINE_AA);
    mask.drawLine(start, end, white, width + 2);
  } else if (defect === "crack") {
    const theta = uniform(0, 2 * Math.PI);
    let radius = outer;
    let wiggle = 0;
    const points = [polar(radius, theta)];
    for (let i = 0, steps = 6 + Math.floor(uniform(0, 5)); i < steps; i++) {
      radius -= uniform(0.012, 0.025) * size;
      wiggle += uniform(-0.05, 0.05);
      points.push(polar(radius, theta + wiggle));
    }
    const width = Math.max(1, Math.round(size / 128));
    image.drawPolylines([points], false, shade(22), width, cv.LINE_AA);
    mask.drawPolylines([points], false, white, width + 2);
  }

  // Optics and sensor: a slight blur, then noise.
  fillSensorNoise(noise, random);
  const blurred = image.gaussianBlur(new cv.Size(0, 0), 0.7);
  const noiseMat = new cv.Mat(Buffer.from(noise.buffer), size, size, cv.CV_32F);
  const seen = freed(blurred.add(noiseMat), image, blurred, noiseMat);
  const gray = freed(seen.convertTo(cv.CV_8U), seen);
  return { image: freed(gray.cvtColor(cv.COLOR_GRAY2BGR), gray), mask, defect };
}
