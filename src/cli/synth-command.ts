// `inspector synth --out DIR --count N`: a synthetic part category in MVTec AD layout.
import { Command, InvalidArgumentError } from "commander";

import { DEFECT_KINDS, type DefectKind } from "../sources/synthetic-part.js";
import { writeSyntheticDataset } from "../sources/synthetic-dataset.js";
import { UserError } from "../errors/user-error.js";
import { numberIn } from "./options.js";

interface SynthCliOptions {
  out?: string;
  count: number;
  test?: number;
  size: number;
  defects: DefectKind[];
  seed: number;
}

function defectList(text: string): DefectKind[] {
  const names = text.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(DEFECT_KINDS as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(`${JSON.stringify(text)}: defects are a comma-separated list from ${DEFECT_KINDS.join(", ")}.`);
  }
  return names as DefectKind[];
}

export function synthCommand(): Command {
  return new Command("synth")
    .description("draw synthetic machined parts (good, and with scratches, cracks, dents, stains, missing holes) with defect masks, in MVTec AD layout")
    .option("--out <dir>", "category folder to write (train/good, test/<defect>, ground_truth/<defect>)")
    .option("--count <n>", "good parts for training", numberIn(1, 1e6, true), 60)
    .option("--test <n>", "test images per defect kind and good (default: count / 5, at least 4)", numberIn(0, 1e6, true))
    .option("--size <px>", "image side", numberIn(64, 4096, true), 256)
    .option("--defects <list>", `defect kinds (default: all of ${DEFECT_KINDS.join(", ")})`, defectList, [...DEFECT_KINDS])
    .option("--seed <n>", "random seed: the same seed draws the same parts", numberIn(0, 2 ** 32 - 1, true), 0)
    .action((options: SynthCliOptions) => {
      if (!options.out) throw new UserError("--out DIR is required: the category folder to write.");
      const testPerKind = options.test ?? Math.max(4, Math.round(options.count / 5));
      writeSyntheticDataset({ out: options.out, count: options.count, testPerKind, size: options.size, defects: options.defects, seed: options.seed });
      process.stdout.write(`${options.out}: ${options.count} good training parts, ${testPerKind} good and ${testPerKind} per defect kind ` +
        `(${options.defects.join(", ")}) for testing, ${options.size}×${options.size}\n`);
    });
}
