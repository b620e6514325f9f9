// Real processes for the daemon tests: mosquitto on a free loopback port, the daemon itself as a
// child process, and an MQTT client that records what arrives.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

import { connectAsync, type MqttClient } from "mqtt";
import { afterAll } from "vitest";
import { stringify } from "yaml";

import { CLI } from "./python.js";

export const MOSQUITTO = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].find((p) => existsSync(p));

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (condition()) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(poll);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }
    }, 25);
  });
}

export interface Mosquitto {
  port: number;
  url: string;
  stop(): Promise<void>;
  /** SIGHUP: mosquitto reads its configuration again, the ACL file among it. */
  reload(): void;
}

// A test that fails half-way must not leave its daemon or broker running (they would skew every later
// measurement, and a broker keeps its port).
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * Debian's mosquitto on 127.0.0.1:port, anonymous; extra lines go into its config. With `dir`,
 * it keeps sessions and queued messages there across restarts (persistence on).
 */
export async function startMosquitto(port: number, extraConfig: string[] = [], dir?: string): Promise<Mosquitto> {
  const persistent = dir !== undefined;
  dir ??= mkdtempSync(path.join(tmpdir(), "inspector-mosquitto-"));
  const conf = path.join(dir, "mosquitto.conf");
  const persistence = persistent ? ["persistence true", `persistence_location ${dir}/`] : ["persistence false"];
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, "allow_anonymous true", ...persistence, ...extraConfig, ""].join("\n"));
  const child = spawn(MOSQUITTO!, ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  child.once("exit", () => running.delete(child));
  let log = "";
  child.stderr!.on("data", (d) => { log += d; });
  child.stdout!.on("data", (d) => { log += d; });
  await waitFor(() => /running/.test(log) || child.exitCode !== null, 10_000, "mosquitto to start");
  if (child.exitCode !== null) throw new Error(`mosquitto did not start:\n${log}`);
  return {
    port, url: `mqtt://127.0.0.1:${port}`,
    reload: () => child.kill("SIGHUP"),
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    }),
  };
}

export interface DaemonProcess {
  child: ChildProcess;
  logs: Record<string, unknown>[];
  stderr: () => string;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}



/** `maxFileKb`: the shell's `ulimit -f` for the daemon, so that its writes fail as on a full disk (EFBIG). */
export function startDaemon(pipelineFile: string, configFile: string, env: NodeJS.ProcessEnv = {}, maxFileKb?: number): DaemonProcess {
  const args = [CLI, "run", "--pipeline", pipelineFile, "--config", configFile];
  const [command, argv] = maxFileKb === undefined ? [process.execPath, args]
    : ["bash", ["-c", `ulimit -f ${maxFileKb} && exec "$@"`, "bash", process.execPath, ...args]];
  const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  running.add(child);
  child.once("exit", () => running.delete(child));
  const logs: Record<string, unknown>[] = [];
  let errors = "";
  let partial = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop()!;
    for (const line of lines) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr!.on("data", (d) => { errors += d; });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child, logs, stderr: () => errors, exited,
    async waitForLog(pattern, timeoutMs = 60_000) {
      const find = () => logs.find((l) => pattern.test(String(l.msg)));
      await waitFor(() => find() !== undefined || child.exitCode !== null, timeoutMs, `a log line matching ${pattern}`);
      const found = find();
      if (!found) throw new Error(`daemon exited (${child.exitCode}) before logging ${pattern}:\n${errors}\n${JSON.stringify(logs)}`);
      return found;
    },
  };
}

/** Writes a pipeline and a daemon config into `dir` as YAML; returns their paths. */
export function writeStation(dir: string, pipeline: object, config: object): { pipelineFile: string; configFile: string } {
  const pipelineFile = path.join(dir, "station.yaml");
  const configFile = path.join(dir, "daemon.yaml");
  writeFileSync(pipelineFile, stringify(pipeline));
  writeFileSync(configFile, stringify({ logging: { format: "json" }, ...config }));
  return { pipelineFile, configFile };
}

export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
  json(): Record<string, unknown>;
}

/**
 * A subscriber that keeps every message; connects with retries (the broker may still be starting).
 * With a clientId it keeps a persistent session, so a broker restart loses nothing queued for it.
 */
export async function recorder(url: string, topics: string[], clientId?: string): Promise<{ client: MqttClient; messages: Received[] }> {
  const client = await connectAsync(url, { reconnectPeriod: 200, protocolVersion: 4, ...(clientId && { clientId, clean: false }) });
  const messages: Received[] = [];
  client.on("message", (topic, payload, packet) => messages.push({
    topic, payload, retain: packet.retain, json: () => JSON.parse(payload.toString()) as Record<string, unknown>,
  }));
  await client.subscribeAsync(topics, { qos: 1 });
  return { client, messages };
}
