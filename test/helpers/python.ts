// Runs the Python trainer and small Python snippets from tests.
import { spawnSync } from "node:child_process";
import path from "node:path";

import { pythonInterpreter, TRAINING_DIR } from "../../src/training/trainer-process.js";

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
