// The daemon's configuration (config/*.yaml): broker, TLS, state directory, inference, logging.
// Secrets may come from the environment or files instead of the config file itself.
import { readFileSync } from "node:fs";
import path from "node:path";

import { z } from "zod";

import { KNOWN_PROVIDERS, sessionSettings, type SessionSettings } from "../native/providers.js";
import { ConfigError, readConfigFile } from "./config-file.js";

const file = z.string().min(1, "give a file path");

export const daemonConfigSchema = z.strictObject({
  mqtt: z.strictObject({
    /** mqtt://host:1883 or mqtts://host:8883; null starts the embedded broker. */
    url: z.string().regex(/^mqtts?:\/\/[^\s]+$/, "use mqtt://HOST[:PORT] or mqtts://HOST[:PORT]").nullable().default(null),
    embedded: z.strictObject({
      host: z.string().default("127.0.0.1"),
      port: z.number().int().min(0).max(65535).default(1883),
    }).prefault({}),
    protocolVersion: z.union([z.literal(4), z.literal(5)], { error: "4 (MQTT 3.1.1) or 5 (MQTT 5)" }).optional(),
    clientId: z.string().min(1).max(64).optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    passwordFile: file.optional(),
    tls: z.strictObject({
      ca: file.optional(),
      cert: file.optional(),
      key: file.optional(),
      rejectUnauthorized: z.boolean().default(true),
    }).optional(),
    topicPrefix: z.string().regex(/^[^#+\s]+$/, "no spaces, + or # (MQTT wildcards)").default("inspector"),
    keepaliveS: z.number().int().min(5).max(3600).default(30),
    reconnectMs: z.strictObject({
      min: z.number().int().min(100).default(1000),
      max: z.number().int().min(100).default(30000),
    }).prefault({}),
    /** Heatmaps larger than this are shrunk until they fit (mosquitto's default packet limit is 2 MB). */
    maxHeatmapBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(512 * 1024),
    maxInflight: z.number().int().min(1).max(65535).default(20),
  }).prefault({}),
  /** Folders pipelines may read bundles, images and videos from; null: anywhere (src/config/allowed-paths.ts). */
  allowedPaths: z.array(z.string().min(1, "give a folder")).nullable().default(null),
  /** Spool of undelivered verdicts; systemd's StateDirectory takes precedence. */
  stateDir: z.string().default("state"),
  inference: z.strictObject({
    providers: z.array(z.enum(KNOWN_PROVIDERS)).min(1).default(["tensorrt", "cuda", "cpu"]),
    threads: z.number().int().min(0).max(1024).default(0),
    /** With the CPU provider on Linux: the inference worker on a CPU of its own (src/inference/cpu-pinning.ts). */
    pinThreads: z.boolean().default(true),
  }).prefault({}),
  /** The station page, health checks and Prometheus metrics (docs/station-page.md); off unless enabled. */
  http: z.strictObject({
    enabled: z.boolean().default(false),
    /** Loopback by default: bound elsewhere, a token is required. */
    host: z.string().min(1).default("127.0.0.1"),
    port: z.number().int().min(0).max(65535).default(8080),
    /** Bearer token (or ?token= for the page); tokenFile or INSPECTOR_HTTP_TOKEN instead of the file itself. */
    token: z.string().min(16, "at least 16 characters").optional(),
    tokenFile: file.optional(),
    tls: z.strictObject({ cert: file, key: file }).optional(),
    /** Parts kept in memory for the page's filmstrip and /api/parts/:id. */
    recentParts: z.number().int().min(1).max(1000).default(50),
  }).prefault({}),
  /** A Sparkplug B 3.0 edge node for SCADA (docs/plc.md), on the same broker as mqtt:; off unless enabled. */
  sparkplug: z.strictObject({
    enabled: z.boolean().default(false),
    groupId: z.string().regex(/^[^/#+\s]{1,64}$/, "1–64 characters without / # + or spaces").default("inspector"),
    /** Default: this machine's host name. */
    edgeNodeId: z.string().regex(/^[^/#+\s]{1,64}$/, "1–64 characters without / # + or spaces").optional(),
    /** Births wait until this primary host's STATE says online (Sparkplug 3.0); none: birth at once. */
    primaryHostId: z.string().regex(/^[^/#+\s]{1,64}$/, "1–64 characters without / # + or spaces").optional(),
  }).prefault({}),
  /** An OPC UA server for the line's PLC and for MES/SCADA (docs/plc.md); off unless enabled. */
  opcua: z.strictObject({
    enabled: z.boolean().default(false),
    /** 4840 is OPC UA's registered port. */
    port: z.number().int().min(1).max(65535).default(4840),
    /** The address to listen on; all of the machine's by default (a PLC is on another machine). */
    host: z.string().min(1).optional(),
    /** Sessions without a user; off by default: the demo turns it on. */
    allowAnonymous: z.boolean().default(false),
    users: z.array(z.strictObject({
      username: z.string().min(1).max(64),
      /** Or passwordFile (a file holding only the password). */
      password: z.string().min(8, "at least 8 characters").optional(),
      passwordFile: file.optional(),
    })).default([]),
    securityPolicies: z.array(z.enum(["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]))
      .min(1).default(["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep"]),
    securityModes: z.array(z.enum(["None", "Sign", "SignAndEncrypt"])).min(1).default(["None", "Sign", "SignAndEncrypt"]),
    /**
     * Client certificates nobody has trusted yet: refused (moved to STATE/opcua/pki/rejected, from
     * where an operator moves them to trusted/certs) unless this is true.
     */
    acceptUnknownClients: z.boolean().default(false),
  }).prefault({}),
  logging: z.strictObject({
    level: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
    /** auto: human-readable on a terminal, JSON lines otherwise (journald). */
    format: z.enum(["auto", "json", "pretty"]).default("auto"),
  }).prefault({}),
});

export type DaemonConfig = z.output<typeof daemonConfigSchema>;

/** ONNX Runtime settings for the station's graph: one run at a time, `inference.threads` inside it. */
export function sessionSettingsOf(config: DaemonConfig): SessionSettings {
  return sessionSettings(config.inference);
}

/** A secret kept in a file of its own (systemd's LoadCredential=, a mounted secret), relative to the config file. */
function secretFile(key: string, file: string, baseDir: string): string {
  try {
    return readFileSync(path.resolve(baseDir, file), "utf8").trim();
  } catch (err) {
    throw new ConfigError(`${key} = ${JSON.stringify(file)}: cannot be read (${(err as NodeJS.ErrnoException).code}).`);
  }
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

/** Secrets and the state directory from the environment win over the file (systemd credentials, containers). */
export function applyEnvironment(config: DaemonConfig, env: NodeJS.ProcessEnv, baseDir: string): DaemonConfig {
  const mqtt = { ...config.mqtt };
  if (env.INSPECTOR_MQTT_URL) mqtt.url = env.INSPECTOR_MQTT_URL;
  if (env.INSPECTOR_MQTT_USERNAME) mqtt.username = env.INSPECTOR_MQTT_USERNAME;
  if (env.INSPECTOR_MQTT_PASSWORD) mqtt.password = env.INSPECTOR_MQTT_PASSWORD;
  if (mqtt.password === undefined && mqtt.passwordFile) mqtt.password = secretFile("mqtt.passwordFile", mqtt.passwordFile, baseDir);
  if (mqtt.reconnectMs.max < mqtt.reconnectMs.min) {
    throw new ConfigError(`mqtt.reconnectMs: max (${mqtt.reconnectMs.max}) is below min (${mqtt.reconnectMs.min}).`);
  }
  const tls = mqtt.tls && {
    ...mqtt.tls,
    ...Object.fromEntries((["ca", "cert", "key"] as const).filter((k) => mqtt.tls![k]).map((k) => [k, path.resolve(baseDir, mqtt.tls![k]!)])),
  };
  const http = { ...config.http };
  if (env.INSPECTOR_HTTP_TOKEN) http.token = env.INSPECTOR_HTTP_TOKEN;
  if (http.token === undefined && http.tokenFile) http.token = secretFile("http.tokenFile", http.tokenFile, baseDir);
  if (http.token !== undefined && http.token.length < 16) {
    throw new ConfigError(`http.token (from ${env.INSPECTOR_HTTP_TOKEN ? "INSPECTOR_HTTP_TOKEN" : http.tokenFile ? "http.tokenFile" : "the file"}): ` +
      `${http.token.length} characters; use at least 16 (e.g. openssl rand -hex 16).`);
  }
  if (http.enabled && http.token === undefined && !isLoopback(http.host)) {
    throw new ConfigError(`http.host = ${JSON.stringify(http.host)}: the station page is reachable from other machines there, so it needs ` +
      "an access token: set http.token (16 characters or more), http.tokenFile or INSPECTOR_HTTP_TOKEN, or bind to 127.0.0.1.");
  }
  if (http.tls) http.tls = { cert: path.resolve(baseDir, http.tls.cert), key: path.resolve(baseDir, http.tls.key) };
  const opcua = { ...config.opcua, users: config.opcua.users.map((user, i) => {
    const password = user.password ?? (user.passwordFile ? secretFile(`opcua.users[${i}].passwordFile`, user.passwordFile, baseDir) : undefined);
    if (password === undefined || password.length < 8) {
      throw new ConfigError(`opcua.users[${i}] (${user.username}): ${password === undefined ? "no password" : `a password of ${password.length} characters`}; ` +
        "give password or passwordFile, 8 characters or more.");
    }
    return { username: user.username, password };
  }) };
  if (opcua.enabled && !opcua.allowAnonymous && opcua.users.length === 0) {
    throw new ConfigError("opcua: no client could open a session: add opcua.users (username and password), or set " +
      "opcua.allowAnonymous: true with securityModes [SignAndEncrypt] to let in only clients whose certificates you trusted.");
  }
  if (opcua.securityPolicies.includes("None") !== opcua.securityModes.includes("None")) {
    throw new ConfigError("opcua: securityPolicies and securityModes must both list None or both leave it out " +
      "(None is the policy of the mode None, and of nothing else).");
  }
  // systemd's StateDirectory= sets STATE_DIRECTORY; it is the only writable place under ProtectSystem=strict.
  const stateDir = env.STATE_DIRECTORY ? env.STATE_DIRECTORY.split(":")[0] : path.resolve(baseDir, config.stateDir);
  const allowedPaths = config.allowedPaths && config.allowedPaths.map((p) => path.resolve(baseDir, p));
  return { ...config, mqtt: { ...mqtt, tls }, http, opcua, stateDir, allowedPaths };
}

export function loadDaemonConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const config = file ? readConfigFile(file, daemonConfigSchema) : daemonConfigSchema.parse({});
  return applyEnvironment(config, env, file ? path.dirname(path.resolve(file)) : process.cwd());
}

/** What the daemon keeps in stateDir, made or opened with a message that names the folder when it cannot be. */
export function inStateDir<T>(stateDir: string, open: () => T): T {
  try {
    return open();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`stateDir ${stateDir}: cannot keep the verdict spool there (${(err as Error).message}). ` +
      "Set stateDir to a folder the daemon may write (systemd: StateDirectory=).");
  }
}
