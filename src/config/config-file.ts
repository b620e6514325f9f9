// Reading a YAML or JSON configuration file and checking it against its schema; every problem is
// reported at once (errors/schema-problems.ts).
import { readFileSync, statSync } from "node:fs";

import { parse as parseYaml } from "yaml";
import type { z } from "zod";

import { describeSchemaProblems } from "../errors/schema-problems.js";
import { UserError } from "../errors/user-error.js";

export class ConfigError extends UserError {}

/** A station or daemon configuration is a page of YAML; anything this large is not one. */
const MAX_CONFIG_BYTES = 1024 * 1024;

export function readConfigFile<S extends z.ZodType>(file: string, schema: S): z.output<S> {
  let text: string;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new ConfigError(`${file}: not a regular file. Give the path of a .yaml or .json file.`);
    const size = stat.size;
    if (size > MAX_CONFIG_BYTES) throw new ConfigError(`${file}: ${size} bytes; a configuration file is at most ${MAX_CONFIG_BYTES} bytes. Is this the right file?`);
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(code === "ENOENT" ? `${file}: no such file.` : `${file}: cannot be read (${code}).`);
  }
  let raw: unknown;
  try {
    // YAML is a superset of JSON: one parser reads both.
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true }) ?? {};
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML or JSON: ${(err as Error).message.split("\n")[0]}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(describeSchemaProblems(file, raw, parsed.error.issues, "a typo? see docs/configuration.md"));
  return parsed.data;
}
