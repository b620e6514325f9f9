// Delivers verdicts from the spool to the broker at QoS 1, in order, up to mqtt.maxInflight of them
// sent and not yet acknowledged (as Paho's max_inflight and mosquitto's max_inflight_messages): one
// at a time, a broker 20 ms away would take at most 50 verdicts a second, and a backlog after an
// outage would hold the current verdicts back for as long. Order holds: one TCP stream carries them
// in order, the broker acknowledges QoS 1 in the order received, the spool is acknowledged strictly
// in order, and after a lost connection mqtt.js sends the unacknowledged ones again, in order,
// before anything new.
// The window opens as TCP's slow start does: one in flight on a fresh connection and whenever
// nothing waits, one more with each acknowledgement while verdicts wait. A broker stopped while
// verdicts are in flight may have acknowledged some it never passes on (mosquitto 2.0.11 on SIGTERM
// loses those it is forwarding at that instant: 20 at once with a fixed window of 20, in a test);
// a line that keeps up then has one in flight, and only a backlog is sent many at a time.
import { performance } from "node:perf_hooks";

import type { MqttClient } from "mqtt";
import type { Logger } from "pino";

import { brokerRefusal, REFUSAL_RETRY_MS } from "../mqtt/mqtt-connection.js";
import type { VerdictSpool } from "./verdict-spool.js";

export interface PublisherOptions {
  maxInflight: number;
  /** Called with a reason when the broker starts refusing verdicts (PUBACK reason code), null when it takes them again. */
  onRefused?: (problem: string | null) => void;
}

export class VerdictPublisher {
  private sending = false;
  private waiters: (() => void)[] = [];
  delivered = 0;
  private receiveMaximum = Infinity;
  /** Grows while verdicts wait, back to one when none does and on each new connection. */
  private congestionWindow = 1;
  /** Sent and not yet acknowledged, oldest first: always the spool's first entries, in its order. */
  private readonly inFlight: { acknowledged: Promise<unknown>; started: number }[] = [];
  /** Called with the time from PUBLISH to PUBACK of each verdict (for `inspector bench`). */
  onAcknowledged?: (ms: number) => void;

  /** Why the broker refused the last verdict offered, while it does. */
  private refusal: string | null = null;
  private retry?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly client: MqttClient, private readonly spool: VerdictSpool, private readonly verdictTopic: string,
    private readonly options: PublisherOptions, private readonly log: Logger) {
    // Read from the CONNACK itself: "connect" comes only after mqtt.js has sent the unacknowledged ones again.
    client.on("packetreceive", (packet) => {
      if (packet.cmd !== "connack") return;
      this.receiveMaximum = packet.properties?.receiveMaximum ?? Infinity;
      this.congestionWindow = 1;
    });
    client.on("connect", () => void this.flush());
  }

  /** Sends what the spool holds, as the window allows; call after each append. */
  send(): void {
    void this.flush();
  }

  /** An MQTT 5 broker may allow fewer unacknowledged messages (Receive Maximum); sending more is a protocol error. */
  private window(): number {
    return Math.min(this.options.maxInflight, this.receiveMaximum, this.congestionWindow);
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
    if (this.closed) return;
    if (this.retry) return; // the broker refused the first: it is offered again when the timer says
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
        // Closed while waiting: the spool may be closed too, and keeps this one for the next start.
        if (this.closed) return;
        // Only now out of the window: until then the spool still holds it first, where fill() counts it.
        this.inFlight.shift();
        this.spool.acknowledge();
        this.congestionWindow = this.spool.length > this.inFlight.length ? Math.min(this.congestionWindow + 1, this.options.maxInflight) : 1;
        this.onAcknowledged?.(performance.now() - oldest.started);
        this.delivered++;
        if (this.refusal !== null) {
          this.refusal = null;
          this.options.onRefused?.(null);
        }
      }
    } catch (err) {
      // Still spooled, with any sent after it: sent again (QoS 1 allows duplicates, recognisable by part
      // id and seq). A lost connection fails only those mqtt.js had not sent yet, so none after it got
      // through; a refusal may have been followed by acceptances, which then arrive twice and before it.
      const code = (err as { code?: unknown }).code;
      if (typeof code === "number" && code >= 0x80) this.refused(err as Error, code);
      else this.log.debug({ err: (err as Error).message }, "verdict delivery interrupted");
      this.inFlight.length = 0;
    } finally {
      this.sending = false;
    }
    if (this.spool.length === 0) for (const resolve of this.waiters.splice(0)) resolve();
  }

  /**
   * A PUBACK with an error reason code (MQTT 5: not authorized, quota exceeded, …): the verdict is
   * kept, said once, and offered again later — sending it again at once would only be refused again,
   * and every verdict after it waits behind it.
   */
  private refused(err: Error, code: number): void {
    const problem = brokerRefusal(`verdicts on ${this.verdictTopic}`, err, code, "they stay spooled");
    if (this.refusal === null) {
      this.refusal = problem;
      this.options.onRefused?.(problem);
    }
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.flush();
    }, REFUSAL_RETRY_MS);
  }

  /** No more sending or acknowledging: what is still spooled stays for the next start. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  /** Resolves when every spooled verdict has been acknowledged. */
  drained(): Promise<void> {
    if (this.spool.length === 0 && !this.sending) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
