// One start/stop lifecycle for every long-lived part of the station (as zigbee2mqtt's extensions):
// started in the daemon's order, stopped in the reverse one, so that each stops while what it
// needs (the broker connection, the bundle) is still there.
import type { Logger } from "pino";

export interface Lifecycle {
  name: string;
  start(): Promise<void> | void;
  stop(reason: string): Promise<unknown> | void;
}

export class Lifecycles {
  private readonly started: Lifecycle[] = [];

  constructor(private readonly log: Logger) {}

  /**
   * Starts each in turn unless `stopping()` (a stop that came while the one before started:
   * systemctl stop right after a start); true when all started.
   */
  async start(parts: Lifecycle[], stopping: () => boolean): Promise<boolean> {
    for (const part of parts) {
      if (stopping()) return false;
      await part.start();
      this.started.push(part);
    }
    return true;
  }

  /** Stops what started, newest first; one that fails is logged and the rest still stop. */
  async stop(reason: string): Promise<void> {
    for (const part of this.started.splice(0).reverse()) {
      try {
        await part.stop(reason);
      } catch (err) {
        this.log.warn({ part: part.name, err: (err as Error).message }, `could not stop the ${part.name} cleanly`);
      }
    }
  }
}
