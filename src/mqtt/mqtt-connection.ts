// One MQTT client for the station: TLS and credentials from the configuration, the retained
// status topic as Last Will, reconnects with exponential back-off. Credentials are never logged.
import { readFileSync } from "node:fs";

import { connect, type IClientOptions, type MqttClient } from "mqtt";
import type { Logger } from "pino";

import type { DaemonConfig } from "../config/daemon-config.js";
import { ConfigError } from "../config/config-file.js";

export interface ConnectionSettings {
  url: string;
  /** "auto": MQTT 5, and 3.1.1 when the broker refuses 5 (aedes, older brokers). */
  protocolVersion: 4 | 5 | "auto";
  clientId: string;
  willTopic: string;
  willPayload: string | Buffer;
  /** The status topic's Will is retained (the last word stays); Sparkplug's NDEATH is not. */
  willRetain?: boolean;
  /** Said in the log when the connection is lost. */
  lostMeans?: string;
}

function readSecretFile(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`mqtt.tls.${key} = ${JSON.stringify(file)}: cannot be read (${(err as NodeJS.ErrnoException).code}).`);
  }
}

export function protocolOf(client: MqttClient): 4 | 5 {
  return client.options.protocolVersion === 5 ? 5 : 4;
}

/** What the broker refused (an ACL, a quota) is asked for again after this long, not at line rate. */
export const REFUSAL_RETRY_MS = 5000;

/** "the broker refuses WHAT: Not authorized (MQTT reason code 0x87); CONSEQUENCE", from mqtt.js's error and the code. */
export function brokerRefusal(what: string, err: Error, code: number, consequence: string): string {
  return `the broker refuses ${what}: ${err.message.replace(/^(Publish|Subscribe) error: /, "")} ` +
    `(MQTT reason code 0x${code.toString(16)}); ${consequence} (asked again every ${REFUSAL_RETRY_MS / 1000} s)`;
}

export function connectMqtt(config: DaemonConfig["mqtt"], settings: ConnectionSettings, log: Logger): MqttClient {
  const tls = config.tls;
  const options: IClientOptions = {
    protocolVersion: settings.protocolVersion === "auto" ? 5 : settings.protocolVersion,
    clientId: settings.clientId,
    clean: true,
    keepalive: config.keepaliveS,
    reconnectPeriod: config.reconnectMs.min,
    // A refused CONNECT (bad credentials, protocol version) is retried too: a daemon keeps trying
    // until the broker side is fixed, rather than going silent.
    reconnectOnConnackError: true,
    connectTimeout: 10_000,
    username: config.username,
    password: config.password,
    will: { topic: settings.willTopic, payload: Buffer.from(settings.willPayload), qos: 1, retain: settings.willRetain ?? true },
    ...(tls && {
      ca: tls.ca ? readSecretFile("ca", tls.ca) : undefined,
      cert: tls.cert ? readSecretFile("cert", tls.cert) : undefined,
      key: tls.key ? readSecretFile("key", tls.key) : undefined,
      rejectUnauthorized: tls.rejectUnauthorized,
    }),
  };
  const where = settings.url.replace(/\/\/[^@/]*@/, "//***@");
  const client = connect(settings.url, options);
  let failures = 0;
  client.on("connect", () => {
    if (failures > 0) log.info({ broker: where }, "MQTT connection restored");
    else log.info({ broker: where, protocolVersion: client.options.protocolVersion }, "connected to the MQTT broker");
    failures = 0;
    client.options.reconnectPeriod = config.reconnectMs.min;
  });
  client.on("close", () => {
    if (client.disconnecting) return; // our own clean stop
    failures++;
    // mqtt.js retries at a fixed period; stretching it here gives exponential back-off.
    client.options.reconnectPeriod = Math.min(config.reconnectMs.min * 2 ** Math.min(failures - 1, 16), config.reconnectMs.max);
    if (failures === 1) log.warn({ broker: where }, `MQTT connection lost; ${settings.lostMeans ?? "verdicts are spooled until it is back"}`);
  });
  client.on("error", (err) => {
    // CONNACK "unacceptable protocol version" (3.1.1: 1; MQTT 5: 132): try again speaking 3.1.1.
    const code = (err as { code?: number }).code;
    if (settings.protocolVersion === "auto" && client.options.protocolVersion === 5 && (code === 1 || code === 132)) {
      client.options.protocolVersion = 4;
      client.options.reconnectPeriod = 10;
      log.info({ broker: where }, "the broker does not speak MQTT 5: using MQTT 3.1.1 (heatmap part ids go into the topic)");
      return;
    }
    // Logged once per outage streak and then every tenth try, so a long outage does not flood the journal.
    if (failures <= 1 || failures % 10 === 0) log.warn({ broker: where, err: err.message, attempts: failures }, "MQTT connection failed");
  });
  return client;
}
