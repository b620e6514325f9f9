// Synthetic parts drawn on demand, some with defects: a station with no camera, for the demo and tests.
import { BehaviorSubject } from "rxjs";

import type { SourceConfig } from "../config/pipeline-config.js";
import type { Frame, FrameSource, SourceHealth } from "./frame-source.js";
import { drawPart } from "./synthetic-part.js";
import { seededRandom } from "../random/seeded-random.js";

export class SyntheticSource implements FrameSource {
  readonly health$ = new BehaviorSubject<SourceHealth>({ ok: true });
  private readonly random: () => number;
  private drawn = 0;

  constructor(private readonly config: Extract<SourceConfig, { type: "synthetic" }>) {
    this.random = seededRandom(config.seed);
  }

  get description(): string {
    return `synthetic parts ${this.config.size}×${this.config.size}, ${Math.round(this.config.defectRate * 100)} % defective`;
  }

  async open(): Promise<void> {}

  async grab(): Promise<Frame | null> {
    if (this.config.count !== undefined && this.drawn >= this.config.count) return null;
    this.drawn++;
    const defects = this.config.defects;
    const defect = this.random() < this.config.defectRate ? defects[Math.floor(this.random() * defects.length)] : null;
    const part = drawPart(this.config.size, defect, this.random);
    // Not needed here: released now, not left to the collector (see releasePixels in pipeline/inspect-part.ts).
    part.mask.release();
    return { image: part.image, capturedAt: new Date(), truth: defect };
  }

  async close(): Promise<void> {}
}
