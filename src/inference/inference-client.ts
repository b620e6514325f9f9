// The main thread's handle on the inference worker: start it on a bundle, check the graph against
// the manifest, run frames, close.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

import type { Bundle } from "./bundle.js";
import { BundleError } from "./bundle.js";
import { type CpuPlan, pinDaemonThreads, planForNextWorker, releaseDaemonThreads } from "./cpu-pinning.js";
import type { ProviderAttempt, ProviderName, SessionSettings } from "../native/providers.js";
import type { ValueInfo, WorkerReply, WorkerRequest } from "./worker-protocol.js";

export type ScoreTensors = Record<string, { data: Float32Array; dims: number[] }>;

export interface InferenceResult {
  outputs: ScoreTensors;
  inferMs: number;
}

/**
 * How long close() waits for the runs in flight: one part (well under a second on any provider
 * here); a run that hangs longer is torn down with its worker anyway.
 */
const CLOSE_WAIT_MS = 10_000;

/** Spares never outnumber the runs once in flight together (two in the station); the cap only bounds a caller that brings its own buffers. */
const MAX_SPARE_INPUTS = 4;

function workerScript(): string {
  const here = fileURLToPath(new URL("./inference-worker.js", import.meta.url));
  if (existsSync(here)) return here;
  // Running from TypeScript sources (tests): the worker runs from the compiled dist/ tree.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "dist", "inference", "inference-worker.js");
}

function sameShape(actual: (number | string)[], expected: number[]): boolean {
  // The batch dimension is symbolic in our exports; every other dimension must match.
  return actual.length === expected.length && actual.every((d, i) => (i === 0 && typeof d === "string") || d === expected[i]);
}

/** Workers not yet closed: a process that leaves in a hurry closes them first (closeInferenceWorkers). */
const openWorkers = new Set<InferenceClient>();

/**
 * Closes every inference worker of the process, each after its run in flight. Call it before
 * process.exit(): leaving with a worker inside session.run aborts the process (see close()).
 */
export async function closeInferenceWorkers(): Promise<void> {
  await Promise.all([...openWorkers].map((worker) => worker.close()));
}

export class InferenceClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: InferenceResult) => void; reject: (e: Error) => void }>();
  private dead?: Error;
  private closing?: Promise<void>;
  /** Resolves close()'s wait once the last run in flight is answered. */
  private idle?: () => void;
  private holdsDaemonThreads = false;
  /** Input buffers the worker has handed back, for the next frames (see takeInput). */
  private readonly spareInputs: Float32Array[] = [];
  /** Where the threads run, for the log: the CPUs of the worker and the daemon, or why they were not pinned. */
  pinning?: string;

  private constructor(private readonly worker: Worker, readonly provider: ProviderName, readonly failedProviders: ProviderAttempt[],
    private readonly inputDims: number[]) {
    openWorkers.add(this);
    worker.on("message", (reply: WorkerReply) => {
      if (reply.type !== "result" && reply.type !== "error") return;
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.type === "result") {
        if (this.spareInputs.length < MAX_SPARE_INPUTS) this.spareInputs.push(reply.input);
        waiter?.resolve({ outputs: reply.outputs, inferMs: reply.inferMs });
      }
      else waiter?.reject(new Error(`inference failed: ${reply.error}`));
      if (this.pending.size === 0) this.idle?.();
    });
    const fail = (err: Error) => {
      this.dead = err;
      for (const waiter of this.pending.values()) waiter.reject(err);
      this.pending.clear();
      this.idle?.();
    };
    worker.on("error", (err) => fail(new Error(`inference worker crashed: ${err.message}`)));
    worker.on("exit", (code) => fail(new Error(`inference worker exited (code ${code})`)));
  }

  static async start(bundle: Bundle, settings: SessionSettings): Promise<InferenceClient> {
    const manifest = bundle.manifest;
    const plan = settings.pinThreads ? planForNextWorker() : undefined;
    const worker = new Worker(workerScript(), {
      workerData: { modelPath: bundle.modelPath, settings, inputName: manifest.input.name, pinTo: plan?.inference },
    });
    const ready = await new Promise<Extract<WorkerReply, { type: "ready" }>>((resolve, reject) => {
      worker.once("message", (reply: WorkerReply) => {
        if (reply.type === "ready") resolve(reply);
        else reject(new Error(reply.type === "failed" ? reply.error : `unexpected worker reply ${reply.type}`));
      });
      worker.once("error", reject);
    }).catch(async (err: Error) => {
      await worker.terminate();
      throw err;
    });
    try {
      InferenceClient.checkGraph(bundle, ready.inputs, ready.outputs);
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    const client = new InferenceClient(worker, ready.provider, ready.failed, manifest.input.shape);
    // A first run checks the real output shapes (and warms the session up).
    const { outputs } = await client.run(new Float32Array(manifest.input.shape.reduce((a, b) => a * b, 1)));
    for (const scale of manifest.scales) {
      for (const name of [scale.outputs.error, scale.outputs.variance]) {
        if (!sameShape(outputs[name].dims, scale.output_shape)) {
          await client.close();
          throw new BundleError(`${bundle.modelPath}: output ${name} has shape [${outputs[name].dims}], manifest.json says ` +
            `[${scale.output_shape}]. The graph and manifest come from different exports: re-export the bundle.`);
        }
      }
    }
    if (plan && ready.pinned) client.pinBeside(plan, ready.pinned);
    return client;
  }

  private pinBeside(plan: CpuPlan, workerPinned: true | string): void {
    if (workerPinned !== true) {
      this.pinning = `threads not pinned: ${workerPinned}`;
      return;
    }
    const failed = pinDaemonThreads(plan);
    this.holdsDaemonThreads = !failed;
    const inference = `inference on CPU ${plan.inference.join(",")}`;
    this.pinning = failed ? `${inference}, the other threads not moved: ${failed}` : `${inference}, the rest on CPU ${plan.daemon.join(",")}`;
  }

  private static checkGraph(bundle: Bundle, inputs: ValueInfo[], outputs: ValueInfo[]): void {
    const manifest = bundle.manifest;
    const input = inputs.find((i) => i.name === manifest.input.name);
    if (!input || inputs.length !== 1) {
      throw new BundleError(`${bundle.modelPath}: the graph's inputs are ${inputs.map((i) => i.name).join(", ")}, ` +
        `manifest.json expects one input "${manifest.input.name}". Re-export the bundle with \`inspector train\`.`);
    }
    if (!sameShape(input.shape, manifest.input.shape)) {
      throw new BundleError(`${bundle.modelPath}: input "${input.name}" has shape [${input.shape}], manifest.json says ` +
        `[${manifest.input.shape}]. Re-export the bundle with \`inspector train\`.`);
    }
    const names = new Set(outputs.map((o) => o.name));
    for (const scale of manifest.scales) {
      for (const name of [scale.outputs.error, scale.outputs.variance]) {
        if (!names.has(name)) {
          throw new BundleError(`${bundle.modelPath}: the graph has no output "${name}" (p=${scale.patch_size}); it has ` +
            `${[...names].join(", ")}. Re-export the bundle with \`inspector train\`.`);
        }
      }
    }
  }

  /**
   * An input buffer that a finished run handed back, or undefined: reused so that each part does
   * not allocate a fresh one. Every new ArrayBuffer counts as external memory to V8 until a full
   * collection frees it: 196 KB per part, with the frames then left to the collector, made V8 run
   * one every ≈ 2 s at full speed (docs/PERFORMANCE.md).
   */
  takeInput(): Float32Array | undefined {
    return this.spareInputs.pop();
  }

  run(data: Float32Array): Promise<InferenceResult> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, data, dims: this.inputDims } satisfies WorkerRequest, [data.buffer as ArrayBuffer]);
    });
  }

  /**
   * Refuses new runs, waits for the ones in flight, then ends the worker: onnxruntime-node aborts
   * the whole process (a C++ exception nobody catches, exit 134) when its thread is terminated in
   * the middle of session.run.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.dead ??= new Error("the inference worker is closed");
      if (this.pending.size > 0) {
        await new Promise<void>((resolve) => {
          this.idle = resolve;
          setTimeout(resolve, CLOSE_WAIT_MS).unref();
        });
      }
      if (this.holdsDaemonThreads) releaseDaemonThreads();
      this.holdsDaemonThreads = false;
      this.worker.removeAllListeners("exit");
      await this.worker.terminate();
      // Only now: closeInferenceWorkers() must also wait for a close already under way.
      openWorkers.delete(this);
    })();
    return this.closing;
  }
}
