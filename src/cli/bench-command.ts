// `inspector bench --pipeline FILE [--parts N] [--warmup K] [--json]`
import { Command } from "commander";

import { benchStation, benchTable } from "../bench/station-bench.js";
import { loadDaemonConfig } from "../config/daemon-config.js";
import { loadPipeline } from "../config/pipeline-config.js";
import { createLogger } from "../daemon/logger.js";
import { CliError } from "./cli-error.js";
import { numberIn } from "./options.js";

export function benchCommand(): Command {
  return new Command("bench")
    .description("time a station per stage on N parts, next to a bare session.run loop on the same bundle")
    .option("--pipeline <file>", "the station to measure (its trigger is replaced by continuous, as fast as it goes)")
    .option("--config <file>", "daemon settings (default: built-in; the embedded broker on a free port)")
    .option("--parts <n>", "parts measured", numberIn(2, 1e7, true), 200)
    .option("--warmup <n>", "parts run first and not counted", numberIn(0, 1e6, true), 10)
    .option("--json", "print the report as JSON instead of a table")
    .action(async (options: { pipeline?: string; config?: string; parts: number; warmup: number; json?: boolean }) => {
      if (!options.pipeline) throw new CliError("--pipeline FILE is required, e.g. --pipeline pipelines/demo.yaml.");
      const config = loadDaemonConfig(options.config);
      const pipeline = loadPipeline(options.pipeline);
      const log = createLogger({ ...config.logging, level: "warn" });
      const report = await benchStation({ config, pipeline, parts: options.parts, warmup: options.warmup, log });
      process.stdout.write(`${options.json ? JSON.stringify(report, null, 2) : benchTable(report)}\n`);
    });
}
