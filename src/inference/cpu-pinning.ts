// Which CPU runs inference and which the daemon's own work, when ONNX Runtime runs on the CPU.
//
// ONNX Runtime's threads meet at the end of every operator, and the thread that calls
// session.run (the inference worker) hands each operator's work out: when the daemon's main
// thread wakes up on the worker's core, inference stalls until the worker gets it back. Linux
// often does exactly that (a thread woken by a message tends to run where the sender ran), so the
// worker gets a core of its own and the main thread — camera, scoring, heatmap, MQTT — shares the
// others with ONNX Runtime's pool threads, where a stolen millisecond costs only that thread's
// share of one operator. Measured in docs/PERFORMANCE.md.
//
// Node has no call for a thread's affinity; util-linux's taskset (on every Debian and JetPack
// system) sets it for a thread id, which /proc/thread-self names.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** CPUs for the inference worker alone, and for everything else the process runs. */
export interface CpuPlan {
  inference: number[];
  daemon: number[];
}

/** "0-3,6" → [0, 1, 2, 3, 6]: the kernel's and taskset's list format. */
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const range of list.trim().split(",").filter(Boolean)) {
    const [first, last = first] = range.split("-").map(Number);
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** The CPUs the calling thread may run on; undefined where /proc does not say (not Linux). */
export function allowedCpus(): number[] | undefined {
  try {
    const line = readFileSync("/proc/thread-self/status", "utf8").match(/^Cpus_allowed_list:\s*(.+)$/m);
    return line ? parseCpuList(line[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The first allowed CPU for inference, the rest for the daemon; none with a single CPU (nothing to separate). */
export function planCpus(allowed: number[] | undefined): CpuPlan | undefined {
  if (!allowed || allowed.length < 2) return undefined;
  return { inference: allowed.slice(0, 1), daemon: allowed.slice(1) };
}

/** The calling thread's id; undefined off Linux. */
export function callingThreadId(): string | undefined {
  try {
    return readlinkSync("/proc/thread-self").split("/").pop();
  } catch {
    return undefined;
  }
}

/** Pins thread `tid` of this process to `cpus`; returns why it could not, or undefined. */
export function pinThread(tid: string | undefined, cpus: number[]): string | undefined {
  if (tid === undefined) return "no /proc/thread-self (not Linux)";
  const result = spawnSync("taskset", ["-p", "-c", cpus.join(","), tid], { encoding: "utf8" });
  if (result.error) return `taskset: ${result.error.message} (install util-linux)`;
  if (result.status !== 0) return `taskset: ${result.stderr.trim() || `exit ${result.status}`}`;
  return undefined;
}

// The daemon's threads — this one, V8's collector and compiler helpers, libuv's pool — stay on the
// daemon's CPUs while any pinned worker lives (a reload briefly has two), then get back every CPU
// they had: `inspector bench` runs its bare loop on this thread. Threads started later inherit.
let pinnedWorkers = 0;
let unpinned: number[] | undefined;
let daemonThreads: string[] = [];

/** Before a worker starts: the plan for it, from the CPUs this thread had before any pinning. */
export function planForNextWorker(): CpuPlan | undefined {
  if (pinnedWorkers > 0) return planCpus(unpinned);
  try {
    // Listed now, before the worker and its ONNX Runtime threads exist.
    daemonThreads = readdirSync("/proc/self/task");
  } catch {
    daemonThreads = [];
  }
  return planCpus(allowedCpus());
}

/** Once a worker pinned itself: the daemon's threads move off its CPU. Returns why they could not, or undefined. */
export function pinDaemonThreads(plan: CpuPlan): string | undefined {
  if (pinnedWorkers === 0) {
    const self = callingThreadId();
    const failed = pinThread(self, plan.daemon);
    if (failed) return failed;
    unpinned = [...plan.inference, ...plan.daemon];
    // Helpers that have exited since they were listed cannot be pinned, and need not be.
    for (const tid of daemonThreads) if (tid !== self) pinThread(tid, plan.daemon);
  }
  pinnedWorkers++;
  return undefined;
}

/** When a pinned worker closes: the last one gives the daemon's threads their CPUs back. */
export function releaseDaemonThreads(): void {
  if (pinnedWorkers === 0) return;
  if (--pinnedWorkers === 0 && unpinned) for (const tid of daemonThreads) pinThread(tid, unpinned);
}
