// The `inspector` program: one binary, one subcommand per job.
import { Command, CommanderError } from "commander";

import { UserError } from "../errors/user-error.js";
import { benchCommand } from "./bench-command.js";
import { calibrateCommand } from "./calibrate-command.js";
import { evalCommand } from "./eval-command.js";
import { inferCommand } from "./infer-command.js";
import { runCommand } from "./run-command.js";
import { synthCommand } from "./synth-command.js";
import { convertMobilenetCommand, exportCommand, pretrainTeacherCommand, trainCommand } from "./train-commands.js";

export function program(): Command {
  const root = new Command("inspector")
    .description("edge inspection with Student–Teacher anomaly detection")
    .showHelpAfterError("(add --help for usage)")
    .exitOverride();
  root.addCommand(trainCommand());
  root.addCommand(pretrainTeacherCommand());
  root.addCommand(exportCommand());
  root.addCommand(convertMobilenetCommand());
  root.addCommand(calibrateCommand());
  root.addCommand(evalCommand());
  root.addCommand(inferCommand());
  root.addCommand(runCommand());
  root.addCommand(synthCommand());
  root.addCommand(benchCommand());
  for (const command of root.commands) command.exitOverride().showHelpAfterError("(add --help for usage)");
  return root;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode; // commander printed the message or help
    if (err instanceof UserError) {
      process.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    // Not a foreseen problem: still one readable line, the stack only when asked for.
    process.stderr.write(`error: ${(err as Error).message}\n`);
    if (process.env.INSPECTOR_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return 1;
  }
}
