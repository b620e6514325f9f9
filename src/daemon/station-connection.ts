// The station's MQTT side as one part of the daemon: the embedded broker when no mqtt.url is set,
// the client (its Last Will says offline when the daemon vanishes), and the retained status. Once
// the sinks listen, the daemon waits a moment for the broker, so that a normal start loses no
// heatmap; a broker that stays away does not hold the station up (verdicts are spooled). The stop says offline, acknowledged,
// before the connection closes.
import { randomBytes } from "node:crypto";

import type { MqttClient } from "mqtt";
import type { Logger } from "pino";
import { firstValueFrom, fromEvent, race, timer, type Observable } from "rxjs";

import type { DaemonConfig } from "../config/daemon-config.js";
import { type EmbeddedBroker, startEmbeddedBroker } from "../mqtt/embedded-broker.js";
import { connectMqtt } from "../mqtt/mqtt-connection.js";
import { offlinePayload, StationStatus, type StatusFacts } from "../sinks/station-status.js";

const FIRST_CONNECT_WAIT_MS = 5_000;

export class StationConnection {
  private broker?: EmbeddedBroker;
  /** The broker's address: mqtt.url, or the embedded broker's once it runs. */
  url = "";
  private session?: { client: MqttClient; status: StationStatus };

  constructor(private readonly config: DaemonConfig["mqtt"], private readonly statusTopic: string,
    private readonly log: Logger) {}

  /** Connects (in the background: a broker that is away does not hold the start up). */
  async start(facts: StatusFacts): Promise<void> {
    let url = this.config.url;
    if (!url) {
      this.broker = await startEmbeddedBroker(this.config.embedded.host, this.config.embedded.port);
      url = this.broker.url;
      this.log.info({ broker: url }, `no mqtt.url configured: started the embedded MQTT broker on ${url}`);
    }
    this.url = url;
    const client = connectMqtt(this.config, {
      // aedes speaks 3.1.1 only; an external broker is asked for MQTT 5 first unless told otherwise.
      url, protocolVersion: this.config.protocolVersion ?? (this.broker ? 4 : "auto"),
      clientId: this.config.clientId ?? `inspector-${facts.station}-${randomBytes(3).toString("hex")}`,
      willTopic: this.statusTopic, willPayload: offlinePayload(facts, "connection lost"),
    }, this.log);
    this.session = { client, status: new StationStatus(client, this.statusTopic, facts) };
  }

  /**
   * Waits up to 5 s for the broker, once the sinks listen to the connection (the verdict sink
   * must see the first CONNACK and send what an earlier run left spooled); `stop$` ends it early.
   */
  async firstConnection(stop$: Observable<unknown>): Promise<void> {
    const client = this.client;
    if (client.connected) return;
    await firstValueFrom(race(fromEvent(client, "connect"), timer(FIRST_CONNECT_WAIT_MS), stop$), { defaultValue: undefined });
  }

  get client(): MqttClient {
    if (!this.session) throw new Error("the station's MQTT connection is not started");
    return this.session.client;
  }

  get connected(): boolean {
    return this.session?.client.connected ?? false;
  }

  /** Undefined before the start: problems found then are logged only. */
  get status(): StationStatus | undefined {
    return this.session?.status;
  }

  async stop(reason: string): Promise<void> {
    const { client, status } = this.session ?? {};
    try {
      if (client?.connected) await status?.publishOffline(reason);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "could not publish the offline status");
    }
    await client?.endAsync().catch(() => undefined);
    await this.broker?.close();
  }
}
