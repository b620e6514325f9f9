// One line per part in the daemon's log (the journal under systemd): what an operator reads with
// `journalctl -u inspector@STATION`. Placed after the MQTT verdict sink, so a verdict in the
// journal is a verdict on disk, even if the process is killed between the two.
import type { Logger } from "pino";

import type { PartOutcome } from "../pipeline/part.js";
import type { OutcomeSink } from "./outcome-sink.js";

export class JournalSink implements OutcomeSink {
  readonly name = "journal";

  constructor(private readonly log: Logger) {}

  start(): void {}

  receive(o: PartOutcome): void {
    const line = { part: o.partId, verdict: o.verdict, score: o.score === null ? null : Number(o.score.toFixed(3)),
      code: o.code ?? undefined, regions: o.regions.length || undefined, truth: o.frame?.truth, ms: o.latencyMs.total && Math.round(o.latencyMs.total) };
    if (o.verdict === "ERROR") this.log.warn(line, `ERROR ${o.code}: ${o.message}`);
    else this.log.info(line, `${o.verdict.padEnd(9)} part ${o.partId}  score ${o.score!.toFixed(2)}`);
  }

  stop(): void {}
}
