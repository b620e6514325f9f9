// Delivers verdicts from the spool to the broker one at a time at QoS 1, in order: the next is
// sent once the previous is acknowledged, so an outage can reorder nothing. Heatmaps go out
// directly (they are large and only illustrate the verdict) and only while connected.
import { performance } from "node:perf_hooks";

import type { MqttClient } from "mqtt";
import type { Logger } from "pino";

import { cv } from "../preprocess/opencv.js";
import type { PartOutcome } from "../pipeline/part.js";
import { protocolOf } from "./mqtt-connection.js";
import type { VerdictSpool } from "./verdict-spool.js";

const MAX_SHRINKS = 4;

export class VerdictPublisher {
  private sending = false;
  private waiters: (() => void)[] = [];
  delivered = 0;
  heatmapsSkipped = 0;
  /** Called with the time from PUBLISH to PUBACK of each verdict (for `inspector bench`). */
  onAcknowledged?: (ms: number) => void;

  constructor(private readonly client: MqttClient, private readonly spool: VerdictSpool, private readonly verdictTopic: string,
    private readonly maxHeatmapBytes: number, private readonly log: Logger) {
    client.on("connect", () => void this.flush());
  }

  submit(outcome: PartOutcome): void {
    const message = outcome.message;
    if (outcome.heatmap && message.heatmap) {
      const data = this.fitted(outcome.heatmap.data, outcome.heatmap.format);
      if (this.client.connected && data) {
        message.heatmap.bytes = data.length;
        this.client.publish(message.heatmap.topic, data, {
          qos: 0,
          properties: protocolOf(this.client) === 5 ? {
            contentType: message.heatmap.format === "png" ? "image/png" : "image/jpeg",
            userProperties: { partId: message.partId ?? "", seq: String(message.seq) },
          } : undefined,
        });
      } else {
        // The verdict says so rather than pointing at a picture that never came.
        message.heatmap = null;
        this.heatmapsSkipped++;
      }
    }
    this.spool.append({ topic: this.verdictTopic, payload: JSON.stringify(message) });
    void this.flush();
  }

  /** Shrinks a heatmap until it fits the size cap; undefined when it cannot. */
  private fitted(data: Buffer, format: "jpeg" | "png"): Buffer | undefined {
    let image = data;
    for (let i = 0; image.length > this.maxHeatmapBytes && i < MAX_SHRINKS; i++) {
      const decoded = cv.imdecode(image);
      const smaller = decoded.resize(Math.max(1, Math.round(decoded.rows / 2)), Math.max(1, Math.round(decoded.cols / 2)));
      image = cv.imencode(format === "png" ? ".png" : ".jpg", smaller);
    }
    if (image.length <= this.maxHeatmapBytes) return image;
    this.log.warn({ bytes: data.length, cap: this.maxHeatmapBytes }, "heatmap too large for mqtt.maxHeatmapBytes even shrunk; not sent");
    return undefined;
  }

  private async flush(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      for (let next = this.spool.peek(); next && this.client.connected; next = this.spool.peek()) {
        const started = performance.now();
        await this.client.publishAsync(next.topic, next.payload, { qos: 1 });
        this.spool.acknowledge();
        this.onAcknowledged?.(performance.now() - started);
        this.delivered++;
      }
    } catch (err) {
      // Still spooled: sent again (QoS 1 allows a duplicate, recognisable by part id and seq) on the next connect.
      this.log.debug({ err: (err as Error).message }, "verdict delivery interrupted");
    } finally {
      this.sending = false;
    }
    if (this.spool.length === 0) for (const resolve of this.waiters.splice(0)) resolve();
  }

  /** Resolves when every spooled verdict has been acknowledged. */
  drained(): Promise<void> {
    if (this.spool.length === 0 && !this.sending) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
