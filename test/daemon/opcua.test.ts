// The OPC UA server against node-opcua's own client, as a PLC and an MES would use it: Trigger
// called with a part id answers with the verdict the MQTT verdict topic carries for the same part,
// the last-result scalars read back in one Read, a ResultReadyEvent of the machine-vision
// specification's type for each part, sessions refused without credentials when anonymous is off,
// and bad input (a number as part id, an empty one, a wrong argument count) answered with a Bad
// status while the station goes on judging.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRequire } from "node:module";

import { describe, expect, it } from "vitest";

import { loadDaemonConfig } from "../../src/config/daemon-config.js";
import { freePort, recorder, startDaemon, waitFor, writeStation } from "../helpers/daemon.js";
import { REPO } from "../helpers/python.js";

type Opcua = typeof import("node-opcua");
const require = createRequire(import.meta.url);
// node-opcua's own warnings go to stdout, where the test reads the daemon's JSON: not here.
(require("node-opcua-debug") as typeof import("node-opcua-debug")).setWarningLogger(() => undefined);
const opcua = require("node-opcua") as Opcua;
const { OPCUAClient, DataType, AttributeIds, StatusCodes, UserTokenType, MessageSecurityMode, SecurityPolicy } = opcua;

const NS = "urn:inspector:station";

describe("OPC UA server", () => {
  it("answers Trigger with the MQTT verdict, serves the result scalars and a ResultReadyEvent per part, refuses bad input and anonymous sessions", async () => {
    const mqttPort = await freePort();
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-opcua-"));
    const { pipelineFile, configFile } = writeStation(dir, {
      station: "cell3", bundle: path.join(REPO, "models", "demo"), source: { type: "synthetic", size: 256, defectRate: 0.5, seed: 4 },
      trigger: { type: "mqtt", queue: 1 },
    }, { mqtt: { embedded: { port: mqttPort } }, stateDir: path.join(dir, "state"),
      opcua: { enabled: true, port, users: [{ username: "plc", password: "line-3-secret" }] } });
    const daemon = startDaemon(pipelineFile, configFile);
    const client = OPCUAClient.create({ endpointMustExist: false, connectionStrategy: { maxRetry: 2, initialDelay: 200 },
      securityMode: MessageSecurityMode.None, securityPolicy: SecurityPolicy.None });
    try {
      await daemon.waitForLog(/station running/);
      const endpoint = `opc.tcp://localhost:${port}`;
      const mqtt = await recorder(`mqtt://127.0.0.1:${mqttPort}`, ["inspector/cell3/verdict"]);
      await client.connect(endpoint);

      // Anonymous is off: no session without a user, none with a wrong password.
      await expect(client.createSession()).rejects.toThrow();
      await expect(client.createSession({ type: UserTokenType.UserName, userName: "plc", password: "wrong-password" })).rejects.toThrow();
      const session = await client.createSession({ type: UserTokenType.UserName, userName: "plc", password: "line-3-secret" });
      const ns = (await session.readNamespaceArray()).indexOf(NS);
      expect(ns).toBeGreaterThan(0);
      const id = (name: string) => `ns=${ns};s=${name}`;

      // The MES's view: events of OPC 40100-1's ResultReadyEventType from the vision system.
      const mvNs = (await session.readNamespaceArray()).indexOf("http://opcfoundation.org/UA/MachineVision");
      const subscription = await session.createSubscription2({ requestedPublishingInterval: 100, publishingEnabled: true,
        requestedMaxKeepAliveCount: 20, requestedLifetimeCount: 100 });
      const fields = ["EventType", "Message", "Severity", `${mvNs}:PartId`, `${mvNs}:ResultState`, `${mvNs}:ProcessingTimes`, `${mvNs}:ResultId`, `${mvNs}:ResultContent`];
      const events: { [k: string]: unknown }[] = [];
      const monitored = await subscription.monitor({ nodeId: id("VisionSystem"), attributeId: AttributeIds.EventNotifier },
        { samplingInterval: 0, queueSize: 100, filter: opcua.constructEventFilter(fields) }, opcua.TimestampsToReturn.Neither);
      monitored.on("changed", (values: unknown) => {
        const list = values as { value: unknown }[];
        events.push(Object.fromEntries(fields.map((f, i) => [f, list[i].value])));
      });

      const call = (partId: unknown, dataType = DataType.String) => session.call({ objectId: id("Inspector"), methodId: id("Inspector.Trigger"),
        inputArguments: [{ dataType, value: partId }] });
      const first = await call("P-100");
      expect(first.statusCode).toBe(StatusCodes.Good);
      const [verdict, code, score, partId] = first.outputArguments!.map((v) => v.value as unknown);
      expect(partId).toBe("P-100");
      await waitFor(() => mqtt.messages.some((m) => m.json().partId === "P-100"), 10_000, "the MQTT verdict of P-100");
      const published = mqtt.messages.find((m) => m.json().partId === "P-100")!.json();
      expect(verdict).toBe(published.verdict);
      expect(code).toBe(published.code ?? "");
      expect(score).toBeCloseTo(published.score as number, 9);

      // The scalars, in one Read: the last part's values.
      const names = ["PartId", "Verdict", "Code", "Score", "RegionCount", "ResultCounter", "Timestamp", "OkCount", "NgCount", "Status"];
      const read = await session.read(names.map((n) => ({ nodeId: id(`Inspector.${n}`), attributeId: AttributeIds.Value })));
      const value = Object.fromEntries(names.map((n, i) => [n, read[i].value.value as unknown]));
      expect(read.every((r) => r.statusCode === StatusCodes.Good)).toBe(true);
      expect(value).toMatchObject({ PartId: "P-100", Verdict: published.verdict, Code: "", ResultCounter: 1, Status: "online" });
      expect(value.RegionCount).toBe((published.regions as unknown[]).length);
      expect((value.OkCount as number) + (value.NgCount as number)).toBe(1);
      expect(read.some((r) => r.value.dataType === DataType.ByteString)).toBe(false);
      const states = await session.read(["VisionSystem.VisionStateMachine.CurrentState",
        "VisionSystem.VisionStateMachine.OperationalStateMachine.CurrentState"].map((n) => ({ nodeId: id(n), attributeId: AttributeIds.Value })));
      expect(states.map((r) => (r.value.value as { text: string }).text)).toEqual(["Operational", "Ready"]);

      // Bad input: a Bad status, a log line, and the station goes on.
      const wrongType = await call(42, DataType.Int32);
      expect([StatusCodes.BadInvalidArgument, StatusCodes.BadTypeMismatch]).toContain(wrongType.statusCode);
      expect((await call("")).statusCode).toBe(StatusCodes.BadInvalidArgument);
      expect((await call("bad\u0007id")).statusCode).toBe(StatusCodes.BadInvalidArgument);
      const tooMany = await session.call({ objectId: id("Inspector"), methodId: id("Inspector.Trigger"),
        inputArguments: [{ dataType: DataType.String, value: "P-1" }, { dataType: DataType.String, value: "extra" }] });
      expect(tooMany.statusCode).not.toBe(StatusCodes.Good);
      const second = await call("P-101");
      expect(second.statusCode).toBe(StatusCodes.Good);
      expect(second.outputArguments![3].value).toBe("P-101");

      // A burst past the queue (1 waiting): some are answered BUSY at once, every call is answered.
      const burst = await Promise.all(["B-1", "B-2", "B-3", "B-4", "B-5", "B-6"].map((p) => call(p)));
      expect(burst.every((r) => r.statusCode === StatusCodes.Good)).toBe(true);
      expect(burst.map((r) => r.outputArguments![1].value)).toContain("BUSY");
      expect(burst.map((r) => r.outputArguments![3].value)).toEqual(["B-1", "B-2", "B-3", "B-4", "B-5", "B-6"]);

      // One event per judged part (2 + 6), of the specification's type, with its part id.
      await waitFor(() => events.length >= 8, 10_000, "8 ResultReadyEvents");
      const resultReady = opcua.resolveNodeId(`ns=${mvNs};i=1024`).toString();
      expect(events.every((e) => String(e.EventType) === resultReady)).toBe(true);
      const p100 = events.find((e) => (e[`${mvNs}:PartId`] as { id: string }).id === "P-100")!;
      expect(p100[`${mvNs}:ResultState`]).toBe(1);
      const times = p100[`${mvNs}:ProcessingTimes`] as { startTime: Date; endTime: Date };
      expect(times.endTime.getTime()).toBeGreaterThanOrEqual(times.startTime.getTime());
      expect((p100[`${mvNs}:ResultContent`] as { value: unknown }[])[0].value).toBe(verdict);
      const busy = events.find((e) => (e[`${mvNs}:ResultContent`] as { value: unknown }[])[1].value === "BUSY")!;
      expect(busy[`${mvNs}:ResultState`]).toBe(4);
      expect(daemon.logs.some((l) => /Trigger refused/.test(String(l.msg)))).toBe(true);

      await session.close();
      await mqtt.client.endAsync();
    } finally {
      await client.disconnect().catch(() => undefined);
      daemon.child.kill("SIGTERM");
      const code = await daemon.exited;
      expect(code, `${daemon.stderr()}\n${JSON.stringify(daemon.logs.filter((l) => (l.level as number) >= 40))}`).toBe(0);
    }
  });

  it("refuses Trigger on a continuous station with BadInvalidState, and still serves its results", async () => {
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-opcua-continuous-"));
    const { pipelineFile, configFile } = writeStation(dir, {
      station: "cell4", bundle: path.join(REPO, "models", "demo"), source: { type: "synthetic", size: 256, seed: 5 },
      trigger: { type: "continuous", minIntervalMs: 100 }, heatmap: { enabled: false },
    }, { mqtt: { embedded: { port: await freePort() } }, stateDir: path.join(dir, "state"),
      opcua: { enabled: true, port, host: "127.0.0.1", allowAnonymous: true } });
    const daemon = startDaemon(pipelineFile, configFile);
    const client = OPCUAClient.create({ endpointMustExist: false, connectionStrategy: { maxRetry: 2, initialDelay: 200 } });
    try {
      await daemon.waitForLog(/station running/);
      await client.connect(`opc.tcp://127.0.0.1:${port}`);
      const session = await client.createSession();
      const ns = (await session.readNamespaceArray()).indexOf(NS);
      const result = await session.call({ objectId: `ns=${ns};s=Inspector`, methodId: `ns=${ns};s=Inspector.Trigger`,
        inputArguments: [{ dataType: DataType.String, value: "P-1" }] });
      expect(result.statusCode).toBe(StatusCodes.BadInvalidState);
      const read = async (name: string) => (await session.read({ nodeId: `ns=${ns};s=${name}`, attributeId: AttributeIds.Value })).value.value as unknown;
      const counter = async () => read("Inspector.ResultCounter") as Promise<number>;
      const first = await counter();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await counter()).toBeGreaterThan(first);
      expect(((await read("VisionSystem.VisionStateMachine.OperationalStateMachine.CurrentState")) as { text: string }).text).toBe("ContinuousExecution");
      await session.close();
    } finally {
      await client.disconnect().catch(() => undefined);
      daemon.child.kill("SIGTERM");
      expect(await daemon.exited).toBe(0);
    }
  });

  it("refuses a configuration nobody could log in with, short or missing passwords, and None on one list only", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "inspector-opcua-config-"));
    const load = (opcua: object) => {
      const file = path.join(dir, "daemon.yaml");
      writeFileSync(file, JSON.stringify({ opcua: { enabled: true, ...opcua } }));
      try {
        return loadDaemonConfig(file, {}).opcua;
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(load({})).toMatch(/opcua: no client could open a session: add opcua.users/);
    expect(load({ users: [{ username: "plc", password: "short" }] })).toMatch(/at least 8 characters/);
    expect(load({ users: [{ username: "plc" }] })).toMatch(/opcua.users\[0\] \(plc\): no password; give password or passwordFile/);
    writeFileSync(path.join(dir, "plc.password"), "from-a-file-1234\n");
    expect(load({ users: [{ username: "plc", passwordFile: "plc.password" }] })).toMatchObject({ users: [{ username: "plc", password: "from-a-file-1234" }] });
    expect(load({ allowAnonymous: true, securityPolicies: ["Basic256Sha256"] })).toMatch(/both list None or both leave it out/);
    expect(load({ allowAnonymous: true, securityPolicies: ["Basic256Sha256"], securityModes: ["SignAndEncrypt"] }))
      .toMatchObject({ allowAnonymous: true, port: 4840, acceptUnknownClients: false });
    expect(load({ allowAnonymous: true, securityModes: ["Encrypt"] })).toMatch(/securityModes/);
  });
});
