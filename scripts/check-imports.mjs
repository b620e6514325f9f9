#!/usr/bin/env node
// Checks that imports flow one way along a part's path (docs/architecture.md): a stage imports
// only foundations, itself and stages before it; a foundation imports only foundations, never a
// stage. Run by `make test`; prints every import that breaks the order and exits 1.
// Usage: node scripts/check-imports.mjs [SRC_DIR]
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The stages of a part's path, then the tools built on them, in order. */
export const STAGES = [
  "sources", "triggers", "preprocess", "inference", "scoring", "verdict", "pipeline", "sinks", "daemon",
  "calibration", "evaluation", "trainer", "bench", "cli",
];
/** The ground floor: shared by every stage, importing none. Listed in the order they may import each other. */
export const FOUNDATIONS = ["errors", "random", "native", "images", "config", "mqtt", "terminal"];

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|(?:^|\n)\s*import\s+["']([^"']+)["']/g;

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(full);
    else if (entry.name.endsWith(".ts")) yield full;
  }
}

/** Rank of a folder: foundations below every stage; undefined for a folder in neither list. */
function rank(folder) {
  const f = FOUNDATIONS.indexOf(folder);
  if (f >= 0) return { foundation: true, rank: f };
  const s = STAGES.indexOf(folder);
  return s >= 0 ? { foundation: false, rank: s } : undefined;
}

export function importProblems(srcDir) {
  const problems = [];
  for (const file of sourceFiles(srcDir)) {
    const from = path.relative(srcDir, file).split(path.sep)[0];
    const fromRank = rank(from);
    if (!fromRank) {
      problems.push(`${path.relative(srcDir, file)}: folder ${from}/ is neither a stage nor a foundation; add it to scripts/check-imports.mjs in its place`);
      continue;
    }
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(IMPORT)) {
      const spec = match[1] ?? match[2] ?? match[3];
      if (!spec.startsWith(".")) continue;
      const target = path.relative(srcDir, path.resolve(path.dirname(file), spec)).split(path.sep)[0];
      if (target === from) continue;
      const toRank = rank(target);
      const where = `${path.relative(srcDir, file)} imports ${spec}`;
      if (!toRank) problems.push(`${where}: ${target}/ is neither a stage nor a foundation`);
      else if (fromRank.foundation && !toRank.foundation) problems.push(`${where}: a foundation (${from}/) may not import a stage (${target}/)`);
      else if (fromRank.foundation === toRank.foundation && toRank.rank > fromRank.rank) {
        problems.push(`${where}: ${from}/ comes before ${target}/ (order: ${(fromRank.foundation ? FOUNDATIONS : STAGES).join(", ")})`);
      }
    }
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const srcDir = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "src"));
  const problems = importProblems(srcDir);
  for (const p of problems) console.error(p);
  if (problems.length) {
    console.error(`${problems.length} import(s) against the order of a part's path`);
    process.exit(1);
  }
  console.log(`imports follow a part's path (${STAGES.join(" → ")}; foundations: ${FOUNDATIONS.join(", ")})`);
}
