// `inspector train` and `inspector pretrain-teacher`: thin front ends to the Python trainer.
// Options come from the trainer's own declaration (trainer-options.ts) and are passed through by
// name; the trainer validates their values.
import { Command, Option } from "commander";

import { ProgressView } from "../trainer/progress-view.js";
import { trainerCommandSpec, type TrainerOption } from "../trainer/trainer-options.js";
import { runTrainer, type TrainerEvent } from "../trainer/trainer-process.js";
import { UserError } from "../errors/user-error.js";

function addPassThrough(command: Command, options: TrainerOption[]): void {
  for (const spec of options) {
    const option = new Option(spec.kind === "flag" ? spec.flag : `${spec.flag} <${spec.metavar ?? "value"}>`, spec.help);
    if (spec.default !== undefined) option.default(spec.default);
    if (spec.choices) option.choices(spec.choices);
    if (spec.repeatable) option.argParser((value: string, previous: string[] = []) => [...previous, value]);
    command.addOption(option);
  }
}

function toTrainerArgs(options: Record<string, unknown>, specs: TrainerOption[]): string[] {
  const args: string[] = [];
  for (const spec of specs) {
    const key = spec.flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = options[key];
    if (value === undefined || value === false) continue;
    if (value === true) args.push(spec.flag);
    else if (Array.isArray(value)) for (const v of value) args.push(spec.flag, String(v));
    else args.push(spec.flag, String(value));
  }
  return args;
}

async function runWithProgress(subcommand: string, args: string[]): Promise<TrainerEvent> {
  const view = new ProgressView();
  const result = await runTrainer([subcommand, ...args], (event) => view.handle(event));
  view.stop();
  if (result.exitCode === 130) { // Ctrl-C forwarded by us, or a signal sent to the trainer directly
    throw new UserError("stopped at the last checkpoint; run the same command again to resume.", 130);
  }
  if (result.error) throw new UserError(result.error.message, result.exitCode === 0 ? 1 : result.exitCode);
  if (result.exitCode !== 0 || !result.done) throw new UserError(`the trainer ended without finishing (exit ${result.exitCode}).`);
  return result.done;
}

/** A command that checks its required options, runs one trainer subcommand and prints the folder it wrote. */
function trainerCommand(name: string, checkRequired: (options: Record<string, unknown>) => void): Command {
  let spec: ReturnType<typeof trainerCommandSpec>;
  try {
    spec = trainerCommandSpec(name);
  } catch (err) {
    // Without the trainer the station still runs: the command is there to say why it cannot.
    return new Command(name).description("(the trainer is not installed here)").allowUnknownOption().helpOption(false)
      .action(() => { throw err; });
  }
  const specs = spec.options.filter((option) => !option.internal);
  const command = new Command(name).description(spec.help);
  addPassThrough(command, specs);
  command.action(async (options: Record<string, unknown>) => {
    checkRequired(options);
    const done = await runWithProgress(name, toTrainerArgs(options, specs));
    process.stdout.write(`${String(done.path)}\n`);
  });
  return command;
}

export function exportCommand(): Command {
  return trainerCommand("export", (options) => {
      for (const required of ["bundle", "out", "mode"]) {
        if (!options[required]) throw new UserError(`--${required} is required (see --help).`);
      }
    });
}

export function trainCommand(): Command {
  return trainerCommand("train", (options) => {
      if (!options.good) throw new UserError("--good DIR is required: a folder of images of good parts.");
      if (!options.out) throw new UserError("--out DIR is required: the bundle folder to write, e.g. models/NAME.");
    });
}

export function pretrainTeacherCommand(): Command {
  return trainerCommand("pretrain-teacher", (options) => {
      if (!options.images && !options.imageList) {
        throw new UserError("give --images DIR or --image-list FILE (e.g. models/teachers/photos.txt).");
      }
    });
}

export function convertMobilenetCommand(): Command {
  return trainerCommand("convert-mobilenet", (options) => {
      if (!options.tfjs) throw new UserError("--tfjs DIR is required: run `node scripts/nsfwjs-mobilenet.mjs unpack DIR` first.");
      if (!options.out) throw new UserError("--out FILE is required: where to write the converted trunk.");
    });
}
