// `inspector bench --pipeline FILE [--parts N] [--warmup K] [--json]`: a station per stage.
// `inspector bench --bundle DIR [--parts N] [--threads T]`: a bundle's session.run alone, to compare bundles.
import { Command } from "commander";

import { benchTable, bundleBenchTable } from "../bench/bench-report.js";
import { benchBundle, benchStation, ownPaceMs } from "../bench/station-bench.js";
import { loadDaemonConfig } from "../config/daemon-config.js";
import { loadPipeline } from "../config/pipeline-config.js";
import { createLogger } from "../daemon/logger.js";
import { UserError } from "../errors/user-error.js";
import { numberIn, PROVIDERS_HELP, providerList } from "./options.js";
import { sessionSettings, type SessionChoices } from "../native/providers.js";

export function benchCommand(): Command {
  return new Command("bench")
    .description("time a station per stage on N parts, next to a bare session.run loop on the same bundle")
    .option("--pipeline <file>", "the station to measure (its trigger is replaced by continuous, as fast as it goes; see --paced)")
    .option("--paced", "with --pipeline: keep the pipeline's own pace (trigger.minIntervalMs) and compare trigger-to-verdict with session.run")
    .option("--bundle <dir>", "instead of a station: time this bundle's session.run alone on a synthetic part (no calibration needed)")
    .option("--providers <list>", `with --bundle: ${PROVIDERS_HELP}`, providerList)
    .option("--threads <n>", "with --bundle: ONNX Runtime threads (0 = every core)", numberIn(0, 1024, true))
    .option("--config <file>", "daemon settings (default: built-in; the embedded broker on a free port)")
    .option("--parts <n>", "parts measured", numberIn(2, 1e7, true), 200)
    .option("--warmup <n>", "parts run first and not counted", numberIn(0, 1e6, true), 10)
    .option("--json", "print the report as JSON instead of a table")
    .action(async (options: { pipeline?: string; bundle?: string; config?: string; parts: number; warmup: number; json?: boolean }
      & SessionChoices & { paced?: boolean }) => {
      if (options.bundle) {
        if (options.pipeline) throw new UserError("give --pipeline (a station) or --bundle (a bundle alone), not both.");
        const report = await benchBundle(options.bundle, sessionSettings(options), options.parts, options.warmup);
        process.stdout.write(`${options.json ? JSON.stringify(report, null, 2) : bundleBenchTable(report)}\n`);
        return;
      }
      if (!options.pipeline) throw new UserError("--pipeline FILE is required, e.g. --pipeline pipelines/demo.yaml (or --bundle DIR).");
      const config = loadDaemonConfig(options.config);
      const pipeline = loadPipeline(options.pipeline);
      const log = createLogger({ ...config.logging, level: "warn" });
      const own = pipeline.trigger;
      if (options.paced && ownPaceMs(own) === 0) {
        throw new UserError(`--paced keeps a pipeline's own pace, and ${options.pipeline} has none (trigger ${own.type}` +
          `${own.type === "continuous" ? ", minIntervalMs 0" : ""}): set trigger.minIntervalMs to the line's takt, or leave --paced out.`);
      }
      const report = await benchStation({ config, pipeline, parts: options.parts, warmup: options.warmup, paced: options.paced, log });
      process.stdout.write(`${options.json ? JSON.stringify(report, null, 2) : benchTable(report)}\n`);
    });
}
