// An OPC UA server for the line's PLC and for MES/SCADA. A Siemens S7-1500 or a Beckhoff TwinCAT
// PLC has an OPC UA client built in and no MQTT or JSON: it calls Trigger(partId) and gets the
// verdict as the method's answer, or reads the last result's scalars (no byte strings: the
// S7-1500's client cannot read them). For MES/SCADA, a subset of the machine-vision companion
// specification (OPC 40100-1): the vision state machine's states that apply, and one
// ResultReadyEvent per part of the specification's own event type. A trigger source and a sink at
// once: Trigger's calls join the trigger topic's payloads, and each call is answered when its part
// comes out of the pipeline. node-opcua is loaded only when the server is enabled.
import { timingSafeEqual } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";

import type { Logger } from "pino";
import { Subject } from "rxjs";

import type { DaemonConfig } from "../config/daemon-config.js";
import { UserError } from "../errors/user-error.js";
import type { PartOutcome } from "../pipeline/part.js";
import { checkPartId } from "../triggers/trigger-payload.js";
import type { VerdictKind } from "../verdict/verdict.js";
import type { OutcomeSink } from "./outcome-sink.js";

type Opcua = typeof import("node-opcua");

/** Our namespace: the same on every station, so one PLC program fits them all (its index: look it up by URI). */
export const OPCUA_NAMESPACE = "urn:inspector:station";
const MACHINE_VISION = "http://opcfoundation.org/UA/MachineVision";

/** OPC 40100-1 ResultStateDataType: processing carried out, or failed. */
const RESULT_COMPLETED = 1;
const RESULT_FAILED = 4;
/** OPC UA event severities (1–1000): a good part is news, a bad one a warning, an error more. */
const SEVERITY: Record<VerdictKind, number> = { OK: 100, NG: 500, UNCERTAIN: 500, ERROR: 700 };

export interface OpcuaNeeds {
  config: DaemonConfig["opcua"];
  station: string;
  stateDir: string;
  version: string;
  /** The pipeline takes triggers (trigger.type mqtt); continuous stations refuse Trigger. */
  triggered: boolean;
  stopping: () => boolean;
  facts: () => { state: string; reason: string | null; bundle: string; calibration: string | null };
}

/** What a PLC reads after a part: one Read of these is one part's values (node-opcua answers it in one go). */
interface LastResult {
  partId: string;
  verdict: string;
  code: string;
  score: number;
  regionCount: number;
  timestamp: Date | null;
  latencyMs: number;
}

const COUNTED = ["OK", "NG", "UNCERTAIN", "ERROR", "BUSY"] as const;

export class OpcuaStationServer implements OutcomeSink {
  readonly name = "opcua";
  /** Trigger's calls as trigger payloads, merged with the trigger topic's by the daemon. */
  readonly triggers$ = new Subject<Buffer>();
  private server?: InstanceType<Opcua["OPCUAServer"]>;
  private opcua?: Opcua;
  /** Calls waiting for their part, by part id, oldest first: the pipeline answers in trigger order. */
  private readonly waiting = new Map<string, ((outcome: PartOutcome | null) => void)[]>();
  private raise: (outcome: PartOutcome) => void = () => undefined;
  private last: LastResult = { partId: "", verdict: "", code: "", score: -1, regionCount: 0, timestamp: null, latencyMs: 0 };
  private resultCounter = 0;
  private readonly counts: Record<(typeof COUNTED)[number], number> = { OK: 0, NG: 0, UNCERTAIN: 0, ERROR: 0, BUSY: 0 };

  constructor(private readonly needs: OpcuaNeeds, private readonly log: Logger) {}

  get endpointUrl(): string {
    return this.server?.getEndpointUrl() ?? "";
  }

  async start(): Promise<void> {
    const require = createRequire(import.meta.url);
    // node-opcua prints its warnings to stdout, where journald takes our JSON lines: into the log
    // instead, before it is loaded (it warns while loading).
    const debug = require("node-opcua-debug") as typeof import("node-opcua-debug");
    const text = (args: unknown[]) => args.map((a) => (a instanceof Error ? a.message : String(a))).join(" ");
    debug.setWarningLogger((...args: unknown[]) => this.log.debug({ opcua: "warning" }, text(args)));
    debug.setErrorLogger((...args: unknown[]) => this.log.warn({ opcua: "error" }, text(args)));
    debug.setDebugLogger(() => undefined);
    debug.setTraceLogger(() => undefined);
    const opcua = this.opcua = require("node-opcua") as Opcua;
    const { config, stateDir, version } = this.needs;
    const users = config.users;
    const certificates = new opcua.OPCUACertificateManager({
      rootFolder: path.join(stateDir, "opcua", "pki"),
      automaticallyAcceptUnknownCertificate: config.acceptUnknownClients,
    });
    // Both stores under the state directory: by default node-opcua keeps the user one in
    // ~/.config, which a systemd service may not have or may not write.
    const userCertificates = new opcua.OPCUACertificateManager({ rootFolder: path.join(stateDir, "opcua", "user-pki"),
      automaticallyAcceptUnknownCertificate: false });
    this.server = new opcua.OPCUAServer({
      port: config.port,
      // Bound to one address, the endpoints a client is told of name that address, not the host name.
      ...(config.host ? { host: config.host, hostname: config.host } : {}),
      // node-opcua's own copy of the node sets: no second, undeclared dependency to keep in step.
      nodeset_filename: [opcua.nodesets.standard, opcua.nodesets.di, opcua.nodesets.machineVision],
      serverCertificateManager: certificates,
      userCertificateManager: userCertificates,
      securityPolicies: config.securityPolicies.map((p) => opcua.SecurityPolicy[p]),
      securityModes: config.securityModes.map((m) => opcua.MessageSecurityMode[m]),
      allowAnonymous: config.allowAnonymous,
      userManager: { isValidUser: (username: string, password: string) => users.some((u) => u.username === username && u.password !== undefined && sameText(u.password, password)) },
      buildInfo: { productName: "inspector", productUri: "urn:inspector", manufacturerName: "inspector", softwareVersion: version },
      serverInfo: { applicationUri: `urn:inspector:${this.needs.station}`, productUri: "urn:inspector",
        applicationName: { text: `inspector ${this.needs.station}` } },
      // A PLC polls; a handful of sessions is plenty and bounds what a misbehaving client can hold.
      maxAllowedSessionNumber: 20,
    });
    await this.server.initialize();
    const namespaceIndex = this.buildAddressSpace();
    try {
      await this.server.start();
    } catch (err) {
      throw new UserError(`opcua: cannot listen on ${config.host ?? "all addresses"}, port ${config.port} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}). ` +
        "Choose another opcua.port, or stop what uses it.");
    }
    this.log.info({ endpoint: this.endpointUrl, namespace: OPCUA_NAMESPACE, namespaceIndex, anonymous: config.allowAnonymous, users: users.length,
      securityModes: config.securityModes }, `OPC UA server on ${this.endpointUrl}`);
  }

  /** Returns our namespace's index. */
  private buildAddressSpace(): number {
    const opcua = this.opcua!;
    const { DataType, Variant, StatusCodes } = opcua;
    const addressSpace = this.server!.engine.addressSpace!;
    const namespace = addressSpace.registerNamespace(OPCUA_NAMESPACE);
    const objects = addressSpace.rootFolder.objects;

    // The flat object for PLC programmers: string node ids that read as what they hold.
    const station = namespace.addObject({ browseName: "Inspector", nodeId: "s=Inspector", organizedBy: objects,
      description: `inspector station ${this.needs.station}: call Trigger, or read the last result` });
    const scalar = (parent: typeof station, name: string, dataType: number, get: () => unknown, description: string) =>
      namespace.addVariable({ componentOf: parent, browseName: name, nodeId: `s=Inspector.${name}`, dataType, description,
        minimumSamplingInterval: 50, value: { get: () => new Variant({ dataType, value: get() }) } });
    scalar(station, "PartId", DataType.String, () => this.last.partId, "the last judged part's id");
    scalar(station, "Verdict", DataType.String, () => this.last.verdict, "OK, NG, UNCERTAIN or ERROR");
    scalar(station, "Code", DataType.String, () => this.last.code, "why an ERROR (BUSY, SOURCE_UNAVAILABLE, …); empty otherwise");
    scalar(station, "Score", DataType.Double, () => this.last.score, "the anomaly score; -1 when there is none (an ERROR)");
    scalar(station, "RegionCount", DataType.UInt32, () => this.last.regionCount, "defect regions found");
    scalar(station, "Timestamp", DataType.DateTime, () => this.last.timestamp, "when the verdict was decided");
    scalar(station, "LatencyMs", DataType.Double, () => this.last.latencyMs, "trigger to verdict");
    scalar(station, "ResultCounter", DataType.UInt32, () => this.resultCounter, "one more per judged part: watch it for a new result");
    for (const kind of COUNTED) {
      const name = `${kind[0]}${kind.slice(1).toLowerCase()}Count`;
      scalar(station, name, DataType.UInt32, () => this.counts[kind], `${kind} parts since the start`);
    }
    scalar(station, "Status", DataType.String, () => this.needs.facts().state, "online, degraded or offline");
    scalar(station, "StatusReason", DataType.String, () => this.needs.facts().reason ?? "", "why degraded; empty when online");
    scalar(station, "Bundle", DataType.String, () => this.needs.facts().bundle, "the model bundle's id");
    scalar(station, "Calibration", DataType.String, () => this.needs.facts().calibration ?? "", "the calibration's id");

    const trigger = namespace.addMethod(station, {
      browseName: "Trigger", nodeId: "s=Inspector.Trigger",
      description: "Judge the part in front of the camera now; returns when it is judged (BUSY at once when the queue is full).",
      inputArguments: [{ name: "partId", dataType: DataType.String, description: { text: "the PLC's part id, 1–128 characters" } }],
      outputArguments: [
        { name: "verdict", dataType: DataType.String, description: { text: "OK, NG, UNCERTAIN or ERROR" } },
        { name: "code", dataType: DataType.String, description: { text: "why an ERROR (BUSY, …); empty otherwise" } },
        { name: "score", dataType: DataType.Double, description: { text: "the anomaly score; -1 when there is none" } },
        { name: "partId", dataType: DataType.String, description: { text: "the part id judged" } },
      ],
    });
    // Two parameters, not one: node-opcua tells an async method from a callback one by their count.
    trigger.bindMethod(async (inputArguments: InstanceType<Opcua["Variant"]>[], _context: unknown) => {
      const refuse = (statusCode: typeof StatusCodes.Good, why: string) => {
        this.log.warn({ opcua: "Trigger" }, `Trigger refused (${statusCode.name}): ${why}`);
        return { statusCode, ...(statusCode === StatusCodes.BadInvalidArgument ? { inputArgumentResults: [statusCode] } : {}) };
      };
      const argument = inputArguments[0];
      if (inputArguments.length !== 1 || argument?.dataType !== DataType.String || typeof argument.value !== "string") {
        return refuse(StatusCodes.BadInvalidArgument, "Trigger takes one String argument, the part id");
      }
      const partId = argument.value.trim();
      const problem = checkPartId(partId);
      if (problem) return refuse(StatusCodes.BadInvalidArgument, problem);
      if (!this.needs.triggered) return refuse(StatusCodes.BadInvalidState, "the station runs continuously (trigger.type: continuous); set trigger.type: mqtt to take triggers");
      if (this.needs.stopping()) return refuse(StatusCodes.BadInvalidState, "the station is stopping");
      const outcome = await this.judge(partId);
      if (!outcome) return refuse(StatusCodes.BadInvalidState, "the station stopped before the part was judged");
      return { statusCode: StatusCodes.Good, outputArguments: [
        { dataType: DataType.String, value: outcome.verdict },
        { dataType: DataType.String, value: outcome.code ?? "" },
        { dataType: DataType.Double, value: outcome.score ?? -1 },
        { dataType: DataType.String, value: partId },
      ] };
    });

    // OPC 40100-1, the part of VisionSystemType a station can honestly fill in: the states that
    // apply and the result event. Recipe, configuration and result management are not offered.
    const mv = addressSpace.getNamespaceIndex(MACHINE_VISION);
    const visionSystem = namespace.addObject({ browseName: "VisionSystem", nodeId: "s=VisionSystem", organizedBy: objects,
      eventNotifier: 1, description: "OPC 40100-1 subset: the vision state machine's current state and a ResultReadyEvent per part" });
    // Events raised here reach a client subscribed to the Server object too.
    addressSpace.rootFolder.objects.server.addReference({ referenceType: "HasNotifier", nodeId: visionSystem.nodeId });
    const stateMachine = namespace.addObject({ browseName: "VisionStateMachine", nodeId: "s=VisionSystem.VisionStateMachine", componentOf: visionSystem });
    const text = (get: () => string) => ({ get: () => new Variant({ dataType: DataType.LocalizedText, value: { text: get() } }) });
    namespace.addVariable({ componentOf: stateMachine, browseName: "CurrentState", nodeId: "s=VisionSystem.VisionStateMachine.CurrentState",
      dataType: DataType.LocalizedText, description: "Operational, Error (degraded: camera or broker lost) or Halted (stopping)",
      minimumSamplingInterval: 50, value: text(() => this.topState()) });
    const operational = namespace.addObject({ browseName: "OperationalStateMachine", nodeId: "s=VisionSystem.VisionStateMachine.OperationalStateMachine",
      componentOf: stateMachine });
    namespace.addVariable({ componentOf: operational, browseName: "CurrentState",
      nodeId: "s=VisionSystem.VisionStateMachine.OperationalStateMachine.CurrentState", dataType: DataType.LocalizedText,
      description: "ContinuousExecution, or Ready / SingleExecution (a Trigger call in progress) for a triggered station",
      minimumSamplingInterval: 50, value: text(() => !this.needs.triggered ? "ContinuousExecution" : this.waiting.size > 0 ? "SingleExecution" : "Ready") });

    const resultReady = addressSpace.findEventType("ResultReadyEventType", mv)!;
    // Looked up once: a lookup by name per part and field would cost more than the event itself.
    const dataTypes = new Map(["ResultIdDataType", "PartIdDataType", "JobIdDataType", "RecipeIdInternalDataType", "ConfigurationIdDataType",
      "ProcessingTimesDataType"].map((name) => [name, addressSpace.findDataType(name, mv)!]));
    const structure = (name: string, fields: Record<string, unknown>) => new Variant({ dataType: DataType.ExtensionObject,
      value: addressSpace.constructExtensionObject(dataTypes.get(name)!, fields) });
    const configuration = (id: string) => structure("ConfigurationIdDataType", { id });
    this.raise = (outcome) => {
      const decided = new Date(outcome.decidedAt);
      const triggered = new Date(outcome.triggeredAt);
      const resultId = `${this.needs.station}-${outcome.partId ?? "unknown"}-${this.resultCounter}`;
      const latency = outcome.latencyMs;
      visionSystem.raiseEvent(resultReady, {
        message: { dataType: DataType.LocalizedText, value: { text: `${outcome.verdict}${outcome.code ? ` ${outcome.code}` : ""} part ${outcome.partId ?? "(none)"}` } },
        severity: { dataType: DataType.UInt16, value: SEVERITY[outcome.verdict] },
        resultId: structure("ResultIdDataType", { id: resultId }),
        partId: structure("PartIdDataType", { id: outcome.partId ?? "" }),
        resultState: { dataType: DataType.Int32, value: outcome.verdict === "ERROR" ? RESULT_FAILED : RESULT_COMPLETED },
        isPartial: { dataType: DataType.Boolean, value: false },
        creationTime: { dataType: DataType.DateTime, value: decided },
        jobId: structure("JobIdDataType", { id: outcome.partId ?? resultId }),
        internalRecipeId: structure("RecipeIdInternalDataType", { id: outcome.bundle }),
        internalConfigurationId: configuration(outcome.calibration ?? ""),
        processingTimes: structure("ProcessingTimesDataType", {
          startTime: triggered, endTime: decided,
          acquisitionDuration: latency.grab ?? 0,
          processingDuration: (latency.preprocess ?? 0) + (latency.infer ?? 0) + (latency.score ?? 0) + (latency.heatmap ?? 0),
        }),
        resultContent: { dataType: DataType.Variant, arrayType: opcua.VariantArrayType.Array, value: [
          new Variant({ dataType: DataType.String, value: outcome.verdict }),
          new Variant({ dataType: DataType.String, value: outcome.code ?? "" }),
          new Variant({ dataType: DataType.Double, value: outcome.score ?? -1 }),
        ] },
      });
    };
    return namespace.index;
  }

  private topState(): string {
    if (this.needs.stopping()) return "Halted";
    return this.needs.facts().state === "online" ? "Operational" : "Error";
  }

  /** The part's outcome once the pipeline has judged it; null when the station stopped first. */
  private judge(partId: string): Promise<PartOutcome | null> {
    return new Promise((resolve) => {
      const queue = this.waiting.get(partId) ?? [];
      queue.push(resolve);
      this.waiting.set(partId, queue);
      this.triggers$.next(Buffer.from(JSON.stringify({ partId })));
    });
  }

  receive(outcome: PartOutcome): void {
    this.resultCounter = (this.resultCounter + 1) >>> 0;
    this.counts[outcome.code === "BUSY" ? "BUSY" : outcome.verdict]++;
    this.last = {
      partId: outcome.partId ?? "", verdict: outcome.verdict, code: outcome.code ?? "", score: outcome.score ?? -1,
      regionCount: outcome.regions.length, timestamp: new Date(outcome.decidedAt), latencyMs: outcome.latencyMs.total ?? 0,
    };
    this.raise(outcome);
    if (outcome.partId === null) return;
    const queue = this.waiting.get(outcome.partId);
    const answer = queue?.shift();
    if (queue?.length === 0) this.waiting.delete(outcome.partId);
    answer?.(outcome);
  }

  async stop(): Promise<void> {
    this.triggers$.complete();
    for (const queue of this.waiting.values()) for (const answer of queue) answer(null);
    this.waiting.clear();
    await this.server?.shutdown(500);
  }
}

/** Compared in constant time, so a wrong password's timing says nothing about the right one. */
function sameText(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
