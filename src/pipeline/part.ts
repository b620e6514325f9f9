// A part's way through the station: the request that starts it and the verdict that ends it.
import type { Region } from "../verdict/regions.js";
import type { Thresholds, VerdictKind } from "../verdict/verdict.js";

export interface PartRequest {
  /** From the trigger (a PLC's part id) or made up by the station in continuous mode. */
  partId: string;
  recipe?: string;
  triggeredAt: Date;
}

export type ErrorCode =
  | "BUSY" | "BAD_TRIGGER" | "RECIPE_UNKNOWN" | "SOURCE_UNAVAILABLE" | "FRAME_CORRUPT" | "FRAME_SIZE" | "FRAME_EMPTY"
  | "FRAME_ROI" | "INFERENCE_FAILED";

/** The stages a part's latency is measured in; `total` is trigger to verdict. */
export const LATENCY_STAGES = ["queue", "grab", "preprocess", "infer", "score", "heatmap", "total"] as const;
export type LatencyMs = Record<(typeof LATENCY_STAGES)[number], number>;

/** An image encoded for the wire, for people and for disk (JPEG or PNG). */
export interface EncodedImage {
  data: Buffer;
  format: "jpeg" | "png";
}

/** A rectangle in the ROI's pixels. */
export interface RoiRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * One judged part as plain data, the same for every sink: nothing in it knows MQTT, JSON or a
 * spool. Sinks turn it into their formats (sinks/verdict-message.ts for the MQTT verdict).
 */
export interface PartOutcome {
  station: string;
  partId: string | null;
  verdict: VerdictKind;
  code: ErrorCode | null;
  message: string | null;
  score: number | null;
  thresholds: Thresholds | null;
  regions: Region[];
  recipe: string | null;
  /** ISO 8601 UTC, as published. */
  triggeredAt: string;
  capturedAt: string | null;
  decidedAt: string;
  latencyMs: Partial<LatencyMs>;
  bundle: string;
  calibration: string | null;
  /** Null when the pipeline makes no heatmap or the part has none (an ERROR); `rect`: where it lies in the ROI. */
  heatmap: (EncodedImage & { rect: RoiRect }) | null;
  /**
   * The ROI as judged, encoded, when a sink asked for frames (StationContext.frames): PNG for the
   * image archive, JPEG for the station page; null otherwise.
   */
  frameImage: (EncodedImage & { width: number; height: number }) | null;
  /** Chosen for the image archive (the pipeline file's archive:). */
  keepImages: boolean;
  /** Where the frame came from, when the source knows (a file name, a synthetic part's truth). */
  frame: { name?: string; truth?: string | null } | null;
}
