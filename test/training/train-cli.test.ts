// `inspector train` as a user runs it: Ctrl-C stops at a checkpoint, the same command resumes,
// and a machine without PyTorch gets install instructions instead of a traceback.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import { beforeAll, describe, expect, it } from "vitest";

import { TRAINER_OPTIONS_FILE, type TrainerOption } from "../../src/trainer/trainer-options.js";
import { pythonInterpreter, TRAINING_DIR } from "../../src/trainer/trainer-process.js";
import { CLI, tinyTrainingSetup } from "../helpers/python.js";

let work: string;
let teachers: string;
let good: string;

beforeAll(() => {
  ({ work, teachers, good } = tinyTrainingSetup("inspector-cli-"));
});

function trainArgs(bundle: string, epochs: number): string[] {
  return [CLI, "train", "--good", good, "--out", bundle, "--teachers", teachers, "--scales", "17",
    "--students", "2", "--size", "32", "--epochs", String(epochs)];
}

describe("inspector train", () => {
  it("stops at a checkpoint on Ctrl-C and resumes with the same command", async () => {
    const bundle = path.join(work, "interrupted");
    const child = spawn(process.execPath, trainArgs(bundle, 100_000), { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => { stderr += chunk.toString(); });
    const checkpoint = path.join(bundle, "training", "students_p17.pt");
    while (!existsSync(checkpoint)) await new Promise((r) => setTimeout(r, 100));
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(130);
    expect(stderr).toContain("stopping at the next checkpoint");
    expect(stderr).toContain("run the same command again to resume");
    expect(existsSync(path.join(bundle, "manifest.json"))).toBe(false);

    const resumed = spawnSync(process.execPath, trainArgs(bundle, 3), { encoding: "utf8" });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming p=17 from epoch [1-9]/);
    expect(resumed.stdout.trim()).toBe(bundle);
    expect(existsSync(path.join(bundle, "manifest.json"))).toBe(true);
  });

  it("tells how to install PyTorch when the interpreter lacks it", () => {
    // A real Python that cannot see Debian's dist-packages (-S: no site), hence no torch.
    const noTorch = path.join(work, "python-without-torch");
    writeFileSync(noTorch, "#!/bin/sh\nexec python3 -S \"$@\"\n");
    chmodSync(noTorch, 0o755);
    const run = spawnSync(process.execPath, trainArgs(path.join(work, "x"), 1), {
      encoding: "utf8", env: { ...process.env, INSPECTOR_PYTHON: noTorch },
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("lacks the Python module torch");
    expect(run.stderr).toContain("apt-get install python3-torch");
    expect(run.stderr).toContain("JetPack");
  });

  it("names a bad option value and exits non-zero", () => {
    const run = spawnSync(process.execPath, [...trainArgs(path.join(work, "y"), 1), "--scales", "16"], { encoding: "utf8" });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("patch sizes must be among 17,33,65");
    expect(run.stderr).not.toContain("Traceback");
  });

  it("requires --good and --out with a message saying what they are", () => {
    const run = spawnSync(process.execPath, [CLI, "train", "--out", path.join(work, "z")], { encoding: "utf8" });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("--good DIR is required");
  });

  it("has --help on every command", () => {
    for (const command of [[], ["train"], ["pretrain-teacher"]]) {
      const run = spawnSync(process.execPath, [CLI, ...command, "--help"], { encoding: "utf8" });
      expect(run.status).toBe(0);
      expect(run.stdout).toContain("Usage: inspector");
    }
  });

  it("offers every option the trainer declares, with the trainer's default (one declaration for both sides)", () => {
    const declared = JSON.parse(readFileSync(TRAINER_OPTIONS_FILE, "utf8")) as Record<string, { options: TrainerOption[] }>;
    for (const command of ["train", "pretrain-teacher", "export", "convert-mobilenet"]) {
      // commander wraps at the terminal's width: read the help as one line, each option up to the next.
      const help = spawnSync(process.execPath, [CLI, command, "--help"], { encoding: "utf8" }).stdout.replace(/\s+/g, " ");
      const offered = declared[command].options.filter((o) => !o.internal);
      offered.forEach((option, i) => {
        const start = help.indexOf(` ${option.flag} `);
        expect(start, `${command} ${option.flag}`).toBeGreaterThan(0);
        const next = i + 1 < offered.length ? help.indexOf(` ${offered[i + 1].flag} `, start + 1) : help.length;
        if (option.default !== undefined) expect(help.slice(start, next), `${command} ${option.flag}`).toContain(`default: "${option.default}"`);
      });
    }
    // And the trainer parses with the same defaults: what `inspector train` shows is what runs.
    const parsed = spawnSync(pythonInterpreter(), ["-c", "import json, sys; from inspector_training.__main__ import parser; " +
      "print(json.dumps(vars(parser().parse_args(sys.argv[1:])), default=str))", "train", "--good", "g", "--out", "o"],
    { encoding: "utf8", env: { ...process.env, PYTHONPATH: TRAINING_DIR } });
    const values = JSON.parse(parsed.stdout) as Record<string, unknown>;
    expect(values.epochs).toBe(Number(declared.train.options.find((o) => o.flag === "--epochs")!.default));
    expect(values.scales).toEqual(declared.train.options.find((o) => o.flag === "--scales")!.default!.split(",").map(Number));
  });
});
