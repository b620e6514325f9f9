// The trainer's commands and options as training/inspector_training/options.json declares them for
// both sides: argparse builds the trainer's parser from it, and `inspector train`,
// `pretrain-teacher`, `export` and `convert-mobilenet` their options, so a default or a help text
// exists once.
import { readFileSync } from "node:fs";
import path from "node:path";

import { UserError } from "../errors/user-error.js";
import { TRAINING_DIR } from "./trainer-process.js";

export interface TrainerOption {
  flag: string;
  /** Shown in --help as `--flag <metavar>`. */
  metavar?: string;
  type?: string;
  choices?: string[];
  default?: string;
  required?: boolean;
  repeatable?: boolean;
  kind?: "flag";
  /** The trainer's own (progress pacing, …): not offered by the inspector CLI. */
  internal?: boolean;
  help: string;
}

export interface TrainerCommandSpec {
  help: string;
  options: TrainerOption[];
}

export const TRAINER_OPTIONS_FILE = path.join(TRAINING_DIR, "inspector_training", "options.json");

/** The command's declaration; a missing trainer (an install without training/) is said as such. */
export function trainerCommandSpec(name: string, file = TRAINER_OPTIONS_FILE): TrainerCommandSpec {
  let all: Record<string, TrainerCommandSpec>;
  try {
    all = JSON.parse(readFileSync(file, "utf8")) as Record<string, TrainerCommandSpec>;
  } catch (err) {
    throw new UserError(`${file}: cannot read the trainer's options (${(err as Error).message}). ` +
      "The trainer (training/) is part of a full checkout; copy it beside dist/ to train on this machine.");
  }
  const spec = all[name];
  if (!spec) throw new UserError(`${file}: declares no trainer command ${name}; training/ is from another version than dist/. Check out both from the same commit.`);
  return spec;
}
