// Prometheus metrics of the station (`GET /metrics`, prom-client): verdicts by verdict and code,
// latency per stage, the score's distribution (to watch drift), and the station's health as
// gauges read at scrape time. Names follow Prometheus's conventions (base units, _total).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

import { LATENCY_STAGES, type PartOutcome } from "../pipeline/part.js";
import type { OutcomeSink } from "./outcome-sink.js";

/** What the gauges read when Prometheus scrapes. */
export interface HealthFacts {
  brokerConnected: boolean;
  sourceUp: boolean;
  spoolDepth: number;
  state: "online" | "degraded" | "offline";
  version: string;
  station: string;
  bundle: string;
  calibration: string | null;
  provider: string;
  archiveParts: number | null;
}

const SECONDS = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];
/** Calibrated scores sit around 1–20 (docs/calibration.md); wide enough to see a drift either way. */
const SCORE_BUCKETS = [0.5, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 30, 50];

export class StationMetrics implements OutcomeSink {
  readonly name = "metrics";
  readonly registry = new Registry();
  private readonly verdicts: Counter<"verdict" | "code">;
  private readonly stageSeconds: Histogram<"stage">;
  private readonly score: Histogram;

  constructor(facts: () => HealthFacts) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "inspector_process_" });
    this.verdicts = new Counter({ name: "inspector_verdicts_total", help: "Parts judged, by verdict and error code (code \"\" when none)",
      labelNames: ["verdict", "code"], registers });
    this.stageSeconds = new Histogram({ name: "inspector_stage_seconds", help: "Time a part spent in each stage; total is trigger to verdict",
      labelNames: ["stage"], buckets: SECONDS, registers });
    this.score = new Histogram({ name: "inspector_score", help: "Image scores of judged parts (calibrated units; watch for drift)",
      buckets: SCORE_BUCKETS, registers });
    const gauge = (name: string, help: string, read: (f: HealthFacts) => number) =>
      new Gauge({ name, help, registers, collect() { this.set(read(facts())); } });
    gauge("inspector_broker_connected", "1 while the MQTT broker connection is up", (f) => Number(f.brokerConnected));
    gauge("inspector_source_up", "1 while the camera (source) gives frames", (f) => Number(f.sourceUp));
    gauge("inspector_spool_depth", "Verdicts waiting in the spool for the broker", (f) => f.spoolDepth);
    gauge("inspector_degraded", "1 while the station status is degraded", (f) => Number(f.state === "degraded"));
    gauge("inspector_archive_parts", "Parts kept in the image archive", (f) => f.archiveParts ?? 0);
    new Gauge({ name: "inspector_info", help: "Version, station, bundle, calibration and execution provider (value 1)",
      labelNames: ["version", "station", "bundle", "calibration", "provider"], registers,
      collect() {
        const f = facts();
        this.reset();
        this.set({ version: f.version, station: f.station, bundle: f.bundle, calibration: f.calibration ?? "", provider: f.provider }, 1);
      } });
  }

  start(): void {}

  receive(outcome: PartOutcome): void {
    this.verdicts.inc({ verdict: outcome.verdict, code: outcome.code ?? "" });
    for (const stage of LATENCY_STAGES) {
      const ms = outcome.latencyMs[stage];
      if (typeof ms === "number") this.stageSeconds.observe({ stage }, ms / 1000);
    }
    if (outcome.score !== null && Number.isFinite(outcome.score)) this.score.observe(outcome.score);
  }

  stop(): void {}
}
