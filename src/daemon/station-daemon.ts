// `inspector run`: one station, unattended. Start-up order matters: the bundle is checked and
// loaded first (a bad bundle stops the daemon before it claims to be ready), then the broker
// connection (which may be down: verdicts are spooled meanwhile), then the source (a lost camera
// makes the station degraded, not dead), then the pipeline, then READY=1. SIGTERM drains: no new
// parts, the part in flight and any queued ones get their verdicts, the spool is flushed while
// the broker answers, status goes offline, the camera is released.
import { randomBytes } from "node:crypto";

import type { MqttClient } from "mqtt";
import type { Logger } from "pino";
import { fromEvent, map, Observable, Subject, filter } from "rxjs";

import { startEmbeddedBroker, type EmbeddedBroker } from "../mqtt/embedded-broker.js";
import { ConfigError } from "../config/config-file.js";
import { type DaemonConfig, sessionSettingsOf } from "../config/daemon-config.js";
import type { Pipeline } from "../config/pipeline-config.js";
import { BundleRunner } from "../inference/bundle-runner.js";
import type { StationContext } from "../pipeline/inspect-part.js";
import type { PartOutcome } from "../pipeline/part.js";
import { stationPipeline, type StationCounters } from "../pipeline/station-pipeline.js";
import type { FrameSource } from "../sources/frame-source.js";
import { createSource } from "../sources/open-source.js";
import { connectMqtt, protocolOf } from "../mqtt/mqtt-connection.js";
import { offlinePayload, StationStatus, type StatusFacts } from "../sinks/station-status.js";
import { stationTopics } from "../mqtt/topics.js";
import { VerdictPublisher } from "../sinks/verdict-publisher.js";
import { TriggerSubscription } from "../triggers/trigger-subscription.js";
import { VerdictSpool } from "../sinks/verdict-spool.js";
import { systemdNotifier, type Notifier } from "./sd-notify.js";
import { StationLock } from "./station-lock.js";
import { VERSION } from "./version.js";

export interface DaemonOptions {
  config: DaemonConfig;
  pipeline: Pipeline;
  log: Logger;
  /** How long a stop waits for the broker to take the spooled verdicts (they stay spooled after). */
  drainTimeoutMs?: number;
  /** Sees every outcome after it is handed to the sinks (`inspector bench`). */
  onOutcome?: (outcome: PartOutcome) => void;
  /** Sees the PUBLISH → PUBACK time of every verdict (`inspector bench`). */
  onAcknowledged?: (ms: number) => void;
}

const FIRST_CONNECT_WAIT_MS = 5_000;
/** A part in flight longer than this means the pipeline is stuck: the watchdog stops being fed. */
const STUCK_PART_MS = 60_000;

/** What the daemon keeps in stateDir, made or opened with a message that names the folder when it cannot be. */
function stateDirUse<T>(stateDir: string, open: () => T): T {
  try {
    return open();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`stateDir ${stateDir}: cannot keep the verdict spool there (${(err as Error).message}). ` +
      "Set stateDir to a folder the daemon may write (systemd: StateDirectory=).");
  }
}

export class StationDaemon {
  private readonly stop$ = new Subject<void>();
  private readonly counters: StationCounters = { parts: 0, dropped: 0, busy: 0, badTriggers: 0 };
  private lastProgress = Date.now();
  private finished: Promise<void> = Promise.resolve();
  private stopping = false;
  /** Start-up in progress: a stop waits for it to reach its next step, where it gives up. */
  private starting?: Promise<void>;
  private stopped?: Promise<void>;
  /** Held from the start (closed even when start-up fails half-way); the context's runner after a reload. */
  private runner?: BundleRunner;
  /** What the pipeline judges with; a reload swaps its runner. */
  private context?: StationContext;
  private reloading = false;
  private broker?: EmbeddedBroker;
  private client?: MqttClient;
  private source?: FrameSource;
  private spool?: VerdictSpool;
  private lock?: StationLock;
  private publisher?: VerdictPublisher;
  private triggerSubscription?: TriggerSubscription;
  private status?: StationStatus;
  private notifier?: Notifier;
  private watchdog?: NodeJS.Timeout;
  private seq = 0;

  constructor(private readonly options: DaemonOptions) {}

  start(): Promise<void> {
    this.starting = this.startUp();
    return this.starting;
  }

  /**
   * Each step checks for a stop that came while it waited (systemctl stop, or a shutdown, right
   * after a start): left to run on, the pipeline would start with its stop signal already given
   * and judge parts for a daemon that had been told to leave.
   */
  private async startUp(): Promise<void> {
    const { config, pipeline, log } = this.options;
    this.notifier = systemdNotifier(log);
    // First: a second daemon for the same station stops here, before it loads anything.
    this.lock = stateDirUse(config.stateDir, () => StationLock.acquire(config.stateDir, pipeline.station));
    if (this.lock.tookOverFrom !== undefined) {
      log.info({ stateDir: config.stateDir, pid: this.lock.tookOverFrom }, "took over the station's lock from a process that is gone");
    }
    if (this.lock.problem) {
      log.warn({ stateDir: config.stateDir }, `${this.lock.problem}: a second daemon for this station would not be stopped. ` +
        `Free space in ${config.stateDir} and restart`);
    }
    const runner = this.runner = await this.openBundle();
    if (this.stopping) return;
    log.info({ bundle: pipeline.bundle, calibration: runner.bundle.calibrationId }, runner.describe());

    let url = config.mqtt.url;
    if (!url) {
      this.broker = await startEmbeddedBroker(config.mqtt.embedded.host, config.mqtt.embedded.port);
      if (this.stopping) return;
      url = this.broker.url;
      log.info({ broker: url }, `no mqtt.url configured: started the embedded MQTT broker on ${url}`);
    }
    // aedes speaks 3.1.1 only; an external broker is asked for MQTT 5 first unless told otherwise.
    const protocolVersion = config.mqtt.protocolVersion ?? (this.broker ? 4 : "auto");
    const topics = stationTopics(pipeline.topicPrefix ?? config.mqtt.topicPrefix, pipeline.station,
      pipeline.trigger.type === "mqtt" ? pipeline.trigger.topic : undefined);
    this.source = createSource(pipeline.source);
    const facts: StatusFacts = {
      station: pipeline.station, version: VERSION, bundle: runner.bundle.id, calibration: runner.bundle.calibrationId ?? null,
      provider: runner.worker.provider, source: this.source.description,
    };
    this.client = connectMqtt(config.mqtt, {
      url, protocolVersion, clientId: config.mqtt.clientId ?? `inspector-${pipeline.station}-${randomBytes(3).toString("hex")}`,
      willTopic: topics.status, willPayload: offlinePayload(facts, "connection lost"),
    }, log);
    // Before the spool: a full disk found while it opens already makes the station degraded.
    const status = this.status = new StationStatus(this.client, topics.status, facts);
    /** A part of the station that goes wrong and right again by itself: said once each way, the status in step. */
    const reporter = (part: string, where: object, fix: string, fixed: string) => (problem: string | null) => {
      if (problem) log.error(where, `${problem}: ${fix}`);
      else log.info(where, fixed);
      status.setProblem(part, problem);
    };
    this.spool = stateDirUse(config.stateDir, () => new VerdictSpool(config.stateDir, pipeline.station, {
      onDiskProblem: reporter("spool", { stateDir: config.stateDir }, `free space in ${config.stateDir}; until then verdicts ` +
        "live in memory only, lost if the daemon stops before the broker has them", "the verdict spool is written to disk again"),
    }));
    const recovered = this.spool.recovered;
    if (recovered.pending || recovered.tornBytes || recovered.unreadable) {
      log.warn({ ...recovered, stateDir: config.stateDir }, `${recovered.pending} undelivered verdict(s) from an earlier run will be delivered first`);
    }
    this.publisher = new VerdictPublisher(this.client, this.spool, topics.verdict, {
      maxHeatmapBytes: config.mqtt.maxHeatmapBytes, maxInflight: config.mqtt.maxInflight,
      onRefused: reporter("delivery", { topic: topics.verdict }, "allow the station's client to publish there (the broker's ACL)",
        "the broker takes verdicts again"),
    }, log);
    this.publisher.onAcknowledged = this.options.onAcknowledged;

    // Give the broker a moment before the first part, so that a normal start loses no heatmap;
    // a broker that stays away does not hold the station up (verdicts are spooled).
    const client = this.client;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stopped.unsubscribe();
        resolve();
      };
      const timer = setTimeout(done, FIRST_CONNECT_WAIT_MS);
      const stopped = this.stop$.subscribe(done);
      client.once("connect", done);
    });
    if (this.stopping) return;
    await this.source.open();
    if (this.stopping) return;
    this.source.health$.subscribe((health) => {
      if (this.stopping) return;
      if (health.ok) {
        if (this.status!.problem("source")) log.info("source is back");
        this.status!.setProblem("source", null);
      } else {
        log.warn({ reason: health.reason }, "source lost: station degraded, reconnecting");
        this.status!.setProblem("source", health.reason ?? "source lost");
      }
    });

    let triggers$: Observable<Buffer> | undefined;
    if (pipeline.trigger.type === "mqtt") {
      triggers$ = fromEvent(client, "message", (topic: string, payload: Buffer) => ({ topic, payload })).pipe(
        // Subscribed to the trigger topic only; anything else a broker might deliver is ignored.
        filter((m) => m.topic === topics.trigger),
        map((m) => m.payload),
      );
      this.triggerSubscription = new TriggerSubscription(client, topics.trigger, reporter("triggers", { topic: topics.trigger },
        "allow the station's client to subscribe there (the broker's ACL)", "the broker grants the trigger subscription"));
      this.triggerSubscription.start();
      log.info({ topic: topics.trigger, queue: pipeline.trigger.queue }, "waiting for triggers");
    }

    this.context = {
      station: pipeline.station, pipeline, source: this.source, runner,
      heatmapTopic: (partId) => topics.heatmap(partId, protocolOf(this.client!)),
    };
    this.finished = new Promise<void>((resolve) => {
      stationPipeline({
        context: this.context!,
        counters: this.counters, stop$: this.stop$, triggers$,
      }).subscribe({
        next: (outcome) => this.deliver(outcome),
        error: (err: Error) => {
          log.error({ err: err.message }, "pipeline failed");
          resolve();
        },
        complete: () => resolve(),
      });
    });
    this.startWatchdog();
    this.notifier.notify(`READY=1\nSTATUS=station ${pipeline.station}: ${this.source.description}`);
    log.info({ station: pipeline.station, source: this.source.description, trigger: pipeline.trigger.type,
      verdicts: topics.verdict }, "station running");
  }

  private openBundle(): Promise<BundleRunner> {
    const { config, pipeline } = this.options;
    return BundleRunner.open(pipeline.bundle, { requireCalibration: true, session: sessionSettingsOf(config) });
  }

  /**
   * SIGHUP (`systemctl reload`): load the station's bundle folder again — a new calibration or a
   * new model — and swap it in between parts. A bundle that fails its checks is refused and the
   * station keeps judging with the one it has: a bad copy never stops a line.
   */
  async reload(): Promise<void> {
    const log = this.options.log;
    if (!this.context || this.stopping || this.reloading) {
      log.warn(`reload ignored: the station is ${this.stopping ? "stopping" : this.reloading ? "already reloading" : "still starting"}`);
      return;
    }
    this.reloading = true;
    const previous = this.context.runner;
    this.notifier?.notify(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}\nSTATUS=loading the bundle again`);
    try {
      const next = await this.openBundle();
      if (this.stopping) {
        await next.close();
        return;
      }
      this.context.runner = this.runner = next;
      void previous.retire();
      this.status?.update({ bundle: next.bundle.id, calibration: next.bundle.calibrationId ?? null, provider: next.worker.provider });
      log.info({ bundle: next.bundle.id, calibration: next.bundle.calibrationId, was: { bundle: previous.bundle.id, calibration: previous.bundle.calibrationId } },
        `reloaded: ${next.describe()}, calibration ${next.bundle.calibrationId}`);
    } catch (err) {
      log.error({ err: (err as Error).message, bundle: previous.bundle.id, calibration: previous.bundle.calibrationId },
        `reload refused, the station keeps bundle ${previous.bundle.id} with calibration ${previous.bundle.calibrationId}: ${(err as Error).message}`);
    } finally {
      this.reloading = false;
      if (!this.stopping) this.notifier?.notify(`READY=1\nSTATUS=station ${this.options.pipeline.station}: ${this.source?.description}`);
    }
  }

  private deliver(outcome: PartOutcome): void {
    this.lastProgress = Date.now();
    outcome.message.seq = ++this.seq;
    // Spooled before it is logged: a verdict in the journal is a verdict on disk, even if the
    // process is killed between the two.
    this.publisher!.submit(outcome);
    const m = outcome.message;
    const line = { part: m.partId, seq: m.seq, verdict: m.verdict, score: m.score === null ? null : Number(m.score.toFixed(3)),
      code: m.code ?? undefined, regions: m.regions.length || undefined, truth: m.frame?.truth, ms: m.latencyMs.total && Math.round(m.latencyMs.total) };
    if (m.verdict === "ERROR") this.options.log.warn(line, `ERROR ${m.code}: ${m.message}`);
    else this.options.log.info(line, `${m.verdict.padEnd(9)} part ${m.partId}  score ${m.score!.toFixed(2)}`);
    this.options.onOutcome?.(outcome);
  }

  private startWatchdog(): void {
    const watchdogMs = this.notifier?.watchdogMs;
    if (!watchdogMs) return;
    // Fed only while healthy: the event loop runs and no part has been stuck in the pipeline.
    // A lost camera does not starve it (restarting would not bring a camera back; the source reconnects).
    this.watchdog = setInterval(() => {
      const inFlightTooLong = this.counters.parts > 0 && Date.now() - this.lastProgress > STUCK_PART_MS && this.options.pipeline.trigger.type === "continuous"
        && this.source?.health$.value.ok;
      if (!inFlightTooLong) this.notifier!.notify("WATCHDOG=1");
    }, watchdogMs / 2);
  }

  /** Resolves when the source is exhausted (a folder read once) or the daemon was stopped. */
  whenFinished(): Promise<void> {
    return this.finished;
  }

  get stats(): StationCounters & { delivered: number; spooled: number; lost: number; heatmapsSkipped: number } {
    return { ...this.counters, delivered: this.publisher?.delivered ?? 0,
      spooled: (this.spool?.length ?? 0) - (this.spool?.inMemoryOnly ?? 0), lost: this.spool?.lost ?? 0,
      heatmapsSkipped: this.publisher?.heatmapsSkipped ?? 0 };
  }

  /** Drains and closes everything; the same promise to every caller. */
  stop(reason: string): Promise<void> {
    this.stopped ??= this.shutDown(reason);
    return this.stopped;
  }

  private async shutDown(reason: string): Promise<void> {
    this.stopping = true;
    const log = this.options.log;
    this.notifier?.notify(`STOPPING=1\nSTATUS=stopping: ${reason}`);
    clearInterval(this.watchdog);
    log.info({ reason }, "stopping: finishing the parts in flight");
    this.stop$.next();
    // Start-up gives up at its next step; what it opened until then is closed below.
    await this.starting?.catch(() => undefined);
    await this.finished;
    // Connected or not: a broker that is just coming back (a restart, a short outage) still gets the
    // spooled verdicts before the daemon leaves; one that stays away costs at most the drain timeout.
    if (this.publisher && this.spool && this.spool.length > 0) {
      const timeout = this.options.drainTimeoutMs ?? 10_000;
      if (!this.client?.connected) log.info({ spooled: this.spool.length, waitMs: timeout }, "waiting for the broker to take the spooled verdicts");
      await Promise.race([this.publisher.drained(), new Promise((resolve) => setTimeout(resolve, timeout).unref())]);
    }
    try {
      if (this.client?.connected) await this.status?.publishOffline(reason);
    } catch (err) {
      log.warn({ err: (err as Error).message }, "could not publish the offline status");
    }
    this.publisher?.close();
    this.triggerSubscription?.close();
    await this.client?.endAsync().catch(() => undefined);
    await this.source?.close();
    await this.runner?.close();
    await this.broker?.close();
    if (this.spool?.inMemoryOnly) {
      log.error({ lost: this.spool.inMemoryOnly, stateDir: this.options.config.stateDir },
        `${this.spool.inMemoryOnly} verdict(s) the disk refused and the broker did not take are lost`);
    }
    if (this.spool?.lost) {
      log.error({ lost: this.spool.lost, stateDir: this.options.config.stateDir },
        `${this.spool.lost} verdict(s) were lost while running: the disk refused them and memory held its most`);
    }
    this.spool?.close();
    this.lock?.release();
    this.notifier?.close();
    log.info({ ...this.stats }, this.stats.spooled ? `stopped; ${this.stats.spooled} verdict(s) stay spooled for the next start` : "stopped");
  }
}
