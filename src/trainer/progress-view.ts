// Shows the trainer's JSON events on stderr.
import { StageProgress } from "../terminal/stage-progress.js";
import type { TrainerEvent } from "./trainer-process.js";

export class ProgressView {
  private readonly progress = new StageProgress();

  handle(event: TrainerEvent): void {
    switch (event.event) {
      case "progress": {
        const loss = typeof event.loss === "number" ? `loss ${event.loss.toPrecision(4)}` : "";
        return this.progress.update(String(event.stage), Number(event.step), Number(event.total), loss,
          typeof event.eta_s === "number" ? event.eta_s : undefined);
      }
      case "warning":
        return this.progress.line(`warning: ${String(event.message)}`);
      case "resumed":
        return this.progress.line(`resuming ${event.patch_size ? `p=${event.patch_size} ` : ""}from ` +
          `${event.step !== undefined ? `step ${event.step}` : `epoch ${event.epoch}`}`);
      case "stopping":
        return this.progress.line("stopping at the next checkpoint (Ctrl-C again to stop now)…");
      case "teacher": {
        const quality = event.quality as { trained: Record<string, number>; random_init: Record<string, number> };
        return this.progress.line(`teacher p=${event.patch_size}: retrieval top-1 ${quality.trained.retrieval_top1} ` +
          `(random init ${quality.random_init.retrieval_top1}), triplet accuracy ${quality.trained.triplet_accuracy}`);
      }
      default:
    }
  }

  stop(): void {
    this.progress.stop();
  }
}
