// Runs the Python trainer and small Python snippets from tests.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { writeSyntheticDataset } from "../../src/sources/synthetic-dataset.js";
import { pythonInterpreter, TRAINING_DIR } from "../../src/trainer/trainer-process.js";

export const REPO = path.resolve(TRAINING_DIR, "..");
export const CLI = path.join(REPO, "bin", "inspector.js");

export function python(args: string[]): string {
  const result = spawnSync(pythonInterpreter(), args, {
    encoding: "utf8",
    env: { ...process.env, PYTHONPATH: TRAINING_DIR },
    maxBuffer: 64 << 20,
  });
  if (result.status !== 0) throw new Error(`python ${args.join(" ")} failed:\n${result.stderr}`);
  return result.stdout;
}

/** Writes `count` grayscale textured PNGs into `folder`. */
export function writeGoodImages(folder: string, count: number, size = 48): void {
  python(["-c", `
import numpy as np, os; from PIL import Image
os.makedirs(${JSON.stringify(folder)}, exist_ok=True)
rng = np.random.default_rng(1)
for i in range(${count}):
    yy, xx = np.mgrid[0:${size}, 0:${size}]
    a = np.clip(120 + 40*np.sin(xx/(3+i%3)) + rng.normal(0, 8, (${size}, ${size})), 0, 255).astype(np.uint8)
    Image.fromarray(a).save(os.path.join(${JSON.stringify(folder)}, f"{i:03d}.png"))
`]);
}

/** A tiny teacher set (width 1/8, D = 16, two steps) for fast tests. */
export function pretrainTinyTeachers(photos: string, out: string): void {
  python(["-m", "inspector_training", "pretrain-teacher", "--images", photos, "--out", out, "--steps", "2",
    "--batch", "4", "--width", "0.125", "--descriptor-size", "16", "--eval-triplets", "8"]);
}

/** Synthetic good parts (`inspector synth`) in `root`/train/good; returns that folder. */
export function writeSyntheticParts(root: string, count: number, size = 96, seed = 0): string {
  writeSyntheticDataset({ out: root, count, testPerKind: 0, size, defects: [], seed });
  return path.join(root, "train", "good");
}

/** A fresh temporary folder holding tiny teachers (work/teachers) pre-trained on test photos. */
export function tinyTeachersIn(prefix: string): { work: string; teachers: string } {
  const work = mkdtempSync(path.join(tmpdir(), prefix));
  const teachers = path.join(work, "teachers");
  writeGoodImages(path.join(work, "photos"), 4, 160);
  pretrainTinyTeachers(path.join(work, "photos"), teachers);
  return { work, teachers };
}

/** Tiny teachers plus `work/good`, five textured good images: the setup of the training tests. */
export function tinyTrainingSetup(prefix: string): { work: string; teachers: string; good: string } {
  const { work, teachers } = tinyTeachersIn(prefix);
  const good = path.join(work, "good");
  writeGoodImages(good, 5);
  return { work, teachers, good };
}

/** A tiny bundle (tiny teachers, two students, one epoch) trained on synthetic parts. */
export function makeTinyBundle(prefix: string, options: { mode?: "dense" | "strided"; scales?: string; size?: number; images?: number } = {}): {
  work: string; bundle: string; good: string; teachers: string;
} {
  const { work, teachers } = tinyTeachersIn(prefix);
  const good = writeSyntheticParts(path.join(work, "part"), options.images ?? 24);
  const bundle = path.join(work, "bundle");
  python(["-m", "inspector_training", "train", "--good", good, "--out", bundle, "--teachers", teachers,
    "--students", "2", "--epochs", "1", "--size", String(options.size ?? 64), "--mode", options.mode ?? "strided",
    "--scales", options.scales ?? "17,33,65"]);
  return { work, bundle, good, teachers };
}

/** A tiny bundle (see makeTinyBundle), calibrated on its own good parts: ready for the daemon. */
export function calibratedTinyBundle(prefix: string, images = 12): { work: string; bundle: string; good: string } {
  const { work, bundle, good } = makeTinyBundle(prefix, { scales: "33", images });
  const calibrate = spawnSync(process.execPath, [CLI, "calibrate", "--bundle", bundle, "--good", good, "--target-frr", "0.1"], { encoding: "utf8" });
  if (calibrate.status !== 0) throw new Error(`calibrating the tiny bundle failed:\n${calibrate.stderr}`);
  return { work, bundle, good };
}

/** A synthetic category in MVTec AD layout: train/good, and `perKind` each of test/good and test/scratch (+ masks). */
export function writeSyntheticCategory(root: string, trainGood: number, perKind: number, size = 96): void {
  writeSyntheticDataset({ out: root, count: trainGood, testPerKind: perKind, size, defects: ["scratch"], seed: 0 });
}
