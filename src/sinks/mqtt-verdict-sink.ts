// The verdict topic, at least once: every outcome is numbered (seq), encoded as the JSON of
// docs/mqtt.md, written to the spool and delivered from there at QoS 1 (verdict-publisher.ts); its
// heatmap goes out beside it at QoS 0, only while connected (large, and it only illustrates the
// verdict). The only place that knows the verdict's topics and payload.
import type { MqttClient } from "mqtt";
import type { Logger } from "pino";

import { inStateDir } from "../config/daemon-config.js";
import { protocolOf } from "../mqtt/mqtt-connection.js";
import type { StationTopics } from "../mqtt/topics.js";
import { cv } from "../native/opencv.js";
import type { EncodedImage, PartOutcome } from "../pipeline/part.js";
import type { ProblemReporter } from "../errors/problem-reporter.js";
import type { OutcomeSink } from "./outcome-sink.js";
import { type HeatmapReference, verdictMessage } from "./verdict-message.js";
import { VerdictPublisher } from "./verdict-publisher.js";
import { VerdictSpool } from "./verdict-spool.js";

const MAX_SHRINKS = 4;

export interface VerdictSinkOptions {
  stateDir: string;
  station: string;
  maxHeatmapBytes: number;
  maxInflight: number;
  /** How long a stop waits for the broker to take the spooled verdicts (they stay spooled after). */
  drainTimeoutMs: number;
  reporter: ProblemReporter;
  /** Sees the PUBLISH → PUBACK time of every verdict (`inspector bench`). */
  onAcknowledged?: (ms: number) => void;
}

export interface VerdictSinkStats {
  delivered: number;
  /** On disk, waiting for the broker (those in memory only are not counted: they are lost with the process). */
  spooled: number;
  lost: number;
  heatmapsSkipped: number;
}

export class MqttVerdictSink implements OutcomeSink {
  readonly name = "mqtt verdicts";
  private spool?: VerdictSpool;
  private publisher?: VerdictPublisher;
  private seq = 0;
  private heatmapsSkipped = 0;

  constructor(private readonly client: MqttClient, private readonly topics: StationTopics,
    private readonly options: VerdictSinkOptions, private readonly log: Logger) {}

  start(): void {
    const { stateDir, station } = this.options;
    // A full disk found while the spool opens already makes the station degraded.
    const onDiskProblem = this.options.reporter("spool", { stateDir }, `free space in ${stateDir}; until then verdicts live in memory ` +
      "only, lost if the daemon stops before the broker has them", "the verdict spool is written to disk again");
    const spool = this.spool = inStateDir(stateDir, () => new VerdictSpool(stateDir, station, { onDiskProblem }));
    const recovered = spool.recovered;
    if (recovered.pending || recovered.tornBytes || recovered.unreadable) {
      this.log.warn({ ...recovered, stateDir }, `${recovered.pending} undelivered verdict(s) from an earlier run will be delivered first`);
    }
    this.publisher = new VerdictPublisher(this.client, spool, this.topics.verdict,
      { maxInflight: this.options.maxInflight, onRefused: this.options.reporter("delivery", { topic: this.topics.verdict },
        "allow the station's client to publish there (the broker's ACL)", "the broker takes verdicts again") }, this.log);
    this.publisher.onAcknowledged = this.options.onAcknowledged;
    // Already connected (a sink started late): what an earlier run left goes out now, not with the next part.
    this.publisher.send();
  }

  receive(outcome: PartOutcome): void {
    const seq = ++this.seq;
    const heatmap = outcome.heatmap && this.sendHeatmap(outcome, outcome.heatmap, seq);
    const payload = Buffer.from(JSON.stringify(verdictMessage(outcome, seq, heatmap ?? null)), "utf8");
    this.spool!.append({ topic: this.topics.verdict, payload });
    this.publisher!.send();
  }

  /** Where the heatmap went, or null: the verdict then says so rather than point at a picture that never came. */
  private sendHeatmap(outcome: PartOutcome, heatmap: EncodedImage, seq: number): HeatmapReference | null {
    const data = this.client.connected ? this.fitted(heatmap) : undefined;
    if (!data) {
      this.heatmapsSkipped++;
      return null;
    }
    const protocol = protocolOf(this.client);
    const topic = this.topics.heatmap(outcome.partId ?? "", protocol);
    this.client.publish(topic, data, {
      qos: 0,
      properties: protocol === 5 ? {
        contentType: heatmap.format === "png" ? "image/png" : "image/jpeg",
        userProperties: { partId: outcome.partId ?? "", seq: String(seq) },
      } : undefined,
    });
    return { topic, format: heatmap.format, bytes: data.length };
  }

  /** Shrinks a heatmap until it fits the size cap; undefined when it cannot. */
  private fitted({ data, format }: EncodedImage): Buffer | undefined {
    let image = data;
    for (let i = 0; image.length > this.options.maxHeatmapBytes && i < MAX_SHRINKS; i++) {
      const decoded = cv.imdecode(image);
      const smaller = decoded.resize(Math.max(1, Math.round(decoded.rows / 2)), Math.max(1, Math.round(decoded.cols / 2)));
      image = cv.imencode(format === "png" ? ".png" : ".jpg", smaller);
    }
    if (image.length <= this.options.maxHeatmapBytes) return image;
    this.log.warn({ bytes: data.length, cap: this.options.maxHeatmapBytes }, "heatmap too large for mqtt.maxHeatmapBytes even shrunk; not sent");
    return undefined;
  }

  get stats(): VerdictSinkStats {
    return { delivered: this.publisher?.delivered ?? 0, spooled: (this.spool?.length ?? 0) - (this.spool?.inMemoryOnly ?? 0),
      lost: this.spool?.lost ?? 0, heatmapsSkipped: this.heatmapsSkipped };
  }

  /**
   * Connected or not: a broker that is just coming back (a restart, a short outage) still gets the
   * spooled verdicts before the daemon leaves; one that stays away costs at most the drain timeout.
   */
  async stop(): Promise<void> {
    const { publisher, spool } = this;
    if (!publisher || !spool) return;
    if (spool.length > 0) {
      const timeout = this.options.drainTimeoutMs;
      if (!this.client.connected) this.log.info({ spooled: spool.length, waitMs: timeout }, "waiting for the broker to take the spooled verdicts");
      await Promise.race([publisher.drained(), new Promise((resolve) => setTimeout(resolve, timeout).unref())]);
    }
    publisher.close();
    const stateDir = this.options.stateDir;
    if (spool.inMemoryOnly) {
      this.log.error({ lost: spool.inMemoryOnly, stateDir }, `${spool.inMemoryOnly} verdict(s) the disk refused and the broker did not take are lost`);
    }
    if (spool.lost) {
      this.log.error({ lost: spool.lost, stateDir }, `${spool.lost} verdict(s) were lost while running: the disk refused them and memory held its most`);
    }
    spool.close();
  }
}
