// Runs the Python trainer (training/inspector_training) and turns its JSON-lines events into
// callbacks. The trainer is the only place that knows PyTorch; this side only launches and watches.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";

import { UserError } from "../errors/user-error.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const TRAINING_DIR = path.join(REPO_ROOT, "training");

export interface TrainerEvent {
  event: string;
  [field: string]: unknown;
}

/** Debian's python3 holds python3-torch; a pyenv python earlier on PATH usually does not. */
export function pythonInterpreter(): string {
  if (process.env.INSPECTOR_PYTHON) return process.env.INSPECTOR_PYTHON;
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

export const TORCH_INSTALL_HELP = [
  "Training needs Python 3 with PyTorch, NumPy, Pillow and Matplotlib.",
  "  Debian 12 / Ubuntu:  sudo apt-get install python3-torch python3-numpy python3-pil python3-matplotlib",
  "  Jetson (JetPack 6):  install NVIDIA's PyTorch wheel for your JetPack release",
  "                       (https://docs.nvidia.com/deeplearning/frameworks/install-pytorch-jetson-platform/),",
  "                       then: sudo apt-get install python3-numpy python3-pil python3-matplotlib",
  "Set INSPECTOR_PYTHON to use another interpreter.",
].join("\n");

export function checkPythonDependencies(python: string): void {
  const probe = spawnSync(python, ["-c", "import torch, numpy, PIL, matplotlib"], { encoding: "utf8" });
  if (probe.error) {
    throw new UserError(`cannot run ${python} (${probe.error.message}).\n${TORCH_INSTALL_HELP}`);
  }
  if (probe.status !== 0) {
    const missing = /No module named '([^']+)'/.exec(probe.stderr)?.[1];
    throw new UserError(`${python} lacks the Python module ${missing ?? "(see below)"}.\n${TORCH_INSTALL_HELP}` +
      (missing ? "" : `\n${probe.stderr.trim()}`));
  }
}

/**
 * `python -m inspector_training ARGS`, as every caller launches it: Debian's interpreter unless
 * INSPECTOR_PYTHON says otherwise, our package first on PYTHONPATH and the user's after it.
 */
export function trainerCommand(args: string[], python = pythonInterpreter()): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  return {
    command: python, args: ["-m", "inspector_training", ...args],
    env: { ...process.env, PYTHONPATH: [TRAINING_DIR, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter), PYTHONUNBUFFERED: "1" },
  };
}

export interface TrainerResult {
  exitCode: number;
  error?: { code: string; message: string };
  done?: TrainerEvent;
  stopped: boolean;
}

/**
 * Starts `python -m inspector_training ARGS`. Ctrl-C (SIGINT) and SIGTERM are forwarded once so
 * that the trainer stops at its next checkpoint; a second Ctrl-C is forwarded too and stops it now.
 */
export function runTrainer(args: string[], onEvent: (event: TrainerEvent) => void,
  python = pythonInterpreter()): Promise<TrainerResult> {
  checkPythonDependencies(python);
  return new Promise((resolve, reject) => {
    const trainer = trainerCommand(args, python);
    const child = spawn(trainer.command, trainer.args, {
      cwd: process.cwd(),
      env: trainer.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group: a terminal's Ctrl-C reaches it once, through us
    });
    const result: TrainerResult = { exitCode: 1, stopped: false };
    let stderr = "";
    const forward = (signal: NodeJS.Signals) => {
      result.stopped = true;
      child.kill(signal);
    };
    const onSigint = () => forward("SIGINT");
    const onSigterm = () => forward("SIGTERM");
    process.on("SIGINT", onSigint);
    process.on("SIGTERM", onSigterm);
    const killOnExit = () => child.kill("SIGKILL");
    process.on("exit", killOnExit);

    createInterface({ input: child.stdout }).on("line", (line) => {
      let event: TrainerEvent;
      try {
        event = JSON.parse(line) as TrainerEvent;
      } catch {
        return; // a library printing to stdout: not ours to interpret
      }
      if (event.event === "error") result.error = { code: String(event.code), message: String(event.message) };
      if (event.event === "done") result.done = event;
      onEvent(event);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
    });
    child.on("error", (err) => reject(new UserError(`cannot start ${python}: ${err.message}\n${TORCH_INSTALL_HELP}`)));
    child.on("close", (code, signal) => {
      process.off("SIGINT", onSigint);
      process.off("SIGTERM", onSigterm);
      process.off("exit", killOnExit);
      result.exitCode = code ?? (signal ? 130 : 1);
      if (result.exitCode !== 0 && result.exitCode !== 130 && !result.error) {
        // Not one of the trainer's own errors: show what Python said rather than nothing.
        result.error = { code: "TRAINER_FAILED", message: `the trainer failed (exit ${result.exitCode}):\n${stderr.trim()}` };
      }
      resolve(result);
    });
  });
}
