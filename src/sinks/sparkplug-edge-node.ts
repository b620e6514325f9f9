// A Sparkplug B 3.0 edge node for SCADA (Ignition and the like): group / edge node / one device
// per station, on its own MQTT connection (its Last Will is the NDEATH). On every connection:
// NBIRTH (bdSeq, Node Control/Rebirth) and DBIRTH with every metric and its alias, then a DDATA
// per part; seq runs 0–255 over NBIRTH, DBIRTH and DATA and wraps; bdSeq counts connections and
// the NDEATH carries the one of its NBIRTH. With a primary host configured, births wait for its
// STATE to say online. NDATA/DDATA are QoS 0 as the specification says: this is the view for
// dashboards and historians; the verdict topic stays the at-least-once channel.
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { createRequire } from "node:module";

import type { MqttClient } from "mqtt";
import type { Logger } from "pino";

import type { DaemonConfig } from "../config/daemon-config.js";
import { connectMqtt } from "../mqtt/mqtt-connection.js";
import type { PartOutcome } from "../pipeline/part.js";
import type { OutcomeSink } from "./outcome-sink.js";

type MetricType = "String" | "Double" | "Int32" | "UInt64" | "Boolean";
interface Metric {
  name?: string;
  alias?: number;
  timestamp?: number;
  type: MetricType;
  value: string | number | boolean;
}
interface Payload {
  timestamp?: number;
  seq?: number;
  metrics?: Metric[];
}
interface Codec {
  encodePayload(payload: Payload): Uint8Array;
  decodePayload(bytes: Uint8Array): { metrics?: { name?: string; alias?: unknown; value?: unknown }[] };
}

// Eclipse Tahu's codec (protobufjs): CommonJS, loaded only when Sparkplug is enabled.
const codec = (): Codec => (createRequire(import.meta.url)("sparkplug-payload") as { get(ns: string): Codec }).get("spBv1.0");

const NAMESPACE = "spBv1.0";
const REBIRTH = "Node Control/Rebirth";

/** The device's metrics, in alias order: what a DBIRTH announces and a DDATA updates. */
const DEVICE_METRICS: { name: string; type: MetricType }[] = [
  { name: "PartId", type: "String" }, { name: "Verdict", type: "String" }, { name: "Score", type: "Double" },
  { name: "Code", type: "String" }, { name: "RegionCount", type: "Int32" }, { name: "LatencyMs", type: "Double" },
  { name: "Counters/OK", type: "UInt64" }, { name: "Counters/NG", type: "UInt64" }, { name: "Counters/UNCERTAIN", type: "UInt64" },
  { name: "Counters/ERROR", type: "UInt64" }, { name: "Model/Bundle", type: "String" }, { name: "Model/Calibration", type: "String" },
  { name: "Heatmap", type: "String" },
];
/** Aliases 1 and 2 are the node's (bdSeq has none: it is read by name in NDEATH). */
const ALIAS_BASE = 10;

export interface SparkplugNeeds {
  config: DaemonConfig["sparkplug"];
  mqtt: DaemonConfig["mqtt"];
  station: string;
  /** The broker (the embedded one's address is known only once it runs). */
  url: () => string;
  /** Where a part's heatmap can be fetched (the station page), or "" when nowhere. */
  heatmapUrl: (partId: string) => string;
  /** The bundle and calibration ids before any part (a reload changes them). */
  model: () => { bundle: string; calibration: string | null };
}

export class SparkplugEdgeNode implements OutcomeSink {
  readonly name = "sparkplug";
  private client?: MqttClient;
  private readonly codec = codec();
  private readonly group: string;
  private readonly node: string;
  private readonly device: string;
  /** Counts connections, 0–255: the NDEATH of a connection carries the bdSeq of its NBIRTH. */
  private bdSeq = 0;
  private seq = 0;
  private born = false;
  private hostOnline: boolean;
  private hostStateAt = 0;
  private readonly counters = { OK: 0, NG: 0, UNCERTAIN: 0, ERROR: 0 };
  private last: Record<string, string | number> = {};

  constructor(private readonly needs: SparkplugNeeds, private readonly log: Logger) {
    this.group = needs.config.groupId;
    // One daemon per station: by default each is an edge node of its own (HOST_STATION), so two
    // stations on one machine never share a bdSeq, a seq or an NDEATH.
    this.node = needs.config.edgeNodeId ?? `${hostname()}_${needs.station}`.replace(/[/#+\s]/g, "_").slice(0, 64);
    this.device = needs.station;
    this.hostOnline = needs.config.primaryHostId === undefined;
  }

  /** Unique per edge node and device, within MQTT's 64 characters: a hash when the names are long. */
  private clientId(): string {
    const plain = `inspector-sparkplug-${this.node}-${this.device}`;
    return plain.length <= 64 ? plain : `inspector-sparkplug-${createHash("sha256").update(plain).digest("hex").slice(0, 32)}`;
  }

  private topic(type: string, device = false): string {
    return `${NAMESPACE}/${this.group}/${type}/${this.node}${device ? `/${this.device}` : ""}`;
  }

  private ndeath(): Buffer {
    return Buffer.from(this.codec.encodePayload({ timestamp: Date.now(), metrics: [{ name: "bdSeq", type: "UInt64", value: this.bdSeq }] }));
  }

  start(): void {
    const model = this.needs.model();
    this.last = { PartId: "", Verdict: "", Score: 0, Code: "", RegionCount: 0, LatencyMs: 0, "Model/Bundle": model.bundle,
      "Model/Calibration": model.calibration ?? "", Heatmap: "" };
    const client = this.client = connectMqtt(this.needs.mqtt, {
      url: this.needs.url(), protocolVersion: 4, clientId: this.clientId(),
      willTopic: this.topic("NDEATH"), willPayload: this.ndeath(), willRetain: false,
      lostMeans: "the Sparkplug view pauses (NDEATH); the verdict topic is unaffected",
    }, this.log);
    client.on("connect", () => {
      this.born = false;
      const subscriptions = [this.topic("NCMD"), this.topic("DCMD", true)];
      if (this.needs.config.primaryHostId) subscriptions.push(`${NAMESPACE}/STATE/${this.needs.config.primaryHostId}`);
      client.subscribe(subscriptions, { qos: 1 }, () => { if (!this.born) this.birth(); });
    });
    // Every CONNECT carries the next bdSeq in its Will (Sparkplug 3.0: one more than the previous
    // CONNECT's), failed attempts included; the NBIRTH of the connection that succeeds says the same.
    client.on("close", () => {
      this.born = false;
      // A new session learns the primary host's state again (its retained STATE comes with the subscription).
      if (this.needs.config.primaryHostId !== undefined) this.hostOnline = false;
      this.bdSeq = (this.bdSeq + 1) % 256;
      if (client.options.will) client.options.will.payload = this.ndeath();
    });
    client.on("message", (topic, payload) => this.command(topic, payload));
  }

  /** NBIRTH then DBIRTH, seq from 0, once the primary host (if any) is online. */
  private birth(): void {
    const client = this.client;
    if (!client?.connected || !this.hostOnline) return;
    const now = Date.now();
    this.seq = 0;
    client.publish(this.topic("NBIRTH"), Buffer.from(this.codec.encodePayload({ timestamp: now, seq: this.nextSeq(), metrics: [
      { name: "bdSeq", type: "UInt64", value: this.bdSeq },
      { name: REBIRTH, alias: 1, type: "Boolean", value: false },
    ] })), { qos: 0 });
    client.publish(this.topic("DBIRTH", true), Buffer.from(this.codec.encodePayload({ timestamp: now, seq: this.nextSeq(),
      metrics: DEVICE_METRICS.map((m, i) => ({ name: m.name, alias: ALIAS_BASE + i, type: m.type, timestamp: now, value: this.value(m.name) })) })),
    { qos: 0 });
    this.born = true;
    this.log.info({ group: this.group, node: this.node, device: this.device, bdSeq: this.bdSeq }, "Sparkplug births published");
  }

  private nextSeq(): number {
    const seq = this.seq;
    this.seq = (this.seq + 1) % 256;
    return seq;
  }

  private value(name: string): string | number {
    if (name.startsWith("Counters/")) return this.counters[name.slice(9) as keyof typeof this.counters];
    return this.last[name] ?? "";
  }

  /** NCMD Node Control/Rebirth, and a primary host's STATE; anything else is refused in the log, the station judges on. */
  private command(topic: string, payload: Buffer): void {
    if (topic.startsWith(`${NAMESPACE}/STATE/`)) {
      let online = false;
      let newer = false;
      try {
        const state = JSON.parse(payload.toString("utf8")) as { online?: unknown; timestamp?: unknown };
        // An older STATE than one already seen (a retained copy overtaken by a live one) is stale.
        const timestamp = typeof state.timestamp === "number" ? state.timestamp : 0;
        if (timestamp < this.hostStateAt) return;
        newer = timestamp > this.hostStateAt;
        this.hostStateAt = timestamp;
        online = state.online === true;
      } catch {
        this.log.warn({ topic }, "Sparkplug: a primary host STATE that is not JSON {\"online\": …}; taken as offline");
      }
      this.hostOnline = online;
      // A host that says online anew has (re)connected and may have missed the births: born again for it.
      if (online && (newer || !this.born)) this.birth();
      if (!online) this.born = false;
      return;
    }
    let metrics: { name?: string; alias?: unknown; value?: unknown }[];
    try {
      metrics = this.codec.decodePayload(payload).metrics ?? [];
    } catch (err) {
      this.log.warn({ topic, err: (err as Error).message }, "Sparkplug: a command that is not a Sparkplug B payload; ignored");
      return;
    }
    for (const metric of metrics) {
      const alias = metric.alias === undefined || metric.alias === null ? undefined : Number(metric.alias);
      if (topic === this.topic("NCMD") && (metric.name === REBIRTH || alias === 1)) {
        if (metric.value === true) this.birth();
        continue;
      }
      this.log.warn({ topic, metric: metric.name ?? `alias ${alias}` }, `Sparkplug: unknown command metric ${JSON.stringify(metric.name ?? alias)}; ` +
        `this edge node takes only "${REBIRTH}" (NCMD). Ignored; the station judges on`);
    }
  }

  receive(outcome: PartOutcome): void {
    this.counters[outcome.verdict]++;
    const now = Date.now();
    this.last = {
      ...this.last, PartId: outcome.partId ?? "", Verdict: outcome.verdict, Score: outcome.score ?? Number.NaN, Code: outcome.code ?? "",
      RegionCount: outcome.regions.length, LatencyMs: outcome.latencyMs.total ?? 0, "Model/Bundle": outcome.bundle,
      "Model/Calibration": outcome.calibration ?? "", Heatmap: outcome.heatmap && outcome.partId ? this.needs.heatmapUrl(outcome.partId) : "",
    };
    if (!this.born || !this.client?.connected) return;
    this.client.publish(this.topic("DDATA", true), Buffer.from(this.codec.encodePayload({ timestamp: now, seq: this.nextSeq(),
      metrics: DEVICE_METRICS.map((m, i) => ({ alias: ALIAS_BASE + i, type: m.type, timestamp: now, value: this.value(m.name) })) })),
    { qos: 0 });
  }

  /** A clean stop says NDEATH itself (the broker keeps the Will for a connection that vanishes). */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    if (client.connected) await client.publishAsync(this.topic("NDEATH"), this.ndeath(), { qos: 1 }).catch(() => undefined);
    await client.endAsync().catch(() => undefined);
  }
}
