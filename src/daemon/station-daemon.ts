// `inspector run`: one station, unattended, as parts started in one order and stopped in the
// reverse one (docs/architecture.md): a second daemon stops at the lock, a bad bundle before
// READY=1, a broker that is down only delays delivery (the spool), a lost camera degrades the
// station. SIGTERM drains: every part in flight or queued is answered, the sinks finish.
import type { Logger } from "pino";
import { merge, Subject } from "rxjs";

import { type DaemonConfig, sessionSettingsOf } from "../config/daemon-config.js";
import type { StationConfig } from "../config/pipeline-config.js";
import type { ProblemReporter } from "../errors/problem-reporter.js";
import { BundleRunner } from "../inference/bundle-runner.js";
import { stationTopics, type StationTopics } from "../mqtt/topics.js";
import type { StationContext } from "../pipeline/inspect-part.js";
import type { PartOutcome } from "../pipeline/part.js";
import { stationPipeline, type StationCounters } from "../pipeline/station-pipeline.js";
import { JournalSink } from "../sinks/journal-sink.js";
import { MqttVerdictSink } from "../sinks/mqtt-verdict-sink.js";
import { feedSink, type OutcomeSink } from "../sinks/outcome-sink.js";
import { createSource } from "../sources/open-source.js";
import { TriggerSubscription } from "../triggers/trigger-subscription.js";
import { calibratedThresholds } from "../verdict/frame-verdict.js";
import { feedWatchdog, systemdNotifier, type Notifier } from "./sd-notify.js";
import { reloadBundle } from "./bundle-reload.js";
import { StationConnection } from "./station-connection.js";
import { type StationFacts, stationOutputs } from "./station-outputs.js";
import { StationLock } from "./station-lock.js";
import { VERSION } from "./version.js";
import { type Lifecycle, Lifecycles } from "./lifecycle.js";

export interface DaemonOptions {
  config: DaemonConfig;
  pipeline: StationConfig;
  log: Logger;
  /** How long a stop waits for the broker to take the spooled verdicts (they stay spooled after). */
  drainTimeoutMs?: number;
  /** More consumers of judged parts, after the daemon's own (`inspector bench`, tests). */
  sinks?: OutcomeSink[];
  /** Sees the PUBLISH → PUBACK time of every verdict (`inspector bench`). */
  onAcknowledged?: (ms: number) => void;
}

/** A part in flight longer than this means the pipeline is stuck: the watchdog stops being fed. */
const STUCK_PART_MS = 60_000;

export class StationDaemon {
  private readonly stop$ = new Subject<void>();
  private readonly outcomes$ = new Subject<PartOutcome>();
  private readonly counters: StationCounters = { parts: 0, dropped: 0, busy: 0, badTriggers: 0 };
  private readonly notifier: Notifier;
  private readonly parts: Lifecycles;
  private lastProgress = Date.now();
  private finished: Promise<void> = Promise.resolve();
  private stopping = false;
  /** A stop waits for start-up to reach its next step, where it gives up. */
  private starting?: Promise<void>;
  private stopped?: Promise<void>;
  private reloading = false;
  /** The bundle until the pipeline starts; then the context's, which a reload swaps. */
  private runner?: BundleRunner;
  private readonly connection: StationConnection;
  private verdicts?: MqttVerdictSink;
  /** What the pipeline judges with; a reload swaps its runner. */
  private context?: StationContext;
  private stopWatchdog = (): void => {};
  private readonly topics: StationTopics;

  constructor(private readonly options: DaemonOptions) {
    this.notifier = systemdNotifier(options.log);
    const { pipeline, config } = options;
    this.topics = stationTopics(pipeline.topicPrefix ?? config.mqtt.topicPrefix, pipeline.station,
      pipeline.trigger.type === "mqtt" ? pipeline.trigger.topic : undefined);
    this.connection = new StationConnection(config.mqtt, this.topics.status, options.log);
    this.parts = new Lifecycles(options.log);
  }

  start(): Promise<void> {
    this.starting = this.startUp();
    return this.starting;
  }

  /**
   * Left to start on after a stop, the pipeline would start with its stop signal already given
   * and judge parts for a daemon that had been told to leave.
   */
  private async startUp(): Promise<void> {
    if (!await this.parts.start(this.inStartOrder(), () => this.stopping)) return;
    const { pipeline, log } = this.options;
    // Fed while the event loop runs and no part is stuck in the pipeline; a lost camera does not
    // starve it (a restart would not bring a camera back; the source reconnects by itself).
    this.stopWatchdog = feedWatchdog(this.notifier, () => !(this.counters.parts > 0 && pipeline.trigger.type === "continuous"
      && Date.now() - this.lastProgress > STUCK_PART_MS && this.context?.source.health$.value.ok));
    this.notifier.notify(`READY=1\nSTATUS=station ${pipeline.station}: ${this.context!.source.description}`);
    log.info({ station: pipeline.station, source: this.context!.source.description, trigger: pipeline.trigger.type,
      verdicts: this.topics.verdict }, "station running");
  }

  /** The station's parts in start order; each start sees what the ones before it made. */
  private inStartOrder(): Lifecycle[] {
    const { config, pipeline, log } = this.options;
    const topics = this.topics;
    const source = createSource(pipeline.source);
    let lock: StationLock | undefined;
    let triggers: TriggerSubscription | undefined;
    const outputs = stationOutputs(config, pipeline, { facts: () => this.facts(), reporter: this.reporter,
      brokerUrl: () => this.connection.url, stopping: () => this.stopping }, log);
    const verdictSink = (): MqttVerdictSink => this.verdicts = new MqttVerdictSink(this.connection.client, topics, {
      ...config.mqtt, stateDir: config.stateDir, station: pipeline.station, drainTimeoutMs: this.options.drainTimeoutMs ?? 10_000,
      onAcknowledged: this.options.onAcknowledged, reporter: this.reporter,
    }, log);
    return [
      { name: "lock", start: () => { lock = StationLock.take(config.stateDir, pipeline.station, log); }, stop: () => lock?.release() },
      { name: "bundle", start: async () => {
        this.runner = await this.openBundle();
        log.info({ bundle: pipeline.bundle, calibration: this.runner.bundle.calibrationId }, this.runner.describe());
      }, stop: () => (this.context?.runner ?? this.runner)?.close() },
      { name: "mqtt", start: () => {
        const runner = this.runner!;
        return this.connection.start({ station: pipeline.station, version: VERSION, bundle: runner.bundle.id,
          calibration: runner.bundle.calibrationId ?? null, provider: runner.worker.provider, source: source.description });
      }, stop: (reason) => this.connection.stop(reason) },
      ...[verdictSink, () => new JournalSink(log), ...[...outputs.sinks, ...(this.options.sinks ?? [])].map((s) => () => s)]
        .map((make) => this.sinkPart(make)),
      { name: "first connection", start: () => this.connection.firstConnection(this.stop$), stop: () => undefined },
      ...(outputs.http ? [outputs.http] : []),
      { name: "source", start: async () => {
        await source.open();
        this.connection.status!.follow(source.health$, () => this.stopping, log);
      }, stop: () => source.close() },
      { name: "triggers", start: () => {
        if (pipeline.trigger.type !== "mqtt") return;
        triggers = new TriggerSubscription(this.connection.client, topics.trigger, this.reporter);
        triggers.start();
        log.info({ topic: topics.trigger, queue: pipeline.trigger.queue }, "waiting for triggers");
      }, stop: () => triggers?.close() },
      { name: "pipeline", start: () => {
        this.context = { station: pipeline.station, config: pipeline, source, runner: this.runner!, frames: outputs.frames };
        this.finished = new Promise<void>((resolve) => {
          const triggers$ = triggers && outputs.opcua ? merge(triggers.payloads$, outputs.opcua.triggers$) : triggers?.payloads$;
          stationPipeline({ context: this.context!, counters: this.counters, stop$: this.stop$, triggers$ }).subscribe({
            next: (outcome) => {
              this.lastProgress = Date.now();
              this.outcomes$.next(outcome);
            },
            error: (err: Error) => {
              log.error({ err: err.message }, "pipeline failed");
              resolve();
            },
            complete: () => resolve(),
          });
        });
      }, stop: () => this.finished },
    ];
  }

  /** A sink as a part of the station: it sees every outcome from its start on. */
  private sinkPart(make: () => OutcomeSink): Lifecycle {
    let sink: OutcomeSink | undefined;
    return { name: "sinks", start: async () => {
      sink = make();
      await sink.start();
      feedSink(sink, this.outcomes$, this.options.log);
    }, stop: (reason) => sink?.stop(reason) };
  }

  private readonly reporter: ProblemReporter = (part, where, fix, fixed) => (problem) => {
    if (problem) this.options.log.error(where, `${problem}: ${fix}`);
    else this.options.log.info(where, fixed);
    this.connection.status?.setProblem(part, problem);
  };

  /** What the station page, /readyz and /metrics show, read when asked. */
  private facts(): Omit<StationFacts, "archiveParts"> {
    const runner = this.context?.runner ?? this.runner;
    const brokerConnected = this.connection.connected;
    const sourceUp = this.context?.source.health$.value.ok ?? false;
    const status = this.connection.status?.current ?? { state: "offline" as const, reason: "starting" };
    return {
      brokerConnected, sourceUp, spoolDepth: this.verdicts?.stats.spooled ?? 0, state: this.stopping ? "offline" : status.state,
      reason: this.stopping ? "stopping" : status.reason, version: VERSION, station: this.options.pipeline.station,
      bundle: runner?.bundle.id ?? "", calibration: runner?.bundle.calibrationId ?? null, provider: runner?.worker.provider ?? "",
      ready: Boolean(this.context) && !this.stopping && sourceUp && brokerConnected,
      thresholds: runner?.bundle.calibration ? calibratedThresholds(runner, this.options.pipeline.thresholds) : null,
    };
  }

  private openBundle(): Promise<BundleRunner> {
    const { config, pipeline } = this.options;
    return BundleRunner.open(pipeline.bundle, { requireCalibration: true, session: sessionSettingsOf(config) });
  }

  /** SIGHUP (`systemctl reload`): the bundle folder loaded again and swapped in between parts (bundle-reload.ts). */
  async reload(): Promise<void> {
    const log = this.options.log;
    if (!this.context || this.stopping || this.reloading) {
      log.warn(`reload ignored: the station is ${this.stopping ? "stopping" : this.reloading ? "already reloading" : "still starting"}`);
      return;
    }
    this.reloading = true;
    try {
      await reloadBundle(this.context, { open: () => this.openBundle(), stopping: () => this.stopping, status: this.connection.status,
        notifier: this.notifier, log });
    } finally {
      this.reloading = false;
    }
  }

  /** Resolves when the source is exhausted (a folder read once) or the daemon was stopped. */
  whenFinished(): Promise<void> {
    return this.finished;
  }

  get stats(): StationCounters & { delivered: number; spooled: number; lost: number; heatmapsSkipped: number } {
    return { ...this.counters, ...(this.verdicts?.stats ?? { delivered: 0, spooled: 0, lost: 0, heatmapsSkipped: 0 }) };
  }

  /** Drains and closes everything; the same promise to every caller. */
  stop(reason: string): Promise<void> {
    this.stopped ??= this.shutDown(reason);
    return this.stopped;
  }

  private async shutDown(reason: string): Promise<void> {
    this.stopping = true;
    const log = this.options.log;
    this.notifier.notify(`STOPPING=1\nSTATUS=stopping: ${reason}`);
    this.stopWatchdog();
    log.info({ reason }, "stopping: finishing the parts in flight");
    this.stop$.next();
    // Start-up gives up at its next step; what it started until then is stopped below, newest first.
    await this.starting?.catch(() => undefined);
    await this.parts.stop(reason);
    this.outcomes$.complete();
    this.notifier.close();
    log.info({ ...this.stats }, this.stats.spooled ? `stopped; ${this.stats.spooled} verdict(s) stay spooled for the next start` : "stopped");
  }
}
