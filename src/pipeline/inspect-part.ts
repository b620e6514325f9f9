// One part through the station: grab its frame, inspect it with the bundle of its recipe, and
// turn the result (or whatever went wrong) into its outcome. Never throws: a part that cannot be
// judged gets an ERROR outcome with a code, so the PLC is never left waiting.
import { performance } from "node:perf_hooks";

import type { StationConfig } from "../config/pipeline-config.js";
import type { BundleRunner, PreparedFrame } from "../inference/bundle-runner.js";
import { cv, type Mat } from "../native/opencv.js";
import { FrameError, type Prepared } from "../preprocess/preprocess.js";
import { type Frame, type FrameSource, SourceError } from "../sources/frame-source.js";
import { judgePrepared } from "../verdict/frame-verdict.js";
import type { VerdictKind } from "../verdict/verdict.js";
import type { ErrorCode, PartOutcome, PartRequest } from "./part.js";

export interface StationContext {
  station: string;
  /** The station's pipeline file, as read. */
  config: StationConfig;
  source: FrameSource;
  runner: BundleRunner;
  /**
   * Which judged parts carry their frame, and how encoded: asked once per part, in order (a sink
   * may keep one OK part in K). Without it no frame is encoded.
   */
  frames?: (verdict: VerdictKind) => FrameChoice;
}

export interface FrameChoice {
  encode: "png" | "jpeg" | null;
  /** For the image archive. */
  keep: boolean;
}

const FRAME_JPEG_QUALITY = 85;

function encodedFrame(roiImage: Mat, format: "png" | "jpeg"): NonNullable<PartOutcome["frameImage"]> {
  const data = format === "png" ? cv.imencode(".png", roiImage) : cv.imencode(".jpg", roiImage, [cv.IMWRITE_JPEG_QUALITY, FRAME_JPEG_QUALITY]);
  return { data, format, width: roiImage.cols, height: roiImage.rows };
}

function errorCode(err: unknown): ErrorCode {
  if (err instanceof SourceError || err instanceof FrameError) return err.code;
  return "INFERENCE_FAILED";
}

export function errorOutcome(context: StationContext, request: PartRequest | null, code: ErrorCode, message: string,
  extra: Partial<PartOutcome> = {}): PartOutcome {
  return {
    station: context.station, partId: request?.partId ?? null, verdict: "ERROR", code, message,
    score: null, thresholds: null, regions: [], recipe: request?.recipe ?? null,
    triggeredAt: (request?.triggeredAt ?? new Date()).toISOString(), capturedAt: null, decidedAt: new Date().toISOString(),
    latencyMs: {}, bundle: context.runner.bundle.id, calibration: context.runner.bundle.calibrationId ?? null,
    heatmap: null, frameImage: null, keepImages: false, frame: null, ...extra,
  };
}

/** A part whose frame is grabbed and prepared, waiting for the worker. */
export interface CapturedPart {
  request: PartRequest;
  frame: Frame;
  prepared: PreparedFrame;
  /** The bundle the frame was prepared for: a reload may have swapped it since. */
  preparedBy: BundleRunner;
  queueMs: number;
  grabMs: number;
  started: number;
}

/**
 * Grabs and prepares a part's frame: the CPU work that can overlap the previous part's inference.
 * Resolves to the captured part, to an ERROR outcome, or to null when the source has no more frames.
 */
export async function capturePart(context: StationContext, request: PartRequest): Promise<CapturedPart | PartOutcome | null> {
  const started = performance.now();
  const queueMs = Math.max(0, Date.now() - request.triggeredAt.getTime());
  if (request.recipe !== undefined) {
    // One bundle per station for now: a recipe switch is refused rather than ignored.
    return errorOutcome(context, request, "RECIPE_UNKNOWN", `recipe ${JSON.stringify(request.recipe)} is not configured ` +
      `on station ${context.station}; send triggers without a recipe`);
  }
  let frame: Frame | null;
  try {
    frame = await context.source.grab();
  } catch (err) {
    return errorOutcome(context, request, errorCode(err), (err as Error).message, { latencyMs: { queue: queueMs } });
  }
  if (!frame) return null;
  const grabMs = performance.now() - started;
  try {
    const runner = context.runner;
    return { request, frame, prepared: runner.prepare(frame.image, context.config.roi), preparedBy: runner, queueMs, grabMs, started };
  } catch (err) {
    releasePixels(frame);
    return errorOutcome(context, request, errorCode(err), (err as Error).message,
      { capturedAt: frame.capturedAt.toISOString(), latencyMs: { queue: queueMs, grab: grabMs } });
  }
}

export function isCaptured(value: CapturedPart | PartOutcome | null): value is CapturedPart {
  return value !== null && "prepared" in value;
}

/** Inference, scoring, verdict, regions and heatmap of a captured part. Never throws. */
export async function judgePart(context: StationContext, part: CapturedPart): Promise<PartOutcome> {
  const { config } = context;
  const { request, frame, queueMs, grabMs } = part;
  const runner = context.runner;
  let prepared = part.prepared;
  try {
    // Prepared before a reload: the new bundle may want another input size.
    if (part.preparedBy !== runner) prepared = runner.prepare(frame.image, config.roi);
    const result = await judgePrepared(runner, prepared, {
      roi: config.roi, minRegionArea: config.regions.minArea, thresholds: config.thresholds,
      heatmap: config.heatmap.enabled && { format: config.heatmap.format, jpegQuality: config.heatmap.quality },
    });
    const frames = context.frames?.(result.verdict) ?? { encode: null, keep: false };
    return {
      station: context.station, partId: request.partId, verdict: result.verdict, code: null, message: null,
      score: result.score, thresholds: result.thresholds, regions: result.regions, recipe: request.recipe ?? null,
      triggeredAt: request.triggeredAt.toISOString(), capturedAt: frame.capturedAt.toISOString(), decidedAt: new Date().toISOString(),
      latencyMs: {
        queue: queueMs, grab: grabMs, preprocess: result.timings.preprocessMs, infer: result.timings.inferMs,
        score: result.timings.scoreMs, heatmap: result.timings.heatmapMs, total: queueMs + performance.now() - part.started,
      },
      bundle: runner.bundle.id, calibration: runner.bundle.calibrationId ?? null,
      heatmap: config.heatmap.enabled ? { data: result.heatmap, format: result.heatmapFormat, rect: result.heatmapRect } : null,
      frameImage: frames.encode ? encodedFrame(prepared.roiImage, frames.encode) : null,
      keepImages: frames.keep,
      frame: frame.name !== undefined || frame.truth !== undefined ? { name: frame.name, truth: frame.truth } : null,
    };
  } catch (err) {
    return errorOutcome(context, request, errorCode(err), (err as Error).message,
      { capturedAt: frame.capturedAt.toISOString(), latencyMs: { queue: queueMs, grab: grabMs } });
  } finally {
    releasePixels(frame, part.prepared, prepared);
  }
}

/**
 * A part's frame belongs to the part (sources hand each part a Mat of its own) and is released as
 * soon as its verdict is made: OpenCV reports every Mat to V8 as external memory until a full
 * collection finds its wrapper, and the frames left to the collector (with a fresh input buffer
 * per part, see InferenceClient.takeInput) made V8 run one every ≈ 2 s at full speed, on the
 * cores inference needs.
 */
function releasePixels(frame: Frame, ...prepared: Prepared[]): void {
  for (const p of prepared) p.roiImage.release();
  frame.image.release();
}

/** One part start to finish. Resolves to its outcome, or to null when the source has no more frames. */
export async function inspectPart(context: StationContext, request: PartRequest): Promise<PartOutcome | null> {
  const captured = await capturePart(context, request);
  return isCaptured(captured) ? judgePart(context, captured) : captured;
}
