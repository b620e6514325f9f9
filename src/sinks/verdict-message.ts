// The JSON published on …/verdict (docs/mqtt.md): a part's outcome, numbered, with where its
// heatmap went instead of the heatmap itself. The key order is the documented one.
import type { PartOutcome } from "../pipeline/part.js";

export interface HeatmapReference {
  topic: string;
  format: "jpeg" | "png";
  bytes: number;
}

/** A part's outcome as published: numbered, with where its heatmap went instead of its bytes. */
export type VerdictMessage = Omit<PartOutcome, "heatmap" | "frameImage" | "keepImages"> & {
  /** Counts verdicts since the daemon started: a gap or repeat is visible to the receiver. */
  seq: number;
  /** Null when no heatmap was made, or it was not sent (broker away, over mqtt.maxHeatmapBytes). */
  heatmap: HeatmapReference | null;
};

export function verdictMessage(outcome: PartOutcome, seq: number, heatmap: HeatmapReference | null): VerdictMessage {
  const o = outcome;
  return {
    station: o.station, partId: o.partId, seq, verdict: o.verdict, code: o.code, message: o.message, score: o.score,
    thresholds: o.thresholds, regions: o.regions, recipe: o.recipe, triggeredAt: o.triggeredAt, capturedAt: o.capturedAt,
    decidedAt: o.decidedAt, latencyMs: o.latencyMs, bundle: o.bundle, calibration: o.calibration, heatmap, frame: o.frame,
  };
}
