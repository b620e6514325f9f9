// The images of failed inspections on disk (the pipeline file's archive:), the ones a quality
// engineer recalibrates with: for each kept part the ROI as judged (PNG, lossless) in a folder per
// verdict, a JSON sidecar of its verdict beside it, and its heatmap under heatmaps/. So
// `inspector calibrate --good ARCHIVE/ok --bad ARCHIVE/ng` takes the folders as they are.
// Retention by count, age and size, oldest first. Writes happen off the station's thread, one at a
// time; a full disk or an unwritable folder makes the status degraded and never stops judging.
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";

import type { Logger } from "pino";

import type { StationConfig } from "../config/pipeline-config.js";
import type { ProblemReporter } from "../errors/problem-reporter.js";
import type { PartOutcome } from "../pipeline/part.js";
import type { VerdictKind } from "../verdict/verdict.js";
import type { OutcomeSink } from "./outcome-sink.js";

export type ArchiveConfig = StationConfig["archive"];

/** Writes waiting beyond this are skipped (and counted): a disk that slow must not grow the process. */
const MAX_PENDING_WRITES = 32;
const DAY_MS = 24 * 3600 * 1000;
/** No space, a file size limit, a quota: to the operator, a full disk. */
const DISK_FULL = new Set(["ENOSPC", "EFBIG", "EDQUOT"]);

interface Kept {
  /** Path of the frame, without extension; the sidecar and heatmap are found from it. */
  stem: string;
  folder: string;
  bytes: number;
  time: number;
}

/** Which parts are kept: the listed verdicts, and one OK part in `okEvery`. Asked once per part, in order. */
export class ArchivePolicy {
  private oks = 0;

  constructor(private readonly config: ArchiveConfig) {}

  keeps(verdict: VerdictKind): boolean {
    if (!this.config.enabled || verdict === "ERROR") return false;
    if (this.config.verdicts.includes(verdict)) return true;
    return verdict === "OK" && this.config.okEvery > 0 && ++this.oks % this.config.okEvery === 0;
  }
}

/** A part id as part of a file name: what a file system takes everywhere, and not too long. */
function fileSafe(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 80);
}

export class ImageArchive implements OutcomeSink {
  readonly name = "image archive";
  private readonly kept: Kept[] = [];
  private totalBytes = 0;
  private writing: Promise<void> = Promise.resolve();
  private pending = 0;
  /** Parts chosen for the archive and not written (the disk refused, or too many waited). */
  skipped = 0;
  written = 0;
  private problem: string | null = null;
  private readonly report: (problem: string | null) => void;

  constructor(private readonly config: ArchiveConfig, reporter: ProblemReporter, private readonly log: Logger) {
    this.report = reporter("archive", { dir: config.dir }, `free space in ${config.dir} or make it writable; judging goes on, ` +
      "the images of these parts are not kept", "the image archive is written again");
  }

  /** Reads what earlier runs kept, so that retention counts it. */
  async start(): Promise<void> {
    for (const folder of ["ng", "uncertain", "ok"]) {
      const dir = path.join(this.config.dir, folder);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue; // not made yet: the first kept part makes it
      }
      for (const name of names.filter((n) => n.endsWith(".png"))) {
        const stem = path.join(dir, name.slice(0, -4));
        const bytes = await this.sizeOf(stem);
        const { mtimeMs } = await stat(`${stem}.png`).catch(() => ({ mtimeMs: Date.now() }));
        this.kept.push({ stem, folder, bytes, time: mtimeMs });
        this.totalBytes += bytes;
      }
    }
    this.kept.sort((a, b) => a.time - b.time);
    this.writing = this.enforceRetention();
    await this.writing;
  }

  receive(outcome: PartOutcome): void {
    if (!outcome.keepImages || !outcome.frameImage) return;
    if (this.pending >= MAX_PENDING_WRITES) {
      this.skipped++;
      this.setProblem(`the image archive in ${this.config.dir} cannot keep up (${MAX_PENDING_WRITES} parts waiting)`);
      return;
    }
    this.pending++;
    this.writing = this.writing.then(() => this.write(outcome))
      .catch((err: Error) => this.log.error({ err: err.message }, "image archive: a write failed unexpectedly"))
      .finally(() => { this.pending--; });
  }

  private async write(outcome: PartOutcome): Promise<void> {
    const folder = outcome.verdict.toLowerCase();
    const decided = outcome.decidedAt.replace(/[-:]/g, "");
    const name = `${decided}_${fileSafe(outcome.partId ?? "no-id")}`;
    const stem = path.join(this.config.dir, folder, name);
    const { heatmap, frameImage, keepImages: _keep, ...verdict } = outcome;
    const heatmapFile = heatmap ? path.join(this.config.dir, "heatmaps", `${name}.${heatmap.format === "png" ? "png" : "jpg"}`) : null;
    const sidecar = Buffer.from(`${JSON.stringify({ ...verdict, files: {
      frame: `${name}.png`, heatmap: heatmapFile && path.relative(path.dirname(stem), heatmapFile),
    }, roi: frameImage && { width: frameImage.width, height: frameImage.height }, heatmapRect: heatmap?.rect ?? null }, null, 1)}\n`);
    try {
      await mkdir(path.dirname(stem), { recursive: true });
      // The image last: a folder calibrate reads never holds an image without its sidecar.
      if (heatmap && heatmapFile) {
        await mkdir(path.dirname(heatmapFile), { recursive: true });
        await writeFile(heatmapFile, heatmap.data);
      }
      await writeFile(`${stem}.json`, sidecar);
      await writeFile(`${stem}.png`, frameImage!.data);
    } catch (err) {
      this.skipped++;
      const code = (err as NodeJS.ErrnoException).code;
      this.setProblem(`cannot write the image archive in ${this.config.dir}: ` +
        `${code && DISK_FULL.has(code) ? `the disk is full (${code})` : (err as Error).message}`);
      // Nothing half-kept: retention would never see it.
      await Promise.all([`${stem}.png`, `${stem}.json`, heatmapFile].map((f) => f && rm(f, { force: true }).catch(() => undefined)));
      return;
    }
    const bytes = frameImage!.data.length + sidecar.length + (heatmap?.data.length ?? 0);
    this.kept.push({ stem, folder, bytes, time: Date.now() });
    this.totalBytes += bytes;
    this.written++;
    this.setProblem(null);
    await this.enforceRetention();
  }

  /** Oldest first, until the count, the age and the size are within their limits. */
  private async enforceRetention(): Promise<void> {
    const maxBytes = this.config.maxMegabytes * 2 ** 20;
    const oldest = Date.now() - this.config.maxAgeDays * DAY_MS;
    const maxParts = this.config.maxParts;
    while (this.kept.length > 0 && (this.kept.length > maxParts || this.totalBytes > maxBytes
      || (this.config.maxAgeDays > 0 && this.kept[0].time < oldest))) {
      const gone = this.kept.shift()!;
      this.totalBytes -= gone.bytes;
      const name = path.basename(gone.stem);
      await Promise.all([
        rm(`${gone.stem}.png`, { force: true }), rm(`${gone.stem}.json`, { force: true }),
        rm(path.join(this.config.dir, "heatmaps", `${name}.jpg`), { force: true }),
        rm(path.join(this.config.dir, "heatmaps", `${name}.png`), { force: true }),
      ]).catch((err: Error) => this.log.warn({ err: err.message, file: gone.stem }, "could not remove an archived part"));
    }
  }

  /** A kept part's sidecar, heatmap or frame (the newest part with that id), for /api/parts/:id. */
  async lookup(partId: string, kind: "json" | "heatmap" | "frame"): Promise<{ data: Buffer; type: string } | undefined> {
    // The name holds the time up to its first "_" and the file-safe id after it; the sidecar says
    // which part it really is ("A/1" and "A_1" share a file-safe id).
    const safe = fileSafe(partId);
    let entry: Kept | undefined;
    for (let i = this.kept.length - 1; i >= 0 && !entry; i--) {
      const name = path.basename(this.kept[i].stem);
      if (name.slice(name.indexOf("_") + 1) !== safe) continue;
      const sidecar = await readFile(`${this.kept[i].stem}.json`, "utf8").then((t) => JSON.parse(t) as { partId?: unknown }, () => undefined);
      if (sidecar?.partId === partId) entry = this.kept[i];
    }
    if (!entry) return undefined;
    const name = path.basename(entry.stem);
    const candidates = kind === "json" ? [{ file: `${entry.stem}.json`, type: "application/json" }]
      : kind === "frame" ? [{ file: `${entry.stem}.png`, type: "image/png" }]
        : [{ file: path.join(this.config.dir, "heatmaps", `${name}.jpg`), type: "image/jpeg" },
          { file: path.join(this.config.dir, "heatmaps", `${name}.png`), type: "image/png" }];
    for (const { file, type } of candidates) {
      const data = await readFile(file).catch(() => undefined);
      if (data) return { data, type };
    }
    return undefined;
  }

  private async sizeOf(stem: string): Promise<number> {
    const name = path.basename(stem);
    const files = [`${stem}.png`, `${stem}.json`, path.join(this.config.dir, "heatmaps", `${name}.jpg`)];
    const sizes = await Promise.all(files.map((f) => stat(f).then((s) => s.size, () => 0)));
    return sizes.reduce((a, b) => a + b, 0);
  }

  private setProblem(problem: string | null): void {
    if (problem === this.problem) return;
    this.problem = problem;
    this.report(problem);
  }

  get stats(): { written: number; skipped: number; parts: number; bytes: number } {
    return { written: this.written, skipped: this.skipped, parts: this.kept.length, bytes: this.totalBytes };
  }

  /** What is being written is finished; nothing waits beyond it. */
  async stop(): Promise<void> {
    await this.writing;
  }
}
