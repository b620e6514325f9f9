// Messages between the inference worker and its client.
import type { ProviderAttempt, ProviderName } from "../native/providers.js";

export interface WorkerRequest {
  id: number;
  data: Float32Array;
  dims: number[];
}

export interface ValueInfo {
  name: string;
  shape: (number | string)[];
}

export type WorkerReply =
  | { type: "ready"; provider: ProviderName; failed: ProviderAttempt[]; inputs: ValueInfo[]; outputs: ValueInfo[];
      /** true: the worker runs on the CPUs it was given; a string: why it could not be pinned; undefined: not asked (or not the CPU provider). */
      pinned?: true | string }
  | { type: "failed"; error: string }
  | { type: "result"; id: number; outputs: Record<string, { data: Float32Array; dims: number[] }>; inferMs: number;
      /** The request's input, handed back for the next frame (see InferenceClient.takeInput). */
      input: Float32Array }
  | { type: "error"; id: number; error: string };
