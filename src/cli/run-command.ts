// `inspector run --pipeline pipelines/NAME.yaml [--config config/FILE.yaml]`: the daemon.
import { Command } from "commander";

import { loadDaemonConfig } from "../config/daemon-config.js";
import { checkPipelinePaths } from "../config/allowed-paths.js";
import { loadPipeline } from "../config/pipeline-config.js";
import { createLogger } from "../daemon/logger.js";
import { StationDaemon } from "../daemon/station-daemon.js";
import { closeInferenceWorkers } from "../inference/inference-client.js";
import { UserError } from "../errors/user-error.js";

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
      if (!options.pipeline) throw new UserError("--pipeline FILE is required, e.g. --pipeline pipelines/demo.yaml.");
      const config = loadDaemonConfig(options.config);
      const pipeline = loadPipeline(options.pipeline);
      checkPipelinePaths(pipeline, config.allowedPaths);
      const log = createLogger(config.logging);
      const daemon = new StationDaemon({ config, pipeline, log });
      let signalled: string | undefined;
      let leaving = false;
      // Without draining, but not with an inference worker inside session.run: onnxruntime-node
      // aborts the process then (a core dump, exit 134). The run in flight takes a fraction of a
      // second; verdicts already made are in the spool.
      const leave = () => {
        leaving = true;
        log.flush();
        void closeInferenceWorkers().finally(() => process.exit(1));
      };
      const onSignal = (signal: NodeJS.Signals) => {
        if (leaving) process.exit(1); // a third signal does not wait
        if (signalled) {
          log.warn(`${signal} again: leaving without draining`);
          return leave();
        }
        signalled = signal;
        void daemon.stop(signal);
      };
      // Something unforeseen: say what, and exit non-zero so that systemd restarts the station
      // (undelivered verdicts are in the spool and go out after the restart).
      const fatal = (err: unknown) => {
        if (leaving) return;
        log.fatal({ err: (err as Error)?.stack ?? String(err) }, "unexpected failure: exiting for a restart");
        leave();
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
