// A broker that goes away mid-run, and a daemon killed with verdicts in its spool: every part
// still gets exactly one verdict delivered (a QoS 1 duplicate at most, with the same part id and
// seq), in order, with the timestamps of when it was judged.
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

import { Aedes } from "aedes";
import { beforeAll, describe, expect, it } from "vitest";

import { freePort, MOSQUITTO, recorder, startDaemon, startMosquitto, waitFor, writeStation } from "../helpers/daemon.js";
import { calibratedTinyBundle } from "../helpers/python.js";

let bundle: string;

beforeAll(() => {
  ({ bundle } = calibratedTinyBundle("inspector-outage-"));
});

type Verdict = { partId: string; seq: number; decidedAt: string };

/** Checks one verdict per part, in order, duplicates identical; returns the verdicts without duplicates. */
function exactlyOnceInOrder(payloads: string[], parts: number, missing: number[] = []): Verdict[] {
  const firstSeen = new Map<string, string>();
  for (const payload of payloads) {
    const v = JSON.parse(payload) as Verdict;
    const earlier = firstSeen.get(v.partId);
    if (earlier !== undefined) expect(payload).toBe(earlier); // a QoS 1 duplicate, never a different verdict
    else firstSeen.set(v.partId, payload);
  }
  const verdicts = [...firstSeen.values()].map((p) => JSON.parse(p) as Verdict);
  expect(verdicts).toHaveLength(parts);
  expect(verdicts.map((v) => v.seq)).toEqual(Array.from({ length: parts + missing.length }, (_, i) => i + 1).filter((n) => !missing.includes(n)));
  return verdicts;
}

interface RelayConnection {
  sockets: Socket[];
  /** Nothing passes either way any more (a pulled cable): the connection stays open. */
  silent: boolean;
}

/** A TCP relay to the broker on 127.0.0.1:brokerPort; `pass` forwards each chunk, at once or later. */
function brokerRelay(brokerPort: number, pass: (forward: () => void) => void = (forward) => forward()) {
  const connections: RelayConnection[] = [];
  const server = createServer((inbound) => {
    const outbound = connect(brokerPort, "127.0.0.1");
    const connection: RelayConnection = { sockets: [inbound, outbound], silent: false };
    connections.push(connection);
    for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
      from.on("data", (d) => { if (!connection.silent) pass(() => to.write(d)); });
      from.on("error", () => undefined);
      from.on("close", () => to.destroy());
    }
  });
  return {
    connections,
    listen: (port = 0) => new Promise<number>((resolve) => server.listen(port, "127.0.0.1", () => resolve((server.address() as { port: number }).port))),
    close: () => {
      server.close();
      for (const socket of connections.flatMap((c) => c.sockets)) socket.destroy();
    },
  };
}

describe.skipIf(!MOSQUITTO)("broker outage and daemon crash", () => {
  it("loses nothing when the broker stops and restarts during a 1,000-part run", async () => {
    const port = await freePort();
    const brokerDir = mkdtempSync(path.join(tmpdir(), "inspector-broker-"));
    let broker = await startMosquitto(port, [], brokerDir);
    const sub = await recorder(broker.url, ["inspector/outage/verdict"], "outage-recorder");
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-outage-station-"));
    const { pipelineFile, configFile } = writeStation(dir,
      // Paced (≥ 10 s for the run) so that parts keep coming through the whole outage on any CPU.
      { station: "outage", bundle, source: { type: "synthetic", size: 64, count: 1000 }, trigger: { type: "continuous", minIntervalMs: 10 },
        heatmap: { enabled: false } },
      { mqtt: { url: broker.url, reconnectMs: { min: 100, max: 400 } }, stateDir: path.join(dir, "state") });
    const daemon = startDaemon(pipelineFile, configFile);
    await waitFor(() => sub.messages.length >= 150, 120_000, "150 verdicts before the outage");
    await broker.stop();
    const outageStarted = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 3000)); // parts keep coming meanwhile
    broker = await startMosquitto(port, [], brokerDir);
    expect(await daemon.exited, daemon.stderr()).toBe(0);
    // Whatever went wrong, say it: the daemon's MQTT and stop lines, and how many verdicts arrived.
    const story = () => `${new Set(sub.messages.map((m) => m.json().partId)).size} distinct verdicts received; daemon said:\n` +
      daemon.logs.filter((l) => l.verdict === undefined).map((l) => JSON.stringify(l)).join("\n");
    expect(daemon.logs.some((l) => /stay spooled/.test(String(l.msg))), story()).toBe(false);
    // Every verdict the daemon handed over was acknowledged by the broker (its own count).
    expect(daemon.logs.find((l) => l.msg === "stopped"), story()).toMatchObject({ delivered: 1000, spooled: 0 });
    await waitFor(() => new Set(sub.messages.map((m) => m.json().partId)).size >= 1000, 20_000, "1,000 distinct verdicts")
      .catch(() => undefined);
    // mosquitto 2.0.11, stopped with SIGTERM, now and then drops the one or two QoS 1 messages it
    // had already acknowledged and was forwarding at that instant (seen in 4 runs of about 20 here,
    // neighbours decided within 30 ms of the stop): a broker-side loss the daemon cannot see.
    // Tolerated only there: at most two, next to the moment the broker stopped.
    const received = [...new Map(sub.messages.map((m) => [m.json().seq as number, m.json() as Verdict])).values()];
    const seqs = new Set(received.map((v) => v.seq));
    const missing = Array.from({ length: 1000 }, (_, i) => i + 1).filter((n) => !seqs.has(n));
    const bySeq = new Map(received.map((v) => [v.seq, v]));
    const stoppedAt = Date.parse(outageStarted);
    for (const n of missing) {
      const neighbour = bySeq.get(n - 1) ?? bySeq.get(n + 1);
      console.info(`broker outage: verdict seq ${n} never reached the subscriber; its neighbour was decided ` +
        `${neighbour ? Date.parse(neighbour.decidedAt) - stoppedAt : "?"} ms from the broker's stop`);
      expect(neighbour, story()).toBeDefined();
      expect(Math.abs(Date.parse(neighbour!.decidedAt) - stoppedAt), story()).toBeLessThan(1000);
    }
    expect(missing.length, story()).toBeLessThanOrEqual(2);
    const verdicts = exactlyOnceInOrder(sub.messages.map((m) => m.payload.toString()), 1000 - missing.length, missing);
    const spooled = daemon.logs.filter((l) => /MQTT connection restored/.test(String(l.msg))).length;
    console.info(`broker outage: 1000 parts, ${sub.messages.length} verdict messages received ` +
      `(${sub.messages.length - verdicts.length} QoS 1 duplicates), ${spooled} reconnect(s)`);
    // Verdicts judged during the outage kept the time they were judged, not the time they were sent.
    expect(verdicts.some((v) => v.decidedAt > outageStarted && v.decidedAt < new Date(Date.parse(outageStarted) + 3000).toISOString())).toBe(true);
    expect(daemon.logs.some((l) => /MQTT connection lost/.test(String(l.msg)))).toBe(true);
    await sub.client.endAsync();
    await broker.stop();
  });

  it("notices a connection that went silent (no FIN, no RST) within 1.5 × keepaliveS and delivers everything", async () => {
    const port = await freePort();
    const broker = await startMosquitto(port);
    const sub = await recorder(broker.url, ["inspector/partition/verdict"]);
    // The daemon reaches the broker through a relay that can turn into a black hole, as a pulled
    // cable or a dead switch port does: the connection stays open and nothing arrives.
    const relay = brokerRelay(port);
    const connections = relay.connections;
    const relayPort = await relay.listen();
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-partition-"));
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "partition", bundle, source: { type: "synthetic", size: 64, count: 120 }, trigger: { type: "continuous", minIntervalMs: 100 },
        heatmap: { enabled: false } },
      { mqtt: { url: `mqtt://127.0.0.1:${relayPort}`, keepaliveS: 5, reconnectMs: { min: 100, max: 400 } }, stateDir: path.join(dir, "state") });
    const daemon = startDaemon(pipelineFile, configFile);
    await waitFor(() => sub.messages.length >= 20, 120_000, "20 verdicts before the silence");
    for (const connection of connections) connection.silent = true; // a new connection goes through
    const silenced = Date.now();
    await daemon.waitForLog(/MQTT connection restored/, 30_000);
    const noticedS = (Date.now() - silenced) / 1000;
    expect(await daemon.exited, daemon.stderr()).toBe(0);
    expect(daemon.logs.find((l) => l.msg === "stopped")).toMatchObject({ delivered: 120, spooled: 0 });
    await waitFor(() => new Set(sub.messages.map((m) => m.json().seq)).size >= 120, 20_000, "120 distinct verdicts");
    exactlyOnceInOrder(sub.messages.map((m) => m.payload.toString()), 120);
    console.info(`silent connection: noticed and reconnected after ${noticedS.toFixed(1)} s (keepaliveS 5), ` +
      `${connections.length} connection(s), ${sub.messages.length - 120} QoS 1 duplicate(s)`);
    expect(noticedS).toBeLessThan(5 * 1.5 + 2);
    relay.close();
    await sub.client.endAsync();
    await broker.stop();
  });

  // mosquitto advertises max_inflight_messages as its MQTT 5 Receive Maximum; sending more is a protocol error.
  // mosquitto 2.0.11 does not refuse a client that sends more (20 against a limit of 4 went through): the bound below checks it.
  it.each([{ limit: "mosquitto's default, 20", brokerLimit: null }, { limit: "5", brokerLimit: 5 }])("keeps up with a distant " +
    "broker: a backlog drains many verdicts per round trip, in order, within the broker's Receive Maximum ($limit)", async ({ brokerLimit }) => {
    const port = await freePort();
    const broker = await startMosquitto(port, brokerLimit === null ? [] : [`max_inflight_messages ${brokerLimit}`]);
    const sub = await recorder(broker.url, ["inspector/distant/verdict"]);
    const arrivals: number[] = [];
    sub.client.on("message", () => arrivals.push(Date.now()));
    // A broker 50 ms away (25 ms each way, order kept), reachable only once every part is judged:
    // one verdict per round trip would take at least 200 × 50 ms = 10 s to drain the backlog.
    const ONE_WAY_MS = 25;
    const relay = brokerRelay(port, (forward) => setTimeout(forward, ONE_WAY_MS));
    const relayPort = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-distant-"));
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "distant", bundle, source: { type: "synthetic", size: 64, count: 200 }, heatmap: { enabled: false } },
      { mqtt: { url: `mqtt://127.0.0.1:${relayPort}`, reconnectMs: { min: 100, max: 200 } }, stateDir: path.join(dir, "state") });
    const daemon = startDaemon(pipelineFile, configFile);
    await waitFor(() => daemon.logs.filter((l) => l.verdict !== undefined).length >= 200, 120_000, "200 verdicts judged");
    await relay.listen(relayPort);
    expect(await daemon.exited, daemon.stderr()).toBe(0);
    await waitFor(() => sub.messages.length >= 200, 20_000, "200 verdicts");
    exactlyOnceInOrder(sub.messages.map((m) => m.payload.toString()), 200);
    expect(sub.messages).toHaveLength(200);
    expect(daemon.logs.find((l) => l.msg === "stopped")).toMatchObject({ delivered: 200, spooled: 0 });
    // One connection all along: over its limit the broker would have closed it (and QoS 1 sent again).
    expect(relay.connections).toHaveLength(1);
    const drainMs = arrivals[199] - arrivals[0];
    console.info(`distant broker (${2 * ONE_WAY_MS} ms round trip, broker limit ${brokerLimit ?? "default"}): ` +
      `200 spooled verdicts delivered in ${drainMs} ms`);
    // Faster than one verdict per round trip allows at best (by half, with the default window)…
    expect(drainMs).toBeLessThan(199 * 2 * ONE_WAY_MS / (brokerLimit === null ? 2 : 1));
    // …and no faster than the window allows: more in flight than the broker's limit would beat this bound.
    const window = brokerLimit ?? 20; // mqtt.maxInflight's default
    expect(drainMs).toBeGreaterThanOrEqual((Math.ceil(200 / window) - 1) * 2 * ONE_WAY_MS);
    relay.close();
    await sub.client.endAsync();
    await broker.stop();
  });

  it("keeps the verdicts a broker refuses (its ACL), says why, and delivers them in order once it takes them", async () => {
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-acl-"));
    // Anonymous clients may read everything and write the station's status, not its verdicts.
    const acl = path.join(dir, "acl");
    writeFileSync(acl, "topic read #\ntopic readwrite inspector/acl/status\n");
    chmodSync(dir, 0o755); // mosquitto started as root reads it as its own user
    const broker = await startMosquitto(port, [`acl_file ${acl}`]);
    const sub = await recorder(broker.url, ["inspector/acl/verdict", "inspector/acl/status"]);
    const status = () => sub.messages.filter((m) => m.topic.endsWith("/status")).at(-1)?.json();
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "acl", bundle, source: { type: "synthetic", size: 64 }, trigger: { type: "continuous", minIntervalMs: 100 },
        heatmap: { enabled: false } },
      { mqtt: { url: broker.url, reconnectMs: { min: 100, max: 400 } }, stateDir: path.join(dir, "state") });
    const daemon = startDaemon(pipelineFile, configFile);
    await waitFor(() => status()?.state === "degraded", 60_000, "status degraded by the refusal");
    expect(String(status()!.reason)).toMatch(/refuses verdicts on inspector\/acl\/verdict: Not authorized \(MQTT reason code 0x87\)/);
    const judgedWhileRefused = () => daemon.logs.filter((l) => l.verdict !== undefined).length;
    await waitFor(() => judgedWhileRefused() >= 20, 60_000, "20 parts judged while refused");
    expect(sub.messages.filter((m) => m.topic.endsWith("/verdict"))).toEqual([]);
    // The broker's operator fixes the ACL: the kept verdicts go out, in order, within the retry period.
    writeFileSync(acl, "topic readwrite #\n");
    broker.reload();
    await waitFor(() => status()?.state === "online", 20_000, "status online once the broker takes verdicts");
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited, daemon.stderr()).toBe(0);
    const judged = daemon.logs.filter((l) => l.verdict !== undefined).length;
    expect(daemon.logs.find((l) => l.msg === "stopped")).toMatchObject({ delivered: judged, spooled: 0 });
    await waitFor(() => new Set(sub.messages.filter((m) => m.topic.endsWith("/verdict")).map((m) => m.json().seq)).size >= judged,
      10_000, `${judged} verdicts`);
    exactlyOnceInOrder(sub.messages.filter((m) => m.topic.endsWith("/verdict")).map((m) => m.payload.toString()), judged);
    // Said once when it started and once when it ended, not per verdict.
    expect(daemon.logs.filter((l) => /refuses verdicts/.test(String(l.msg)))).toHaveLength(1);
    expect(daemon.logs.filter((l) => /takes verdicts again/.test(String(l.msg)))).toHaveLength(1);
    await sub.client.endAsync();
    await broker.stop();
  });

  it("says so when the broker refuses the trigger subscription (its ACL), and subscribes once it allows it", async () => {
    // mosquitto's acl_file grants any subscription and filters at delivery, so this broker is aedes,
    // refusing the trigger topic (SUBACK 0x80) until its operator allows it.
    let allowed = false;
    const broker = await Aedes.createBroker({
      authorizeSubscribe: (_client, subscription, done) => {
        // null: a SUBACK saying no (an error would make aedes drop the connection instead).
        if (subscription.topic === "inspector/subacl/trigger" && !allowed) done(null, null);
        else done(null, subscription);
      },
    });
    const server = createServer(broker.handle);
    const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
    const url = `mqtt://127.0.0.1:${port}`;
    const sub = await recorder(url, ["inspector/subacl/verdict", "inspector/subacl/status"]);
    const status = () => sub.messages.filter((m) => m.topic.endsWith("/status")).at(-1)?.json();
    const verdicts = () => sub.messages.filter((m) => m.topic.endsWith("/verdict")).map((m) => m.json());
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-subacl-"));
    const { pipelineFile, configFile } = writeStation(dir,
      { station: "subacl", bundle, source: { type: "synthetic", size: 64 }, trigger: { type: "mqtt" }, heatmap: { enabled: false } },
      { mqtt: { url }, stateDir: path.join(dir, "state") });
    const daemon = startDaemon(pipelineFile, configFile);
    await waitFor(() => status()?.state === "degraded", 60_000, "status degraded by the refused subscription");
    expect(String(status()!.reason)).toMatch(/refuses the subscription to the trigger topic inspector\/subacl\/trigger: .*\(MQTT reason code 0x80\)/);
    // The broker's operator allows it: the station subscribes by itself within the retry period, and triggers work.
    allowed = true;
    await waitFor(() => status()?.state === "online", 20_000, "status online once subscribed");
    await sub.client.publishAsync("inspector/subacl/trigger", "S1", { qos: 1 });
    await waitFor(() => verdicts().length >= 1, 30_000, "the verdict of S1");
    expect(verdicts().map((v) => v.partId)).toEqual(["S1"]);
    expect(daemon.logs.filter((l) => /refuses the subscription/.test(String(l.msg)))).toHaveLength(1);
    expect(daemon.logs.filter((l) => /grants the trigger subscription/.test(String(l.msg)))).toHaveLength(1);
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited, daemon.stderr()).toBe(0);
    await sub.client.endAsync();
    await new Promise<void>((resolve) => server.close(() => broker.close(() => resolve())));
  });

  it("delivers what a killed daemon had spooled when it starts again", async () => {
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-crash-station-"));
    const state = path.join(dir, "state");
    // Broker down: every verdict stays in the spool, then the daemon is killed mid-run.
    const first = writeStation(dir, { station: "crash", bundle, source: { type: "synthetic", size: 64 }, heatmap: { enabled: false } },
      { mqtt: { url: `mqtt://127.0.0.1:${port}`, reconnectMs: { min: 100, max: 200 } }, stateDir: state });
    const doomed = startDaemon(first.pipelineFile, first.configFile);
    await waitFor(() => doomed.logs.filter((l) => l.verdict !== undefined).length >= 40, 120_000, "40 verdicts judged");
    doomed.child.kill("SIGKILL");
    await doomed.exited;
    const judged = doomed.logs.filter((l) => l.verdict !== undefined).map((l) => l.part as string);

    const broker = await startMosquitto(port);
    const sub = await recorder(broker.url, ["inspector/crash/verdict"]);
    const second = writeStation(mkdtempSync(path.join(tmpdir(), "inspector-crash-again-")),
      { station: "crash", bundle, source: { type: "synthetic", size: 64, count: 1 }, heatmap: { enabled: false } },
      { mqtt: { url: broker.url }, stateDir: state });
    const again = startDaemon(second.pipelineFile, second.configFile);
    expect(await again.exited, again.stderr()).toBe(0);
    await waitFor(() => sub.messages.length >= judged.length + 1, 30_000, "the spooled verdicts and the new one");
    const delivered = sub.messages.map((m) => m.json().partId as string);
    // Every verdict the killed daemon logged is delivered, in order, before the new run's.
    expect(delivered.slice(0, judged.length)).toEqual(judged);
    expect(again.logs.find((l) => /undelivered verdict/.test(String(l.msg)))).toMatchObject({ tornBytes: 0, unreadable: 0 });
    await sub.client.endAsync();
    await broker.stop();
  });
});
