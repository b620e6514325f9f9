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

export interface LatencyMs {
  queue: number;
  grab: number;
  preprocess: number;
  infer: number;
  score: number;
  heatmap: number;
  total: number;
}

/** The JSON published on …/verdict (docs/mqtt.md). */
export interface VerdictMessage {
  station: string;
  partId: string | null;
  /** Counts verdicts since the daemon started: a gap or repeat is visible to the receiver. */
  seq: number;
  verdict: VerdictKind;
  code: ErrorCode | null;
  message: string | null;
  score: number | null;
  thresholds: Thresholds | null;
  regions: Region[];
  recipe: string | null;
  triggeredAt: string;
  capturedAt: string | null;
  decidedAt: string;
  latencyMs: Partial<LatencyMs>;
  bundle: string;
  calibration: string | null;
  heatmap: { topic: string; format: "jpeg" | "png"; bytes: number } | null;
  frame: { name?: string; truth?: string | null } | null;
}

export interface PartOutcome {
  message: VerdictMessage;
  heatmap?: { data: Buffer; format: "jpeg" | "png" };
}
