// A consumer of judged parts: the MQTT verdict topic, the journal, and whatever comes next (a
// station page, an image archive, OPC UA). The daemon starts the sinks in its order, hands every
// outcome to each in turn, and stops them in reverse order once the last part is judged. Adding an
// output means one new file here and one config key (docs/architecture.md).
import type { Logger } from "pino";
import type { Observable, Subscription } from "rxjs";

import type { PartOutcome } from "../pipeline/part.js";

export interface OutcomeSink {
  /** Named in logs when the sink fails. */
  readonly name: string;
  /** Opens what the sink holds; a failure stops the daemon's start-up with its message. */
  start(): Promise<void> | void;
  /**
   * One judged part, in the order judged. Called on the station's thread between parts: keep it
   * short and hand long work off. A throw is logged and the other sinks still get the part.
   */
  receive(outcome: PartOutcome): void;
  /** No more parts come: finish what is pending (within a bounded time) and release what is held. */
  stop(reason: string): Promise<void> | void;
}

/** Hands every outcome of the stream to the sink; one that throws is logged and does not hold the others up. */
export function feedSink(sink: OutcomeSink, outcomes$: Observable<PartOutcome>, log: Logger): Subscription {
  return outcomes$.subscribe((outcome) => {
    try {
      sink.receive(outcome);
    } catch (err) {
      log.error({ sink: sink.name, part: outcome.partId, err: (err as Error).message }, `sink ${sink.name} failed on a part`);
    }
  });
}
