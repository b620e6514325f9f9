// Frames that cannot be judged: a truncated image in a folder, a video whose frames are not the
// size the station expects. Each part gets an ERROR verdict with its code; the station goes on.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { beforeAll, describe, expect, it } from "vitest";

import { cv } from "../../src/native/opencv.js";
import { writeSyntheticDataset } from "../../src/sources/synthetic-dataset.js";
import { drawPart } from "../../src/sources/synthetic-part.js";
import { seededRandom } from "../../src/random/seeded-random.js";
import { freePort, recorder, startDaemon, writeStation } from "../helpers/daemon.js";
import { calibratedTinyBundle } from "../helpers/python.js";

let work: string;
let bundle: string;

beforeAll(() => {
  ({ work, bundle } = calibratedTinyBundle("inspector-corrupt-"));
});

async function runStation(name: string, source: object, pipelineExtra: object = {}) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), `inspector-${name}-`));
  const { pipelineFile, configFile } = writeStation(dir, { station: name, bundle, source, ...pipelineExtra },
    { mqtt: { embedded: { port } }, stateDir: path.join(dir, "state") });
  const daemon = startDaemon(pipelineFile, configFile);
  expect(await daemon.exited, daemon.stderr()).toBe(0);
  return daemon.logs.filter((l) => l.verdict !== undefined);
}

describe("corrupt and wrongly sized frames", () => {
  it("answers a truncated image with FRAME_CORRUPT and goes on with the next", async () => {
    writeSyntheticDataset({ out: path.join(work, "c"), count: 3, testPerKind: 0, size: 64, defects: [], seed: 4 });
    const folder = path.join(work, "corrupt");
    mkdirSync(folder);
    for (const f of readdirSync(path.join(work, "c", "train", "good"))) copyFileSync(path.join(work, "c", "train", "good", f), path.join(folder, f));
    const victim = path.join(folder, "001.png");
    writeFileSync(victim, readFileSync(victim).subarray(0, 100)); // truncated
    writeFileSync(path.join(folder, "003.png"), "not an image at all");
    const verdicts = await runStation("corrupt", { type: "folder", path: folder });
    expect(verdicts.map((v) => v.code ?? "judged")).toEqual(["judged", "FRAME_CORRUPT", "judged", "FRAME_CORRUPT"]);
  });

  it("answers frames of the wrong size with FRAME_SIZE", async () => {
    const video = path.join(work, "wrong-size.avi");
    const writer = new cv.VideoWriter(video, cv.VideoWriter.fourcc("MJPG"), 5, new cv.Size(128, 128), true);
    const random = seededRandom(8);
    for (let i = 0; i < 3; i++) writer.write(drawPart(128, null, random).image);
    writer.release();
    const verdicts = await runStation("size", { type: "opencv", file: video, width: 160, height: 120 });
    expect(verdicts.map((v) => v.code)).toEqual(["FRAME_SIZE", "FRAME_SIZE", "FRAME_SIZE"]);
  });

  it("answers an ROI outside the frame with FRAME_ROI", async () => {
    writeSyntheticDataset({ out: path.join(work, "r"), count: 2, testPerKind: 0, size: 64, defects: [], seed: 5 });
    const verdicts = await runStation("roi", { type: "folder", path: path.join(work, "r", "train", "good") },
      { roi: { x: 40, y: 40, width: 40, height: 40 } });
    expect(verdicts.map((v) => v.code)).toEqual(["FRAME_ROI", "FRAME_ROI"]);
  });
});
