// Every problem of a file checked against its schema (a config file, a bundle's manifest or
// calibration), as "FILE: KEY = VALUE: what is wrong (what is allowed)", all of them at once, so
// the file is fixed in one go.
import type { z } from "zod";

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

/** `unknownKeyHint` follows an unknown key: where the allowed keys are written down. */
export function describeSchemaProblems(file: string, raw: unknown, issues: z.core.$ZodIssue[], unknownKeyHint: string): string {
  const lines = issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      const where = issue.path.length ? `${issue.path.join(".")}.` : "";
      return `  ${issue.keys.map((k) => where + k).join(", ")}: unknown key${issue.keys.length > 1 ? "s" : ""} (${unknownKeyHint})`;
    }
    const key = issue.path.join(".") || "(top level)";
    return `  ${key} = ${shown(valueAt(raw, issue.path))}: ${issue.message}`;
  });
  return `${file}: ${issues.length} problem${issues.length > 1 ? "s" : ""}:\n${lines.join("\n")}`;
}
