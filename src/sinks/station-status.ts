// The retained …/status topic: online, degraded (the camera is lost, or verdicts cannot be written
// to disk) or offline (stopped, or the
// broker's Last Will when the daemon vanished), with what is running. Republished on every change
// and on every (re)connect, since a broker restart may have lost the retained copy.
import type { MqttClient } from "mqtt";
import type { Logger } from "pino";
import type { Observable } from "rxjs";

import type { SourceHealth } from "../sources/frame-source.js";

export type StationState = "online" | "degraded" | "offline";

export interface StatusFacts {
  station: string;
  version: string;
  bundle: string;
  calibration: string | null;
  provider: string;
  source: string;
}

export interface StatusPayload extends StatusFacts {
  state: StationState;
  reason: string | null;
  since: string;
}

export function offlinePayload(facts: StatusFacts, reason: string): string {
  return JSON.stringify({ ...facts, state: "offline", reason, since: null });
}

export class StationStatus {
  private payload: StatusPayload;
  /** What is wrong, by part of the station: degraded while any is. */
  private readonly problems = new Map<string, string>();

  constructor(private readonly client: MqttClient, private readonly topic: string, private facts: StatusFacts) {
    this.payload = { ...facts, state: "online", reason: null, since: new Date().toISOString() };
    client.on("connect", () => this.publish());
  }

  /** The state and its reason as last published. */
  get current(): { state: StationState; reason: string | null } {
    return { state: this.payload.state, reason: this.payload.reason };
  }

  problem(part: string): string | undefined {
    return this.problems.get(part);
  }

  /** A part of the station ("source", "spool") went wrong (a reason) or is fine again (null). */
  setProblem(part: string, reason: string | null): void {
    if (reason === null) this.problems.delete(part);
    else this.problems.set(part, reason);
    const reasons = [...this.problems.values()];
    this.set(reasons.length > 0 ? "degraded" : "online", reasons.length > 0 ? reasons.join("; ") : null);
  }

  private set(state: StationState, reason: string | null): void {
    if (state === this.payload.state && reason === this.payload.reason) return;
    this.payload = { ...this.facts, state, reason, since: new Date().toISOString() };
    this.publish();
  }

  /** A lost camera makes the station degraded, not dead; said once each way (none while `stopping()`). */
  follow(health$: Observable<SourceHealth>, stopping: () => boolean, log: Logger): void {
    health$.subscribe((health) => {
      if (stopping()) return;
      if (health.ok && this.problem("source")) log.info("source is back");
      if (!health.ok) log.warn({ reason: health.reason }, "source lost: station degraded, reconnecting");
      this.setProblem("source", health.ok ? null : health.reason ?? "source lost");
    });
  }

  /** What runs changed (a reload): republished at once, the state kept. */
  update(facts: Partial<StatusFacts>): void {
    this.facts = { ...this.facts, ...facts };
    this.payload = { ...this.payload, ...facts };
    this.publish();
  }

  private publish(): void {
    if (this.client.connected) this.client.publish(this.topic, JSON.stringify(this.payload), { qos: 1, retain: true });
  }

  /** The last word before a clean stop, acknowledged before the connection closes. */
  async publishOffline(reason: string): Promise<void> {
    this.payload = { ...this.facts, state: "offline", reason, since: new Date().toISOString() };
    if (this.client.connected) await this.client.publishAsync(this.topic, JSON.stringify(this.payload), { qos: 1, retain: true });
  }
}
