// Reading a YAML or JSON configuration file and checking it against its schema. Every problem is
// reported as "FILE: KEY = VALUE: what is wrong (what is allowed)", all of them at once, so an
// operator fixes a file in one go.
import { readFileSync, statSync } from "node:fs";

import { parse as parseYaml } from "yaml";
import type { z } from "zod";

import { CliError } from "../cli/cli-error.js";

export class ConfigError extends CliError {}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function shown(value: unknown): string {
  if (value === undefined) return "(missing)";
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export function describeIssues(file: string, raw: unknown, issues: z.core.$ZodIssue[]): string {
  const lines = issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      const where = issue.path.length ? `${issue.path.join(".")}.` : "";
      return `  ${issue.keys.map((k) => where + k).join(", ")}: unknown key${issue.keys.length > 1 ? "s" : ""} (a typo? see docs/configuration.md)`;
    }
    const key = issue.path.join(".") || "(top level)";
    return `  ${key} = ${shown(valueAt(raw, issue.path))}: ${issue.message}`;
  });
  return `${file}: ${issues.length} problem${issues.length > 1 ? "s" : ""}:\n${lines.join("\n")}`;
}

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
  if (!parsed.success) throw new ConfigError(describeIssues(file, raw, parsed.error.issues));
  return parsed.data;
}
