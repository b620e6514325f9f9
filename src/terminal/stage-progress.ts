// Progress of a long command, stage by stage: a bar with ETA on a terminal, a line per 10 %
// otherwise (logs stay readable). All of it goes to stderr: stdout is for results.
import cliProgress from "cli-progress";

export function formatSeconds(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s % 60).padStart(2, "0")}s`;
}

export class StageProgress {
  private bar?: cliProgress.SingleBar;
  private stage?: string;
  private lastDecile = -1;
  private stageStarted = 0;
  private stageFirstStep = 0;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  /** `etaSeconds` when the worker knows better (e.g. resumed runs); otherwise estimated here. */
  update(stage: string, done: number, total: number, detail = "", etaSeconds?: number): void {
    if (stage !== this.stage) {
      this.bar?.stop();
      this.bar = undefined;
      this.stage = stage;
      this.lastDecile = -1;
      this.stageStarted = Date.now();
      this.stageFirstStep = done;
    }
    const rate = (done - this.stageFirstStep) / Math.max((Date.now() - this.stageStarted) / 1000, 1e-3);
    const eta = formatSeconds(etaSeconds ?? (rate > 0 ? (total - done) / rate : undefined));
    if (!this.stream.isTTY) {
      const decile = Math.floor((10 * done) / Math.max(total, 1));
      if (decile !== this.lastDecile) {
        this.lastDecile = decile;
        this.stream.write(`${stage}: ${done}/${total}, ETA ${eta}${detail ? `, ${detail}` : ""}\n`);
      }
      return;
    }
    if (!this.bar) {
      this.bar = new cliProgress.SingleBar({
        stream: this.stream,
        format: "{stage} [{bar}] {percentage}% {value}/{total} | ETA {eta} {detail}",
        hideCursor: true,
      }, cliProgress.Presets.shades_classic);
      this.bar.start(total, done, { stage, eta, detail });
    }
    this.bar.update(done, { stage, eta, detail });
  }

  /** A message between bar updates, on its own line. */
  line(text: string): void {
    if (this.bar && this.stream.isTTY) this.stream.write("\n");
    this.stream.write(`${text}\n`);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
