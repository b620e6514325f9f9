// What `inspector bench` reports and how it prints it: the stages of a part, the daemon against a
// bare session.run loop, PyTorch eager beside them (station-bench.ts measures them).
import { quantile } from "../scoring/statistics.js";

export interface Spread {
  median: number;
  p95: number;
  max: number;
}

export function spread(values: number[]): Spread {
  const sorted = Float64Array.from(values).sort();
  return { median: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), max: sorted[sorted.length - 1] ?? Number.NaN };
}

export interface BenchReport {
  station: string;
  bundle: string;
  provider: string;
  parts: number;
  warmup: number;
  stagesMs: Record<"grab" | "preprocess" | "infer" | "score" | "heatmap" | "publish", Spread>;
  /** Trigger to verdict, per part. */
  endToEndMs: Spread;
  /** Time between consecutive verdicts: what the line sees. */
  perPartMs: Spread;
  partsPerSecond: number;
  /** The main thread's busy time (event loop utilisation) per measured part: the daemon's own work beside the worker, including time spent waiting for a core. */
  mainThreadMsPerPart: number;
  /** The main thread's CPU time per measured part (Linux /proc; null elsewhere): the cores the daemon takes from ONNX Runtime. */
  mainThreadCpuMsPerPart: number | null;
  /** CPU time of all the process's threads per measured part: the station's cost to the machine, whatever else runs there. */
  processCpuMsPerPart: number;
  /** The kernel's high-water mark of the process's resident memory (the station, then the bare loop). */
  peakRssMb: number;
  /** Resident memory after a tenth of the measured parts and after all of them: flat means no leak. */
  rssMb: { afterTenth: number; atEnd: number };
  bare: { runMs: Spread; runsPerSecond: number };
  /** perPartMs.median / bare.runMs.median: 1.0 would be a daemon that costs nothing beyond session.run. */
  ratio: number;
  /** The pace parts were started at: 0 = as fast as the station goes; else the pipeline's own minIntervalMs (--paced). */
  paceMs: number;
  /** endToEndMs.median / bare.runMs.median: with --paced, a part's trigger-to-verdict time against session.run alone. */
  latencyRatio: number;
  /** The same fused computation in PyTorch eager; speedup = its median / bare session.run's. */
  torch: { runMs: Spread; threads: number; version: string; speedup: number } | { unavailable: string };
  errors: number;
  date: string;
}

/** USER_HZ: 100 on every Linux architecture we run on (x86-64, arm64). */
export interface BundleBenchReport {
  bundle: string;
  dir: string;
  mode: string;
  scales: number[];
  input: number[];
  provider: string;
  threads: number;
  runs: number;
  runMs: Spread;
  runsPerSecond: number;
  torch: BenchReport["torch"];
  date: string;
}

/** `inspector bench --bundle`: a bundle's session.run alone (no station, no calibration needed), to compare bundles. */
export function benchTable(r: BenchReport): string {
  const row = (name: string, s: Spread) => `${name.padEnd(22)}${[s.median, s.p95, s.max].map((v) => v.toFixed(1).padStart(9)).join("")}`;
  return [
    `station ${r.station}, bundle ${r.bundle} on ${r.provider}, ${r.parts} parts after ${r.warmup} warm-up, ` +
      `${r.paceMs ? `one every ${r.paceMs} ms (the pipeline's pace)` : "as fast as the station goes"}, ${r.date}`,
    `${"ms".padEnd(22)}${["median", "p95", "max"].map((h) => h.padStart(9)).join("")}`,
    ...Object.entries(r.stagesMs).map(([k, s]) => row(k, s)),
    row("end to end", r.endToEndMs),
    row("per part (daemon)", r.perPartMs),
    row("session.run (bare)", r.bare.runMs),
    `parts/s ${r.partsPerSecond.toFixed(2)} (bare session.run: ${r.bare.runsPerSecond.toFixed(2)}/s); ` +
      `${r.paceMs ? `trigger to verdict/bare ${r.latencyRatio.toFixed(3)}` : `daemon/bare ${r.ratio.toFixed(3)}`}; main thread busy ${r.mainThreadMsPerPart.toFixed(1)} ms per part` +
      `${r.mainThreadCpuMsPerPart === null ? "" : ` (CPU ${r.mainThreadCpuMsPerPart.toFixed(1)} ms)`}; RSS ${r.rssMb.afterTenth.toFixed(0)} MB after a tenth of the parts, ` +
      `${r.rssMb.atEnd.toFixed(0)} MB at the end, peak ${r.peakRssMb.toFixed(0)} MB; ERROR verdicts ${r.errors}`,
    "runMs" in r.torch
      ? `${row(`PyTorch ${r.torch.version} eager`, r.torch.runMs)}\nONNX Runtime is ${r.torch.speedup.toFixed(2)}× as fast as PyTorch eager (${r.torch.threads} threads)`
      : `PyTorch eager: not measured (${r.torch.unavailable})`,
  ].join("\n");
}

export function bundleBenchTable(r: BundleBenchReport): string {
  return [
    `bundle ${r.bundle} (${r.dir}): p=${r.scales.join("+")} ${r.mode}, input ${r.input.slice(2).join("×")}, on ${r.provider}, ` +
      `${r.threads || "all"} threads, ${r.runs} runs, ${r.date}`,
    `session.run  median ${r.runMs.median.toFixed(1)} ms, p95 ${r.runMs.p95.toFixed(1)}, max ${r.runMs.max.toFixed(1)}; ${r.runsPerSecond.toFixed(2)}/s`,
    "runMs" in r.torch
      ? `PyTorch ${r.torch.version} eager median ${r.torch.runMs.median.toFixed(1)} ms: ONNX Runtime is ${r.torch.speedup.toFixed(2)}× as fast`
      : `PyTorch eager: not measured (${r.torch.unavailable})`,
  ].join("\n");
}
