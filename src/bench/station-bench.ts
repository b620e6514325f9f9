// `inspector bench`: the real station (source, preprocess, worker, scoring, heatmap, MQTT with a
// broker) on N parts, per stage, next to a bare loop of session.run on the same bundle, input and
// provider in the same process: the limit the daemon is measured against.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type EventLoopUtilization, performance } from "node:perf_hooks";

import type { Logger } from "pino";

import { type DaemonConfig, sessionSettingsOf } from "../config/daemon-config.js";
import type { StationConfig } from "../config/pipeline-config.js";
import { StationDaemon } from "../daemon/station-daemon.js";
import { type Bundle, loadBundle } from "../inference/bundle.js";
import { ort } from "../native/onnxruntime.js";
import { openSession, type SessionSettings } from "../native/providers.js";
import { prepareFor } from "../inference/bundle-runner.js";
import { createSource } from "../sources/open-source.js";
import { drawPart } from "../sources/synthetic-part.js";
import { seededRandom } from "../random/seeded-random.js";
import { trainerCommand } from "../trainer/trainer-process.js";
import { type BenchReport, type BundleBenchReport, spread, type Spread } from "./bench-report.js";

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (user + system) of the process's main thread in ms, from /proc (Linux); null where there is none. */
/** Every thread of the process (worker, ONNX Runtime's pool, libuv's): what the station costs the machine. */
function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function mainThreadCpuMs(): number | null {
  try {
    // Fields 14 and 15 of stat, counted after the command name (which may itself hold spaces).
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 1000 / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** A pipeline's own pace for --paced: a continuous trigger's minIntervalMs; 0 when it has none. */
export function ownPaceMs(trigger: StationConfig["trigger"]): number {
  return trigger.type === "continuous" ? trigger.minIntervalMs : 0;
}

export interface BenchOptions {
  config: DaemonConfig;
  pipeline: StationConfig;
  parts: number;
  warmup: number;
  /** Keep the pipeline's own pace (continuous, minIntervalMs) instead of running as fast as it goes. */
  paced?: boolean;
  log: Logger;
}

export async function benchStation(options: BenchOptions): Promise<BenchReport> {
  const total = options.parts + options.warmup;
  const stateDir = mkdtempSync(path.join(tmpdir(), "inspector-bench-"));
  // The station as configured, but triggered continuously (as fast as it goes, or at its own pace
  // with --paced) and with a spool of its own.
  const source = options.pipeline.source.type === "synthetic" ? { ...options.pipeline.source, count: total }
    : options.pipeline.source.type === "folder" ? { ...options.pipeline.source, loop: true } : options.pipeline.source;
  const paceMs = options.paced ? ownPaceMs(options.pipeline.trigger) : 0;
  const pipeline: StationConfig = { ...options.pipeline, source, trigger: { type: "continuous", minIntervalMs: paceMs } };
  const config: DaemonConfig = {
    ...options.config, stateDir,
    mqtt: { ...options.config.mqtt, embedded: { ...options.config.mqtt.embedded, port: 0 } },
  };
  const stages: Record<keyof BenchReport["stagesMs"], number[]> = { grab: [], preprocess: [], infer: [], score: [], heatmap: [], publish: [] };
  const endToEnd: number[] = [];
  const decided: number[] = [];
  // The bare loop: the same graph, provider and threads, on a real frame of the same source; half of
  // its runs before the station and half after, so that a machine whose speed drifts (other guests
  // on a virtual machine, clocks) skews both sides of the ratio alike.
  const bundle = loadBundle(pipeline.bundle, { requireCalibration: false });
  const frameSource = createSource(pipeline.source);
  await frameSource.open();
  const frame = await frameSource.grab();
  await frameSource.close();
  if (!frame) throw new Error(`${frameSource.description} gave no frame for the bare loop`);
  const input = prepareFor(bundle, frame.image, pipeline.roi).tensor;
  const bare = (runs: number) => bareLoop(bundle, input,
    sessionSettingsOf(config), runs, options.warmup);
  const before = await bare(Math.floor(options.parts / 2));

  let seen = 0;
  let errors = 0;
  const rss = { afterTenth: Number.NaN, atEnd: Number.NaN };
  let acknowledged = 0;
  let loopAtWarmup: EventLoopUtilization | undefined;
  let loopAtEnd: EventLoopUtilization | undefined;
  let cpuAtWarmup: number | null = null;
  let cpuAtEnd: number | null = null;
  let processCpuAtWarmup = 0;
  let processCpuAtEnd = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => { done = resolve; });
  const daemon: StationDaemon = new StationDaemon({
    config, pipeline, log: options.log,
    sinks: [{ name: "bench", start: () => {}, stop: () => {}, receive: (outcome) => {
      seen++;
      // Sampled twice, not per part: reading it costs the main thread time the station needs.
      if (seen === options.warmup + Math.max(1, Math.round(options.parts / 10))) rss.afterTenth = process.memoryUsage.rss() / 2 ** 20;
      if (seen === total) rss.atEnd = process.memoryUsage.rss() / 2 ** 20;
      if (seen === options.warmup + 1) {
        loopAtWarmup = performance.eventLoopUtilization();
        cpuAtWarmup = mainThreadCpuMs();
        processCpuAtWarmup = processCpuMs();
      }
      if (seen === total) {
        loopAtEnd = performance.eventLoopUtilization(loopAtWarmup);
        cpuAtEnd = mainThreadCpuMs();
        processCpuAtEnd = processCpuMs();
      }
      if (seen > options.warmup) {
        const l = outcome.latencyMs;
        if (outcome.verdict === "ERROR") errors++;
        else {
          for (const key of ["grab", "preprocess", "infer", "score", "heatmap"] as const) stages[key].push(l[key] ?? Number.NaN);
          endToEnd.push(l.total ?? Number.NaN);
        }
        decided.push(performance.now());
      }
      if (seen === total) done();
    } }],
    onAcknowledged: (ms) => {
      if (++acknowledged > options.warmup) stages.publish.push(ms);
    },
  });
  try {
    await daemon.start();
    await Promise.race([finished, daemon.whenFinished()]);
  } finally {
    await daemon.stop("benchmark done");
    rmSync(stateDir, { recursive: true, force: true });
  }
  const intervals = decided.slice(1).map((t, i) => t - decided[i]);

  const after = await bare(Math.ceil(options.parts / 2));
  const runs = [...before.runs, ...after.runs];
  const provider = after.provider;
  const bareRun = spread(runs);
  const perPart = spread(intervals);
  const endToEndSpread = spread(endToEnd);
  const span = decided.length > 1 ? decided[decided.length - 1] - decided[0] : Number.NaN;
  const torch = torchEager(pipeline.bundle, Math.min(options.parts, 30), config.inference.threads, bareRun.median);
  return {
    station: pipeline.station, bundle: bundle.id, provider, parts: options.parts, warmup: options.warmup,
    stagesMs: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, spread(v)])) as BenchReport["stagesMs"],
    endToEndMs: endToEndSpread, perPartMs: perPart, partsPerSecond: (decided.length - 1) / (span / 1000),
    mainThreadMsPerPart: loopAtEnd ? loopAtEnd.active / Math.max(1, intervals.length) : Number.NaN,
    mainThreadCpuMsPerPart: cpuAtWarmup !== null && cpuAtEnd !== null ? (cpuAtEnd - cpuAtWarmup) / Math.max(1, intervals.length) : null,
    processCpuMsPerPart: (processCpuAtEnd - processCpuAtWarmup) / Math.max(1, intervals.length),
    peakRssMb: process.resourceUsage().maxRSS / 1024, rssMb: rss,
    bare: { runMs: bareRun, runsPerSecond: 1000 / bareRun.median },
    ratio: perPart.median / bareRun.median, paceMs, latencyRatio: endToEndSpread.median / bareRun.median, torch, errors, date: new Date().toISOString(),
  };
}

/** `session.run` and nothing else, `runs` times after `warmup`: the limit a station is measured against. */
async function bareLoop(bundle: Bundle, input: Float32Array, settings: SessionSettings, runs: number, warmup: number):
  Promise<{ runs: number[]; provider: string }> {
  const { session, provider } = await openSession(bundle.modelPath, settings);
  const feeds = { [bundle.manifest.input.name]: new ort.Tensor("float32", input, bundle.manifest.input.shape) };
  const times: number[] = [];
  try {
    for (let i = 0; i < runs + warmup; i++) {
      const started = performance.now();
      await session.run(feeds);
      if (i >= warmup) times.push(performance.now() - started);
    }
  } finally {
    await session.release();
  }
  return { runs: times, provider };
}

export async function benchBundle(dir: string, settings: SessionSettings, runs: number, warmup: number): Promise<BundleBenchReport> {
  const bundle = loadBundle(dir, { requireCalibration: false });
  const [, , height, width] = bundle.manifest.input.shape;
  const part = drawPart(Math.max(height, width), null, seededRandom(1));
  const measured = await bareLoop(bundle, prepareFor(bundle, part.image).tensor, settings, runs, warmup);
  const runMs = spread(measured.runs);
  return {
    bundle: bundle.id, dir, mode: bundle.manifest.mode, scales: bundle.manifest.scales.map((s) => s.patch_size), input: bundle.manifest.input.shape,
    provider: measured.provider, threads: settings.intraOpThreads, runs, runMs, runsPerSecond: 1000 / runMs.median,
    torch: torchEager(dir, Math.min(runs, 30), settings.intraOpThreads, runMs.median), date: new Date().toISOString(),
  };
}

function torchEager(bundleDir: string, runs: number, threads: number, bareMedian: number): BenchReport["torch"] {
  const torch = trainerCommand(["bench-torch", "--bundle", bundleDir, "--runs", String(runs), "--threads", String(threads)]);
  const run = spawnSync(torch.command, torch.args, { encoding: "utf8", env: torch.env });
  if (run.status !== 0) {
    const reason = run.error?.message ?? run.stderr.split("\n").find((l) => l.startsWith("error: ")) ?? run.stderr.trim().split("\n").pop();
    return { unavailable: (reason ?? "PyTorch did not run").replace(/^error: /, "") };
  }
  const result = JSON.parse(run.stdout.trim().split("\n").pop()!) as { runMs: Spread; threads: number; torch: string };
  return { runMs: result.runMs, threads: result.threads, version: result.torch, speedup: result.runMs.median / bareMedian };
}

