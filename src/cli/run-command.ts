// `inspector run --pipeline pipelines/NAME.yaml [--config config/FILE.yaml]`: the daemon.
import { Command } from "commander";

import { loadDaemonConfig } from "../config/daemon-config.js";
import { checkPipelinePaths } from "../config/allowed-paths.js";
import { loadPipeline } from "../config/pipeline-config.js";
import { createLogger } from "../daemon/logger.js";
import { StationDaemon } from "../daemon/station-daemon.js";
import { CliError } from "./cli-error.js";

interface RunCliOptions {
  pipeline?: string;
  config?: string;
}

export function runCommand(): Command {
  return new Command("run")
    .description("run one inspection station: frames in, verdicts and heatmaps out over MQTT, until stopped")
    .option("--pipeline <file>", "the station, e.g. pipelines/demo.yaml")
    .option("--config <file>", "daemon settings: broker, TLS, state directory, inference, logging (default: built-in, embedded broker)")
    .action(async (options: RunCliOptions) => {
      if (!options.pipeline) throw new CliError("--pipeline FILE is required, e.g. --pipeline pipelines/demo.yaml.");
      const config = loadDaemonConfig(options.config);
      const pipeline = loadPipeline(options.pipeline);
      checkPipelinePaths(pipeline, config.allowedPaths);
      const log = createLogger(config.logging);
      const daemon = new StationDaemon({ config, pipeline, log });
      let signalled: string | undefined;
      let leaving = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (leaving) process.exit(1);
        if (signalled) {
          // Verdicts already made are in the spool; the part being inferred is finished first,
          // which takes a fraction of a second (see StationDaemon.leave). A third signal does not wait.
          log.warn(`${signal} again: leaving without draining`);
          leaving = true;
          void daemon.leave().finally(() => process.exit(1));
          return;
        }
        signalled = signal;
        void daemon.stop(signal);
      };
      // Something unforeseen: say what, and exit non-zero so that systemd restarts the station
      // (undelivered verdicts are in the spool and go out after the restart).
      const fatal = (err: unknown) => {
        log.fatal({ err: (err as Error)?.stack ?? String(err) }, "unexpected failure: exiting for a restart");
        log.flush();
        process.exit(1);
      };
      process.on("uncaughtException", fatal);
      process.on("unhandledRejection", fatal);
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
      // `systemctl reload`: the bundle folder is loaded again (a new calibration), the station keeps running.
      process.on("SIGHUP", () => void daemon.reload());
      try {
        await daemon.start();
      } catch (err) {
        await daemon.stop("start-up failed").catch(() => undefined);
        log.flush();
        throw err;
      }
      await daemon.whenFinished();
      await daemon.stop(signalled ?? "the source has no more frames");
      log.flush();
    });
}
