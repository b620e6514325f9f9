// The `inspector` program: one binary, one subcommand per job.
import { Command, CommanderError } from "commander";

import { CliError } from "./cli-error.js";
import { pretrainTeacherCommand, trainCommand } from "./train-commands.js";

export function program(): Command {
  const root = new Command("inspector")
    .description("edge inspection with Student–Teacher anomaly detection")
    .showHelpAfterError("(add --help for usage)")
    .exitOverride();
  root.addCommand(trainCommand());
  root.addCommand(pretrainTeacherCommand());
  for (const command of root.commands) command.exitOverride().showHelpAfterError("(add --help for usage)");
  return root;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode; // commander printed the message or help
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
