// A bundle ready to run: manifest checked, inference worker started, frames preprocessed as the
// bundle expects. Used by the CLI commands (infer, calibrate, eval) and the daemon alike.
import { performance } from "node:perf_hooks";

import { type Mat } from "../native/opencv.js";
import { type Prepared, preprocess, type Roi } from "../preprocess/preprocess.js";
import { type Bundle, loadBundle } from "./bundle.js";
import { InferenceClient, type ScoreTensors } from "./inference-client.js";
import { DEFAULT_SESSION_SETTINGS, type SessionSettings } from "../native/providers.js";

export interface PreparedFrame extends Prepared {
  preprocessMs: number;
}

export interface RawResult {
  outputs: ScoreTensors;
  roiImage: Mat;
  preprocessMs: number;
  inferMs: number;
}

/** A frame made into the bundle's input as its manifest says (ROI, size, colour), into a reused buffer when given. */
export function prepareFor(bundle: Bundle, frame: Mat, roi?: Roi, into?: Float32Array): Prepared {
  const [, , height, width] = bundle.manifest.input.shape;
  return preprocess(frame, { roi, width, height, colour: bundle.manifest.input.colour }, into);
}

export class BundleRunner {
  private inFlight = 0;
  private retiring?: Promise<void>;
  private retired?: () => void;

  private constructor(readonly bundle: Bundle, readonly worker: InferenceClient) {}

  static async open(dir: string, options: { requireCalibration: boolean; session?: SessionSettings }): Promise<BundleRunner> {
    const bundle = loadBundle(dir, { requireCalibration: options.requireCalibration });
    const worker = await InferenceClient.start(bundle, options.session ?? DEFAULT_SESSION_SETTINGS);
    return new BundleRunner(bundle, worker);
  }

  /** The CPU side of a frame (ROI, resize, colour, tensor): separate so it can overlap the previous frame's inference. */
  prepare(frame: Mat, roi?: Roi): PreparedFrame {
    const started = performance.now();
    // preprocess() fills a handed-back buffer only when it has the input's size, else allocates one.
    const prepared = prepareFor(this.bundle, frame, roi, this.worker.takeInput());
    return { ...prepared, preprocessMs: performance.now() - started };
  }

  async infer(prepared: PreparedFrame): Promise<RawResult> {
    this.inFlight++;
    try {
      const { outputs, inferMs } = await this.worker.run(prepared.tensor);
      return { outputs, roiImage: prepared.roiImage, preprocessMs: prepared.preprocessMs, inferMs };
    } finally {
      if (--this.inFlight === 0) this.retired?.();
    }
  }

  run(frame: Mat, roi?: Roi): Promise<RawResult> {
    return this.infer(this.prepare(frame, roi));
  }

  /** "bundle 1a2b… runs on cpu (tensorrt unavailable: <why>; …); inference on CPU 0, the rest on CPU 1": which provider runs, and where. */
  describe(): string {
    const failed = this.worker.failedProviders.map((f) => `${f.provider} unavailable: ${f.error}`).join("; ");
    const pinning = this.worker.pinning ? `; ${this.worker.pinning}` : "";
    return `bundle ${this.bundle.id} runs on ${this.worker.provider}${failed ? ` (${failed})` : ""}${pinning}`;
  }

  /** Closes once the frames already handed to it are done: a reload swaps bundles between parts. */
  retire(): Promise<void> {
    this.retiring ??= new Promise<void>((resolve) => {
      this.retired = resolve;
      if (this.inFlight === 0) resolve();
    }).then(() => this.worker.close());
    return this.retiring;
  }

  close(): Promise<void> {
    return this.worker.close();
  }
}
