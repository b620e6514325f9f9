// SIGHUP (`systemctl reload`): the station's bundle folder loaded again — a new calibration or a
// new model — and swapped in between parts. A bundle that fails its checks is refused and the
// station keeps judging with the one it has: a bad copy never stops a line.
import type { Logger } from "pino";

import type { BundleRunner } from "../inference/bundle-runner.js";
import type { StationContext } from "../pipeline/inspect-part.js";
import type { StationStatus } from "../sinks/station-status.js";
import type { Notifier } from "./sd-notify.js";

export interface ReloadNeeds {
  open: () => Promise<BundleRunner>;
  /** A stop that came while the bundle loaded: the new one is closed, not swapped in. */
  stopping: () => boolean;
  status?: StationStatus;
  notifier: Notifier;
  log: Logger;
}

export async function reloadBundle(context: StationContext, { open, stopping, status, notifier, log }: ReloadNeeds): Promise<void> {
  const previous = context.runner;
  notifier.notify(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}\nSTATUS=loading the bundle again`);
  try {
    const next = await open();
    if (stopping()) {
      await next.close();
      return;
    }
    context.runner = next;
    void previous.retire();
    status?.update({ bundle: next.bundle.id, calibration: next.bundle.calibrationId ?? null, provider: next.worker.provider });
    log.info({ bundle: next.bundle.id, calibration: next.bundle.calibrationId, was: { bundle: previous.bundle.id, calibration: previous.bundle.calibrationId } },
      `reloaded: ${next.describe()}, calibration ${next.bundle.calibrationId}`);
  } catch (err) {
    log.error({ err: (err as Error).message, bundle: previous.bundle.id, calibration: previous.bundle.calibrationId },
      `reload refused, the station keeps bundle ${previous.bundle.id} with calibration ${previous.bundle.calibrationId}: ${(err as Error).message}`);
  } finally {
    if (!stopping()) notifier.notify(`READY=1\nSTATUS=station ${context.station}: ${context.source.description}`);
  }
}
