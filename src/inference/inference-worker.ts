// Worker thread owning the ONNX Runtime session: run() blocks the thread it runs on, so it must
// not be the event loop's (MQTT keep-alives, triggers and the sinks live there).
import { parentPort, workerData } from "node:worker_threads";
import { performance } from "node:perf_hooks";

import { callingThreadId, pinThread } from "./cpu-pinning.js";
import { ort } from "../native/onnxruntime.js";
import { openSession, type SessionSettings } from "../native/providers.js";
import type { WorkerReply, WorkerRequest } from "./worker-protocol.js";

const { modelPath, settings, inputName, pinTo } =
  workerData as { modelPath: string; settings: SessionSettings; inputName: string; pinTo?: number[] };
const port = parentPort!;

function metadata(list: readonly ort.InferenceSession.ValueMetadata[]) {
  return list.map((m) => ({ name: m.name, shape: m.isTensor ? [...m.shape] : [] }));
}

try {
  const opened = await openSession(modelPath, settings);
  const session = opened.session;
  // Pinned after the session exists: ONNX Runtime's own threads are started by then and keep the CPUs they were given.
  const pinned = pinTo && opened.provider === "cpu" ? (pinThread(callingThreadId(), pinTo) ?? true) : undefined;
  port.postMessage({
    type: "ready", provider: opened.provider, failed: opened.failed, pinned,
    inputs: metadata(session.inputMetadata), outputs: metadata(session.outputMetadata),
  } satisfies WorkerReply);
  let queue = Promise.resolve();
  port.on("message", (request: WorkerRequest) => {
    // One run at a time, in arrival order: the graph already uses every core it is given.
    queue = queue.then(async () => {
      const started = performance.now();
      try {
        const results = await session.run({ [inputName]: new ort.Tensor("float32", request.data, request.dims) });
        const outputs: Record<string, { data: Float32Array; dims: number[] }> = {};
        for (const [name, tensor] of Object.entries(results)) {
          outputs[name] = { data: new Float32Array(tensor.data as Float32Array), dims: [...tensor.dims] };
        }
        // The input goes back too: session.run is done with it, and the main thread fills it with the next frame.
        port.postMessage({ type: "result", id: request.id, outputs, inferMs: performance.now() - started, input: request.data } satisfies WorkerReply,
          [...Object.values(outputs).map((o) => o.data.buffer as ArrayBuffer), request.data.buffer as ArrayBuffer]);
      } catch (err) {
        port.postMessage({ type: "error", id: request.id, error: (err as Error).message } satisfies WorkerReply);
      }
    });
  });
} catch (err) {
  port.postMessage({ type: "failed", error: (err as Error).message } satisfies WorkerReply);
}
