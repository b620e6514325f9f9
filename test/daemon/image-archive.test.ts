// The NG image archive on its own: what it keeps and where, retention by count, age and size
// (counting what earlier runs left), and a folder it cannot write: said once, judging goes on.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { pino } from "pino";
import { describe, expect, it } from "vitest";

import { pipelineSchema } from "../../src/config/pipeline-config.js";
import type { PartOutcome } from "../../src/pipeline/part.js";
import { ArchivePolicy, ImageArchive, type ArchiveConfig } from "../../src/sinks/image-archive.js";

const log = pino({ level: "silent" });
let n = 0;

function outcome(verdict: PartOutcome["verdict"], bytes = 1000): PartOutcome {
  n++;
  return {
    station: "a", partId: `part/${n}`, verdict, code: null, message: null, score: 9, thresholds: null, regions: [], recipe: null,
    triggeredAt: new Date().toISOString(), capturedAt: null, decidedAt: new Date(Date.now() + n).toISOString(), latencyMs: {},
    bundle: "b", calibration: "c", heatmap: { data: Buffer.alloc(100, 1), format: "jpeg", rect: { x: 0, y: 0, width: 8, height: 8 } },
    frameImage: { data: Buffer.alloc(bytes, 2), format: "png", width: 8, height: 8 }, keepImages: true, frame: null,
  };
}

function archiveConfig(dir: string, extra: Partial<ArchiveConfig> = {}): ArchiveConfig {
  return { ...pipelineSchema.parse({ station: "a", bundle: "b", source: { type: "synthetic" }, archive: { enabled: true } }).archive, dir, ...extra };
}

const problems: (string | null)[] = [];
const reporter = () => (problem: string | null) => { problems.push(problem); };

describe("image archive", () => {
  it("keeps NG and UNCERTAIN parts (and one OK in K) in a folder per verdict, each with its sidecar and heatmap", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-archive-"));
    const policy = new ArchivePolicy(archiveConfig(dir, { okEvery: 3 }));
    expect(["NG", "UNCERTAIN", "ERROR", "OK", "OK", "OK", "OK", "OK", "OK"].map((v) => policy.keeps(v as PartOutcome["verdict"])))
      .toEqual([true, true, false, false, false, true, false, false, true]);
    const archive = new ImageArchive(archiveConfig(dir), reporter, log);
    await archive.start();
    archive.receive(outcome("NG"));
    archive.receive(outcome("UNCERTAIN"));
    archive.receive({ ...outcome("OK"), keepImages: false }); // not chosen: not kept
    await archive.stop();
    expect(readdirSync(dir).sort()).toEqual(["heatmaps", "ng", "uncertain"]);
    const ng = readdirSync(path.join(dir, "ng")).sort();
    expect(ng).toHaveLength(2);
    expect(ng[0]).toMatch(/^\d{8}T\d{6}\.\d{3}Z_part_\d+\.json$/);
    const sidecar = JSON.parse(readFileSync(path.join(dir, "ng", ng[0]), "utf8"));
    expect(sidecar.verdict).toBe("NG");
    expect(sidecar.files.frame).toBe(ng[1]);
    expect(existsSync(path.join(dir, "ng", sidecar.files.heatmap))).toBe(true);
    expect((await archive.lookup(sidecar.partId, "frame"))?.type).toBe("image/png");
  });

  it("keeps at most maxParts, the newest", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-archive-"));
    const archive = new ImageArchive(archiveConfig(dir, { maxParts: 3 }), reporter, log);
    await archive.start();
    const parts = Array.from({ length: 5 }, () => outcome("NG"));
    for (const p of parts) archive.receive(p);
    await archive.stop();
    const kept = readdirSync(path.join(dir, "ng")).filter((f) => f.endsWith(".png")).sort();
    expect(kept.map((f) => f.slice(f.indexOf("_") + 1))).toEqual(parts.slice(2).map((p) => `${p.partId!.replace("/", "_")}.png`));
    expect(readdirSync(path.join(dir, "heatmaps"))).toHaveLength(3);
    expect(archive.stats.parts).toBe(3);
  });

  it("keeps at most maxMegabytes, counting what an earlier run left", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-archive-"));
    const first = new ImageArchive(archiveConfig(dir), reporter, log);
    await first.start();
    for (let i = 0; i < 3; i++) first.receive(outcome("NG", 400_000));
    await first.stop();
    // A second run with a 1 MB limit: the three old parts (1.2 MB) and a new one → the two newest stay.
    const second = new ImageArchive(archiveConfig(dir, { maxMegabytes: 1 }), reporter, log);
    await second.start();
    second.receive(outcome("NG", 400_000));
    await second.stop();
    expect(second.stats.parts).toBe(2);
    expect(second.stats.bytes).toBeLessThanOrEqual(2 ** 20);
    expect(readdirSync(path.join(dir, "ng")).filter((f) => f.endsWith(".png"))).toHaveLength(2);
  });

  it("drops parts older than maxAgeDays when it starts and as it writes", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-archive-"));
    const first = new ImageArchive(archiveConfig(dir), reporter, log);
    await first.start();
    first.receive(outcome("NG"));
    first.receive(outcome("UNCERTAIN"));
    await first.stop();
    const old = readdirSync(path.join(dir, "ng")).find((f) => f.endsWith(".png"))!;
    const tenDaysAgo = new Date(Date.now() - 10 * 24 * 3600 * 1000);
    utimesSync(path.join(dir, "ng", old), tenDaysAgo, tenDaysAgo);
    const second = new ImageArchive(archiveConfig(dir, { maxAgeDays: 7 }), reporter, log);
    await second.start();
    await second.stop();
    expect(readdirSync(path.join(dir, "ng"))).toEqual([]);
    expect(readdirSync(path.join(dir, "uncertain")).filter((f) => f.endsWith(".png"))).toHaveLength(1);
  });

  it("says once that it cannot write (a file where its folder should be), skips those parts, and says when it can again", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "inspector-archive-"));
    const dir = path.join(root, "archive");
    writeFileSync(dir, "not a folder");
    problems.length = 0;
    const archive = new ImageArchive(archiveConfig(dir), reporter, log);
    await archive.start();
    archive.receive(outcome("NG"));
    archive.receive(outcome("NG"));
    await archive.stop();
    expect(archive.stats).toMatchObject({ written: 0, skipped: 2 });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/cannot write the image archive in .*archive/);
    rmSync(dir);
    archive.receive(outcome("NG"));
    await archive.stop();
    expect(archive.stats).toMatchObject({ written: 1, skipped: 2 });
    expect(problems).toEqual([expect.stringMatching(/cannot write/), null]);
  });
});
