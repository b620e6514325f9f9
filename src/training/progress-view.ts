// Shows the trainer's progress events: a bar with ETA on a terminal, a line per 10 % otherwise.
import cliProgress from "cli-progress";

import type { TrainerEvent } from "./trainer-process.js";

function formatSeconds(seconds: unknown): string {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s % 60).padStart(2, "0")}s`;
}

export class ProgressView {
  private bar?: cliProgress.SingleBar;
  private stage?: string;
  private lastDecile = -1;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  handle(event: TrainerEvent): void {
    switch (event.event) {
      case "progress":
        return this.progress(event);
      case "warning":
        return this.line(`warning: ${String(event.message)}`);
      case "resumed":
        return this.line(`resuming ${event.patch_size ? `p=${event.patch_size} ` : ""}from ` +
          `${event.step !== undefined ? `step ${event.step}` : `epoch ${event.epoch}`}`);
      case "stopping":
        return this.line("stopping at the next checkpoint (Ctrl-C again to stop now)…");
      case "teacher": {
        const quality = event.quality as { trained: Record<string, number>; random_init: Record<string, number> };
        return this.line(`teacher p=${event.patch_size}: retrieval top-1 ${quality.trained.retrieval_top1} ` +
          `(random init ${quality.random_init.retrieval_top1}), triplet accuracy ${quality.trained.triplet_accuracy}`);
      }
      default:
    }
  }

  private progress(event: TrainerEvent): void {
    const stage = String(event.stage);
    const step = Number(event.step);
    const total = Number(event.total);
    const loss = typeof event.loss === "number" ? event.loss.toPrecision(4) : "";
    const payload = { stage, eta: formatSeconds(event.eta_s), loss };
    if (!this.stream.isTTY) {
      const decile = Math.floor((10 * step) / Math.max(total, 1));
      if (stage !== this.stage || decile !== this.lastDecile) {
        this.stage = stage;
        this.lastDecile = decile;
        this.stream.write(`${stage}: ${step}/${total}, ETA ${payload.eta}, loss ${loss}\n`);
      }
      return;
    }
    if (stage !== this.stage) {
      this.bar?.stop();
      this.stage = stage;
      this.bar = new cliProgress.SingleBar({
        stream: this.stream,
        format: "{stage} [{bar}] {percentage}% {value}/{total} | ETA {eta} | loss {loss}",
        hideCursor: true,
      }, cliProgress.Presets.shades_classic);
      this.bar.start(total, step, payload);
    }
    this.bar?.update(step, payload);
  }

  private line(text: string): void {
    if (this.bar && this.stream.isTTY) {
      this.stream.write("\n");
    }
    this.stream.write(`${text}\n`);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
