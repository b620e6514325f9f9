// The station's subscription to its trigger topic. A broker may refuse it (SUBACK failure: its ACL
// does not let the station's user read there): then no part can ever be triggered, so the station
// says so (status degraded, one error line) and asks again every few seconds until the broker
// grants it — a fixed ACL then needs no restart. A subscription lost with the connection is
// renewed by mqtt.js itself on reconnecting.
import type { MqttClient } from "mqtt";
import { filter, fromEvent, map, type Observable } from "rxjs";

import type { ProblemReporter } from "../errors/problem-reporter.js";
import { brokerRefusal, REFUSAL_RETRY_MS } from "../mqtt/mqtt-connection.js";

export class TriggerSubscription {
  private retry?: NodeJS.Timeout;
  private refusal: string | null = null;
  private closed = false;

  /** The payloads published on the trigger topic, one per part. */
  readonly payloads$: Observable<Buffer>;

  private readonly onProblem: (problem: string | null) => void;

  /** Says when the broker refuses, and when it grants after all. */
  constructor(private readonly client: MqttClient, private readonly topic: string, reporter: ProblemReporter) {
    this.onProblem = reporter("triggers", { topic }, "allow the station's client to subscribe there (the broker's ACL)",
      "the broker grants the trigger subscription");
    this.payloads$ = fromEvent(client, "message", (topic: string, payload: Buffer) => ({ topic, payload })).pipe(
      // Subscribed to the trigger topic only; anything else a broker might deliver is ignored.
      filter((m) => m.topic === this.topic),
      map((m) => m.payload),
    );
  }

  start(): void {
    if (this.closed) return;
    this.client.subscribe(this.topic, { qos: 1 }, (err) => {
      if (this.closed) return;
      if (!err) {
        if (this.refusal !== null) this.onProblem(this.refusal = null);
        return;
      }
      // mqtt.js passes the SUBACK on, not the failing reason code itself.
      const code = (err as { packet?: { granted?: number[] } }).packet?.granted?.find((granted) => (granted & 0x80) !== 0);
      if (code !== undefined) {
        if (this.refusal === null) {
          this.onProblem(this.refusal = brokerRefusal(`the subscription to the trigger topic ${this.topic}`, err, code,
            "no part can be triggered until it allows it"));
        }
        this.retry = setTimeout(() => this.start(), REFUSAL_RETRY_MS);
        return;
      }
      // The connection went before the answer: asked again once it is back (not on a timer, which
      // would pile subscriptions up in mqtt.js's offline queue through a long outage).
      this.client.once("connect", () => this.start());
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
  }
}
