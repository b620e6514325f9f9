// One MQTT client for the station: TLS and credentials from the configuration, the retained
// status topic as Last Will, reconnects with exponential back-off. Credentials are never logged.
import { readFileSync } from "node:fs";

import { connect, type IClientOptions, type MqttClient } from "mqtt";
import type { Logger } from "pino";

import type { DaemonConfig } from "../config/daemon-config.js";
import { ConfigError } from "../config/config-file.js";

export interface ConnectionSettings {
  url: string;
  protocolVersion: 4 | 5;
  clientId: string;
  willTopic: string;
  willPayload: string;
}

function readSecretFile(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`mqtt.tls.${key} = ${JSON.stringify(file)}: cannot be read (${(err as NodeJS.ErrnoException).code}).`);
  }
}

export function connectMqtt(config: DaemonConfig["mqtt"], settings: ConnectionSettings, log: Logger): MqttClient {
  const tls = config.tls;
  const options: IClientOptions = {
    protocolVersion: settings.protocolVersion,
    clientId: settings.clientId,
    clean: true,
    keepalive: config.keepaliveS,
    reconnectPeriod: config.reconnectMs.min,
    connectTimeout: 10_000,
    username: config.username,
    password: config.password,
    will: { topic: settings.willTopic, payload: Buffer.from(settings.willPayload), qos: 1, retain: true },
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
    else log.info({ broker: where, protocolVersion: settings.protocolVersion }, "connected to the MQTT broker");
    failures = 0;
    client.options.reconnectPeriod = config.reconnectMs.min;
  });
  client.on("close", () => {
    if (client.disconnecting) return; // our own clean stop
    failures++;
    // mqtt.js retries at a fixed period; stretching it here gives exponential back-off.
    client.options.reconnectPeriod = Math.min(config.reconnectMs.min * 2 ** Math.min(failures - 1, 16), config.reconnectMs.max);
    if (failures === 1) log.warn({ broker: where }, "MQTT connection lost; verdicts are spooled until it is back");
  });
  client.on("error", (err) => {
    // Logged once per outage streak and then every tenth try, so a long outage does not flood the journal.
    if (failures <= 1 || failures % 10 === 0) log.warn({ broker: where, err: err.message, attempts: failures }, "MQTT connection failed");
  });
  return client;
}
