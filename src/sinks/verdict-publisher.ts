// Delivers verdicts from the spool to the broker at QoS 1, in order, up to mqtt.maxInflight of them
// sent and not yet acknowledged (as Paho's max_inflight and mosquitto's max_inflight_messages): one
// at a time, a broker 20 ms away would take at most 50 verdicts a second, and a backlog after an
// outage would hold the current verdicts back for as long. Order holds: one TCP stream carries them
// in order, the broker acknowledges QoS 1 in the order received, the spool is acknowledged strictly
// in order, and after a lost connection mqtt.js sends the unacknowledged ones again, in order,
// before anything new. Heatmaps go out directly (they are large and only illustrate the verdict)
// and only while connected.
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
  private receiveMaximum = Infinity;
  /** Sent and not yet acknowledged, oldest first: always the spool's first entries, in its order. */
  private readonly inFlight: { acknowledged: Promise<unknown>; started: number }[] = [];
  /** Called with the time from PUBLISH to PUBACK of each verdict (for `inspector bench`). */
  onAcknowledged?: (ms: number) => void;

  constructor(private readonly client: MqttClient, private readonly spool: VerdictSpool, private readonly verdictTopic: string,
    private readonly limits: { maxHeatmapBytes: number; maxInflight: number }, private readonly log: Logger) {
    // Read from the CONNACK itself: "connect" comes only after mqtt.js has sent the unacknowledged ones again.
    client.on("packetreceive", (packet) => {
      if (packet.cmd === "connack") this.receiveMaximum = packet.properties?.receiveMaximum ?? Infinity;
    });
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
    for (let i = 0; image.length > this.limits.maxHeatmapBytes && i < MAX_SHRINKS; i++) {
      const decoded = cv.imdecode(image);
      const smaller = decoded.resize(Math.max(1, Math.round(decoded.rows / 2)), Math.max(1, Math.round(decoded.cols / 2)));
      image = cv.imencode(format === "png" ? ".png" : ".jpg", smaller);
    }
    if (image.length <= this.limits.maxHeatmapBytes) return image;
    this.log.warn({ bytes: data.length, cap: this.limits.maxHeatmapBytes }, "heatmap too large for mqtt.maxHeatmapBytes even shrunk; not sent");
    return undefined;
  }

  /** An MQTT 5 broker may allow fewer unacknowledged messages (Receive Maximum); sending more is a protocol error. */
  private window(): number {
    return Math.min(this.limits.maxInflight, this.receiveMaximum);
  }

  /** Sends spooled verdicts not yet sent while the window has room. */
  private fill(): void {
    for (let next = this.spool.peek(this.inFlight.length); next && this.client.connected && this.inFlight.length < this.window();
      next = this.spool.peek(this.inFlight.length)) {
      const acknowledged = this.client.publishAsync(next.topic, next.payload, { qos: 1 });
      // Awaited in order by flush(); one failing while an older one is awaited must not go unhandled.
      acknowledged.catch(() => undefined);
      this.inFlight.push({ acknowledged, started: performance.now() });
    }
  }

  private async flush(): Promise<void> {
    if (this.sending) {
      this.fill();
      return;
    }
    this.sending = true;
    try {
      for (;;) {
        this.fill();
        // Disconnected with some in flight: mqtt.js sends them again on reconnecting, and this waits for that.
        const oldest = this.inFlight[0];
        if (!oldest) break;
        await oldest.acknowledged;
        // Only now out of the window: until then the spool still holds it first, where fill() counts it.
        this.inFlight.shift();
        this.spool.acknowledge();
        this.onAcknowledged?.(performance.now() - oldest.started);
        this.delivered++;
      }
    } catch (err) {
      // Still spooled, with any sent after it: sent again (QoS 1 allows duplicates, recognisable by part
      // id and seq) on the next connect. mqtt.js fails only those it had not sent yet, so none after it got through.
      this.log.debug({ err: (err as Error).message }, "verdict delivery interrupted");
      this.inFlight.length = 0;
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
