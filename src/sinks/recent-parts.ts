// The last N judged parts in memory, with their images, and the counters since start (or the
// operator's reset): what the station page shows and /api/parts/:id serves. Bounded: a page left
// open for a shift, or a station running for a year, holds N parts and a few numbers.
import { LATENCY_STAGES, type LatencyMs, type PartOutcome } from "../pipeline/part.js";
import type { OutcomeSink } from "./outcome-sink.js";

/** A part as the page lists it: the outcome without its image bytes. */
export type PartSummary = Omit<PartOutcome, "heatmap" | "frameImage" | "keepImages"> & {
  heatmap: { format: "jpeg" | "png"; rect: { x: number; y: number; width: number; height: number } } | null;
  frameImage: { format: "jpeg" | "png"; width: number; height: number } | null;
};

export interface Counters {
  since: string;
  parts: number;
  OK: number;
  NG: number;
  UNCERTAIN: number;
  ERROR: number;
  /** ERRORs with code BUSY: triggers the station could not take. */
  BUSY: number;
}

/** Parts the rate and the stage latencies are averaged over. */
const WINDOW = 100;
/** Scores kept for the trend and histogram (the page draws them). */
const SCORES = 500;

export function summaryOf(outcome: PartOutcome): PartSummary {
  const { heatmap, frameImage, keepImages: _keep, ...rest } = outcome;
  return {
    ...rest,
    heatmap: heatmap && { format: heatmap.format, rect: heatmap.rect },
    frameImage: frameImage && { format: frameImage.format, width: frameImage.width, height: frameImage.height },
  };
}

export class RecentParts implements OutcomeSink {
  readonly name = "recent parts";
  private readonly parts: PartOutcome[] = [];
  private readonly lastNg: PartOutcome[] = [];
  private counters: Counters = RecentParts.zero();
  private readonly decidedAt: number[] = [];
  private readonly latencies: Partial<LatencyMs>[] = [];
  private readonly scores: { t: number; score: number }[] = [];
  private readonly listeners = new Set<(part: PartOutcome) => void>();

  constructor(private readonly capacity: number) {}

  private static zero(): Counters {
    return { since: new Date().toISOString(), parts: 0, OK: 0, NG: 0, UNCERTAIN: 0, ERROR: 0, BUSY: 0 };
  }

  start(): void {}

  stop(): void {
    this.listeners.clear();
  }

  receive(outcome: PartOutcome): void {
    push(this.parts, outcome, this.capacity);
    if (outcome.verdict === "NG") push(this.lastNg, outcome, this.capacity);
    this.counters.parts++;
    this.counters[outcome.verdict]++;
    if (outcome.code === "BUSY") this.counters.BUSY++;
    const now = Date.now();
    push(this.decidedAt, now, WINDOW);
    push(this.latencies, outcome.latencyMs, WINDOW);
    if (outcome.score !== null) push(this.scores, { t: now, score: outcome.score }, SCORES);
    for (const listener of this.listeners) listener(outcome);
  }

  /** Called with each new part until the returned function is called. */
  onPart(listener: (part: PartOutcome) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The newest part with this id still in memory. */
  find(partId: string): PartOutcome | undefined {
    for (let i = this.parts.length - 1; i >= 0; i--) if (this.parts[i].partId === partId) return this.parts[i];
    for (let i = this.lastNg.length - 1; i >= 0; i--) if (this.lastNg[i].partId === partId) return this.lastNg[i];
    return undefined;
  }

  /** The operator's reset of the counters; Prometheus counters are not touched (they only grow). */
  reset(): void {
    this.counters = RecentParts.zero();
  }

  snapshot(): { counters: Counters; partsPerSecond: number | null; latencyMs: Record<string, number | null>;
    parts: PartSummary[]; ng: PartSummary[]; scores: { t: number; score: number }[] } {
    const span = this.decidedAt.length > 1 ? (this.decidedAt[this.decidedAt.length - 1] - this.decidedAt[0]) / 1000 : 0;
    const latencyMs = Object.fromEntries(LATENCY_STAGES.map((stage) => {
      const values = this.latencies.map((l) => l[stage]).filter((v): v is number => typeof v === "number");
      return [stage, values.length ? values.reduce((a, b) => a + b, 0) / values.length : null];
    }));
    return {
      counters: { ...this.counters }, partsPerSecond: span > 0 ? (this.decidedAt.length - 1) / span : null, latencyMs,
      parts: this.parts.map(summaryOf), ng: this.lastNg.map(summaryOf), scores: [...this.scores],
    };
  }
}

function push<T>(list: T[], item: T, capacity: number): void {
  list.push(item);
  if (list.length > capacity) list.splice(0, list.length - capacity);
}
